#include "reports/what_if_tool.h"

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "reports/recorded_traffic.h"
#include "routing/json_text.h"
#include "routing/policy_text.h"
#include "routing/sim/what_if.h"

namespace acd::reports {
namespace {

using routing::sim::WhatIfFigures;

std::vector<WhatIfRow> Rows(const std::vector<WhatIfFigures>& recorded,
                            const std::vector<WhatIfFigures>& replay,
                            const std::vector<WhatIfFigures>* candidate) {
  std::vector<WhatIfRow> rows;
  std::map<std::string, size_t> index;
  auto row = [&](const std::string& queue) -> WhatIfRow& {
    auto [it, fresh] = index.try_emplace(queue, rows.size());
    if (fresh) rows.push_back({.queue = queue});
    return rows[it->second];
  };
  for (const WhatIfFigures& f : recorded) row(f.queue).recorded = f;
  for (const WhatIfFigures& f : replay) row(f.queue).replay = f;
  if (candidate != nullptr) {
    for (const WhatIfFigures& f : *candidate) row(f.queue).candidate = f;
  }
  return rows;
}

std::string Json(const std::optional<WhatIfFigures>& f) {
  if (!f) return "null";
  auto number = [](std::optional<double> v) { return v ? routing::JsonNumber(*v) : "null"; };
  return absl::StrCat("{\"offered\":", f->offered, ",\"answered\":", f->answered,
                      ",\"abandoned\":", f->abandoned, ",\"sent_on\":", f->sent_on,
                      ",\"service_level\":", number(f->service_level()),
                      ",\"asa_seconds\":", number(f->asa_seconds()),
                      ",\"abandon_rate\":", number(f->abandon_rate()),
                      ",\"longest_wait_seconds\":", routing::JsonNumber(f->longest_wait_seconds),
                      ",\"occupancy\":", number(f->occupancy()), "}");
}

// One figure of the three columns, as the table prints it.
std::string Cell(const std::optional<WhatIfFigures>& f, int figure) {
  if (!f) return "-";
  auto percent = [](std::optional<double> v) {
    return v ? absl::StrFormat("%.1f%%", 100 * *v) : std::string("-");
  };
  auto seconds = [](std::optional<double> v) {
    return v ? absl::StrFormat("%.1f", *v) : std::string("-");
  };
  switch (figure) {
    case 0:
      return absl::StrCat(f->offered);
    case 1:
      return percent(f->service_level());
    case 2:
      return seconds(f->asa_seconds());
    case 3:
      return percent(f->abandon_rate());
    case 4:
      return seconds(f->longest_wait_seconds);
    default:
      return percent(f->occupancy());
  }
}

std::string Time(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<WhatIfResult> WhatIf(const WhatIfRequest& request) {
  std::shared_ptr<const routing::CompiledPolicy> candidate;
  if (!request.candidate_yaml.empty()) {
    absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
        routing::CompilePolicyText(request.candidate_yaml, request.candidate_name);
    if (!compiled.ok()) return absl::InvalidArgumentError(compiled.status().message());
    candidate = *compiled;
  }
  absl::StatusOr<RecordedTraffic> recorded =
      RecordTraffic(request.data_dir, {request.from, request.to});
  if (!recorded.ok()) {
    return absl::Status(recorded.status().code(),
                        absl::StrCat(request.data_dir, ": ", recorded.status().message()));
  }
  const routing::sim::Trace& trace = recorded->trace;
  WhatIfResult result{.data_dir = request.data_dir,
                      .from = trace.start,
                      .to = trace.start + absl::Seconds(trace.seconds),
                      .calls = trace.calls.size(),
                      .agent_events = trace.agents.size(),
                      .recorded_policy = recorded->policy_source,
                      .candidate_policy = candidate ? request.candidate_name : ""};
  if (request.from != absl::InfinitePast() && trace.start > request.from) {
    result.notes.push_back(absl::StrCat("the history retained in ", request.data_dir, " begins at ",
                                        Time(trace.start), ", after --from"));
  }
  if (recorded->policy_changes > 0) {
    result.notes.push_back(absl::StrCat("the policy changed ", recorded->policy_changes,
                                        " times during the span; the replay keeps the one in "
                                        "force at its start"));
  }
  absl::StatusOr<std::vector<WhatIfFigures>> replay =
      routing::sim::ReplayTrace(trace, recorded->policy, request.seed);
  if (!replay.ok()) {
    return absl::Status(
        replay.status().code(),
        absl::StrCat("the replay under the recorded policy: ", replay.status().message()));
  }
  std::optional<std::vector<WhatIfFigures>> with_candidate;
  if (candidate != nullptr) {
    absl::StatusOr<std::vector<WhatIfFigures>> figures =
        routing::sim::ReplayTrace(trace, candidate, request.seed);
    if (!figures.ok()) {
      return absl::Status(figures.status().code(),
                          absl::StrCat("the replay under ", request.candidate_name, ": ",
                                       figures.status().message()));
    }
    with_candidate = *std::move(figures);
  }
  result.rows = Rows(recorded->recorded, *replay, with_candidate ? &*with_candidate : nullptr);
  return result;
}

std::string WhatIfJson(const WhatIfResult& r) {
  const bool candidate = !r.candidate_policy.empty();
  std::string json = absl::StrCat(
      "{\"from\":", routing::JsonString(Time(r.from)), ",\"to\":", routing::JsonString(Time(r.to)),
      ",\"calls\":", r.calls, ",\"agent_events\":", r.agent_events,
      ",\"recorded_policy\":", routing::JsonString(r.recorded_policy),
      ",\"candidate_policy\":", candidate ? routing::JsonString(r.candidate_policy) : "null",
      ",\"queues\":[");
  for (size_t i = 0; i < r.rows.size(); ++i) {
    absl::StrAppend(&json, i ? "," : "", "{\"name\":", routing::JsonString(r.rows[i].queue),
                    ",\"recorded\":", Json(r.rows[i].recorded),
                    ",\"replay_recorded_policy\":", Json(r.rows[i].replay));
    if (candidate) absl::StrAppend(&json, ",\"replay_candidate\":", Json(r.rows[i].candidate));
    absl::StrAppend(&json, "}");
  }
  return json + "]}\n";
}

std::string WhatIfTable(const WhatIfResult& r) {
  const bool candidate = !r.candidate_policy.empty();
  std::string out = absl::StrFormat("what-if on %s, %s to %s: %d calls, %d agent events\n",
                                    r.data_dir, Time(r.from), Time(r.to), r.calls, r.agent_events);
  absl::StrAppend(&out, "recorded policy: ", r.recorded_policy,
                  candidate ? absl::StrCat("; candidate: ", r.candidate_policy) : "", "\n\n");
  absl::StrAppend(&out, absl::StrFormat("%-16s %-14s %10s %10s %10s\n", "queue", "figure",
                                        "recorded", "replay", candidate ? "candidate" : ""));
  static constexpr const char* kFigures[] = {"offered",        "SL",       "ASA s", "abandon",
                                             "longest wait s", "occupancy"};
  for (const WhatIfRow& row : r.rows) {
    for (int figure = 0; figure < 6; ++figure) {
      absl::StrAppend(&out, absl::StrFormat("%-16s %-14s %10s %10s %10s\n",
                                            figure == 0 ? row.queue : "", kFigures[figure],
                                            Cell(row.recorded, figure), Cell(row.replay, figure),
                                            candidate ? Cell(row.candidate, figure) : ""));
    }
  }
  return out;
}

int RunWhatIf(WhatIfRequest request, const std::string& candidate_path, bool json,
              std::ostream& out, std::ostream& err) {
  if (!candidate_path.empty()) {
    std::ifstream in(candidate_path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      err << "acdsim: cannot read " << candidate_path << "\n";
      return 2;
    }
    request.candidate_yaml = text.str();
    request.candidate_name = candidate_path;
  }
  absl::StatusOr<WhatIfResult> result = WhatIf(request);
  if (!result.ok()) {
    err << "acdsim: " << result.status().message() << "\n";
    return result.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  for (const std::string& note : result->notes) err << "acdsim: " << note << "\n";
  out << (json ? WhatIfJson(*result) : WhatIfTable(*result));
  return 0;
}

}  // namespace acd::reports
