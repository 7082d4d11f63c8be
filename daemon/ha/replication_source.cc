#include "daemon/ha/replication_source.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"

namespace acd::daemon::ha {
namespace {

using acd::ha::v1::FollowRequest;
using acd::ha::v1::FollowResponse;

// How long a stream waits for a new record before it looks whether it should end.
constexpr absl::Duration kWaitForRecords = absl::Milliseconds(100);

// The epoch of the first record framed in `records`.
uint64_t FirstEpoch(absl::string_view records) {
  journal::DecodedRecord record;
  return journal::DecodeRecord(records, 0, &record) == journal::RecordCheck::kOk ? record.epoch : 0;
}

}  // namespace

ReplicationSource::ReplicationSource(ReplicationSourceOptions options, RecordFeed* feed,
                                     std::function<uint64_t()> epoch, Acked acked, Gone gone)
    : options_(std::move(options)),
      feed_(feed),
      epoch_(std::move(epoch)),
      acked_(std::move(acked)),
      gone_(std::move(gone)) {}

void ReplicationSource::Stop() {
  stopping_ = true;
  feed_->Close();
}

absl::StatusOr<RecordFeed::Taken> ReplicationSource::ReadFiles(uint64_t from) const {
  RecordFeed::Taken taken;
  const absl::Status enough = absl::CancelledError("batch full");
  absl::StatusOr<journal::JournalScan> scan = journal::ReadJournal(
      options_.data_dir, journal::RecoverMode::kStop, from,
      [&](const journal::DecodedRecord& record) {
        if (taken.records.empty()) taken.first = record.sequence;
        journal::AppendRecord(record.sequence, record.epoch, record.payload, &taken.records);
        taken.last = record.sequence;
        return taken.records.size() >= options_.max_batch_bytes ? enough : absl::OkStatus();
      });
  if (!scan.ok() && scan.status() != enough) return scan.status();
  taken.outcome = taken.records.empty() ? RecordFeed::Taken::kNothing : RecordFeed::Taken::kRecords;
  return taken;
}

std::optional<std::string> ReplicationSource::Mismatch(uint64_t last_sequence,
                                                       uint64_t last_epoch) const {
  if (last_sequence == 0) return std::nullopt;
  RecordFeed::Taken ours = feed_->Take(last_sequence, absl::ZeroDuration(), 1);
  if (ours.outcome != RecordFeed::Taken::kRecords) {
    absl::StatusOr<RecordFeed::Taken> read = ReadFiles(last_sequence);
    if (!read.ok())
      return absl::StrCat("the leader cannot read its journal: ", read.status().message());
    ours = *std::move(read);
  }
  if (ours.outcome != RecordFeed::Taken::kRecords) {
    return absl::StrCat("the standby holds record ", last_sequence,
                        ", which the leader's journal does not");
  }
  if (ours.first != last_sequence) {
    return absl::StrCat("the leader no longer keeps record ", last_sequence,
                        " (its journal starts at ", ours.first, ")");
  }
  const uint64_t epoch = FirstEpoch(ours.records);
  if (epoch != last_epoch) {
    return absl::StrCat("record ", last_sequence, " is of epoch ", last_epoch,
                        " on the standby and of epoch ", epoch, " on the leader");
  }
  return std::nullopt;
}

grpc::Status ReplicationSource::Follow(
    grpc::ServerContext* context, grpc::ServerReaderWriter<FollowResponse, FollowRequest>* stream) {
  if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the leader is stopping");
  FollowRequest hello;
  if (!stream->Read(&hello)) return grpc::Status(grpc::StatusCode::CANCELLED, "no hello");
  const std::string replica = hello.replica_id();
  if (std::optional<std::string> why = Mismatch(hello.last_sequence(), hello.last_epoch())) {
    FollowResponse resync;
    resync.set_leader_epoch(epoch_());
    resync.set_resync(*why);
    stream->Write(resync);
    return grpc::Status::OK;
  }
  // The standby's reports, read on a thread of their own while records go out on this one.
  std::thread reports([&] {
    FollowRequest report;
    while (stream->Read(&report)) acked_(replica, report.durable_sequence());
  });
  uint64_t next = hello.last_sequence() + 1;
  grpc::Status ended = grpc::Status::OK;
  while (!context->IsCancelled()) {
    if (stopping_) {
      ended = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the leader is stopping");
      break;
    }
    RecordFeed::Taken taken = feed_->Take(next, kWaitForRecords, options_.max_batch_bytes);
    const uint64_t oldest = feed_->oldest();
    if (taken.outcome != RecordFeed::Taken::kRecords && (oldest == 0 || next < oldest)) {
      // Older than the feed keeps (or from before it started): from the segment files.
      absl::StatusOr<RecordFeed::Taken> read = ReadFiles(next);
      if (!read.ok()) {
        ended = grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(read.status().message()));
        break;
      }
      if (read->outcome == RecordFeed::Taken::kRecords && read->first != next) {
        FollowResponse resync;
        resync.set_leader_epoch(epoch_());
        resync.set_resync(absl::StrCat("the leader no longer keeps record ", next,
                                       " (its journal starts at ", read->first, ")"));
        stream->Write(resync);
        break;
      }
      taken = *std::move(read);
    }
    if (taken.outcome != RecordFeed::Taken::kRecords) continue;
    FollowResponse batch;
    batch.set_leader_epoch(epoch_());
    batch.set_first_sequence(taken.first);
    batch.set_last_sequence(taken.last);
    batch.set_records(std::move(taken.records));
    if (!stream->Write(batch)) break;
    next = taken.last + 1;
  }
  context->TryCancel();
  reports.join();
  if (gone_) gone_(replica);
  return ended;
}

}  // namespace acd::daemon::ha
