// Helpers shared by the files that implement Router (router.cc, matching.cc, escalation.cc, ...);
// not part of the routing library's API.
#ifndef ACD_ROUTING_ROUTER_INTERNAL_H_
#define ACD_ROUTING_ROUTER_INTERNAL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/time/time.h"

namespace acd::routing::internal {

// "Can't happen": a broken invariant of the router itself, never bad input.
[[noreturn]] inline void Crash(const char* what) {
  std::fprintf(stderr, "acd router invariant broken: %s\n", what);
  std::abort();
}

inline int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

}  // namespace acd::routing::internal

#endif  // ACD_ROUTING_ROUTER_INTERNAL_H_
