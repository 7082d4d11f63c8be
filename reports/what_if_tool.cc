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

// The three columns of one queue (a replay may lack a queue with no call in it).
struct Row {
  std::string queue;
  std::optional<WhatIfFigures> recorded, replay, candidate;
};

std::vector<Row> Rows(const std::vector<WhatIfFigures>& recorded,
                      const std::vector<WhatIfFigures>& replay,
                      const std::vector<WhatIfFigures>* candidate) {
  std::vector<Row> rows;
  std::map<std::string, size_t> index;
  auto row = [&](const std::string& queue) -> Row& {
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

int RunWhatIf(const WhatIfRequest& request, std::ostream& out, std::ostream& err) {
  std::shared_ptr<const routing::CompiledPolicy> candidate;
  if (!request.candidate_path.empty()) {
    std::ifstream in(request.candidate_path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) {
      err << "acdsim: cannot read " << request.candidate_path << "\n";
      return 2;
    }
    absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled =
        routing::CompilePolicyText(text.str(), request.candidate_path);
    if (!compiled.ok()) {
      err << "acdsim: " << compiled.status().message() << "\n";
      return 2;
    }
    candidate = *compiled;
  }
  absl::StatusOr<RecordedTraffic> recorded =
      RecordTraffic(request.data_dir, {request.from, request.to});
  if (!recorded.ok()) {
    err << "acdsim: " << request.data_dir << ": " << recorded.status().message() << "\n";
    return 1;
  }
  const routing::sim::Trace& trace = recorded->trace;
  if (request.from != absl::InfinitePast() && trace.start > request.from) {
    err << "acdsim: the history retained in " << request.data_dir << " begins at "
        << Time(trace.start) << ", after --from\n";
  }
  if (recorded->policy_changes > 0) {
    err << "acdsim: the policy changed " << recorded->policy_changes
        << " times during the span; the replay keeps the one in force at its start\n";
  }
  absl::StatusOr<std::vector<WhatIfFigures>> replay =
      routing::sim::ReplayTrace(trace, recorded->policy, request.seed);
  if (!replay.ok()) {
    err << "acdsim: the replay under the recorded policy: " << replay.status().message() << "\n";
    return 1;
  }
  std::optional<std::vector<WhatIfFigures>> with_candidate;
  if (candidate != nullptr) {
    absl::StatusOr<std::vector<WhatIfFigures>> figures =
        routing::sim::ReplayTrace(trace, candidate, request.seed);
    if (!figures.ok()) {
      err << "acdsim: the replay under " << request.candidate_path << ": "
          << figures.status().message() << "\n";
      return 1;
    }
    with_candidate = *std::move(figures);
  }
  const std::vector<Row> rows =
      Rows(recorded->recorded, *replay, with_candidate ? &*with_candidate : nullptr);
  const absl::Time end = trace.start + absl::Seconds(trace.seconds);
  if (request.json) {
    std::string json = absl::StrCat(
        "{\"from\":", routing::JsonString(Time(trace.start)),
        ",\"to\":", routing::JsonString(Time(end)), ",\"calls\":", trace.calls.size(),
        ",\"agent_events\":", trace.agents.size(),
        ",\"recorded_policy\":", routing::JsonString(recorded->policy_source),
        ",\"candidate_policy\":", candidate ? routing::JsonString(request.candidate_path) : "null",
        ",\"queues\":[");
    for (size_t i = 0; i < rows.size(); ++i) {
      absl::StrAppend(&json, i ? "," : "", "{\"name\":", routing::JsonString(rows[i].queue),
                      ",\"recorded\":", Json(rows[i].recorded),
                      ",\"replay_recorded_policy\":", Json(rows[i].replay));
      if (candidate) absl::StrAppend(&json, ",\"replay_candidate\":", Json(rows[i].candidate));
      absl::StrAppend(&json, "}");
    }
    out << json << "]}\n";
    return 0;
  }
  out << absl::StrFormat("what-if on %s, %s to %s: %d calls, %d agent events\n", request.data_dir,
                         Time(trace.start), Time(end), trace.calls.size(), trace.agents.size());
  out << "recorded policy: " << recorded->policy_source
      << (candidate ? absl::StrCat("; candidate: ", request.candidate_path) : "") << "\n\n";
  out << absl::StrFormat("%-16s %-14s %10s %10s %10s\n", "queue", "figure", "recorded", "replay",
                         candidate ? "candidate" : "");
  static constexpr const char* kFigures[] = {"offered",        "SL",       "ASA s", "abandon",
                                             "longest wait s", "occupancy"};
  for (const Row& row : rows) {
    for (int figure = 0; figure < 6; ++figure) {
      out << absl::StrFormat("%-16s %-14s %10s %10s %10s\n", figure == 0 ? row.queue : "",
                             kFigures[figure], Cell(row.recorded, figure), Cell(row.replay, figure),
                             candidate ? Cell(row.candidate, figure) : "");
    }
  }
  return 0;
}

}  // namespace acd::reports
