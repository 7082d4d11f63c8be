#include "reports/report_tool.h"

#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "reports/call_records.h"
#include "reports/history_replay.h"
#include "reports/interval_report.h"
#include "reports/queue_log.h"
#include "routing/compiled_policy.h"

namespace acd::reports {

absl::StatusOr<absl::Time> ParseReportTime(absl::string_view text) {
  absl::Time t;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, text, &t, &error)) return t;
  if (absl::ParseTime("%Y-%m-%d", text, absl::UTCTimeZone(), &t, &error)) return t;
  return absl::InvalidArgumentError(absl::StrCat(
      "'", text, "' is not a time: give RFC 3339 (2026-11-30T09:00:00Z) or a day (2026-11-30)"));
}

int WriteReport(const ReportRequest& request, std::ostream& out, std::ostream& err) {
  auto write = [&out](const std::string& line) { out << line << "\n"; };
  std::unique_ptr<daemon::HistorySink> sink;
  IntervalReport* intervals = nullptr;
  // The queues' rules as the policy stands between records, for the interval figures.
  std::map<std::string, QueueRules> rules;
  const routing::CompiledPolicy* rules_from = nullptr;
  BetweenRecords between_records;
  if (request.kind == "queue-log") {
    sink = std::make_unique<QueueLog>(write, request.from, request.to);
  } else if (request.kind == "calls") {
    sink = std::make_unique<CallRecords>(write, request.from, request.to);
  } else {
    auto report =
        std::make_unique<IntervalReport>(IntervalOptions{.interval = request.interval,
                                                         .from = request.from,
                                                         .to = request.to,
                                                         .short_abandon = request.short_abandon},
                                         [&rules](const std::string& queue) {
                                           auto it = rules.find(queue);
                                           return it == rules.end() ? QueueRules{} : it->second;
                                         });
    intervals = report.get();
    sink = std::move(report);
    between_records = [&](const daemon::Core& core, const daemon::JournalInput*) {
      const routing::CompiledPolicy& policy = core.router().policy();
      if (&policy == rules_from) return;
      rules_from = &policy;
      rules.clear();
      for (const routing::CompiledQueue& queue : policy.queues) {
        rules[queue.name] = {.service_level_threshold = queue.service_level.threshold,
                             .wrap_up = queue.wrap_up};
      }
    };
  }
  absl::StatusOr<HistoryReplayed> replayed =
      ReplayHistory(request.data_dir, {request.from, request.to}, sink.get(), between_records);
  if (!replayed.ok()) {
    err << "acdctl: " << absl::StatusCodeToString(replayed.status().code()) << ": "
        << replayed.status().message() << "\n";
    return 1;
  }
  if (replayed->history_from > request.from && request.from != absl::InfinitePast()) {
    err << "acdctl: the history retained in " << request.data_dir << " begins at "
        << absl::FormatTime(absl::RFC3339_sec, replayed->history_from, absl::UTCTimeZone())
        << ", after --from\n";
  }
  if (intervals != nullptr) {
    // An open-ended report stops at the end of the interval of the last record.
    const absl::Time end = replayed->history_to;
    out << intervals->Csv(end + absl::Nanoseconds(1));
  }
  return 0;
}

}  // namespace acd::reports
