// The reports acdctl writes from a data dir's retained history (offline, like `acdctl journal`):
// queue_log lines, call records (JSON lines) or the interval CSV, over [from, to).
//   acdctl report intervals --from 2026-11-30T08:00:00Z --to 2026-11-30T18:00:00Z /var/lib/acd
#ifndef ACD_REPORTS_REPORT_TOOL_H_
#define ACD_REPORTS_REPORT_TOOL_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace acd::reports {

struct ReportRequest {
  std::string kind;  // "queue-log", "calls" or "intervals"
  std::string data_dir;
  absl::Time from = absl::InfinitePast();
  absl::Time to = absl::InfiniteFuture();
  absl::Duration interval = absl::Minutes(15);  // intervals: 15, 30 or 60 minutes
  absl::Duration short_abandon = absl::Seconds(5);
};

// A moment as the command line gives it: RFC 3339 ("2026-11-30T09:00:00Z", an offset or
// fractions allowed) or a UTC day ("2026-11-30", its midnight).
absl::StatusOr<absl::Time> ParseReportTime(absl::string_view text);

// Writes the report to `out`; a history that begins after `from` is said on `err`. Returns the
// exit status: 0 written, 1 the data dir could not be read (the reason on `err`).
int WriteReport(const ReportRequest& request, std::ostream& out, std::ostream& err);

}  // namespace acd::reports

#endif  // ACD_REPORTS_REPORT_TOOL_H_
