// ReplayHistory tells a HistorySink what happened in a data dir's retained history between two
// moments: it starts the core from the newest snapshot taken at or before `from` (or from the
// journal's first record, which creates it), tells the sink the agents logged in as it found
// them, and replays the journal's records through the core with the sink attached, each at its
// own time, exactly as acdd lived them. It goes on past `to` until every call that entered in
// [from, to) has left (or the journal ends), so that their endings are told too. It only reads
// the data dir: a running acdd's may be read (its torn last write is left out).
//   QueueLog log(write, from, to);
//   absl::StatusOr<HistoryReplayed> r = ReplayHistory("/var/lib/acd", {from, to}, &log);
//   if (r.ok() && r->history_from > from) ... the history retained begins later than asked
#ifndef ACD_REPORTS_HISTORY_REPLAY_H_
#define ACD_REPORTS_HISTORY_REPLAY_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/history_sink.h"

namespace acd::reports {

struct HistoryRange {
  absl::Time from = absl::InfinitePast();
  absl::Time to = absl::InfiniteFuture();
};

struct HistoryReplayed {
  absl::Time
      history_from;  // the moment the replay started from (its snapshot's, or the first record's)
  absl::Time history_to;           // the last record replayed
  uint64_t snapshot_sequence = 0;  // 0: from the journal's first record
  uint64_t records = 0;
};

// The agents logged in on `core` as it stands at `at`, told to `sink` as logging in (a report or
// a feed that starts from a state learns who is there, and who is paused).
void TellAgentsFound(const daemon::Core& core, absl::Time at, daemon::HistorySink* sink);

// `between_records`, when given, sees the core before the first record (with no input, before the
// agents found are told) and after each one (with the record's input): for what a sink reads from
// the state as it stands, such as the policy's rules, or from the inputs, such as what a call asked
// for.
using BetweenRecords =
    std::function<void(const daemon::Core& core, const daemon::JournalInput* input)>;
absl::StatusOr<HistoryReplayed> ReplayHistory(const std::string& data_dir, HistoryRange range,
                                              daemon::HistorySink* sink,
                                              const BetweenRecords& between_records = nullptr);

}  // namespace acd::reports

#endif  // ACD_REPORTS_HISTORY_REPLAY_H_
