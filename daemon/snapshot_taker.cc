#include "daemon/snapshot_taker.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <limits>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "daemon/core_input.h"
#include "daemon/journal/files.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/log.h"
#include "daemon/recovery.h"
#include "daemon/snapshot_io.h"

namespace acd::daemon {
namespace {

// How often the copy looks for new durable records: often while they come, so that each pass is
// short. A pass applies what the engine journaled since the last one; every 50 ms that was about
// 500 records at 2,000 calls/s, a burst of about 1.3 ms of CPU twenty times a second, and on two
// cores those bursts held the engine and gRPC's threads back: acdload's arrival->offer p99 with
// --journal_sync=write was 2.0-2.3 ms against 0.75-1.0 ms with a pass every 5 ms, side by side
// (README, "The journal's cost"). When a pass finds nothing new, the next look is later.
constexpr absl::Duration kFollowEvery = absl::Milliseconds(5);
constexpr absl::Duration kFollowWhenQuiet = absl::Milliseconds(50);
// How often at most a catch-up of the copy at normal priority is logged.
constexpr absl::Duration kCatchUpLogEvery = absl::Minutes(10);
// How long after a failed snapshot the next one may start.
constexpr absl::Duration kRetryAfterFailure = absl::Minutes(1);

// How much of a segment a pass reads at a time: a segment ends in a window of zeros the journal
// prepared (file_journal.h), which a pass must not read whole each time.
constexpr size_t kReadAtMost = size_t{64} << 10;

// Up to `at_most` bytes of `path` from `offset` on (fewer at its end).
absl::Status ReadSome(const std::string& path, uint64_t offset, size_t at_most,
                      std::string* bytes) {
  bytes->resize(at_most);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return journal::ErrnoStatus(absl::StrCat("cannot open ", path), errno);
  size_t done = 0;
  while (done < at_most) {
    const ssize_t n =
        pread(fd, bytes->data() + done, at_most - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      return journal::ErrnoStatus(absl::StrCat("cannot read ", path), error);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  bytes->resize(done);
  return absl::OkStatus();
}

}  // namespace

SnapshotTaker::SnapshotTaker(std::string dir, SnapshotOptions options, const Clock* clock,
                             journal::FileJournal* journal, metrics::JournalSeries* metrics,
                             uint64_t start_after, std::function<void(const SnapshotReport&)> done)
    : dir_(std::move(dir)),
      options_(options),
      clock_(clock),
      journal_(journal),
      metrics_(metrics),
      start_after_(start_after),
      done_(std::move(done)),
      thread_([this] {
        pthread_setname_np(pthread_self(), "acd-snapshot");
        Run();
      }) {}

SnapshotTaker::~SnapshotTaker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

bool SnapshotTaker::StoppingAfter(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stopping_), d);
}

void SnapshotTaker::Run() {
  // The copy starts as the engine's core did: from the newest snapshot and the journal after it
  // (the engine has cut what had to be cut), here on this thread, while the engine serves; once
  // the records the engine wrote at its start are on file, so that there is a journal to read.
  while (journal_->durable_sequence() < start_after_) {
    if (StoppingAfter(kFollowEvery)) return;
  }
  // The feed starts from the snapshot's state and hears the records replayed after it (passing
  // over what it wrote before acdd stopped).
  HistoryFeed* const feed = options_.feed;
  bool feed_started = false;
  auto start_feed = [&](Core& core) {
    if (feed == nullptr || feed_started) return;
    feed_started = true;
    feed->Start(core);
    core.set_history_sink(feed);
  };
  // Only what is durable: the engine may be copying the next record into the segment as the
  // copy reads it (file_journal.h), and following takes the rest.
  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir_, journal::RecoverMode::kStop, nullptr, journal_->durable_sequence() + 1,
                  [&](Core& core, uint64_t sequence) {
                    start_feed(core);
                    if (feed != nullptr) feed->BeforeRecord(sequence);
                  });
  if (recovered.ok() && recovered->core == nullptr) {
    recovered = absl::InternalError("the data dir holds no journal");
  }
  if (!recovered.ok()) {
    metrics_->snapshots_failed.Add(1);
    done_({.status = absl::Status(recovered.status().code(),
                                  absl::StrCat("the snapshot taker's copy of the state could not "
                                               "recover, so no snapshot is taken until acdd "
                                               "restarts: ", recovered.status().message()))});
    return;
  }
  copy_ = std::move(recovered->core);
  start_feed(*copy_);
  const journal::JournalScan& scan = recovered->scan;
  sequence_ = scan.last_sequence;
  epoch_ = scan.epoch;
  last_time_ = recovered->last_time;
  file_policy_ = recovered->file_policy;
  segment_ = scan.tail_segment.empty()
                 ? absl::StrCat(dir_, "/", journal::SegmentFileName(sequence_ + 1))
                 : scan.tail_segment;
  offset_ = scan.tail_segment.empty() ? journal::kSegmentHeaderBytes : scan.tail_good_bytes;
  snapshot_sequence_ = synced_through_ = recovered->snapshot_sequence;
  snapshot_time_ = clock_->Now();
  recovered->core.reset();

