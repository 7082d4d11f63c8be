// Snapshots: acdd saves its whole core at a journal sequence, and recovery restores the newest
// snapshot that loads and replays only the journal records after it. A core restored from a
// snapshot taken anywhere in random traffic equals the saved one byte for byte (Core::Dump), saves
// the very same parts again and goes on exactly as the original; recovery starts from the newest
// usable snapshot, passes over damaged ones and ones the journal does not reach (with a note), and
// works with the segments a snapshot covers removed. The snapshot file itself is checked in
// snapshot_file_test.cc, retention in retention_test.cc. The taker's copy follows the journal in
// the background while its passes come on time (FollowInBackground).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "daemon/api_convert.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/retention.h"
#include "daemon/recovery.h"
#include "daemon/snapshot_io.h"
#include "daemon/snapshot_taker.h"
#include "daemon/text_diff.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"
#include "tests/daemon/journal_test_support.h"
#include "tests/daemon/random_core_traffic.h"
#include "tests/daemon/snapshot_parts.h"

namespace acd::daemon::testing {
namespace {

using acd::journal::v1::SnapshotHead;
using acd::journal::v1::SnapshotPart;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

constexpr char kScratch[] = "snapshot_test";

void CopyDir(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::overwrite_existing | fs::copy_options::recursive);
}

// The traffic must have made the core do what a snapshot has to keep, or a test could pass on a
// core that did nothing.
void ExpectTheTrafficExercisedTheCore(const Traffic& traffic) {
  ExpectEachHappened(
      traffic, {"ok enqueue_call", "ok offer_accepted", "ok offer_rejected", "ok answered",
                "ok hold_started", "ok transfer_requested", "ok consult_transfer_requested",
                "ok callback_accepted", "ok call_ended", "ok caller_abandoned", "ok login",
                "ok logout", "ok set_policy", "input policy_text", "input command_written",
                "input switch_reconnected", "input drain_begun", "input started",
                "command offer_call", "command play_prompt", "command start_callback",
                "resent on reconnect"});
}

// A core restored from parts that went through their bytes, as a file carries them.
absl::StatusOr<std::unique_ptr<Core>> Restore(const std::vector<SnapshotPart>& parts) {
  std::vector<std::string> bytes;
  for (const SnapshotPart& part : parts) bytes.push_back(DeterministicBytes(part));
  size_t next = 0;
  return Core::RestoreSnapshot(
      [&](SnapshotPart* part) -> absl::StatusOr<bool> {
        if (next == bytes.size()) return false;
        if (!part->ParseFromString(bytes[next++])) return absl::InternalError("unparsable");
        return true;
      },
      nullptr);
}

// Expects a restored core to save again the very parts it was restored from.
void ExpectSameParts(const std::vector<SnapshotPart>& saved,
                     const std::vector<SnapshotPart>& saved_again) {
  ASSERT_EQ(saved.size(), saved_again.size()) << "the restored core saves another number of parts";
  for (size_t i = 0; i < saved.size(); ++i) {
    ASSERT_TRUE(DeterministicBytes(saved[i]) == DeterministicBytes(saved_again[i]))
        << "part " << i << " differs when the restored core is saved again:\n"
        << UnifiedDiff(saved[i].DebugString(), saved_again[i].DebugString(), "saved",
                       "saved again");
  }
}

void FlipAByteInTheMiddle(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  (*bytes)[bytes->size() / 2] ^= 0x5a;
  ASSERT_NO_FATAL_FAILURE(WriteFile(path, *bytes));
}

void CutInHalf(const std::string& path) { fs::resize_file(path, fs::file_size(path) / 2); }

// ---------------------------------------------------------------------------------------------
// The core's own save and restore.

TEST(CoreSnapshot, ARestoredCoreEqualsTheSavedOneAndGoesOnExactlyAsItWould) {
  constexpr int kInputs = 3000;  // the snapshots are taken among these
  constexpr int kMore = 1500;    // inputs each restored core takes after its snapshot
  PartCounts seen;
  for (uint64_t seed = 31; seed <= 34; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 random(seed);
    // Right after the created record, and at random points of the traffic.
    std::set<int> points = {0};
    while (points.size() < 6) points.insert(1 + static_cast<int>(random() % kInputs));
    Traffic traffic(seed);
    absl::StatusOr<std::unique_ptr<Core>> created = CreateCore(traffic.Created(), nullptr);
    ASSERT_TRUE(created.ok()) << created.status();
    Core& original = **created;

    struct Restored {
      std::unique_ptr<Core> core;
      int taken_after;  // input
      int left;         // inputs still to take
    };
    std::vector<Restored> restored;
    const int last = *points.rbegin() + kMore;
    for (int k = 0; k <= last; ++k) {
      if (k > 0) {
        // The original and every restored core take the very same input.
        const JournalInput input = traffic.Next(original);
        const Effect effect = Apply(original, input);
        const std::string expected = Text(effect);
        for (Restored& r : restored) {
          const std::string actual = Text(Apply(*r.core, input));
          ASSERT_TRUE(expected == actual)
              << "input " << k << ", " << input.ShortDebugString()
              << ", to the core restored from the snapshot after input " << r.taken_after << ":\n"
              << UnifiedDiff(expected, actual, "original", "restored");
          --r.left;
        }
        traffic.Learn(input, effect);
      }
      for (auto r = restored.begin(); r != restored.end();) {
        if (r->left > 0) {
          ++r;
          continue;
        }
        ExpectSameState(original.Dump(), r->core->Dump(),
                        absl::StrCat("restored after input ", r->taken_after, " and gone on"));
        r = restored.erase(r);
      }
      if (!points.contains(k)) continue;

      SCOPED_TRACE(absl::StrCat("the snapshot after input ", k));
      const std::vector<SnapshotPart> parts = Save(original);
      ASSERT_GE(parts.size(), 3u);
      EXPECT_TRUE(parts.front().has_core()) << "the core's head comes first";
      EXPECT_TRUE(parts[1].has_router()) << "the router comes second";
      EXPECT_TRUE(parts.back().has_end()) << "the end comes last";
      seen.Add(parts);
      absl::StatusOr<std::unique_ptr<Core>> copy = Restore(parts);
      ASSERT_TRUE(copy.ok()) << copy.status();
      ExpectSameState(original.Dump(), (*copy)->Dump(), "restored");
      ASSERT_NO_FATAL_FAILURE(ExpectSameParts(parts, Save(**copy)));
      restored.push_back({*std::move(copy), k, kMore});
    }
    EXPECT_TRUE(restored.empty());
    ExpectTheTrafficExercisedTheCore(traffic);
  }
  // The snapshots held what the core keeps beside the router.
  EXPECT_GT(seen.live_calls, 0);
  EXPECT_GT(seen.finished_calls, 0);
  EXPECT_GT(seen.outboxes_with_unwritten, 0);
  EXPECT_GT(seen.offers, 0);
  EXPECT_GT(seen.logins, 0);
}

TEST(CoreSnapshot, ASnapshotFileLoadsBackWithItsHeadAndItsCore) {
  ScratchDir dir(kScratch);
  Traffic traffic(35);
  absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(traffic.Created(), nullptr);
  ASSERT_TRUE(core.ok()) << core.status();
  for (int k = 1; k <= 600; ++k) {
    const JournalInput input = traffic.Next(**core);
    traffic.Learn(input, Apply(**core, input));
  }
  SnapshotHead head;
  head.set_sequence(601);
  head.set_epoch(3);
  head.set_time_unix_micros(absl::ToUnixMicros(kStart) + 123456789);
  head.mutable_file_policy()->set_name("from the file");
  const std::string path = dir / "written.snap";
  absl::StatusOr<uint64_t> bytes = WriteSnapshot(**core, head, path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, fs::file_size(path));

  absl::StatusOr<LoadedSnapshot> loaded = LoadSnapshot(path, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(DeterministicBytes(loaded->head), DeterministicBytes(head))
      << loaded->head.DebugString();
  EXPECT_EQ(loaded->bytes, *bytes);
  ASSERT_NE(loaded->core, nullptr);
  ExpectSameState((*core)->Dump(), loaded->core->Dump(), "loaded");
}

// ---------------------------------------------------------------------------------------------
// Recovery from a snapshot and the journal after it.

TEST(SnapshotRecovery, RecoveryStartsFromTheSnapshotAndReplaysOnlyTheRecordsAfterIt) {
  constexpr int kInputs = 2000;
  for (uint64_t seed = 51; seed <= 53; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 random(seed);
    const int k = 1 + static_cast<int>(random() % (kInputs - 1));
    SCOPED_TRACE(absl::StrCat("the snapshot after input ", k));
    ScratchDir dir(kScratch);
    Recording run = Record(seed, dir.path(), kInputs, {}, {k});
    ASSERT_NE(run.core, nullptr);
    const uint64_t sequence = k + 1u;  // the created record is 1
    ASSERT_EQ(run.snapshots.at(k), sequence);

    absl::StatusOr<Recovered> recovered =
        RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_NE(recovered->core, nullptr);
    EXPECT_EQ(recovered->snapshot_sequence, sequence);
    EXPECT_EQ(recovered->snapshot_bytes, fs::file_size(SnapshotPath(dir.path(), sequence)));
    EXPECT_EQ(recovered->replayed, static_cast<uint64_t>(kInputs - k)) << "the records after it";
    EXPECT_EQ(recovered->scan.last_sequence, kInputs + 1u);
    EXPECT_TRUE(recovered->notes.empty()) << absl::StrJoin(recovered->notes, "\n");
    EXPECT_EQ(recovered->last_time, run.last_time);
    ASSERT_EQ(recovered->file_policy.has_value(), run.file_policy.has_value());
    if (run.file_policy) {
      EXPECT_EQ(DeterministicBytes(*recovered->file_policy), DeterministicBytes(*run.file_policy));
    }
    ExpectSameState(run.core->Dump(), recovered->core->Dump(), "recovered");
    ExpectTheTrafficExercisedTheCore(*run.traffic);
  }
}

TEST(SnapshotRecovery, ASnapshotOfTheLastRecordLeavesNothingToReplayAndOneOfTheFirstEverything) {
  constexpr int kInputs = 400;
  ScratchDir dir(kScratch);
  Recording run = Record(54, dir.path(), kInputs, {}, {0, kInputs});
  ASSERT_NE(run.core, nullptr);

  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kInputs + 1u);
  EXPECT_EQ(recovered->replayed, 0u);
  EXPECT_EQ(recovered->scan.last_sequence, kInputs + 1u);
  EXPECT_EQ(recovered->last_time, run.last_time) << "the time the snapshot's head carries";
  ASSERT_TRUE(recovered->file_policy.has_value());
  EXPECT_EQ(DeterministicBytes(*recovered->file_policy), DeterministicBytes(*run.file_policy));
  ExpectSameState(run.core->Dump(), recovered->core->Dump(), "recovered");

  ASSERT_TRUE(fs::remove(SnapshotPath(dir.path(), kInputs + 1)));
  recovered = RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, 1u) << "the snapshot of the created record alone";
  EXPECT_EQ(recovered->replayed, static_cast<uint64_t>(kInputs));
  ExpectSameState(run.core->Dump(), recovered->core->Dump(), "recovered");
}

