// Retention (daemon/journal/retention.h): ApplyRetention keeps the newest snapshots (at least
// one), and for the history one per spacing across the retention and the newest at or before its
// start, and every segment holding a record after the oldest kept one, keeps segments younger than
// the retention and always the last (and the one before a last segment with no record yet),
// removes oldest first and stops at the first that must stay, and without a snapshot removes
// nothing. The journals are segment files built by hand, ten records to a segment.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/retention.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/snapshot_io.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/journal_test_support.h"
#include "tests/daemon/random_core_traffic.h"

namespace acd::daemon::testing {
namespace {

using acd::journal::v1::SnapshotHead;

namespace fs = std::filesystem;

constexpr char kScratch[] = "retention_test";

absl::Time RecordTime(uint64_t sequence) { return kStart + absl::Minutes(sequence); }

// Writes a journal into `dir`: a segment starting at each of `firsts`, the last one running to
// record `last` (a segment may hold no record); record s is stamped `time_of(s)`.
void WriteJournal(const std::string& dir, const std::vector<uint64_t>& firsts, uint64_t last,
                  const std::function<absl::Time(uint64_t)>& time_of = RecordTime) {
  for (size_t i = 0; i < firsts.size(); ++i) {
    const uint64_t end = i + 1 < firsts.size() ? firsts[i + 1] - 1 : last;
    std::string bytes = journal::SegmentHeader();
    for (uint64_t s = firsts[i]; s <= end; ++s) {
      JournalInput input = InputAt(time_of(s));
      input.mutable_time_passed();
      journal::AppendRecord(s, 1, input.SerializeAsString(), &bytes);
    }
    ASSERT_NO_FATAL_FAILURE(
        WriteFile(absl::StrCat(dir, "/", journal::SegmentFileName(firsts[i])), bytes));
  }
}

// A valid snapshot (of a new core) named as the state at `sequence`, taken at its record's time.
void WriteSnapshotAt(const std::string& dir, uint64_t sequence) {
  Traffic traffic(1);
  absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(traffic.Created(), nullptr);
  ASSERT_TRUE(core.ok()) << core.status();
  SnapshotHead head;
  head.set_sequence(sequence);
  head.set_time_unix_micros(absl::ToUnixMicros(RecordTime(sequence)));
  ASSERT_TRUE(WriteSnapshot(**core, head, SnapshotPath(dir, sequence)).ok());
}

std::string SegmentPath(const std::string& dir, uint64_t first) {
  return absl::StrCat(dir, "/", journal::SegmentFileName(first));
}

// The paths of `dir`'s segments, oldest first.
std::vector<std::string> Segments(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> segments = journal::ListSegments(dir);
  EXPECT_TRUE(segments.ok()) << segments.status();
  return segments.ok() ? *segments : std::vector<std::string>{};
}

std::vector<uint64_t> SnapshotSequences(const std::string& dir) {
  absl::StatusOr<std::vector<journal::SnapshotFile>> listed = journal::ListSnapshots(dir);
  EXPECT_TRUE(listed.ok()) << listed.status();
  std::vector<uint64_t> out;
  if (listed.ok()) {
    for (const journal::SnapshotFile& s : *listed) out.push_back(s.sequence);
  }
  return out;
}

uint64_t SizeOf(const std::vector<std::string>& paths) {
  uint64_t bytes = 0;
  for (const std::string& path : paths) bytes += fs::file_size(path);
  return bytes;
}

// Five segments of ten records each: 1-10, 11-20, 21-30, 31-40, 41-50.
const std::vector<uint64_t> kFirsts = {1, 11, 21, 31, 41};
constexpr uint64_t kLast = 50;
absl::Time LongAfter() { return RecordTime(kLast) + absl::Hours(1000); }

TEST(Retention, KeepsTheNewestSnapshotsAndTheSegmentsTheOldestKeptOneDoesNotCover) {
  ScratchDir dir(kScratch);
  ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), kFirsts, kLast));
  for (const uint64_t s : {5, 15, 25, 35, 45}) {
    ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(dir.path(), s));
  }
  const std::vector<std::string> going = {SegmentPath(dir.path(), 1), SegmentPath(dir.path(), 11),
                                          SegmentPath(dir.path(), 21)};
  const std::vector<std::string> snapshots_going = {
      SnapshotPath(dir.path(), 25), SnapshotPath(dir.path(), 15), SnapshotPath(dir.path(), 5)};
  const uint64_t bytes = SizeOf(going) + SizeOf(snapshots_going);

  absl::StatusOr<journal::Removed> removed =
      journal::ApplyRetention(dir.path(), {.journal = absl::Hours(1), .snapshots = 2}, LongAfter());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(removed->snapshots, ::testing::UnorderedElementsAreArray(snapshots_going));
  EXPECT_EQ(SnapshotSequences(dir.path()), (std::vector<uint64_t>{45, 35}));
  // Snapshot 35 covers records 1-30 only: the segment of 31-40 stays, and the later ones.
  EXPECT_EQ(removed->segments, going) << "oldest first";
  EXPECT_EQ(Segments(dir.path()),
            (std::vector<std::string>{SegmentPath(dir.path(), 31), SegmentPath(dir.path(), 41)}));
  EXPECT_EQ(removed->bytes, bytes);

  // Asked to keep none, it keeps the newest still.
  removed =
      journal::ApplyRetention(dir.path(), {.journal = absl::Hours(1), .snapshots = 0}, LongAfter());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(SnapshotSequences(dir.path()), std::vector<uint64_t>{45});
}

