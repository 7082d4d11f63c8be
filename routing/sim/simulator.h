// Simulate runs a Scenario through the real Router as a discrete-event simulation and returns
// per-queue figures: service level, ASA, AHT, abandon rate, occupancy, and the accuracy of wait
// estimates (ours and the baselines) given to each caller on arrival.
//   absl::StatusOr<SimReport> report = Simulate(scenario, {.seed = 7});
//   for (const QueueReport& q : report->queues) std::cout << q.name << " " << q.asa_seconds;
// Fixed seed, same build: same report.
#ifndef ACD_ROUTING_SIM_SIMULATOR_H_
#define ACD_ROUTING_SIM_SIMULATOR_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "routing/sim/scenario.h"

namespace acd::routing::sim {

// The wait estimates scored on every caller who had to wait.
enum class Estimator : uint8_t {
  kAcd,            // what Router::Enqueue returned for this caller (the product's estimate)
  kHeadOfLine,     // how long the caller at the head of the queue had waited at that instant
  kLastToEnter,    // the wait of the last caller who reached an agent from this queue
  kMovingAverage,  // Asterisk's holdtime: (3 x holdtime + wait) / 4 on every answered call
  // QueueWaitEstimator fed by the simulator itself: callers ahead as queued here, servers = the
  // queue's agents on shift: the per-queue QL-m, which kAcd equals where a queue's agents serve
  // only it. Where they serve other queues too, it is what acd said before FluidWait.
  kQlmReference,
  // OracleWait (oracle.h): the best the state allows, by Monte Carlo; scored only with
  // SimOptions::oracle_runs > 0 (SimReport::oracle_runs says; its figures are 0 otherwise).
  kOracle,
};
inline constexpr int kEstimatorCount = 6;
inline constexpr std::array<const char*, kEstimatorCount> kEstimatorNames = {
    "acd", "hol", "les", "moving_average", "ql_m_reference", "oracle"};

// Figures of one queue over the callers who arrived after the warm-up and whose outcome (answered,
// abandoned, sent to the fallback) came before the end of the run.
struct QueueReport {
  std::string name;
  double service_level_threshold_seconds = 0;
  uint64_t offered = 0;     // arrived
  uint64_t answered = 0;    // reached an agent
  uint64_t abandoned = 0;   // hung up while waiting
  uint64_t fallback = 0;    // sent to the queue's fallback (full, max wait, escalation)
  uint64_t waited = 0;      // answered after a wait > 0
  double service_level = 0;       // answered within threshold / (answered+abandoned+fallback)
  double waited_ratio = 0;        // answered after a wait > 0 / answered
  double asa_seconds = 0;         // mean wait of answered calls
  double aht_seconds = 0;         // mean talk + the queue's wrap-up of calls that ended
  double abandon_rate = 0;        // abandoned / (answered+abandoned+fallback)
  double occupancy = 0;           // handling time / logged-in time of the queue's agents
  double mean_wait_of_waiters_seconds = 0;  // over answered calls with wait > 0
  // RMSE of each estimator over answered callers who waited, divided by their mean wait. A
  // caller for whom an estimator had no value counts as a prediction of 0.
  std::array<double, kEstimatorCount> ewt_rel_rmse{};
  std::array<double, kEstimatorCount> ewt_mean_error_seconds{};  // prediction - actual
  std::array<double, kEstimatorCount> ewt_rel_bias{};  // mean error / mean wait of waiters
};

struct SimReport {
  std::string scenario;
  uint64_t seed = 0;
  double hours = 0;           // measured
  double warmup_hours = 0;
  uint64_t router_events = 0; // calls into the router, for speed figures
  int oracle_runs = 0;        // 0: the oracle was not scored
  std::vector<QueueReport> queues;  // in policy order, queues with traffic only
};

struct SimOptions {
  std::optional<uint64_t> seed;   // overrides the scenario's
  std::optional<double> hours;    // overrides the scenario's measured hours
  int oracle_runs = 0;            // > 0: score the oracle, with this many runs per caller
};

// INVALID_ARGUMENT when the policy does not compile or the scenario names a queue, skill or
// language the policy lacks.
absl::StatusOr<SimReport> Simulate(const Scenario& scenario, const SimOptions& options = {});

}  // namespace acd::routing::sim

#endif  // ACD_ROUTING_SIM_SIMULATOR_H_
