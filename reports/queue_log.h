// QueueLog writes acd's history in the shape of Asterisk's queue_log, one line per event:
//   time|callid|queue|agent|event|data1|data2|...
// so that the reporting tools built for Asterisk's queues read acd's history unchanged. The
// mapping from acd's events to queue_log's, and where the shapes differ, is in reports/README.md.
// Times are Unix seconds; waits and talk times whole seconds (Asterisk truncates too); ring times
// of RINGNOANSWER and RINGCANCELED milliseconds, as Asterisk writes them. A line goes out when
// its event falls in [from, to); earlier events still teach the writer where calls stand (their
// place in line on entering, when they started ringing) and whether agents are paused.
//   QueueLog log([&](const std::string& line) { out << line << "\n"; }, from, to);
//   core.set_history_sink(&log);   // or ReplayHistory(data_dir, {from, to}, &log)
#ifndef ACD_REPORTS_QUEUE_LOG_H_
#define ACD_REPORTS_QUEUE_LOG_H_

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "daemon/history_sink.h"

namespace acd::reports {

class QueueLog : public daemon::HistorySink {
 public:
  // `write` gets each line without its newline.
  QueueLog(std::function<void(const std::string&)> write, absl::Time from = absl::InfinitePast(),
           absl::Time to = absl::InfiniteFuture())
      : write_(std::move(write)), from_(from), to_(to) {}

  void Record(const daemon::HistoryEvent& event) override;

 private:
  // What the log needs to remember of a call while it is in acd.
  struct Call {
    std::string queue;          // the queue it is in, as the log last named it
    int original_position = 1;  // its place on entering that queue (1-based)
    absl::Time entered;         // when it entered that queue
    absl::Time ringing_since = absl::InfinitePast();
    absl::Duration waited;  // in line before it was connected
    bool talking = false;   // with an agent
    bool caller_hung_up = false;
    bool consulting = false;  // a warm transfer under way: the caller stays with the agent
    // A transfer under way (blind, a completed consult, or to the fallback): its target, as
    // HistoryEvent::other names it, and where the call goes once its agent's part ends.
    std::string transferred_to;
    std::string next_queue;
    std::string next_agent;  // a completed consult: the agent the caller is now with
  };
  // Writes `time|call|queue|agent|verb|data` when `at` is in range.
  void Line(absl::Time at, const std::string& call_id, const std::string& queue,
            const std::string& agent_id, const char* verb, const std::string& data);
  // The call entered `queue` at `at` in `position` (0: offered at once).
  void Enter(Call& call, const std::string& call_id, const std::string& queue, int position,
             absl::Time at);
  // The ringing (if any) stops at `at`: how long it rang (zero when it was not seen start).
  static absl::Duration StopRinging(Call& call, absl::Time at);
  void Agent(const daemon::HistoryEvent& event, const char* verb, const std::string& data);

  const std::function<void(const std::string&)> write_;
  const absl::Time from_;
  const absl::Time to_;
  absl::flat_hash_map<std::string, Call> calls_;
  absl::flat_hash_set<std::string> paused_;  // agents paused, so a repeat is not logged twice
};

}  // namespace acd::reports

#endif  // ACD_REPORTS_QUEUE_LOG_H_