  // The copy's scheduling, and the watchdog that changes it while the copy follows the journal
  // (so never for a thread that is gone).
  scheduling_ = std::make_unique<BackgroundScheduling>();
  std::thread watchdog([this] {
    pthread_setname_np(pthread_self(), "acd-snap-watch");
    WatchPasses();
  });
  absl::Cleanup stop_watchdog = [&] {
    {
      absl::MutexLock lock(&watch_mu_);
      watch_stopping_ = true;
    }
    watchdog.join();
  };

  absl::Duration wait = kFollowEvery;
  while (true) {
    PassDueAt(clock_->Now() + wait);
    if (StoppingAfter(wait)) break;
    const uint64_t durable = journal_->durable_sequence();
    metrics_->snapshot_copy_behind.Set(
        static_cast<double>(durable > sequence_ ? durable - sequence_ : 0));
    PassDueAt(clock_->Now());  // a pass that runs past kLatePass counts as late too
    const uint64_t before = sequence_;
    absl::Status s = FollowJournal();
    wait = sequence_ == before ? kFollowWhenQuiet : kFollowEvery;
    // The feeds' flush and a snapshot (which may take seconds) are not passes: not watched.
    PassDueAt(absl::InfiniteFuture());
    if (feed != nullptr) {
      // A failing feed is reported once when it starts failing and once when it recovers.
      const absl::Status flushed = feed->Flush();
      if (flushed.ok() != feed_ok_) {
        feed_ok_ = flushed.ok();
        done_({.status = flushed, .feed = true});
      }
    }
    if (!s.ok()) {
      metrics_->snapshots_failed.Add(1);
      done_({.status = absl::Status(s.code(), absl::StrCat(
                                                  "the snapshot taker's copy of the state stopped "
                                                  "following the journal, so no snapshot is taken "
                                                  "until acdd restarts: ", s.message()))});
      break;
    }
    const absl::Time now = clock_->Now();
    // While the feeds lag, no snapshot: a restart must replay what they miss.
    if (!Due(now) || !feed_ok_) continue;
    const SnapshotReport report = Take();
    if (report.status.ok()) {
      snapshot_sequence_ = report.sequence;
      snapshot_time_ = now;
      metrics_->snapshots_taken.Add(1);
      metrics_->snapshot_seconds.Observe(absl::ToDoubleSeconds(report.took));
      metrics_->snapshot_bytes.Set(static_cast<double>(report.bytes));
      metrics_->snapshot_sequence.Set(static_cast<double>(report.sequence));
      metrics_->snapshot_timestamp_seconds.Set(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
      metrics_->retention_removed_bytes.Add(report.removed.bytes);
    } else {
      not_before_ = now + kRetryAfterFailure;
      metrics_->snapshots_failed.Add(1);
    }
    done_(report);
  }
}

absl::Status SnapshotTaker::FollowJournal() {
  const uint64_t durable = journal_->durable_sequence();
  std::string bytes;
  size_t at_most = kReadAtMost;
  while (sequence_ < durable) {
    if (absl::Status s = ReadSome(segment_, offset_, at_most, &bytes); !s.ok()) return s;
    size_t at = 0;
    journal::RecordCheck check = journal::RecordCheck::kOk;
    // Records up to the durable one are whole; what follows may still be being written.
    while (sequence_ < durable && at < bytes.size()) {
      journal::DecodedRecord record;
      check = journal::DecodeRecord(bytes, at, &record);
      if (check != journal::RecordCheck::kOk) break;
      if (record.sequence != sequence_ + 1) {
        return absl::DataLossError(absl::StrCat("record ", record.sequence, " in ", segment_,
                                                " where ", sequence_ + 1, " was due"));
      }
      JournalInput input;
      if (!input.ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size()))) {
        return absl::DataLossError(absl::StrCat("record ", record.sequence, " does not parse"));
      }
      if (options_.feed != nullptr) options_.feed->BeforeRecord(record.sequence);
      const absl::Status answered = ApplyInput(*copy_, input);
      if (answered.code() == absl::StatusCode::kDataLoss) return answered;
      FollowFilePolicy(input, answered, *copy_, &file_policy_);
      (void)copy_->TakeCommands();
      (void)copy_->TakeNotices();
      sequence_ = record.sequence;
      epoch_ = record.epoch;
      last_time_ = TimeOf(input);
      at += record.size;
    }
    offset_ += at;
    if (sequence_ >= durable) break;
    const bool read_all_asked = bytes.size() == at_most;
    at_most = kReadAtMost;
    if (at < bytes.size() && check == journal::RecordCheck::kTruncated && read_all_asked) {
      // A record runs past what was read: read on from it (with room for it, if it is the first).
      if (at == 0) at_most = bytes.size() * 2;
      continue;
    }
    // A record header of zeros: the unfilled end of the segment's window (file_journal.h).
    const bool window_end = at < bytes.size() && bytes.size() - at >= journal::kRecordHeaderBytes &&
                            bytes.find_first_not_of('\0', at) >= at + journal::kRecordHeaderBytes;
    if (at < bytes.size() && !window_end) {
      return absl::DataLossError(absl::StrCat("record ", sequence_ + 1, " in ", segment_,
                                              " at offset ", offset_, " does not decode though "
                                              "the journal reported it durable"));
    }
    if (at == bytes.size() && read_all_asked) continue;  // more of this segment to read
    // The durable records go on in the next segment.
    const std::string next = absl::StrCat(dir_, "/", journal::SegmentFileName(sequence_ + 1));
    if (next == segment_ || access(next.c_str(), F_OK) != 0) {
      return absl::DataLossError(absl::StrCat("record ", sequence_ + 1, " is durable but in no "
                                              "segment"));
    }
    segment_ = next;
    offset_ = journal::kSegmentHeaderBytes;
  }
  return absl::OkStatus();
}