TEST(SnapshotRecovery, WithTheSegmentsBeforeTheSnapshotRemovedTheRecoveredCoreGoesOnAsTheOriginal) {
  constexpr int kInputs = 2000;
  constexpr int kMore = 1000;
  for (uint64_t seed = 61; seed <= 62; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 random(seed);
    const int k = 800 + static_cast<int>(random() % 1000);
    SCOPED_TRACE(absl::StrCat("the snapshot after input ", k));
    ScratchDir dir(kScratch);
    Recording run = Record(seed, dir.path(), kInputs, {}, {k});
    ASSERT_NE(run.core, nullptr);
    const uint64_t sequence = k + 1u;

    absl::StatusOr<journal::Removed> removed = journal::ApplyRetention(
        dir.path(), {.journal = absl::ZeroDuration(), .snapshots = 1}, kStart + absl::Hours(24000));
    ASSERT_TRUE(removed.ok()) << removed.status();
    EXPECT_FALSE(removed->segments.empty()) << "the segments before the snapshot go";
    EXPECT_TRUE(removed->snapshots.empty()) << "the only snapshot stays";
    EXPECT_GT(removed->bytes, 0u);
    absl::StatusOr<std::vector<std::string>> segments = journal::ListSegments(dir.path());
    ASSERT_TRUE(segments.ok()) << segments.status();
    ASSERT_FALSE(segments->empty());
    const uint64_t first =
        journal::SegmentFirstSequence(fs::path(segments->front()).filename().string());
    EXPECT_GT(first, 1u);
    EXPECT_LE(first, sequence + 1) << "the record after the snapshot stays";

    absl::StatusOr<Recovered> recovered =
        RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_NE(recovered->core, nullptr);
    EXPECT_EQ(recovered->snapshot_sequence, sequence);
    EXPECT_EQ(recovered->replayed, static_cast<uint64_t>(kInputs - k));
    ExpectSameState(run.core->Dump(), recovered->core->Dump(), "recovered");
    Core& again = *recovered->core;

    // acdd starts on the recovered data dir: it journals that it started, then takes inputs; the
    // original is handed the very same ones.
    metrics::JournalSeries metrics;
    std::unique_ptr<journal::FileJournal> writer = OpenJournal(dir.path(), &metrics);
    ASSERT_NE(writer, nullptr);
    EXPECT_EQ(writer->next_sequence(), kInputs + 2u);
    ASSERT_NO_FATAL_FAILURE(ExpectToGoOnAsTheOriginal(run, again, *writer, kMore));
    ExpectSameState(run.core->Dump(), again.Dump(), "recovered");

    // Recovered once more, from the same snapshot and the longer journal: the original again.
    writer.reset();  // flushes
    absl::StatusOr<Recovered> twice = RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(twice.ok()) << twice.status();
    ASSERT_NE(twice->core, nullptr);
    EXPECT_EQ(twice->snapshot_sequence, sequence);
    EXPECT_EQ(twice->replayed, static_cast<uint64_t>(kInputs - k + 1 + kMore));
    ExpectSameState(run.core->Dump(), twice->core->Dump(), "recovered twice");
  }
}

