#include "daemon/ha/replication_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/journal/files.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"

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
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  feed_->Close();
  // A stream blocked writing to a stalled standby ends too.
  for (grpc::ServerContext* context : streams_) context->TryCancel();
}

absl::StatusOr<RecordFeed::Taken> ReplicationSource::ReadFiles(uint64_t from,
                                                               size_t max_bytes) const {
  RecordFeed::Taken taken;
  const absl::Status enough = absl::CancelledError("batch full");
  // The files are read up to the records the feed keeps: the record the engine may be copying
  // into the segment as this reads it (file_journal.h) is in the feed already (the tap has it
  // before the segment does).
  const uint64_t kept = feed_->oldest();
  absl::StatusOr<journal::JournalScan> scan = journal::ReadJournal(
      options_.data_dir, journal::RecoverMode::kStop, from,
      [&](const journal::DecodedRecord& record) {
        if (taken.records.empty()) taken.first = record.sequence;
        journal::AppendRecord(record.sequence, record.epoch, record.payload, &taken.records);
        taken.last = record.sequence;
        return taken.records.size() >= max_bytes ? enough : absl::OkStatus();
      },
      kept != 0 ? kept : journal::kReadToTheEnd);
  if (!scan.ok() && scan.status() != enough) return scan.status();
  taken.outcome = taken.records.empty() ? RecordFeed::Taken::kNothing : RecordFeed::Taken::kRecords;
  return taken;
}

absl::StatusOr<std::optional<uint64_t>> ReplicationSource::EpochAt(uint64_t sequence) const {
  RecordFeed::Taken ours = feed_->Take(sequence, absl::ZeroDuration(), 1);
  if (ours.outcome != RecordFeed::Taken::kRecords) {
    absl::StatusOr<RecordFeed::Taken> read = ReadFiles(sequence, 1);
    if (!read.ok()) return read.status();
    ours = *std::move(read);
  }
  if (ours.outcome != RecordFeed::Taken::kRecords || ours.first != sequence) {
    return std::optional<uint64_t>();
  }
  return std::optional<uint64_t>(FirstEpoch(ours.records));
}

absl::StatusOr<uint64_t> ReplicationSource::FirstKept() const {
  absl::StatusOr<RecordFeed::Taken> read = ReadFiles(1, 1);
  if (!read.ok()) return read.status();
  if (read->outcome == RecordFeed::Taken::kRecords) return read->first;
  return feed_->oldest();
}

absl::StatusOr<std::optional<FollowResponse>> ReplicationSource::Mismatch(
    uint64_t last_sequence, uint64_t last_epoch) const {
  if (last_sequence == 0) return std::nullopt;
  FollowResponse told;
  told.set_leader_epoch(epoch_());
  absl::StatusOr<uint64_t> first_kept = FirstKept();
  if (!first_kept.ok()) return first_kept.status();
  const uint64_t first = *first_kept;
  if (first != 0 && last_sequence < first) {
    told.set_resync(absl::StrCat("the leader no longer keeps record ", last_sequence,
                                 " (its journal starts at ", first, ")"));
    return told;
  }
  absl::StatusOr<std::optional<uint64_t>> at_last = EpochAt(last_sequence);
  if (!at_last.ok()) return at_last.status();
  const std::optional<uint64_t> epoch = *at_last;
  if (epoch == last_epoch) return std::nullopt;
  if (epoch.has_value() && *epoch < last_epoch) {
    told.set_resync(absl::StrCat("record ", last_sequence, " is of epoch ", last_epoch,
                                 " on the standby, newer than the leader's ", *epoch));
    return told;
  }
  // The last record the leader holds with an epoch no newer than the standby's last: records
  // are contiguous and their epochs never fall, so "held, and of epoch <= last_epoch" is true
  // up to some record and false after it. The standby keeps what comes before.
  absl::Status unread;
  auto shared = [&](uint64_t sequence) {
    absl::StatusOr<std::optional<uint64_t>> e = EpochAt(sequence);
    if (!e.ok()) unread = e.status();
    return e.ok() && e->has_value() && **e <= last_epoch;
  };
  // shared(keep) holds, or keep is before the leader's first record (0 when it has none).
  uint64_t keep = first == 0 ? 0 : first - 1;
  uint64_t beyond = last_sequence;  // shared(beyond) does not hold
  while (beyond - keep > 1) {
    const uint64_t middle = keep + (beyond - keep) / 2;
    (shared(middle) ? keep : beyond) = middle;
  }
  if (!unread.ok()) return unread;
  if (first > 1 && keep < first) {
    // Not even the leader's first record is shared: what the standby would keep is older than
    // anything the leader can vouch for.
    told.set_resync(absl::StrCat("the standby's journal shares no record the leader still keeps ",
                                 "(the leader's starts at ", first, ")"));
    return told;
  }
  acd::ha::v1::Cut* cut = told.mutable_cut();
  cut->set_after(keep);
  cut->set_why(epoch.has_value()
                   ? absl::StrCat("record ", last_sequence, " is of epoch ", last_epoch,
                                  " on the standby and of epoch ", *epoch, " on the leader")
                   : absl::StrCat("the standby holds record ", last_sequence,
                                  ", which the leader's journal does not"));
  return told;
}

