// JournalPrefetch, the reader that checks and parses the journal on its own thread while recovery
// applies: it hands over every record once, in sequence, parsed, with the scan a plain read gives;
// what it holds ahead is bounded; damage and foreign payloads end the read after every record
// before them; and going away mid-read stops its thread.
#include "daemon/journal_prefetch.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/core_input.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/journal_test_support.h"

namespace acd::daemon::testing {
namespace {

using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// The time record `sequence` carries: each record its own, to tell them apart once parsed.
absl::Time TimeOfRecord(uint64_t sequence) { return kStart + absl::Milliseconds(sequence); }

// Writes records 1..n (the clock's ticks, each at its own time) into `dir`, and `extra` raw
// payloads after them. It waits for every 50th record to be on disk: a segment ends only between
// two writes, so the journal spans many small segments whatever the writer's pace.
void WriteTicks(const std::string& dir, uint64_t n, const std::vector<std::string>& extra = {}) {
  metrics::JournalSeries metrics;
  std::unique_ptr<journal::FileJournal> writer = OpenJournal(dir, &metrics);
  ASSERT_NE(writer, nullptr);
  for (uint64_t sequence = 1; sequence <= n; ++sequence) {
    JournalInput input = InputAt(TimeOfRecord(sequence));
    input.mutable_time_passed();
    ASSERT_EQ(writer->Append(input.SerializeAsString()), sequence);
    while (sequence % 50 == 0 && writer->durable_sequence() < sequence) {
      absl::SleepFor(absl::Microseconds(100));
    }
  }
  for (const std::string& payload : extra) writer->Append(payload);
}

struct Taken {
  std::vector<uint64_t> sequences;
  int wrong_times = 0;  // records whose parsed input is not the one written for their sequence
  int batches = 0;
};

Taken TakeAll(JournalPrefetch& prefetch) {
  Taken out;
  while (std::unique_ptr<JournalPrefetch::Batch> batch = prefetch.Next()) {
    ++out.batches;
    for (const JournalPrefetch::Record& record : batch->records) {
      out.sequences.push_back(record.sequence);
      if (daemon::TimeOf(*record.input) != TimeOfRecord(record.sequence) ||
          !record.input->has_time_passed()) {
        ++out.wrong_times;
      }
    }
  }
  return out;
}

std::vector<uint64_t> Sequences(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out;
  for (uint64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

TEST(JournalPrefetch, HandsOverEveryRecordOnceInSequenceParsedWithThePlainReadsScan) {
  ScratchDir dir("prefetch_all");
  WriteTicks(dir.path(), 5000);
  JournalPrefetch prefetch(dir.path(), journal::RecoverMode::kStop, 1);
  const Taken taken = TakeAll(prefetch);
  EXPECT_EQ(taken.sequences, Sequences(1, 5000));
  EXPECT_EQ(taken.wrong_times, 0);
  EXPECT_GE(taken.batches, 5) << "1,024 records a batch";
  absl::StatusOr<journal::JournalScan> scan = prefetch.Finish();
  ASSERT_TRUE(scan.ok()) << scan.status();

  absl::StatusOr<journal::JournalScan> plain = journal::ReadJournal(
      dir.path(), journal::RecoverMode::kStop, 1,
      [](const journal::DecodedRecord&) { return absl::OkStatus(); });
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_GT(plain->segments, 5) << "small segments: the read crossed many files";
  EXPECT_EQ(scan->last_sequence, plain->last_sequence);
  EXPECT_EQ(scan->segments, plain->segments);
  EXPECT_EQ(scan->tail_segment, plain->tail_segment);
  EXPECT_EQ(scan->tail_good_bytes, plain->tail_good_bytes);
  EXPECT_EQ(scan->records, plain->records);
}

TEST(JournalPrefetch, StartsAtTheSequenceItIsGivenAndStopsBeforeTheOneTheOperatorNames) {
  ScratchDir dir("prefetch_from");
  WriteTicks(dir.path(), 3000);
  JournalPrefetch prefetch(dir.path(), journal::RecoverMode::kStop, /*from=*/2001,
                           /*stop_before=*/2900);
  EXPECT_EQ(TakeAll(prefetch).sequences, Sequences(2001, 2899));
  absl::StatusOr<journal::JournalScan> scan = prefetch.Finish();
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->first_sequence, 2001u);
  EXPECT_EQ(scan->last_sequence, 2899u);
  ASSERT_FALSE(scan->notes.empty());
  EXPECT_THAT(scan->notes.back(), HasSubstr("cut at record 2900"));
}

TEST(JournalPrefetch, UnderABoundOfOneByteItWaitsForEachBatchToBeTakenAndLosesNone) {
  ScratchDir dir("prefetch_bound");
  WriteTicks(dir.path(), 4000);
  JournalPrefetch prefetch(dir.path(), journal::RecoverMode::kStop, 1, journal::kReadToTheEnd,
                           /*max_bytes_ahead=*/1);
  const Taken taken = TakeAll(prefetch);
  EXPECT_EQ(taken.sequences, Sequences(1, 4000));
  EXPECT_EQ(taken.wrong_times, 0);
  EXPECT_TRUE(prefetch.Finish().ok());
}

TEST(JournalPrefetch, DamageInTheMiddleEndsTheReadAfterEveryRecordBeforeItNamingFileAndOffset) {
  ScratchDir dir("prefetch_damage");
  WriteTicks(dir.path(), 3000);
  absl::StatusOr<std::vector<std::string>> segments = journal::ListSegments(dir.path());
  ASSERT_TRUE(segments.ok()) << segments.status();
  ASSERT_GT(segments->size(), 4u);
  // The first record of the third segment gets a flipped payload byte.
  const std::string& damaged = (*segments)[2];
  absl::StatusOr<std::string> bytes = ReadFile(damaged);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  journal::DecodedRecord first;
  ASSERT_EQ(journal::DecodeRecord(*bytes, journal::kSegmentHeaderBytes, &first),
            journal::RecordCheck::kOk);
  (*bytes)[journal::kSegmentHeaderBytes + journal::kRecordHeaderBytes] ^= 0x20;
  WriteFile(damaged, *bytes);

  JournalPrefetch prefetch(dir.path(), journal::RecoverMode::kStop, 1);
  EXPECT_EQ(TakeAll(prefetch).sequences, Sequences(1, first.sequence - 1));
  absl::StatusOr<journal::JournalScan> scan = prefetch.Finish();
  EXPECT_EQ(scan.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(scan.status().message(),
              HasSubstr(absl::StrCat(damaged, " at offset ", journal::kSegmentHeaderBytes)));
}

TEST(JournalPrefetch, ARecordThatIsNotAJournalInputEndsTheReadNamingIt) {
  ScratchDir dir("prefetch_foreign");
  WriteTicks(dir.path(), 1500, {std::string("\xff\xff\xff\xff not an input", 18)});
  JournalPrefetch prefetch(dir.path(), journal::RecoverMode::kStop, 1);
  EXPECT_EQ(TakeAll(prefetch).sequences, Sequences(1, 1500));
  absl::StatusOr<journal::JournalScan> scan = prefetch.Finish();
  EXPECT_EQ(scan.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(scan.status().message(), HasSubstr("journal record 1501 is not a journal input"));
}

TEST(JournalPrefetch, GoingAwayMidReadStopsItsThread) {
  ScratchDir dir("prefetch_stop");
  WriteTicks(dir.path(), 20000);
  for (int trial = 0; trial < 20; ++trial) {
    // A reader blocked on its bound, one that has a batch in hand, one that has not begun.
    JournalPrefetch prefetch(dir.path(), journal::RecoverMode::kStop, 1, journal::kReadToTheEnd,
                             /*max_bytes_ahead=*/1);
    if (trial % 2 == 0) {
      std::unique_ptr<JournalPrefetch::Batch> batch = prefetch.Next();
      ASSERT_NE(batch, nullptr);
      EXPECT_EQ(batch->records.front().sequence, 1u);
    }
  }  // each destructor returns: the test ends rather than hanging until CTest's timeout
}

}  // namespace
}  // namespace acd::daemon::testing
