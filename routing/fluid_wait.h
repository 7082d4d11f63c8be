// FluidWait estimates how long a caller waits when the agents who can take the call also serve
// other queues (a multi-skill center). Per-queue QL-m credits a queue with every member's whole
// capacity, even members busy with other queues' older callers; here the callers those agents
// will take first are counted too, in the order the router serves them.
//
// The model, one step per event the way QL-m counts its stages:
// - Lines: one per queue partition the caller competes in; each lists the callers ahead of the
//   estimated caller (ranked better at this instant), best first, plus a count of more beyond.
// - Pools: agents that serve the same lines, freeing calls at a learned rate (servers / handle).
//   A freed agent takes the best caller ahead among its pool's lines, or the estimated caller when
//   its lines hold nobody ahead and its pool serves the caller's line.
// - Callers ahead hang up at their line's abandonment rate.
// Each step lasts 1 / (rate of every event that matters now), its expected duration; its outcome
// is spread as expected fractions (a "mass" of callers) rather than sampled, so one pass gives the
// mean: E[wait] = sum over steps of P(answered at that step) x time elapsed by then. With one
// line, one pool and no abandonment this is exactly QL-m's (ahead + 1) / (servers x mu).
// The estimate is for a caller who is answered (what acdsim scores, and what callers who reach an
// agent live through): the caller's own patience shortens each step and weighs down the answers
// that come after many steps (see FluidWait::caller_abandon_rate).
//   FluidWait model;
//   model.lines = {{.abandon_rate = 0.005, .ahead = {{...}}}, ...};
//   model.pools = {{.lines = {0, 1}, .frees_per_second = 0.2}};
//   double seconds = ExpectedFluidWait(model, /*caller_line=*/0, {.max_steps = 512});
// Pure and deterministic: the same input gives the same result, bit for bit.
#ifndef ACD_ROUTING_FLUID_WAIT_H_
#define ACD_ROUTING_FLUID_WAIT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/inlined_vector.h"

namespace acd::routing {

// Where a caller ahead stands among all lines: a better `score` goes first, then the earlier
// arrival (`arrived_us`, then `seq`), as Router::TryServeAgent picks across queues.
struct FluidCaller {
  double score = 0;
  int64_t arrived_us = 0;
  uint64_t seq = 0;
};

struct FluidLine {
  double abandon_rate = 0;         // per caller per second
  std::vector<FluidCaller> ahead;  // callers ahead of the estimated one, best first
  int64_t more_ahead = 0;          // callers ahead beyond `ahead`, not listed
};

struct FluidPool {
  absl::InlinedVector<int, 8> lines;  // indexes into FluidWait::lines
  double frees_per_second = 0;        // servers / handle time
};

struct FluidWait {
  std::vector<FluidLine> lines;
  std::vector<FluidPool> pools;
  // The estimated caller's own hang-up rate. Conditioned on the caller being answered, a step
  // (one event of rate r) lasts 1 / (r + this) on average and is outlasted with probability
  // r / (r + this), as conditioning exponential stages on an exponential patience does.
  double caller_abandon_rate = 0;
};

struct FluidLimits {
  // Steps followed one by one; past them the rest of the wait is QL-m's closed form over what is
  // left ahead, at the rate of the pools that drain it. Callers only counted (more_ahead) rank
  // right after their line's last listed one.
  int max_steps = 512;
};

// Expected seconds until the caller in line `caller_line`, behind every listed and counted caller
// ahead, reaches an agent; nullopt when no pool serves that line.
std::optional<double> ExpectedFluidWait(const FluidWait& model, int caller_line,
                                        const FluidLimits& limits = {});

}  // namespace acd::routing

#endif  // ACD_ROUTING_FLUID_WAIT_H_