// One journal with two snapshots in it, recorded once; each test works on a copy of its data dir.
class SnapshotFallback : public ::testing::Test {
 protected:
  static constexpr int kInputs = 2400;
  static constexpr int kOlder = 900;  // the snapshots are taken after these inputs
  static constexpr int kNewer = 1700;
  static constexpr uint64_t kOlderSequence = kOlder + 1;
  static constexpr uint64_t kNewerSequence = kNewer + 1;

  static void SetUpTestSuite() {
    recorded_ = new ScratchDir(kScratch);
    run_ = new Recording(Record(71, recorded_->path(), kInputs,
                                {kOlder - 1, kOlder, kNewer - 1, kNewer, kInputs - 1, kInputs},
                                {kOlder, kNewer}));
  }
  static void TearDownTestSuite() {
    delete run_;
    delete recorded_;
  }
  void SetUp() override {
    ASSERT_NE(run_->core, nullptr);
    CopyDir(recorded_->path(), dir_.path());
  }

  // The state after input k.
  static const std::string& After(int k) { return run_->dumps.at(k); }
  std::string Older() const { return SnapshotPath(dir_.path(), kOlderSequence); }
  std::string Newer() const { return SnapshotPath(dir_.path(), kNewerSequence); }

  static ScratchDir* recorded_;
  static Recording* run_;
  ScratchDir dir_{kScratch};
};
ScratchDir* SnapshotFallback::recorded_ = nullptr;
Recording* SnapshotFallback::run_ = nullptr;