bool FollowInBackground(bool background_now, absl::Duration pass_late_by,
                        absl::Duration since_left) {
  return background_now ? pass_late_by <= kLatePass : since_left >= kCatchUpFor;
}

void SnapshotTaker::PassDueAt(absl::Time due) {
  pass_due_ns_.store(
      due == absl::InfiniteFuture() ? std::numeric_limits<int64_t>::max() : absl::ToUnixNanos(due),
      std::memory_order_relaxed);
}

void SnapshotTaker::WatchPasses() {
  while (true) {
    {
      absl::MutexLock lock(&watch_mu_);
      if (watch_mu_.AwaitWithTimeout(absl::Condition(&watch_stopping_), kLatePass / 2)) return;
    }
    Reschedule(clock_->Now());
  }
}

void SnapshotTaker::Reschedule(absl::Time now) {
  const int64_t due = pass_due_ns_.load(std::memory_order_relaxed);
  if (due == std::numeric_limits<int64_t>::max()) return;  // no pass is due: nothing to watch
  const absl::Duration late_by = now - absl::FromUnixNanos(due);
  const bool background_now = scheduling_->background();
  const bool background = FollowInBackground(background_now, late_by, now - left_background_);
  if (background_refused_ || background == background_now) return;
  auto overdue = [&] {
    return absl::StrCat("a pass of the snapshot taker's copy is ",
                        absl::FormatDuration(absl::Trunc(late_by, absl::Milliseconds(1))),
                        " overdue (", static_cast<uint64_t>(metrics_->snapshot_copy_behind.Get()),
                        " records were waiting at the last one)");
  };
  if (absl::Status s = scheduling_->Set(background); !s.ok()) {
    if (background) {  // it never goes into the background
      background_refused_ = true;
      Log(absl::StrCat("the snapshot taker's copy keeps acdd's scheduling: ", s.message()));
    } else if (now - catch_up_logged_ >= kCatchUpLogEvery) {  // tried again at the next look
      catch_up_logged_ = now;
      Log(absl::StrCat(overdue(), ", and it stays in the background: ", s.message()));
    }
    return;
  }
  if (background) return;
  left_background_ = now;
  ++catch_ups_unlogged_;
  if (now - catch_up_logged_ < kCatchUpLogEvery) return;
  Log(absl::StrCat(
      overdue(), ": it follows at normal priority for ", absl::FormatDuration(kCatchUpFor),
      catch_ups_unlogged_ > 1 ? absl::StrCat(" (", catch_ups_unlogged_ - 1,
                                             " catch-ups not logged since the last such line)")
                              : ""));
  catch_up_logged_ = now;
  catch_ups_unlogged_ = 0;
}

