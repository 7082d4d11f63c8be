#include "daemon/journal/file_journal.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/journal/record_format.h"
#include "daemon/log.h"

namespace acd::daemon::journal {
namespace {

constexpr uint64_t kPageBytes = 4096;  // x86-64's and arm64's smallest page: the window's unit

uint64_t PageUp(uint64_t bytes) { return (bytes + kPageBytes - 1) & ~(kPageBytes - 1); }

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
  if (fd_ < 0) return;
  ReleaseWindow();
  // Stopped: the segment ends where its records do (a reader of a stopped acdd's data dir finds
  // no zeros; the next start would have cut them).
  if (ftruncate(fd_, static_cast<off_t>(segment_size_)) != 0) {
    Log(absl::StrCat("cannot cut the unused end off ", segment_path_,
                     " (the next start will): ", strerror(errno)));
  }
  close(fd_);
}

uint64_t FileJournal::Append(absl::string_view payload) {
  const uint64_t sequence = next_sequence_++;
  // Framed before the lock: the tap runs without it, and the copy holds it the shortest time.
  framing_.clear();
  AppendRecord(sequence, epoch_, payload, &framing_);
  if (tap_) tap_(framing_, sequence);
  absl::MutexLock lock(&mu_);
  if (!CopyIntoWindowLocked(framing_, sequence, sequence)) {
    BufferLocked(framing_, sequence, sequence);
  }
  return sequence;
}

bool FileJournal::CopyIntoWindowLocked(absl::string_view records, uint64_t first, uint64_t last) {
  // thread_has_batch_ first: while the thread holds a batch, the segment and its mapping are
  // its own (it may be making a new one).
  if (thread_has_batch_ || pending_records_ > 0 || map_ == nullptr ||
      segment_size_ >= options_.segment_bytes || segment_size_ + records.size() > window_end_) {
    return false;
  }
  memcpy(map_ + segment_size_, records.data(), records.size());
  segment_size_ += records.size();
  // Past the window's middle: the thread prepares the next half while this one fills (asked
  // once per window end, so that a failing fallocate is not retried at every record).
  if (window_asked_at_ != window_end_ && window_end_ - segment_size_ < options_.window_bytes / 2) {
    window_asked_at_ = window_end_;
    window_wanted_ = true;
  }
  metrics_->records.Add(last - first + 1);
  metrics_->bytes.Add(records.size());
  metrics_->batch_records.Observe(static_cast<double>(last - first + 1));
  durable_.store(last, std::memory_order_release);
  return true;
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
  if (CopyIntoWindowLocked(records, first, last)) return true;
  // With a window (even one the filesystem refused) only the journal thread writes the
  // segment: it maps and extends it.
  if (options_.sync == SyncMode::kFsync || options_.window_bytes > 0 || thread_has_batch_ ||
      pending_records_ > 0) {
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
  if (fd_ >= 0) {
    ReleaseWindow();
    close(fd_);
  }
  fd_ = -1;
  const std::string path = absl::StrCat(options_.dir, "/", SegmentFileName(first_sequence));
  // Read and write: a window maps it so.
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot create ", path), errno);
  fd_ = fd;
  segment_path_ = path;
  segment_size_ = 0;
  const std::string header = SegmentHeader();
  size_t done = 0;
  if (absl::Status s = WriteAll(fd_, path, header, /*at=*/0, &done); !s.ok()) {
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
  MapSegment();
  return absl::OkStatus();
}

absl::Status FileJournal::OpenTail(const std::string& path, uint64_t good_bytes) {
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot open ", path, " for appending"), errno);
  fd_ = fd;
  segment_path_ = path;
  segment_size_ = good_bytes;
  MapSegment();
  return absl::OkStatus();
}

bool FileJournal::Windowed() const {
  return options_.sync == SyncMode::kWrite && options_.window_bytes > 0 && !window_refused_;
}

void FileJournal::MapSegment() {
  if (!Windowed()) return;
  map_bytes_ = PageUp(std::max(segment_size_, options_.segment_bytes) + options_.window_bytes);
  // Mapped past the file's end: only what ExtendWindow allocated is ever touched.
  void* mapped = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (mapped == MAP_FAILED) {
    Log(absl::StrCat("cannot map ", segment_path_, " (", strerror(errno),
                     "): its records go through the journal thread"));
    return;
  }
  map_ = static_cast<char*>(mapped);
  ExtendWindow();
}

void FileJournal::ExtendWindow() {
  if (map_ == nullptr) return;
  uint64_t from, to;
  {
    absl::MutexLock lock(&mu_);
    window_wanted_ = false;
    from = std::max(window_end_, segment_size_);
    to = std::min(map_bytes_, PageUp(segment_size_ + options_.window_bytes));
  }
  if (to <= from) return;  // the segment is full: the next one gets a window of its own
  // Allocated, so that no copy can find the disk full (a page the kernel cannot back raises
  // SIGBUS); the file grows to `to`.
  if (fallocate(fd_, 0, static_cast<off_t>(from), static_cast<off_t>(to - from)) != 0) {
    const int error = errno;
    if (error == EOPNOTSUPP) {
      window_refused_ = true;
      Log(absl::StrCat("the filesystem of ", options_.dir,
                       " cannot preallocate (fallocate: ", strerror(error),
                       "): every journal record goes through the journal "
                       "thread, a thread wake-up per write"));
    }
    // Otherwise (a full disk, a file size limit) the records take the thread's way, whose
    // write says why if it fails as well; the next batch tries the window again.
    return;
  }
  // Dirty in the page cache and mapped writable: a copy there takes no fault. Only bytes past
  // `from` are written (zeros over zeros): the appender copies below it meanwhile.
  for (uint64_t page = from & ~(kPageBytes - 1); page < to; page += kPageBytes) {
    const_cast<volatile char*>(map_)[std::max(page, from)] = 0;
  }
  absl::MutexLock lock(&mu_);
  window_end_ = to;
}

void FileJournal::ReleaseWindow() {
  if (map_ == nullptr) return;
  munmap(map_, map_bytes_);
  map_ = nullptr;
  uint64_t end;
  {
    absl::MutexLock lock(&mu_);
    end = window_end_;
    window_end_ = window_asked_at_ = 0;
  }
  // Zeros still, but no longer taking space; the size stays (a reader may have it mapped).
  const uint64_t from = PageUp(segment_size_);
  if (end > from) {
    (void)fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(from),
                    static_cast<off_t>(end - from));
  }
}

void FileJournal::Run() {
  bool troubled = false;
  while (true) {
    absl::Status handed;  // why WriteFramed's write of the batch it handed over failed
    bool extend_only;
    {
      absl::MutexLock lock(&mu_);
      if (!thread_has_batch_) {
        mu_.Await(absl::Condition(
            +[](FileJournal* j) ABSL_EXCLUSIVE_LOCKS_REQUIRED(j->mu_) {
              return j->pending_records_ > 0 || j->stopping_ || j->thread_has_batch_ ||
                     j->window_wanted_;
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
      extend_only = !thread_has_batch_;  // woken for more window, with nothing to write
      if (!extend_only) handed = std::exchange(handed_failure_, absl::OkStatus());
    }
    if (extend_only) {
      ExtendWindow();
      continue;
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
    ExtendWindow();  // the batch went past the window, or it came because the window was full
  }
}

absl::Status FileJournal::WriteBatch() {
  // A new segment starts only between batches, never inside a record.
  if (batch_written_ == 0 && (fd_ < 0 || segment_size_ >= options_.segment_bytes)) {
    if (absl::Status s = OpenSegment(batch_first_); !s.ok()) return s;
  }
  const auto started = std::chrono::steady_clock::now();
  const size_t before = batch_written_;
  absl::Status status =
      WriteAll(fd_, segment_path_, batch_, segment_size_ - before, &batch_written_);
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