TEST_F(SnapshotFallback, WithBothSnapshotsWholeTheNewerIsUsed) {
  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kNewerSequence);
  EXPECT_EQ(recovered->replayed, static_cast<uint64_t>(kInputs - kNewer));
  EXPECT_TRUE(recovered->notes.empty()) << absl::StrJoin(recovered->notes, "\n");
  ExpectSameState(After(kInputs), recovered->core->Dump(), "recovered");
}

TEST_F(SnapshotFallback, ADamagedNewestSnapshotFallsBackToTheOlderOneWithANoteNamingIt) {
  for (const bool truncated : {false, true}) {
    SCOPED_TRACE(truncated ? "the newer snapshot cut in half" : "a byte of the newer one flipped");
    ScratchDir dir(kScratch);
    CopyDir(dir_.path(), dir.path());
    const std::string newer = SnapshotPath(dir.path(), kNewerSequence);
    if (truncated) {
      CutInHalf(newer);
    } else {
      ASSERT_NO_FATAL_FAILURE(FlipAByteInTheMiddle(newer));
    }
    absl::StatusOr<Recovered> recovered =
        RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_NE(recovered->core, nullptr);
    EXPECT_EQ(recovered->snapshot_sequence, kOlderSequence);
    EXPECT_EQ(recovered->replayed, static_cast<uint64_t>(kInputs - kOlder));
    ASSERT_EQ(recovered->notes.size(), 1u) << absl::StrJoin(recovered->notes, "\n");
    EXPECT_THAT(recovered->notes[0], HasSubstr(newer));
    ExpectSameState(After(kInputs), recovered->core->Dump(), "recovered");
  }
}

