// acdsim: runs a scenario (routing/sim/scenarios/*.yaml) through the real router and prints
// per-queue service level, ASA, AHT, abandon rate, occupancy and wait-estimate accuracy; or, with
// --replay, replays a data dir's recorded traffic under the policy that ran and a candidate one
// (routing/sim/what_if.h) and prints the recorded figures and both replays side by side.
//   acdsim --scenario routing/sim/scenarios/mm100_rho95.yaml [--json] [--hours 100] [--seed 7]
//   acdsim --scenario routing/sim/scenarios/nested6_rho80.yaml --oracle_runs 200
//   acdsim --replay /var/lib/acd --from 2026-11-30 --to 2026-12-01 --policy candidate.yaml
#include <cstdio>
#include <iostream>
#include <string>
#include <tuple>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "reports/report_tool.h"
#include "reports/what_if_tool.h"
#include "routing/json_text.h"
#include "routing/sim/scenario.h"
#include "routing/sim/simulator.h"

ABSL_FLAG(std::string, scenario, "", "scenario YAML file (see routing/sim/README.md)");
ABSL_FLAG(bool, json, false, "print one JSON object instead of a table");
ABSL_FLAG(double, hours, 0, "simulated hours after the warm-up (0: the scenario's)");
ABSL_FLAG(int64_t, seed, -1, "random seed (-1: the scenario's; 1 for --replay)");
ABSL_FLAG(int, oracle_runs, 0,
          "score the oracle too (routing/sim/oracle.h), with this many runs per caller; slow");
ABSL_FLAG(std::string, replay, "", "a data dir: replay its recorded traffic (what-if)");
ABSL_FLAG(std::string, from, "", "--replay: from this time (RFC 3339 or a UTC day)");
ABSL_FLAG(std::string, to, "", "--replay: up to this time");
ABSL_FLAG(std::string, policy, "", "--replay: the candidate policy's YAML file");