grpc::Status ReplicationSource::Follow(
    grpc::ServerContext* context, grpc::ServerReaderWriter<FollowResponse, FollowRequest>* stream) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the leader is stopping");
    if (epoch_() == 0)
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this acdd does not lead");
    streams_.insert(context);
  }
  const grpc::Status status = Serve(context, stream);
  absl::MutexLock lock(&mu_);
  streams_.erase(context);
  return status;
}

bool ReplicationSource::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

grpc::Status ReplicationSource::Serve(
    grpc::ServerContext* context, grpc::ServerReaderWriter<FollowResponse, FollowRequest>* stream) {
  FollowRequest hello;
  if (!stream->Read(&hello)) return grpc::Status(grpc::StatusCode::CANCELLED, "no hello");
  const std::string replica = hello.replica_id();
  absl::StatusOr<std::optional<FollowResponse>> told =
      Mismatch(hello.last_sequence(), hello.last_epoch());
  if (!told.ok()) {
    return grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("the leader cannot read its journal: ", told.status().message()));
  }
  if (told->has_value()) {
    // The standby ends the stream once it has read this; returning at once could drop it.
    stream->Write(**told);
    FollowRequest ignored;
    while (stream->Read(&ignored)) {
    }
    return grpc::Status::OK;
  }
  // The standby's reports, read on a thread of their own while records go out on this one.
  std::thread reports([&] {
    FollowRequest report;
    while (stream->Read(&report)) acked_(replica, report.durable_sequence());
  });
  uint64_t next = hello.last_sequence() + 1;
  grpc::Status ended = grpc::Status::OK;
  bool told_to_resync = false;
  while (!context->IsCancelled()) {
    if (stopping()) {
      ended = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the leader is stopping");
      break;
    }
    RecordFeed::Taken taken = feed_->Take(next, kWaitForRecords, options_.max_batch_bytes);
    const uint64_t oldest = feed_->oldest();
    if (taken.outcome != RecordFeed::Taken::kRecords && (oldest == 0 || next < oldest)) {
      // Older than the feed keeps (or from before it started): from the segment files.
      absl::StatusOr<uint64_t> first = FirstKept();
      if (first.ok() && *first != 0 && next < *first) {
        FollowResponse resync;
        resync.set_leader_epoch(epoch_());
        resync.set_resync(absl::StrCat("the leader no longer keeps record ", next,
                                       " (its journal starts at ", *first, ")"));
        stream->Write(resync);
        told_to_resync = true;
        break;
      }
      absl::StatusOr<RecordFeed::Taken> read =
          first.ok() ? ReadFiles(next, options_.max_batch_bytes) : first.status();
      if (!read.ok()) {
        ended = grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(read.status().message()));
        break;
      }
      // Not on disk yet (still buffered, or the disk refuses writes): wait before looking again.
      if (read->outcome != RecordFeed::Taken::kRecords) absl::SleepFor(kWaitForRecords / 4);
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
  // A standby told to resync ends the stream itself once it has read that; cancelling first could
  // drop the message. Otherwise cancelling ends the reports' Read.
  if (!told_to_resync) context->TryCancel();
  reports.join();
  if (gone_) gone_(replica);
  return ended;
}

grpc::Status ReplicationSource::GetSnapshot(
    grpc::ServerContext* context, const acd::ha::v1::GetSnapshotRequest*,
    grpc::ServerWriter<acd::ha::v1::SnapshotChunk>* writer) {
  if (epoch_() == 0) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this acdd does not lead");
  absl::StatusOr<std::vector<journal::SnapshotFile>> snapshots =
      journal::ListSnapshots(options_.data_dir);
  if (!snapshots.ok()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(snapshots.status().message()));
  }
  if (snapshots->empty()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the leader has no snapshot");
  }
  const journal::SnapshotFile newest =
      *std::max_element(snapshots->begin(), snapshots->end(),
                        [](const auto& a, const auto& b) { return a.sequence < b.sequence; });
  const int fd = open(newest.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        std::string(journal::ErrnoStatus(newest.path, errno).message()));
  }
  const off_t size = lseek(fd, 0, SEEK_END);
  lseek(fd, 0, SEEK_SET);
  acd::ha::v1::SnapshotChunk chunk;
  chunk.set_sequence(newest.sequence);
  chunk.set_total_bytes(static_cast<uint64_t>(size));
  std::string buffer(options_.max_batch_bytes, '\0');
  grpc::Status status = grpc::Status::OK;
  while (!context->IsCancelled()) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                            std::string(journal::ErrnoStatus(newest.path, errno).message()));
      break;
    }
    if (n == 0) break;
    chunk.set_data(buffer.data(), static_cast<size_t>(n));
    if (!writer->Write(chunk)) break;
    chunk.clear_sequence();
    chunk.clear_total_bytes();
  }
  close(fd);
  return status;
}

}  // namespace acd::daemon::ha