TEST_F(SnapshotFallback, WithEverySnapshotDamagedRecoveryReplaysTheWholeJournal) {
  ASSERT_NO_FATAL_FAILURE(FlipAByteInTheMiddle(Newer()));
  CutInHalf(Older());
  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, 0u);
  EXPECT_EQ(recovered->snapshot_bytes, 0u);
  EXPECT_EQ(recovered->replayed, kInputs + 1u) << "from record 1";
  ASSERT_EQ(recovered->notes.size(), 2u) << absl::StrJoin(recovered->notes, "\n");
  EXPECT_THAT(recovered->notes[0], HasSubstr(Newer()));
  EXPECT_THAT(recovered->notes[1], HasSubstr(Older()));
  ExpectSameState(After(kInputs), recovered->core->Dump(), "recovered");
}

TEST_F(SnapshotFallback, ASnapshotBeyondTheJournalsEndIsPassedOver) {
  // The journal ends at the record before the newer snapshot's: it cannot go on from there.
  ScratchDir cut(kScratch);
  ASSERT_NO_FATAL_FAILURE(CopyJournalCut(dir_.path(), cut.path(), kNewerSequence - 1, 0));
  fs::copy_file(Older(), SnapshotPath(cut.path(), kOlderSequence));
  fs::copy_file(Newer(), SnapshotPath(cut.path(), kNewerSequence));
  absl::StatusOr<Recovered> recovered =
      RecoverCore(cut.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kOlderSequence);
  EXPECT_EQ(recovered->scan.last_sequence, kNewerSequence - 1);
  EXPECT_EQ(recovered->replayed, kNewerSequence - 1 - kOlderSequence);
  ASSERT_EQ(recovered->notes.size(), 1u) << absl::StrJoin(recovered->notes, "\n");
  EXPECT_THAT(recovered->notes[0], HasSubstr(SnapshotPath(cut.path(), kNewerSequence)));
  ExpectSameState(After(kNewer - 1), recovered->core->Dump(), "recovered");

  // One record more and the journal reaches the newer snapshot: it is used.
  ScratchDir reaching(kScratch);
  ASSERT_NO_FATAL_FAILURE(CopyJournalCut(dir_.path(), reaching.path(), kNewerSequence, 0));
  fs::copy_file(Newer(), SnapshotPath(reaching.path(), kNewerSequence));
  recovered = RecoverCore(reaching.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kNewerSequence);
  EXPECT_EQ(recovered->replayed, 0u);
  EXPECT_TRUE(recovered->notes.empty()) << absl::StrJoin(recovered->notes, "\n");
  ExpectSameState(After(kNewer), recovered->core->Dump(), "recovered");
}

