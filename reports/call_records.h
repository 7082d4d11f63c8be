// CallRecords writes one JSON line per finished call: where it went (queues and agents, in
// order), how long it waited, talked and was held, its transfers, how it ended, and the prompts
// the caller heard. Calls that entered acd in [from, to) are written, when they leave (a call
// still in acd when the history ends is not: it has no record yet). A call whose entering the
// history does not hold (it began later) gets what its leaving says, marked "complete":false.
// Records hold what the history holds: never a callback number or a call's attributes (the
// history carries neither).
//   CallRecords records([&](const std::string& line) { out << line << "\n"; }, from, to);
//   ReplayHistory(data_dir, {from, to}, &records);
// A line (one per call; fields in reports/README.md):
//   {"call_id":"c1","entered":"2026-11-30T09:00:00Z","left":"2026-11-30T09:04:10Z",
//    "outcome":"ended","queues":["sales"],"agents":["a1"],"offers":1,"wait_seconds":12,
//    "answered_after_seconds":12,"talk_seconds":230,"holds":1,"hold_seconds":30,"transfers":0,
//    "callback":false,"fallback":null,"prompts":{"entry":1,"update":0,...},"complete":true}
#ifndef ACD_REPORTS_CALL_RECORDS_H_
#define ACD_REPORTS_CALL_RECORDS_H_

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "daemon/history_sink.h"
#include "routing/prompt_kind.h"

namespace acd::reports {

class CallRecords : public daemon::HistorySink {
 public:
  CallRecords(std::function<void(const std::string&)> write, absl::Time from = absl::InfinitePast(),
              absl::Time to = absl::InfiniteFuture())
      : write_(std::move(write)), from_(from), to_(to) {}

  void Record(const daemon::HistoryEvent& event) override;

 private:
  struct Call {
    absl::Time entered;
    std::vector<std::string> queues;  // visited, in order (a queue visited twice is named twice)
    std::vector<std::string> agents;  // the caller was with, in order
    int offers = 0;
    absl::Duration waited;                         // in line, every queue's part
    std::optional<absl::Duration> answered_after;  // the first time the caller reached an agent
    absl::Duration talked;
    int holds = 0;
    absl::Duration held;
    int transfers = 0;
    bool callback = false;
    std::string fallback;
    std::array<int, routing::kPromptKindCount> prompts{};
  };
  static void Visit(Call& call, const std::string& queue);
  // `complete`: the call was followed from its entering (else only its leaving is known).
  std::string Line(const std::string& call_id, const Call& call, const daemon::HistoryEvent& left,
                   bool complete) const;

  const std::function<void(const std::string&)> write_;
  const absl::Time from_;
  const absl::Time to_;
  absl::flat_hash_map<std::string, Call> calls_;  // calls that entered in range, still in acd
};

}  // namespace acd::reports

#endif  // ACD_REPORTS_CALL_RECORDS_H_
