// LiveFeeds write acd's history as it happens: Asterisk queue_log lines (--queue_log FILE) and
// call records (--call_records FILE), appended to their files by the snapshot taker's copy of the
// core as it follows the durable journal (daemon/history_sink.h: HistoryFeed). So a line leaves
// only once what it tells is durable, and the engine thread does nothing for it.
//
// Nothing is lost across a restart: after each write the feeds remember the last journal record
// whose lines are all in their files (`<data_dir>/feeds.position`); at the next start the copy
// replays the journal from its snapshot, and the feeds write the lines of the records after that
// one, and none before. A call still in acd across a restart whose entering the feeds did not see
// again gets a record with what its leaving says (`"complete":false`).
//
// Rotation: on Reopen() (acdd's SIGHUP) the files are reopened by name before the next write, so
// logrotate's `create` + `postrotate kill -HUP` works (deploy/logrotate/acd). A file that cannot
// be written keeps what it owes in memory (up to kMaxPendingBytes, then it stops taking more
// until acdd restarts, which writes what is missing from the journal).
//   auto feeds = LiveFeeds::Open({.data_dir = dir, .queue_log = "/var/log/acd/queue_log"});
//   snapshot_options.feed = feeds->get();
#ifndef ACD_REPORTS_LIVE_FEEDS_H_
#define ACD_REPORTS_LIVE_FEEDS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/history_sink.h"
#include "reports/call_records.h"
#include "reports/queue_log.h"

namespace acd::reports {

class LiveFeeds : public daemon::HistoryFeed {
 public:
  static constexpr size_t kMaxPendingBytes = size_t{64} << 20;

  struct Options {
    std::string data_dir;
    std::string queue_log;     // empty: no queue_log feed
    std::string call_records;  // empty: no call records feed
  };
  // Opens (creating) the files for appending and reads the position: an error names the file.
  static absl::StatusOr<std::unique_ptr<LiveFeeds>> Open(const Options& options);
  ~LiveFeeds() override;

  void Start(const daemon::Core& core) override;
  void BeforeRecord(uint64_t sequence) override;
  void Record(const daemon::HistoryEvent& event) override;
  absl::Status Flush() override;
  // Any thread: the files are reopened by name before the next write.
  void Reopen() { reopen_.store(true, std::memory_order_relaxed); }

  uint64_t written_through() const { return written_through_; }

 private:
  // One file and what it owes.
  struct File {
    std::string path;
    int fd = -1;
    std::string pending;
    size_t pending_before_record = 0;  // `pending`'s size when the current record began
  };
  explicit LiveFeeds(const Options& options);
  static absl::Status OpenFile(File& file);
  // A line for `file` from the current record: kept unless written before a restart.
  void Take(File& file, const std::string& line);
  absl::Status SavePosition(uint64_t sequence);

  const std::string position_path_;
  File queue_log_file_;
  File call_records_file_;
  std::optional<QueueLog> queue_log_;
  std::optional<CallRecords> call_records_;
  uint64_t written_through_ = 0;   // every line of the records through this is in the files
  uint64_t resume_after_ = 0;      // the position read at start: its records' lines are written
  uint64_t current_ = 0;           // the record being told
  bool stalled_ = false;           // over kMaxPendingBytes: taking no more until a restart
  uint64_t buffered_through_ = 0;  // while stalled: the last record whose lines are all kept
  std::atomic<bool> reopen_{false};
};

}  // namespace acd::reports

#endif  // ACD_REPORTS_LIVE_FEEDS_H_