// A snapshot of the journal's very last record, the last segment holding no whole record yet: as
// a crash right after the journal started a new segment leaves it (the segment's header written,
// its first record not, or only in part).
TEST_F(SnapshotFallback, ASnapshotOfTheLastRecordIsUsedThoughTheLastSegmentHoldsNoRecordYet) {
  absl::StatusOr<std::vector<std::string>> segments = journal::ListSegments(dir_.path());
  ASSERT_TRUE(segments.ok()) << segments.status();
  ASSERT_GE(segments->size(), 4u);
  // The last record is the one before the third segment's first.
  const uint64_t last =
      journal::SegmentFirstSequence(fs::path((*segments)[2]).filename().string()) - 1;
  for (const size_t torn : {size_t{0}, size_t{10}}) {
    SCOPED_TRACE(absl::StrCat("the new segment holds ", torn, " bytes of its first record"));
    ScratchDir cut(kScratch);
    ASSERT_NO_FATAL_FAILURE(CopyJournalCut(dir_.path(), cut.path(), last, torn));
    absl::StatusOr<Recovered> replayed =
        RecoverCore(cut.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(replayed.ok()) << replayed.status();
    ASSERT_NE(replayed->core, nullptr);
    ASSERT_EQ(replayed->scan.last_sequence, last);
    SnapshotHead head;
    head.set_sequence(last);
    head.set_epoch(replayed->scan.epoch);
    head.set_time_unix_micros(absl::ToUnixMicros(replayed->last_time));
    if (replayed->file_policy) *head.mutable_file_policy() = *replayed->file_policy;
    TakeSnapshot(*replayed->core, head, cut.path());

    absl::StatusOr<Recovered> recovered =
        RecoverCore(cut.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_NE(recovered->core, nullptr);
    EXPECT_EQ(recovered->snapshot_sequence, last) << "the journal reaches the snapshot";
    EXPECT_EQ(recovered->replayed, 0u);
    EXPECT_EQ(recovered->scan.last_sequence, last) << "where appending goes on";
    EXPECT_TRUE(recovered->notes.empty()) << absl::StrJoin(recovered->notes, "\n");
    ExpectSameState(replayed->core->Dump(), recovered->core->Dump(), "recovered");

    // Without the first segment, which the snapshot covers, recovery needs the snapshot.
    ASSERT_TRUE(
        fs::remove(absl::StrCat(cut.path(), "/", fs::path((*segments)[0]).filename().string())));
    recovered = RecoverCore(cut.path(), journal::RecoverMode::kStop, nullptr);
    if (!recovered.ok()) {
      ADD_FAILURE() << "without the first segment: " << recovered.status();
      continue;
    }
    ASSERT_NE(recovered->core, nullptr);
    EXPECT_EQ(recovered->snapshot_sequence, last);
    ExpectSameState(replayed->core->Dump(), recovered->core->Dump(), "recovered");
  }
}

TEST_F(SnapshotFallback, ASnapshotWhoseStateIsNotTheRecordItsNameSaysIsPassedOver) {
  // The newer snapshot under a name that says it holds the state at a later record.
  const std::string misnamed = SnapshotPath(dir_.path(), kNewerSequence + 50);
  fs::rename(Newer(), misnamed);
  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kOlderSequence);
  ASSERT_EQ(recovered->notes.size(), 1u) << absl::StrJoin(recovered->notes, "\n");
  EXPECT_THAT(recovered->notes[0], HasSubstr(misnamed));
  ExpectSameState(After(kInputs), recovered->core->Dump(), "recovered");
}

TEST_F(SnapshotFallback,
       WithTheEarlySegmentsRemovedAndTheOnlySnapshotDamagedRecoveryFailsWithDataLoss) {
  absl::StatusOr<journal::Removed> removed = journal::ApplyRetention(
      dir_.path(), {.journal = absl::ZeroDuration(), .snapshots = 1}, kStart + absl::Hours(24000));
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_FALSE(removed->segments.empty());
  EXPECT_EQ(removed->snapshots, std::vector<std::string>{Older()});
  // Whole, the one snapshot left gives the state back.
  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kNewerSequence);
  ExpectSameState(After(kInputs), recovered->core->Dump(), "recovered");

  ASSERT_NO_FATAL_FAILURE(FlipAByteInTheMiddle(Newer()));
  recovered = RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_FALSE(recovered.ok()) << "the journal no longer begins at record 1";
  EXPECT_EQ(recovered.status().code(), absl::StatusCode::kDataLoss) << recovered.status();
  EXPECT_THAT(recovered.status().message(), HasSubstr(Newer())) << "the operator learns why";
}

TEST_F(SnapshotFallback, ASnapshotAtOrAfterStopBeforeIsNotUsed) {
  // Stopping before the newer snapshot's record: the older one, and the records up to there.
  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr, kNewerSequence);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kOlderSequence);
  EXPECT_EQ(recovered->scan.last_sequence, kNewerSequence - 1);
  EXPECT_EQ(recovered->replayed, kNewerSequence - 1 - kOlderSequence);
  ASSERT_EQ(recovered->notes.size(), 1u) << absl::StrJoin(recovered->notes, "\n");
  EXPECT_THAT(recovered->notes[0], HasSubstr(Newer()));
  ExpectSameState(After(kNewer - 1), recovered->core->Dump(), "recovered");

  // Stopping just after it: it is used.
  recovered = RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr, kNewerSequence + 1);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kNewerSequence);
  EXPECT_EQ(recovered->replayed, 0u);
  EXPECT_TRUE(recovered->notes.empty()) << absl::StrJoin(recovered->notes, "\n");
  ExpectSameState(After(kNewer), recovered->core->Dump(), "recovered");

  // Stopping at the older one's record: neither, the journal from record 1.
  recovered = RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr, kOlderSequence);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, 0u);
  EXPECT_EQ(recovered->replayed, kOlderSequence - 1);
  EXPECT_EQ(recovered->notes.size(), 2u) << absl::StrJoin(recovered->notes, "\n");
  ExpectSameState(After(kOlder - 1), recovered->core->Dump(), "recovered");
}

