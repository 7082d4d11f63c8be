// The Engine's side of an HA pair (daemon/ha/replica.h): a standby's journal and core fed the
// leader's records, its promotion, and a leader counting its standby's acknowledgements in the
// output commit. The rest of the Engine is in engine.cc; the leader's fence is there too.
#include "daemon/engine.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "daemon/journal/record_format.h"
#include "daemon/log.h"

namespace acd::daemon {

void Engine::AppendReplicated(absl::string_view records, uint64_t first, uint64_t last,
                              uint64_t epoch) {
  journal_->AppendFramed(records, first, last, epoch);
}

bool Engine::WriteReplicated(std::string records, uint64_t first, uint64_t last, uint64_t epoch) {
  const bool durable = journal_->WriteFramed(records, first, last, epoch);
  Post([this, records = std::move(records), first, last, durable] {
    ApplyReplicated(records, first, last);
    if (durable) OnDurable(last);
  });
  return durable;
}

void Engine::ApplyReplicated(const std::string& records, uint64_t first, uint64_t last) {
  if (!standby_) Crash(absl::StrCat("records ", first, "..", last, " replicated to a leader"));
  last_sequence_ = last;
  size_t offset = 0;
  while (offset < records.size()) {
    journal::DecodedRecord record;
    const journal::RecordCheck check = journal::DecodeRecord(records, offset, &record);
    if (check != journal::RecordCheck::kOk) {
      Crash(absl::StrCat("a replicated record at byte ", offset, " of records ", first, "..", last,
                         ": ", journal::RecordCheckName(check)));
    }
    offset += record.size;
    JournalInput input;
    if (!input.ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size()))) {
      Crash(absl::StrCat("replicated record ", record.sequence, " is not a journal input"));
    }
    absl::Status answered;
    if (core_ == nullptr) {
      absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(input, &observer_);
      if (!core.ok()) {
        Crash(absl::StrCat("replicated record ", record.sequence,
                           " does not create a core: ", core.status().message()));
      }
      core_ = *std::move(core);
    } else {
      answered = ApplyInput(*core_, input);
      if (answered.code() == absl::StatusCode::kDataLoss) {
        Crash(absl::StrCat("replicated record ", record.sequence, ": ", answered.message()));
      }
    }
    FollowFilePolicy(input, answered, *core_, &file_policy_);
    time_floor_ = TimeOf(input);
    (void)core_->TakeCommands();  // they wait in the outboxes: a leader's switches reconnect
    (void)core_->TakeNotices();   // the leader logged them
  }
  metrics_.ha.replicated_records.Add(last - first + 1);
  PublishPolicy();  // its YAML made now, not at a promotion, when a takeover is timed
  StartSnapshots();
}

absl::Status Engine::Promote(Leading leading) {
  if (!standby_) return absl::FailedPreconditionError("this acdd leads already");
  if (journal_ == nullptr) return absl::FailedPreconditionError("a leader needs a journal");
  if (leading.epoch <= journal_->epoch()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "etcd's leader key has revision ", leading.epoch, ", not above the journal's epoch ",
        journal_->epoch(),
        ": this etcd is not the one the journal was written under (was etcd "
        "reset or replaced?). Point --etcd_endpoints at the cluster's etcd, or start the replica "
        "that holds the newest journal on a fresh --ha_cluster"));
  }
  journal_->RaiseEpoch(leading.epoch);
  journal_->SetTap(std::move(leading.tap));
  fence_open_ = std::move(leading.fence_open);
  standby_ = false;
  JournalStart();
  StartSnapshots();
  Log(absl::StrCat("leading with epoch ", leading.epoch, " from record ", last_sequence_,
                   core_->router().calls_waiting() > 0
                       ? absl::StrCat(": ", core_->router().calls_waiting(), " calls waiting, ",
                                      core_->router().agent_count(), " agents logged in")
                       : std::string()));
  fence_timer_ = std::make_unique<asio::steady_timer>(io_);
  WatchTheFence();
  Tick();
  RearmWakeup();
  PublishPolicy();
  return absl::OkStatus();
}

void Engine::OnReplicaDurable(uint64_t sequence) {
  replica_durable_ = std::max(replica_durable_, sequence);
  const auto now = std::chrono::steady_clock::now();
  while (!replicating_.empty() && replicating_.front().first <= replica_durable_) {
    metrics_.ha.replication_seconds.Observe(
        std::chrono::duration<double>(now - replicating_.front().second).count());
    replicating_.pop_front();
  }
  if (replica_counted_) Commit();
}

uint64_t Engine::CountReplica(bool counted, uint64_t replica_durable) {
  replica_counted_ = counted;
  replicating_.clear();
  if (counted) replica_durable_ = replica_durable;
  Commit();
  return last_sequence_;
}

}  // namespace acd::daemon
