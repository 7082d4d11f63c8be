// Client-chosen text inside acd's own words. Status messages, policy problems and log lines quote
// ids, names and values that a client or a policy file chose; Quote keeps each such value short,
// printable and valid UTF-8, so that no message grows with what a client sends (a reply's status
// travels in HTTP/2 headers, which a too-large value breaks for the whole connection) and none
// carries a broken character that a strict client rejects. BoundedUtf8 is the last guard on a
// whole message: acdd returns and logs nothing longer or less valid.
//   return absl::NotFoundError(absl::StrCat("no queue ", Quote(request.queue())));
//   grpc::Status(code, BoundedUtf8(status.message()));
#ifndef ACD_ROUTING_QUOTE_H_
#define ACD_ROUTING_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace acd::routing {

// Of a quoted value, before "…": any valid id (at most kMaxIdBytes, request_limits.h) is quoted
// whole.
inline constexpr size_t kMaxQuotedBytes = 128;
inline constexpr size_t kMaxMessageBytes = 4096;  // of a status message or a log line

// "'sales'". A longer value is cut at a character boundary and says how long it was:
// "'aaaa…' (1048576 bytes)". Bytes that are not UTF-8 become U+FFFD; control characters and the
// quote itself are escaped ("\x0a", "\'").
std::string Quote(absl::string_view value);

// `text` as valid UTF-8 of at most `max_bytes`: bytes that are not UTF-8 become U+FFFD, and a
// longer text is cut at a character boundary, ending in "…".
std::string BoundedUtf8(absl::string_view text, size_t max_bytes = kMaxMessageBytes);

// Whether `text` is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsValidUtf8(absl::string_view text);
// The offset of the first byte of `text` that does not begin a valid UTF-8 character, or
// absl::string_view::npos when all of it is valid.
size_t FirstInvalidUtf8(absl::string_view text);

}  // namespace acd::routing

#endif  // ACD_ROUTING_QUOTE_H_
