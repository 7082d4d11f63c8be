#include "routing/quote.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace acd::routing {
namespace {

constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr absl::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026

// The length of the well-formed UTF-8 character at the start of `text` (1 to 4), or 0 when the
// bytes there are not one (Unicode's table 3-7: no overlong forms, surrogates, or past U+10FFFF).
size_t CharacterAt(absl::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto continuation = [&](size_t i, uint8_t low = 0x80, uint8_t high = 0xBF) {
    return i < text.size() && byte(i) >= low && byte(i) <= high;
  };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    const uint8_t low = lead == 0xE0 ? 0xA0 : 0x80;
    const uint8_t high = lead == 0xED ? 0x9F : 0xBF;
    return continuation(1, low, high) && continuation(2) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    const uint8_t low = lead == 0xF0 ? 0x90 : 0x80;
    const uint8_t high = lead == 0xF4 ? 0x8F : 0xBF;
    return continuation(1, low, high) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

// Appends `text`'s characters to `out` (invalid bytes as U+FFFD, and, when `escape`, control
// characters and quotes escaped) while `out` stays within `max_bytes`; returns whether all of
// `text` went in.
bool AppendCharacters(absl::string_view text, bool escape, size_t max_bytes, std::string* out) {
  for (size_t at = 0; at < text.size();) {
    const size_t length = CharacterAt(text.substr(at));
    std::string escaped;
    absl::string_view piece;
    if (length == 0) {
      piece = kReplacement;
    } else if (escape && length == 1 &&
               (static_cast<uint8_t>(text[at]) < 0x20 || text[at] == 0x7F || text[at] == '\'' ||
                text[at] == '\\')) {
      escaped = text[at] == '\''   ? "\\'"
                : text[at] == '\\' ? "\\\\"
                                   : absl::StrFormat("\\x%02x", static_cast<uint8_t>(text[at]));
      piece = escaped;
    } else {
      piece = text.substr(at, length);
    }
    if (out->size() + piece.size() > max_bytes) return false;
    out->append(piece.data(), piece.size());
    at += length == 0 ? 1 : length;
  }
  return true;
}

}  // namespace

std::string Quote(absl::string_view value) {
  std::string out = "'";
  const bool whole = AppendCharacters(value, /*escape=*/true, 1 + kMaxQuotedBytes, &out);
  if (whole) {
    out += "'";
  } else {
    absl::StrAppend(&out, kEllipsis, "' (", value.size(), " bytes)");
  }
  return out;
}

std::string BoundedUtf8(absl::string_view text, size_t max_bytes) {
  std::string out;
  if (AppendCharacters(text, /*escape=*/false, max_bytes, &out)) return out;
  out.clear();
  if (max_bytes < kEllipsis.size()) return out;
  AppendCharacters(text, /*escape=*/false, max_bytes - kEllipsis.size(), &out);
  absl::StrAppend(&out, kEllipsis);
  return out;
}

bool IsValidUtf8(absl::string_view text) {
  return FirstInvalidUtf8(text) == absl::string_view::npos;
}

size_t FirstInvalidUtf8(absl::string_view text) {
  for (size_t at = 0; at < text.size();) {
    const size_t length = CharacterAt(text.substr(at));
    if (length == 0) return at;
    at += length;
  }
  return absl::string_view::npos;
}

}  // namespace acd::routing
