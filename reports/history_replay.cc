#include "reports/history_replay.h"

#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "daemon/core_input.h"
#include "daemon/journal/retention.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/journal_prefetch.h"
#include "daemon/snapshot_io.h"

namespace acd::reports {
namespace {

using daemon::Core;
using daemon::HistoryEvent;
using daemon::HistorySink;

// Passes every event on, and keeps the calls that entered in range and have not left yet.
class RangeTracker : public HistorySink {
 public:
  RangeTracker(HistorySink* sink, HistoryRange range) : sink_(sink), range_(range) {}
  void Record(const HistoryEvent& event) override {
    if (event.kind == HistoryEvent::kEntered && event.at >= range_.from && event.at < range_.to) {
      open_.insert(event.call_id);
    } else if (event.kind == HistoryEvent::kLeft) {
      open_.erase(event.call_id);
    }
    sink_->Record(event);
  }
  bool calls_open() const { return !open_.empty(); }

 private:
  HistorySink* const sink_;
  const HistoryRange range_;
  absl::flat_hash_set<std::string> open_;
};

}  // namespace

void TellAgentsFound(const Core& core, absl::Time at, HistorySink* sink) {
  acd::v1::ListAgentsResponse agents;
  if (!core.ListAgents({}, &agents).ok()) return;
  for (const acd::v1::AgentInfo& agent : agents.agents()) {
    HistoryEvent event{.kind = HistoryEvent::kLoggedIn, .at = at, .agent_id = agent.agent_id()};
    if (agent.state() == acd::v1::AGENT_STATE_NOT_READY) {
      event.reason = agent.not_ready_reason().empty() ? "not_ready" : agent.not_ready_reason();
    }
    event.queues.assign(agent.queues().begin(), agent.queues().end());
    sink->Record(event);
  }
}

absl::StatusOr<HistoryReplayed> ReplayHistory(const std::string& data_dir, HistoryRange range,
                                              HistorySink* sink,
                                              const BetweenRecords& between_records) {
  HistoryReplayed out;
  std::unique_ptr<Core> core;
  absl::StatusOr<std::vector<daemon::journal::SnapshotFile>> snapshots =
      daemon::journal::ListSnapshots(data_dir);
  if (!snapshots.ok()) return snapshots.status();
  // The newest snapshot at or before `from` that loads; failing that, the oldest one.
  std::string oldest;
  for (const daemon::journal::SnapshotFile& snapshot : *snapshots) {
    absl::StatusOr<absl::Time> taken = daemon::journal::SnapshotTime(snapshot.path);
    if (!taken.ok()) continue;  // damaged: an older one may do
    if (*taken > range.from) {
      oldest = snapshot.path;
      continue;
    }
    absl::StatusOr<daemon::LoadedSnapshot> loaded = daemon::LoadSnapshot(snapshot.path, nullptr);
    if (!loaded.ok()) continue;
    core = std::move(loaded->core);
    out.snapshot_sequence = snapshot.sequence;
    out.history_from = *taken;
    break;
  }

  RangeTracker tracker(sink, range);
  auto start = [&](Core& from_core, absl::Time at) {
    out.history_from = at;
    if (between_records) between_records(from_core, nullptr);
    TellAgentsFound(from_core, at, sink);
    from_core.set_history_sink(&tracker);
  };
  std::unique_ptr<daemon::JournalPrefetch> prefetch;
  if (core != nullptr) {
    start(*core, out.history_from);
  } else {
    // From the journal's first record, when it still holds it.
    prefetch =
        std::make_unique<daemon::JournalPrefetch>(data_dir, daemon::journal::RecoverMode::kStop, 1);
  }
  std::unique_ptr<daemon::JournalPrefetch::Batch> batch;
  if (prefetch != nullptr) {
    batch = prefetch->Next();
    if (batch != nullptr && !batch->records.empty() && batch->records.front().sequence == 1) {
      absl::StatusOr<std::unique_ptr<Core>> created =
          daemon::CreateCore(*batch->records.front().input, nullptr);
      if (!created.ok()) return created.status();
      core = *std::move(created);
      start(*core, daemon::TimeOf(*batch->records.front().input));
      batch->records.erase(batch->records.begin());
    } else if (oldest.empty()) {
      return absl::NotFoundError(
          absl::StrCat(data_dir,
                       " holds no history to replay: no snapshot that loads, and no journal from "
                       "its first record"));
    } else {
      batch.reset();
      prefetch.reset();
      absl::StatusOr<daemon::LoadedSnapshot> loaded = daemon::LoadSnapshot(oldest, nullptr);
      if (!loaded.ok()) return loaded.status();
      core = std::move(loaded->core);
      out.snapshot_sequence = loaded->head.sequence();
      start(*core, absl::FromUnixMicros(loaded->head.time_unix_micros()));
    }
  }
  if (prefetch == nullptr) {
    prefetch = std::make_unique<daemon::JournalPrefetch>(
        data_dir, daemon::journal::RecoverMode::kStop, out.snapshot_sequence + 1);
  }
  out.history_to = out.history_from;
  bool done = false;
  while (!done) {
    if (batch == nullptr) batch = prefetch->Next();
    if (batch == nullptr) break;
    for (const daemon::JournalPrefetch::Record& record : batch->records) {
      const absl::Time at = daemon::TimeOf(*record.input);
      if (at >= range.to && !tracker.calls_open()) {
        done = true;
        break;
      }
      // A refused input was refused when it was journaled too: what matters is what it left.
      absl::Status applied = daemon::ApplyInput(*core, *record.input);
      if (applied.code() == absl::StatusCode::kDataLoss) {
        return absl::DataLossError(
            absl::StrCat("journal record ", record.sequence, ": ", applied.message()));
      }
      (void)core->TakeCommands();
      (void)core->TakeNotices();
      out.history_to = at;
      ++out.records;
      if (between_records) between_records(*core, record.input);
    }
    batch.reset();
  }
  core->set_history_sink(nullptr);
  if (!done) {
    absl::StatusOr<daemon::journal::JournalScan> scan = prefetch->Finish();
    if (!scan.ok()) return scan.status();
  }
  return out;
}

}  // namespace acd::reports
