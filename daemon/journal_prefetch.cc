#include "daemon/journal_prefetch.h"

#include <pthread.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace acd::daemon {
namespace {

// Big blocks: a batch's records are parsed into a few of them rather than hundreds.
google::protobuf::ArenaOptions BatchArenaOptions() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = size_t{64} << 10;
  options.max_block_size = size_t{1} << 20;
  return options;
}

}  // namespace

JournalPrefetch::JournalPrefetch(std::string dir, journal::RecoverMode mode, uint64_t from,
                                 uint64_t stop_before, size_t max_bytes_ahead)
    : max_bytes_ahead_(max_bytes_ahead),
      reader_([this, dir = std::move(dir), mode, from, stop_before] {
        pthread_setname_np(pthread_self(), "acd-prefetch");
        Read(dir, mode, from, stop_before);
      }) {}

JournalPrefetch::~JournalPrefetch() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  reader_.join();
}

void JournalPrefetch::Read(const std::string& dir, journal::RecoverMode mode, uint64_t from,
                           uint64_t stop_before) {
  std::unique_ptr<Batch> batch;
  bool stopped = false;
  absl::StatusOr<journal::JournalScan> scan = journal::ReadJournal(
      dir, mode, from,
      [&](const journal::DecodedRecord& record) -> absl::Status {
        if (batch == nullptr) {
          batch = std::make_unique<Batch>();
          batch->arena = std::make_unique<google::protobuf::Arena>(BatchArenaOptions());
          batch->records.reserve(kRecordsPerBatch);
        }
        auto* input =
            google::protobuf::Arena::CreateMessage<acd::journal::v1::Input>(batch->arena.get());
        if (!input->ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size()))) {
          return absl::DataLossError(
              absl::StrCat("journal record ", record.sequence, " is not a journal input"));
        }
        batch->records.push_back({record.sequence, input});
        if (batch->records.size() < kRecordsPerBatch) return absl::OkStatus();
        if (!Hand(std::move(batch))) {
          stopped = true;
          return absl::CancelledError("recovery stopped reading the journal");
        }
        return absl::OkStatus();
      },
      stop_before);
  // The records read before the read ended are handed over too: they come before the error.
  if (batch != nullptr && !stopped) Hand(std::move(batch));
  absl::MutexLock lock(&mu_);
  result_ = std::move(scan);
}

bool JournalPrefetch::Hand(std::unique_ptr<Batch> batch) {
  const size_t bytes = batch->arena->SpaceAllocated();
  absl::MutexLock lock(&mu_);
  // One batch always goes, however big: the reader never waits for an empty queue.
  mu_.Await(absl::Condition(
      +[](JournalPrefetch* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return self->stopping_ || self->ready_.empty() ||
               self->bytes_ahead_ < self->max_bytes_ahead_;
      },
      this));
  if (stopping_) return false;
  bytes_ahead_ += bytes;
  ready_.push_back(std::move(batch));
  return true;
}

std::unique_ptr<JournalPrefetch::Batch> JournalPrefetch::Next() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](JournalPrefetch* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return !self->ready_.empty() || self->result_.has_value();
      },
      this));
  if (ready_.empty()) return nullptr;
  std::unique_ptr<Batch> batch = std::move(ready_.front());
  ready_.pop_front();
  bytes_ahead_ -= batch->arena->SpaceAllocated();
  return batch;
}

absl::StatusOr<journal::JournalScan> JournalPrefetch::Finish() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](JournalPrefetch* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return self->result_.has_value();
      },
      this));
  return *result_;
}

}  // namespace acd::daemon