namespace {

using acd::routing::sim::kEstimatorCount;
using acd::routing::sim::kEstimatorNames;
using acd::routing::sim::QueueReport;
using acd::routing::sim::SimReport;

using acd::routing::JsonString;

std::string Number(double v) { return acd::routing::JsonNumber(v); }

// The oracle is scored only when asked for.
bool Scored(const SimReport& r, int estimator) {
  return estimator != static_cast<int>(acd::routing::sim::Estimator::kOracle) || r.oracle_runs > 0;
}

std::string Json(const SimReport& r) {
  std::string out = absl::StrCat(
      "{\"scenario\":", JsonString(r.scenario), ",\"seed\":", r.seed,
      ",\"hours\":", Number(r.hours), ",\"warmup_hours\":", Number(r.warmup_hours),
      ",\"router_events\":", r.router_events, ",\"oracle_runs\":", r.oracle_runs, ",\"queues\":[");
  for (size_t i = 0; i < r.queues.size(); ++i) {
    const QueueReport& q = r.queues[i];
    absl::StrAppend(&out, i ? "," : "", "{\"name\":", JsonString(q.name),
                    ",\"offered\":", q.offered, ",\"answered\":", q.answered,
                    ",\"abandoned\":", q.abandoned, ",\"fallback\":", q.fallback,
                    ",\"waited\":", q.waited,
                    ",\"service_level_threshold_seconds\":",
                    Number(q.service_level_threshold_seconds),
                    ",\"service_level\":", Number(q.service_level),
                    ",\"waited_ratio\":", Number(q.waited_ratio),
                    ",\"asa_seconds\":", Number(q.asa_seconds),
                    ",\"aht_seconds\":", Number(q.aht_seconds),
                    ",\"abandon_rate\":", Number(q.abandon_rate),
                    ",\"occupancy\":", Number(q.occupancy),
                    ",\"mean_wait_of_waiters_seconds\":", Number(q.mean_wait_of_waiters_seconds),
                    ",\"ewt_rel_rmse\":{");
    for (int e = 0; e < kEstimatorCount; ++e) {
      absl::StrAppend(&out, e ? "," : "", "\"", kEstimatorNames[e],
                      "\":", Scored(r, e) ? Number(q.ewt_rel_rmse[e]) : "null");
    }
    absl::StrAppend(&out, "},\"ewt_mean_error_seconds\":{");
    for (int e = 0; e < kEstimatorCount; ++e) {
      absl::StrAppend(&out, e ? "," : "", "\"", kEstimatorNames[e],
                      "\":", Scored(r, e) ? Number(q.ewt_mean_error_seconds[e]) : "null");
    }
    absl::StrAppend(&out, "},\"ewt_rel_bias\":{");
    for (int e = 0; e < kEstimatorCount; ++e) {
      absl::StrAppend(&out, e ? "," : "", "\"", kEstimatorNames[e],
                      "\":", Scored(r, e) ? Number(q.ewt_rel_bias[e]) : "null");
    }
    absl::StrAppend(&out, "}}");
  }
  return out + "]}";
}

std::string Table(const SimReport& r) {
  std::string out = absl::StrFormat("scenario %s  seed %d  %.0f h measured after %.1f h warm-up\n\n",
                                    r.scenario, r.seed, r.hours, r.warmup_hours);
  absl::StrAppend(&out, absl::StrFormat("%-16s %9s %14s %8s %8s %8s %8s\n", "queue", "offered",
                                        "SL", "ASA s", "AHT s", "abandon", "occup."));
  for (const QueueReport& q : r.queues) {
    absl::StrAppend(&out, absl::StrFormat("%-16s %9d %6.1f%% in %3.0fs %8.1f %8.1f %7.2f%% %7.1f%%\n",
                                          q.name, q.offered, 100 * q.service_level,
                                          q.service_level_threshold_seconds, q.asa_seconds,
                                          q.aht_seconds, 100 * q.abandon_rate,
                                          100 * q.occupancy));
  }
  // One table per figure: RMSE / mean wait, then bias / mean wait.
  for (const auto& [title, figure, sign] :
       {std::tuple{"EWT accuracy: RMSE / mean wait over answered callers who waited (lower is "
                   "better)",
                   &QueueReport::ewt_rel_rmse, false},
        std::tuple{"EWT bias: mean (estimate - wait) / mean wait over the same callers (0 is "
                   "unbiased)",
                   &QueueReport::ewt_rel_bias, true}}) {
    absl::StrAppend(&out, "\n", title, "\n");
    absl::StrAppend(&out, absl::StrFormat("%-16s %9s %10s", "queue", "waited", "mean wait"));
    for (const char* name : kEstimatorNames) absl::StrAppend(&out, absl::StrFormat(" %15s", name));
    absl::StrAppend(&out, "\n");
    for (const QueueReport& q : r.queues) {
      absl::StrAppend(&out, absl::StrFormat("%-16s %9d %9.1fs", q.name, q.waited,
                                            q.mean_wait_of_waiters_seconds));
      for (int e = 0; e < kEstimatorCount; ++e) {
        if (!Scored(r, e)) {
          absl::StrAppend(&out, absl::StrFormat(" %15s", "-"));
        } else {
          absl::StrAppend(&out, sign ? absl::StrFormat(" %+15.3f", (q.*figure)[e])
                                     : absl::StrFormat(" %15.3f", (q.*figure)[e]));
        }
      }
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "acdsim --scenario FILE [--json] [--hours H] [--seed N] [--oracle_runs N]: simulate a call "
      "center through "
      "the real router\n"
      "acdsim --replay DATA_DIR [--from T] [--to T] [--policy FILE] [--json] [--seed N]: replay "
      "recorded traffic under the policy that ran and a candidate");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_replay).empty()) {
    acd::reports::WhatIfRequest request{.data_dir = absl::GetFlag(FLAGS_replay)};
    if (absl::GetFlag(FLAGS_seed) >= 0) request.seed = absl::GetFlag(FLAGS_seed);
    for (auto [flag, value, into] : {std::tuple{"from", absl::GetFlag(FLAGS_from), &request.from},
                                     std::tuple{"to", absl::GetFlag(FLAGS_to), &request.to}}) {
      if (value.empty()) continue;
      absl::StatusOr<absl::Time> t = acd::reports::ParseReportTime(value);
      if (!t.ok()) {
        std::cerr << "acdsim: --" << flag << ": " << t.status().message() << "\n";
        return 2;
      }
      *into = *t;
    }
    return acd::reports::RunWhatIf(request, absl::GetFlag(FLAGS_policy), absl::GetFlag(FLAGS_json),
                                   std::cout, std::cerr);
  }
  const std::string path = absl::GetFlag(FLAGS_scenario);
  if (path.empty()) {
    std::cerr << "acdsim: --scenario FILE is required (see routing/sim/scenarios/)\n";
    return 2;
  }
  absl::StatusOr<acd::routing::sim::Scenario> scenario =
      acd::routing::sim::LoadScenarioFile(path);
  if (!scenario.ok()) {
    std::cerr << "acdsim: " << scenario.status().message() << "\n";
    return 2;
  }
  acd::routing::sim::SimOptions options;
  if (absl::GetFlag(FLAGS_hours) < 0) {
    std::cerr << "acdsim: --hours must be > 0\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_hours) > 0) options.hours = absl::GetFlag(FLAGS_hours);
  if (absl::GetFlag(FLAGS_seed) >= 0) options.seed = absl::GetFlag(FLAGS_seed);
  if (absl::GetFlag(FLAGS_oracle_runs) < 0) {
    std::cerr << "acdsim: --oracle_runs must be >= 0\n";
    return 2;
  }
  options.oracle_runs = absl::GetFlag(FLAGS_oracle_runs);
  const absl::Time start = absl::Now();
  absl::StatusOr<SimReport> report = acd::routing::sim::Simulate(*scenario, options);
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  if (!report.ok()) {
    std::cerr << "acdsim: " << path << ": " << report.status().message() << "\n";
    return 1;
  }
  std::cout << (absl::GetFlag(FLAGS_json) ? Json(*report) + "\n" : Table(*report));
  // Wall time goes to stderr so that stdout stays the same for the same seed.
  std::cerr << absl::StrFormat("acdsim: %.0f simulated hours in %.2f s (%.0f h/min, %d router calls)\n",
                               report->hours + report->warmup_hours, elapsed,
                               elapsed > 0 ? (report->hours + report->warmup_hours) * 60 / elapsed : 0.0,
                               report->router_events);
  return 0;
}
