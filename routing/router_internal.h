// Helpers shared by the files that implement Router (router.cc, matching.cc, escalation.cc, ...);
// not part of the routing library's API.
#ifndef ACD_ROUTING_ROUTER_INTERNAL_H_
#define ACD_ROUTING_ROUTER_INTERNAL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "routing/router_state.h"
#include "routing/timer_queue.h"

namespace acd::routing::internal {

// "Can't happen": a broken invariant of the router itself, never bad input.
[[noreturn]] inline void Crash(const char* what) {
  std::fprintf(stderr, "acd router invariant broken: %s\n", what);
  std::abort();
}

inline int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// The pending timers, each to be claimed once by the one active handle that owns it: how a
// restored state (RebuildDerived) and a checked one (CheckInvariants) show that every timer has
// exactly one owner and every active handle its timer.
class TimerClaims {
 public:
  explicit TimerClaims(const std::vector<Timer>& pending) {
    for (const Timer& t : pending) unclaimed_.emplace(t.seq, t);
  }
  // An inactive handle claims nothing; false when `handle` names no pending timer of its due
  // time, `kind` and `slot` (or one claimed already).
  bool Claim(const TimerHandle& handle, TimerKind kind, uint32_t slot) {
    if (!handle.active()) return true;
    auto it = unclaimed_.find(handle.seq);
    if (it == unclaimed_.end() || it->second.due != handle.due || it->second.kind != kind ||
        it->second.slot != slot) {
      return false;
    }
    unclaimed_.erase(it);
    return true;
  }
  size_t unclaimed() const { return unclaimed_.size(); }

 private:
  absl::flat_hash_map<uint64_t, Timer> unclaimed_;
};

// A free slot holds a fresh value: nothing scheduled, held, offered or indexed.
inline bool IsFresh(const RoutedCall& call) {
  for (const TimerHandle& h : call.timers) {
    if (h.active()) return false;
  }
  return call.id.empty() && call.preferred_slot == kNoSlot && call.consulting_agent == kNoSlot;
}
inline bool IsFresh(const RoutedAgent& agent) {
  return agent.id.empty() && !agent.available_timer.active() && agent.indexed.empty() &&
         agent.calls.empty() && agent.queues.empty() && agent.offered_call == kNoSlot;
}

// Whether a free list names each free slot of a table of `size` slots once, and nothing else.
template <typename IsFree>
bool FreeListMatches(const std::vector<uint32_t>& free, size_t size, IsFree is_free) {
  size_t free_count = 0;
  for (size_t s = 0; s < size; ++s) free_count += is_free(s);
  if (free.size() != free_count) return false;
  absl::flat_hash_set<uint32_t> seen;
  for (uint32_t s : free) {
    if (s >= size || !is_free(s) || !seen.insert(s).second) return false;
  }
  return true;
}

}  // namespace acd::routing::internal

#endif  // ACD_ROUTING_ROUTER_INTERNAL_H_