TEST(Retention, KeepsASnapshotEverySpacingAcrossTheRetentionForTheHistory) {
  ScratchDir dir(kScratch);
  ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), kFirsts, kLast));
  for (const uint64_t s : {15, 25, 35, 44, 45}) {
    ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(dir.path(), s));
  }
  // 48 minutes kept, at t=50: one snapshot every 2 minutes is enough; 44 is within 2 of 45.
  const absl::Duration retention = absl::Minutes(journal::kHistorySnapshots * 2);
  absl::StatusOr<journal::Removed> removed = journal::ApplyRetention(
      dir.path(), {.journal = retention, .snapshots = 1}, RecordTime(kLast));
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_THAT(removed->snapshots, ::testing::ElementsAre(SnapshotPath(dir.path(), 44)));
  EXPECT_EQ(SnapshotSequences(dir.path()), (std::vector<uint64_t>{45, 35, 25, 15}));
  EXPECT_TRUE(removed->segments.empty()) << "every segment is younger than the retention";
}

TEST(Retention, KeepsTheNewestSnapshotAtOrBeforeTheRetentionsStartAndTheJournalAfterIt) {
  ScratchDir dir(kScratch);
  ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), kFirsts, kLast));
  for (const uint64_t s : {5, 15, 25, 35, 45}) {
    ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(dir.path(), s));
  }
  // 24 minutes kept at t=50: the history starts at t=26; snapshot 25 is where a replay of it
  // starts, so it stays, and so do the records after it; 15 and 5 go, and the segments before.
  const absl::Duration retention = absl::Minutes(24);
  absl::StatusOr<journal::Removed> removed = journal::ApplyRetention(
      dir.path(), {.journal = retention, .snapshots = 1}, RecordTime(kLast));
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(SnapshotSequences(dir.path()), (std::vector<uint64_t>{45, 35, 25}));
  EXPECT_EQ(Segments(dir.path()),
            (std::vector<std::string>{SegmentPath(dir.path(), 21), SegmentPath(dir.path(), 31),
                                      SegmentPath(dir.path(), 41)}));
}

TEST(Retention, NeverRemovesASegmentHoldingARecordAfterTheOldestKeptSnapshot) {
  // Snapshot 29 does not hold record 30: its segment stays. Snapshot 30 does: it goes.
  for (const uint64_t snapshot : {29, 30}) {
    SCOPED_TRACE(absl::StrCat("the snapshot at ", snapshot));
    ScratchDir dir(kScratch);
    ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), kFirsts, kLast));
    ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(dir.path(), snapshot));
    absl::StatusOr<journal::Removed> removed = journal::ApplyRetention(
        dir.path(), {.journal = absl::ZeroDuration(), .snapshots = 1}, LongAfter());
    ASSERT_TRUE(removed.ok()) << removed.status();
    std::vector<std::string> going = {SegmentPath(dir.path(), 1), SegmentPath(dir.path(), 11)};
    if (snapshot == 30) going.push_back(SegmentPath(dir.path(), 21));
    EXPECT_EQ(removed->segments, going);
    EXPECT_TRUE(removed->snapshots.empty());
    EXPECT_EQ(Segments(dir.path()).front(), SegmentPath(dir.path(), snapshot == 30 ? 31 : 21));
  }
}

