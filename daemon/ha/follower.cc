#include "daemon/ha/follower.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/journal/record_format.h"

namespace acd::daemon::ha {

using acd::ha::v1::FollowRequest;
using acd::ha::v1::FollowResponse;

Follower::Follower(FollowerOptions options, uint64_t last_sequence, uint64_t last_epoch,
                   FollowerEvents events)
    : options_(std::move(options)),
      events_(std::move(events)),
      last_sequence_(last_sequence),
      last_epoch_(last_epoch) {}

Follower::~Follower() { Stop(); }

void Follower::Start(const std::string& leader_address) {
  leader_address_ = leader_address;
  thread_ = std::thread([this] { Run(); });
}

void Follower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Follower::last_sequence() const {
  absl::MutexLock lock(&mu_);
  return last_sequence_;
}

uint64_t Follower::last_epoch() const {
  absl::MutexLock lock(&mu_);
  return last_epoch_;
}

void Follower::Durable(uint64_t sequence) {
  // Under write_mu_ only: a Write blocked by a stalled leader must not hold mu_, which Stop()
  // needs to cancel the stream (and so unblock the Write).
  absl::MutexLock lock(&write_mu_);
  durable_ = std::max(durable_, sequence);
  if (stream_ == nullptr) return;  // the next stream reports it right after its hello
  FollowRequest report;
  report.set_durable_sequence(durable_);
  stream_->Write(report);
}

void Follower::Run() {
  while (true) {
    if (!FollowOnce()) return;
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.reconnect_every)) return;
  }
}

absl::Status Follower::Check(const FollowResponse& batch, uint64_t* epoch) const {
  uint64_t expected, floor, highest_leader_epoch;
  {
    absl::MutexLock lock(&mu_);
    expected = last_sequence_ + 1;
    floor = last_epoch_;
    highest_leader_epoch = highest_leader_epoch_;
  }
  if (batch.leader_epoch() < highest_leader_epoch) {
    return absl::FailedPreconditionError(
        absl::StrCat("records from a leader of epoch ", batch.leader_epoch(),
                     " after one of epoch ", highest_leader_epoch, " (a deposed leader's)"));
  }
  if (batch.first_sequence() != expected || batch.last_sequence() < batch.first_sequence()) {
    return absl::DataLossError(absl::StrCat("records ", batch.first_sequence(), "..",
                                            batch.last_sequence(), " where record ", expected,
                                            " was due"));
  }
  const std::string& bytes = batch.records();
  size_t offset = 0;
  for (uint64_t sequence = batch.first_sequence(); sequence <= batch.last_sequence(); ++sequence) {
    journal::DecodedRecord record;
    const journal::RecordCheck check = journal::DecodeRecord(bytes, offset, &record);
    if (check != journal::RecordCheck::kOk) {
      return absl::DataLossError(
          absl::StrCat("record ", sequence, " from the leader: ", journal::RecordCheckName(check)));
    }
    if (record.sequence != sequence) {
      return absl::DataLossError(absl::StrCat("record ", record.sequence, " from the leader where ",
                                              sequence, " was due"));
    }
    if (record.epoch < floor) {
      return absl::DataLossError(
          absl::StrCat("record ", sequence, " of epoch ", record.epoch, " after epoch ", floor));
    }
    floor = record.epoch;
    offset += record.size;
  }
  if (offset != bytes.size()) {
    return absl::DataLossError(absl::StrCat(bytes.size() - offset, " bytes after record ",
                                            batch.last_sequence(), " from the leader"));
  }
  *epoch = floor;
  return absl::OkStatus();
}

bool Follower::FollowOnce() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // a record may be larger than gRPC's 4 MiB default
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      leader_address_,
      options_.credentials != nullptr ? options_.credentials : grpc::InsecureChannelCredentials(),
      args);
  std::unique_ptr<acd::ha::v1::Replication::Stub> stub = acd::ha::v1::Replication::NewStub(channel);
  grpc::ClientContext context;
  FollowRequest hello;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    context_ = &context;
    hello.set_replica_id(options_.replica_id);
    hello.set_last_sequence(last_sequence_);
    hello.set_last_epoch(last_epoch_);
  }
  std::unique_ptr<grpc::ClientReaderWriter<FollowRequest, FollowResponse>> stream =
      stub->Follow(&context);
  bool go_on = true;          // connect again after this stream
  bool leader_ended = false;  // the leader ended the stream (its status says how)
  absl::Status broken;        // why this stream was left, when it was
  if (stream->Write(hello)) {
    {
      // From now on Durable() reports on this stream; what became durable while there was none
      // goes first.
      absl::MutexLock lock(&write_mu_);
      stream_ = stream.get();
      if (durable_ > 0) {
        FollowRequest report;
        report.set_durable_sequence(durable_);
        stream_->Write(report);
      }
    }
    FollowResponse batch;
    while (true) {
      if (!stream->Read(&batch)) {
        leader_ended = true;
        break;
      }
      if (batch.has_cut()) {
        if (events_.cut) events_.cut(batch.cut().after(), batch.cut().why());
        go_on = false;
        break;
      }
      if (!batch.resync().empty()) {
        if (events_.resync) events_.resync(batch.resync());
        go_on = false;
        break;
      }
      uint64_t epoch = 0;
      if (absl::Status checked = Check(batch, &epoch); !checked.ok()) {
        broken = checked;
        break;
      }
      const uint64_t durable =
          events_.records(std::move(*batch.mutable_records()), batch.first_sequence(),
                          batch.last_sequence(), epoch);
      if (durable > 0) Durable(durable);
      absl::MutexLock lock(&mu_);
      last_sequence_ = batch.last_sequence();
      last_epoch_ = epoch;
      highest_leader_epoch_ = batch.leader_epoch();
    }
  }
  if (!leader_ended) context.TryCancel();  // unblocks a Durable() Write as well
  {
    absl::MutexLock lock(&write_mu_);
    stream_ = nullptr;
  }
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    if (stopping_) go_on = false;
  }
  const grpc::Status status = stream->Finish();
  if (go_on && events_.broken) {
    events_.broken(!broken.ok()
                       ? broken
                       : absl::UnavailableError(absl::StrCat(
                             "the stream from the leader at ", leader_address_,
                             " ended: ", status.ok() ? "by the leader" : status.error_message())));
  }
  return go_on;
}

}  // namespace acd::daemon::ha