bool SnapshotTaker::Due(absl::Time now) const {
  if (sequence_ <= snapshot_sequence_ || now < not_before_) return false;
  return (options_.every_records > 0 && sequence_ - snapshot_sequence_ >= options_.every_records) ||
         (options_.every > absl::ZeroDuration() && now - snapshot_time_ >= options_.every);
}

SnapshotReport SnapshotTaker::Take() {
  const absl::Time started = clock_->Now();
  SnapshotReport report;
  report.sequence = sequence_;
  const std::string path = absl::StrCat(dir_, "/", journal::SnapshotFileName(sequence_));
  const std::string temporary = absl::StrCat(path, ".tmp");
  acd::journal::v1::SnapshotHead head;
  head.set_sequence(sequence_);
  head.set_epoch(epoch_);
  head.set_time_unix_micros(absl::ToUnixMicros(last_time_));
  if (file_policy_) *head.mutable_file_policy() = *file_policy_;
  absl::StatusOr<uint64_t> written = WriteSnapshot(*copy_, head, temporary);
  if (!written.ok()) {
    report.status = written.status();
  } else if (absl::Status s = SyncJournalThrough(sequence_); !s.ok()) {
    report.status = s;
  } else {
    report.bytes = *written;
    report.status = journal::PublishSnapshot(temporary, path);
  }
  report.took = clock_->Now() - started;
  if (!report.status.ok()) {
    unlink(temporary.c_str());
    return report;
  }
  absl::StatusOr<journal::Removed> removed =
      journal::ApplyRetention(dir_, options_.retention, clock_->Now());
  if (removed.ok()) {
    report.removed = *std::move(removed);
  } else {
    report.retention = removed.status();
  }
  return report;
}

absl::Status SnapshotTaker::SyncJournalThrough(uint64_t sequence) {
  if (journal_->sync() == journal::SyncMode::kFsync) return absl::OkStatus();  // synced already
  // Written to the OS but perhaps not to the disk: the segments holding records after the last
  // sync up to `sequence` are synced now.
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> segments =
      journal::ListNumberedFiles(dir_, journal::SegmentFirstSequence);
  if (!segments.ok()) return segments.status();
  for (size_t i = 0; i < segments->size(); ++i) {
    const auto& [first, path] = (*segments)[i];
    const bool holds_newer =
        i + 1 == segments->size() || (*segments)[i + 1].first - 1 > synced_through_;
    if (first > sequence || !holds_newer) continue;
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return journal::ErrnoStatus(absl::StrCat("cannot open ", path), errno);
    const int rc = fdatasync(fd);
    const int error = errno;
    close(fd);
    if (rc != 0) return journal::ErrnoStatus(absl::StrCat("cannot fdatasync ", path), error);
  }
  synced_through_ = sequence;
  return absl::OkStatus();
}

}  // namespace acd::daemon
