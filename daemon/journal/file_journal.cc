#include "daemon/journal/file_journal.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/journal/record_format.h"
#include "daemon/log.h"

namespace acd::daemon::journal {
namespace {

absl::Status MakeDirs(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    const std::string part = dir.substr(0, slash);
    if (mkdir(part.c_str(), 0750) != 0 && errno != EEXIST) {
      return ErrnoStatus(absl::StrCat("cannot create ", part), errno);
    }
    if (slash == std::string::npos) break;
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return ErrnoStatus(absl::StrCat("cannot use ", dir), errno);
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(absl::StrCat(dir, " is not a directory"));
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareDataDir(const std::string& dir) {
  if (absl::Status s = MakeDirs(dir); !s.ok()) return s;
  const std::string probe = absl::StrCat(dir, "/.acdd-write-probe");
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot create a file in ", dir), errno);
  close(fd);
  unlink(probe.c_str());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FileJournal>> FileJournal::Start(FileJournalOptions options,
                                                                const JournalScan& scan,
                                                                metrics::JournalSeries* metrics,
                                                                JournalEvents events) {
  if (absl::Status s = MakeDirs(options.dir); !s.ok()) return s;
  const uint64_t epoch = scan.epoch == 0 ? 1 : scan.epoch;
  std::unique_ptr<FileJournal> journal(new FileJournal(std::move(options), scan.last_sequence + 1,
                                                       epoch, metrics, std::move(events)));
  absl::Status opened = scan.tail_segment.empty()
                            ? journal->OpenSegment(journal->next_sequence_)
                            : journal->OpenTail(scan.tail_segment, scan.tail_good_bytes);
  if (!opened.ok()) return opened;
  journal->thread_ = std::thread([j = journal.get()] {
    pthread_setname_np(pthread_self(), "acd-journal");
    j->Run();
  });
  return journal;
}

FileJournal::FileJournal(FileJournalOptions options, uint64_t next_sequence, uint64_t epoch,
                         metrics::JournalSeries* metrics, JournalEvents events)
    : options_(std::move(options)),
      metrics_(metrics),
      events_(std::move(events)),
      epoch_(epoch),
      next_sequence_(next_sequence),
      durable_(next_sequence - 1) {}

FileJournal::~FileJournal() {
  if (thread_.joinable()) {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    thread_.join();
  }
  if (fd_ >= 0) close(fd_);
}

uint64_t FileJournal::Append(absl::string_view payload) {
  const uint64_t sequence = next_sequence_++;
  // With a tap, the record is framed before the lock, so the tap runs without it.
  std::string framed;
  if (tap_) {
    AppendRecord(sequence, epoch_, payload, &framed);
    tap_(framed, sequence);
  }
  absl::MutexLock lock(&mu_);
  if (pending_records_ == 0) pending_first_ = sequence;
  if (tap_) {
    pending_.append(framed);
  } else {
    AppendRecord(sequence, epoch_, payload, &pending_);
  }
  pending_last_ = sequence;
  ++pending_records_;
  return sequence;
}

void FileJournal::TakeFramed(uint64_t first, uint64_t last, uint64_t epoch) {
  if (first != next_sequence_ || last < first || epoch < epoch_) {
    Crash(absl::StrCat("framed records ", first, "..", last, " of epoch ", epoch,
                       " appended where record ", next_sequence_, " of epoch ", epoch_,
                       " comes next"));
  }
  next_sequence_ = last + 1;
  epoch_ = epoch;
}

void FileJournal::BufferLocked(absl::string_view records, uint64_t first, uint64_t last) {
  if (pending_records_ == 0) pending_first_ = first;
  pending_.append(records.data(), records.size());
  pending_last_ = last;
  pending_records_ += last - first + 1;
}

void FileJournal::AppendFramed(absl::string_view records, uint64_t first, uint64_t last,
                               uint64_t epoch) {
  TakeFramed(first, last, epoch);
  absl::MutexLock lock(&mu_);
  BufferLocked(records, first, last);
}

bool FileJournal::WriteFramed(absl::string_view records, uint64_t first, uint64_t last,
                              uint64_t epoch) {
  TakeFramed(first, last, epoch);
  // Under mu_ throughout: the journal thread, idle, stays so until this write is done.
  absl::MutexLock lock(&mu_);
  // With fdatasync the journal thread's group commit saves more than a wake-up: while the
  // follower waited on one sync, the leader's next batches would queue for one sync each.
  if (options_.sync == SyncMode::kFsync || thread_has_batch_ || pending_records_ > 0) {
    BufferLocked(records, first, last);
    return false;
  }
  batch_.assign(records.data(), records.size());
  batch_first_ = first;
  batch_last_ = last;
  batch_records_ = last - first + 1;
  batch_written_ = 0;
  if (absl::Status written = WriteBatch(); !written.ok()) {
    // The thread takes it as its own failed write: it counts it, tells `trouble` why, and
    // retries it after retry_every.
    handed_failure_ = std::move(written);
    thread_has_batch_ = true;  // wakes the thread
    return false;
  }
  BatchDurable();
  return true;
}

uint64_t FileJournal::BatchDurable() {
  metrics_->records.Add(batch_records_);
  metrics_->bytes.Add(batch_.size());
  metrics_->batch_records.Observe(static_cast<double>(batch_records_));
  batch_.clear();
  batch_written_ = 0;
  durable_.store(batch_last_, std::memory_order_release);
  return batch_last_;
}

void FileJournal::RaiseEpoch(uint64_t epoch) {
  if (epoch <= epoch_) {
    Crash(absl::StrCat("journal epoch ", epoch, " is not above the current ", epoch_));
  }
  epoch_ = epoch;
}

absl::Status FileJournal::OpenSegment(uint64_t first_sequence) {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  const std::string path = absl::StrCat(options_.dir, "/", SegmentFileName(first_sequence));
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot create ", path), errno);
  fd_ = fd;
  segment_path_ = path;
  segment_size_ = 0;
  const std::string header = SegmentHeader();
  size_t done = 0;
  if (absl::Status s = WriteAll(fd_, path, header, &done); !s.ok()) {
    // Leave no headerless segment behind: recovery would take it for corruption.
    close(fd_);
    fd_ = -1;
    unlink(path.c_str());
    return s;
  }
  segment_size_ = header.size();
  if (options_.sync == SyncMode::kFsync) {
    // As for a batch (WriteBatch), a failed sync is not retried: the new segment (or its name in
    // the directory) may be lost in a power failure whatever a later sync says.
    absl::Status synced = fdatasync(fd_) == 0
                              ? SyncDir(options_.dir)
                              : ErrnoStatus(absl::StrCat("cannot fdatasync ", path), errno);
    if (!synced.ok()) {
      sync_failed_ = true;
      return absl::UnavailableError(absl::StrCat(synced.message(), "; nothing more can be "
                                                 "acknowledged until acdd restarts and recovers "
                                                 "from the disk"));
    }
  }
  return absl::OkStatus();
}

absl::Status FileJournal::OpenTail(const std::string& path, uint64_t good_bytes) {
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot open ", path, " for appending"), errno);
  fd_ = fd;
  segment_path_ = path;
  segment_size_ = good_bytes;
  return absl::OkStatus();
}

void FileJournal::Run() {
  bool troubled = false;
  while (true) {
    absl::Status handed;  // why WriteFramed's write of the batch it handed over failed
    {
      absl::MutexLock lock(&mu_);
      if (!thread_has_batch_) {
        mu_.Await(absl::Condition(
            +[](FileJournal* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) {
              return j->pending_records_ > 0 || j->stopping_ || j->thread_has_batch_;
            },
            this));
      }
      if (pending_records_ > 0) {
        if (!thread_has_batch_) {
          batch_.swap(pending_);
          batch_first_ = pending_first_;
          batch_records_ = 0;
        } else {
          batch_.append(pending_);
          pending_.clear();
        }
        batch_last_ = pending_last_;
        batch_records_ += pending_records_;
        pending_records_ = 0;
        thread_has_batch_ = true;
      }
      if (!thread_has_batch_ && stopping_) return;
      handed = std::exchange(handed_failure_, absl::OkStatus());
    }
    absl::Status status = !handed.ok()   ? handed
                          : sync_failed_ ? absl::UnavailableError("journal sync failed earlier")
                                         : WriteBatch();
    if (!status.ok()) {
      metrics_->errors.Add(1);
      if (!troubled) {
        troubled = true;
        metrics_->writable.Set(0);
        if (events_.trouble) events_.trouble(status);
      }
      absl::MutexLock lock(&mu_);
      if (stopping_) return;  // what is still buffered was never acknowledged
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.retry_every);
      continue;
    }
    if (troubled) {
      troubled = false;
      metrics_->writable.Set(1);
      if (events_.trouble) events_.trouble(absl::OkStatus());
    }
    uint64_t durable;
    {
      absl::MutexLock lock(&mu_);
      durable = BatchDurable();
      thread_has_batch_ = false;
    }
    if (events_.durable) events_.durable(durable);
  }
}

absl::Status FileJournal::WriteBatch() {
  // A new segment starts only between batches, never inside a record.
  if (batch_written_ == 0 && (fd_ < 0 || segment_size_ >= options_.segment_bytes)) {
    if (absl::Status s = OpenSegment(batch_first_); !s.ok()) return s;
  }
  const auto started = std::chrono::steady_clock::now();
  const size_t before = batch_written_;
  absl::Status status = WriteAll(fd_, segment_path_, batch_, &batch_written_);
  segment_size_ += batch_written_ - before;
  if (!status.ok()) return status;
  if (options_.sync == SyncMode::kFsync && fdatasync(fd_) != 0) {
    sync_failed_ = true;
    return ErrnoStatus("journal fdatasync failed; nothing more can be acknowledged until acdd "
                       "restarts and recovers from the disk",
                       errno);
  }
  metrics_->sync_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return absl::OkStatus();
}

}  // namespace acd::daemon::journal