TEST_F(SnapshotFallback, ATornLastWriteAfterTheSnapshotIsCutAsWithoutOne) {
  ScratchDir cut(kScratch);
  ASSERT_NO_FATAL_FAILURE(CopyJournalCut(dir_.path(), cut.path(), kInputs, 10));
  fs::copy_file(Newer(), SnapshotPath(cut.path(), kNewerSequence));
  absl::StatusOr<Recovered> recovered =
      RecoverCore(cut.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->snapshot_sequence, kNewerSequence);
  EXPECT_EQ(recovered->replayed, static_cast<uint64_t>(kInputs - 1 - kNewer));
  EXPECT_EQ(recovered->scan.last_sequence, static_cast<uint64_t>(kInputs));
  EXPECT_EQ(recovered->scan.notes.size(), 1u) << "the torn record is cut, and noted for the log";
  ExpectSameState(After(kInputs - 1), recovered->core->Dump(), "recovered");
}

// The operator starts acdd with --journal_stop_before at a record before the newer snapshot's:
// recovery uses the older one, the journal is cut as the scan says, and acdd goes on with a new
// history from there. The newer snapshot, of the old history, must never be taken for the new
// one's state once the new journal has grown past its sequence.
TEST_F(SnapshotFallback, ASnapshotLeftBeyondACutIsNeverTakenForTheNewHistory) {
  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr, kNewerSequence - 100);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  ASSERT_EQ(recovered->snapshot_sequence, kOlderSequence);
  ASSERT_TRUE(journal::CutJournal(recovered->scan).ok());
  Core& core = *recovered->core;
  {
    metrics::JournalSeries metrics;
    std::unique_ptr<journal::FileJournal> writer = OpenJournal(dir_.path(), &metrics);
    ASSERT_NE(writer, nullptr);
    ASSERT_EQ(writer->next_sequence(), kNewerSequence - 100);
    // The new history: time passing, a second at a time (timers fire, calls move on).
    for (int m = 1; m <= 400; ++m) {
      JournalInput input = InputAt(recovered->last_time + absl::Seconds(m));
      input.mutable_time_passed();
      writer->Append(input.SerializeAsString());
      Apply(core, input);
    }
    ASSERT_GT(writer->next_sequence(), kNewerSequence + 1) << "the new journal is past it";
  }
  absl::StatusOr<Recovered> again = RecoverCore(dir_.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_NE(again->core, nullptr);
  EXPECT_NE(again->snapshot_sequence, kNewerSequence)
      << "the snapshot of the old history was used for the new one";
  ExpectSameState(core.Dump(), again->core->Dump(), "recovered");
}

TEST(SnapshotTakerScheduling, TheCopyLeavesTheBackgroundForALatePassAndTriesItAgainLater) {
  const absl::Duration never = absl::InfiniteDuration();
  EXPECT_TRUE(FollowInBackground(true, absl::ZeroDuration(), never));
  EXPECT_TRUE(FollowInBackground(true, kLatePass, never)) << "as late as allowed, it stays";
  EXPECT_FALSE(FollowInBackground(true, kLatePass + absl::Milliseconds(1), never))
      << "later, it leaves the background";
  EXPECT_FALSE(FollowInBackground(false, absl::ZeroDuration(), kCatchUpFor / 2))
      << "on time again, it still catches up at normal priority";
  EXPECT_TRUE(FollowInBackground(false, absl::ZeroDuration(), kCatchUpFor))
      << "once the catch-up time is over, it tries the background again";
}

}  // namespace
}  // namespace acd::daemon::testing
