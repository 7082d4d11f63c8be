// OracleWait is acdsim's reference for wait estimates: the mean wait of a caller who reaches an
// agent, given everything the simulation knows at the instant the caller joins the line, found by
// playing the rest of the caller's wait many times over. Each run draws what is still unknown
// from the scenario's own distributions: the rest of every call in progress (given how long it
// has lasted), the next calls' handle times, and the patience of every caller (given how long they
// have waited); agents then take callers as the router does (best score, then earliest arrival,
// among the queues each agent serves, in the languages it speaks). Callers who arrive later are
// left out: with equal priorities and no aging they never go ahead of the caller, so the reference
// is then exact up to sampling noise; with priorities, later callers who would jump the line are
// missing from it.
//   OracleInput input = ...;   // the agents and callers as they stand
//   std::optional<double> best = OracleWait(input, /*runs=*/200, random);
// No estimator that only sees the state can beat it by more than its sampling noise, so its
// relative RMSE is the floor for that scenario.
#ifndef ACD_ROUTING_SIM_ORACLE_H_
#define ACD_ROUTING_SIM_ORACLE_H_

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "routing/sim/scenario.h"
#include "routing/types.h"

namespace acd::routing::sim {

// One agent who may take the caller or a caller ahead.
struct OracleAgent {
  std::vector<QueueId> queues;  // the queues it serves
  uint64_t languages = 0;       // bit b: speaks the policy's language b
  // Busy: the call's talk time so far, its distribution, and the wrap-up after it.
  const Distribution* talk = nullptr;
  double talk_so_far = 0;
  double wrap_up_after = 0;
  // Not on a call: free in this many seconds (0: free now; wrap-up or cooldown otherwise).
  double free_in = 0;
};

struct OracleCaller {
  QueueId queue = 0;
  int language = -1;    // the policy's language bit the caller needs; -1: any
  double priority = 0;  // score = priority + aging x seconds waited
  double aging = 0;
  double waited = 0;                       // seconds so far
  uint64_t order = 0;                      // arrival order: the earlier first among equal scores
  const Distribution* patience = nullptr;  // none: never hangs up
  const Distribution* talk = nullptr;      // handle time once answered
  double wrap_up = 0;                      // the queue's wrap-up after the call
};

struct OracleInput {
  std::vector<OracleAgent> agents;
  std::vector<OracleCaller> ahead;  // every other waiting caller, in any order
  OracleCaller caller;              // waited = 0
};

// The mean over `runs` runs of the caller's wait, among the runs in which the caller is answered
// before their own patience runs out (over all runs when none is); nullopt when no agent serves
// the caller's queue.
std::optional<double> OracleWait(const OracleInput& input, int runs, std::mt19937_64& random);

}  // namespace acd::routing::sim

#endif  // ACD_ROUTING_SIM_ORACLE_H_