TEST(Retention, KeepsSegmentsYoungerThanTheRetention) {
  // A segment's age is its next one's first record's: 11, 21, 31, 41 minutes after kStart.
  constexpr absl::Duration kKeep = absl::Hours(1);
  for (const bool a_moment_earlier : {false, true}) {
    SCOPED_TRACE(a_moment_earlier ? "a microsecond before record 21 is an hour old"
                                  : "record 21 an hour old exactly");
    ScratchDir dir(kScratch);
    ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), kFirsts, kLast));
    ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(dir.path(), kLast));
    const absl::Time now =
        RecordTime(21) + kKeep - (a_moment_earlier ? absl::Microseconds(1) : absl::ZeroDuration());
    absl::StatusOr<journal::Removed> removed =
        journal::ApplyRetention(dir.path(), {.journal = kKeep, .snapshots = 1}, now);
    ASSERT_TRUE(removed.ok()) << removed.status();
    std::vector<std::string> going = {SegmentPath(dir.path(), 1)};
    if (!a_moment_earlier) going.push_back(SegmentPath(dir.path(), 11));
    EXPECT_EQ(removed->segments, going);
    EXPECT_EQ(Segments(dir.path()).size(), kFirsts.size() - going.size());
  }
}

TEST(Retention, NeverRemovesTheLastSegment) {
  ScratchDir dir(kScratch);
  ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), kFirsts, kLast));
  ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(dir.path(), kLast));
  absl::StatusOr<journal::Removed> removed = journal::ApplyRetention(
      dir.path(), {.journal = absl::ZeroDuration(), .snapshots = 1}, LongAfter());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->segments.size(), 4u);
  EXPECT_EQ(Segments(dir.path()), std::vector<std::string>{SegmentPath(dir.path(), 41)});

  // A journal of one segment keeps it.
  ScratchDir single(kScratch);
  ASSERT_NO_FATAL_FAILURE(WriteJournal(single.path(), {1}, 10));
  ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(single.path(), 10));
  removed = journal::ApplyRetention(single.path(),
                                    {.journal = absl::ZeroDuration(), .snapshots = 1}, LongAfter());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(removed->segments.empty());
  EXPECT_EQ(Segments(single.path()).size(), 1u);
}

TEST(Retention, RemovesOldestFirstAndStopsAtTheFirstSegmentThatMustStay) {
  // The clock stepped: record 21 (the second segment's age) is recent, the later ones are old.
  const absl::Time now = RecordTime(kLast) + absl::Hours(10);
  auto time_of = [&](uint64_t s) { return s == 21 ? now - absl::Minutes(5) : RecordTime(s); };
  ScratchDir dir(kScratch);
  ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), kFirsts, kLast, time_of));
  ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(dir.path(), kLast));
  absl::StatusOr<journal::Removed> removed =
      journal::ApplyRetention(dir.path(), {.journal = absl::Hours(1), .snapshots = 1}, now);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->segments, std::vector<std::string>{SegmentPath(dir.path(), 1)})
      << "the journal stays whole from its first segment on";
  EXPECT_EQ(Segments(dir.path()).size(), 4u);
}

TEST(Retention, WithoutASnapshotRemovesNothing) {
  ScratchDir dir(kScratch);
  ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), kFirsts, kLast));
  ASSERT_NO_FATAL_FAILURE(WriteFile(SnapshotPath(dir.path(), kLast) + ".tmp", "unfinished"));
  absl::StatusOr<journal::Removed> removed = journal::ApplyRetention(
      dir.path(), {.journal = absl::ZeroDuration(), .snapshots = 1}, LongAfter());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_TRUE(removed->segments.empty());
  EXPECT_TRUE(removed->snapshots.empty());
  EXPECT_EQ(removed->bytes, 0u);
  EXPECT_EQ(Segments(dir.path()).size(), kFirsts.size());
}

// The journal has just started a new segment and written no record into it yet (or a full disk
// stopped the first write): the segment before it has no age yet, and stays; the older ones go.
TEST(Retention, ALastSegmentWithNoRecordYetKeepsTheOneBeforeItAndIsNoError) {
  ScratchDir dir(kScratch);
  ASSERT_NO_FATAL_FAILURE(WriteJournal(dir.path(), {1, 11, 21}, 20));  // 21: a header alone
  ASSERT_NO_FATAL_FAILURE(WriteSnapshotAt(dir.path(), 20));
  absl::StatusOr<journal::Removed> removed = journal::ApplyRetention(
      dir.path(), {.journal = absl::ZeroDuration(), .snapshots = 1}, LongAfter());
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(removed->segments, std::vector<std::string>{SegmentPath(dir.path(), 1)});
  EXPECT_EQ(Segments(dir.path()),
            (std::vector<std::string>{SegmentPath(dir.path(), 11), SegmentPath(dir.path(), 21)}));
}

}  // namespace
}  // namespace acd::daemon::testing
