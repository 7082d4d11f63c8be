// Size limits on what clients send, shared by the router and the daemon's request checks so that
// both refuse the same ids with the same words.
//   if (absl::Status s = CheckId(spec.call_id, "call_id"); !s.ok()) return s;
#ifndef ACD_ROUTING_REQUEST_LIMITS_H_
#define ACD_ROUTING_REQUEST_LIMITS_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace acd::routing {

inline constexpr size_t kMaxIdBytes = 128;      // call, agent, switch and queue ids
inline constexpr size_t kMaxReasonBytes = 64;   // a not_ready reason
// A policy, as YAML text or as its proto's encoding: far above a real center's (deploy/'s example
// is about 6 KB), low enough that reading and checking one stays cheap.
inline constexpr size_t kMaxPolicyBytes = 1 << 20;

// INVALID_ARGUMENT "<field> is empty" or "<field> is N bytes; at most 128"; OK otherwise.
absl::Status CheckId(absl::string_view id, absl::string_view field);

}  // namespace acd::routing

#endif  // ACD_ROUTING_REQUEST_LIMITS_H_
