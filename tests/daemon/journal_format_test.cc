// The journal on disk: checksums, record framing, reading a data dir back, and what a torn or a
// corrupt journal does: a write a crash cut short is cut with a note, damage with records after
// it stops recovery (naming file and offset) unless the operator asked to truncate there.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/journal/crc32c.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"

namespace acd::daemon::journal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A fresh directory under the test's temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "journal-XXXXXX";
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Writes `payloads` as records 1.. through a real FileJournal (segments of `segment_bytes`), ten
// records a batch: a new segment starts only between batches. Without a window, so that every
// segment holds records and nothing else (the window's zeros have tests of their own).
void WriteJournal(const std::string& dir, const std::vector<std::string>& payloads,
                  uint64_t segment_bytes = 64 << 20) {
  metrics::JournalSeries series;
  FileJournalOptions options;
  options.dir = dir;
  options.segment_bytes = segment_bytes;
  options.window_bytes = 0;
  auto journal = FileJournal::Start(options, JournalScan{}, &series, {});
  ASSERT_TRUE(journal.ok()) << journal.status();
  for (size_t i = 0; i < payloads.size(); ++i) {
    const uint64_t sequence = (*journal)->Append(payloads[i]);
    if (sequence % 10 == 0 || i + 1 == payloads.size()) {
      for (int wait = 0; wait < 2000 && (*journal)->durable_sequence() < sequence; ++wait) {
        absl::SleepFor(absl::Milliseconds(5));
      }
      ASSERT_GE((*journal)->durable_sequence(), sequence);
    }
  }
}

struct ReadBack {
  absl::Status status;
  JournalScan scan;
  std::vector<std::string> payloads;
};
ReadBack Read(const std::string& dir, RecoverMode mode = RecoverMode::kStop, uint64_t from = 1) {
  ReadBack out;
  absl::StatusOr<JournalScan> scan = ReadJournal(dir, mode, from, [&](const DecodedRecord& r) {
    out.payloads.emplace_back(r.payload);
    return absl::OkStatus();
  });
  out.status = scan.status();
  if (scan.ok()) out.scan = *scan;
  return out;
}

std::vector<std::string> Payloads(int n) {
  std::vector<std::string> payloads;
  for (int i = 1; i <= n; ++i) payloads.push_back(absl::StrCat("input ", i, std::string(i % 7, 'x')));
  return payloads;
}

TEST(Crc32c, MatchesTheStandardCheckValues) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(Crc32cExtend(Crc32c("12345"), "6789"), Crc32c("123456789")) << "extends in parts";
}

TEST(Crc32c, AMaskedCrcUnmasksToItself) {
  for (uint32_t crc : {0u, 1u, 0xE3069283u, 0xffffffffu}) EXPECT_EQ(UnmaskCrc(MaskCrc(crc)), crc);
}

TEST(RecordFormat, ARecordDecodesToItsSequenceEpochAndPayload) {
  const std::string bytes = EncodeRecord(42, 3, "hello");
  EXPECT_THAT(bytes, SizeIs(kRecordHeaderBytes + 5));
  DecodedRecord record;
  ASSERT_EQ(DecodeRecord(bytes, 0, &record), RecordCheck::kOk);
  EXPECT_EQ(record.sequence, 42u);
  EXPECT_EQ(record.epoch, 3u);
  EXPECT_EQ(record.payload, "hello");
  EXPECT_EQ(record.size, bytes.size());
}

TEST(RecordFormat, EveryFlippedBitAndEveryCutIsCaught) {
  const std::string good = EncodeRecord(7, 1, "a payload of some length");
  for (size_t byte = 0; byte < good.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = good;
      bad[byte] ^= static_cast<char>(1 << bit);
      DecodedRecord record;
      EXPECT_NE(DecodeRecord(bad, 0, &record), RecordCheck::kOk) << "byte " << byte << " bit " << bit;
    }
  }
  for (size_t cut = 0; cut < good.size(); ++cut) {
    DecodedRecord record;
    EXPECT_EQ(DecodeRecord(good.substr(0, cut), 0, &record), RecordCheck::kTruncated) << cut;
  }
}

TEST(RecordFormat, ALengthBeyondAnyRecordIsRefusedWithoutAllocating) {
  std::string bytes = EncodeRecord(1, 1, "x");
  bytes[0] = bytes[1] = bytes[2] = bytes[3] = '\xff';
  DecodedRecord record;
  EXPECT_EQ(DecodeRecord(bytes, 0, &record), RecordCheck::kBadLength);
}

TEST(RecordFormat, SegmentHeadersOfVersionsOneAndTwoAreReadAndALaterOneIsRefused) {
  std::string header = SegmentHeader();
  EXPECT_EQ(GetU32(header.data() + 8), 2u) << "this acdd writes version 2 (segments end in zeros)";
  EXPECT_EQ(CheckSegmentHeader(header), "");
  PutU32(1, header.data() + 8);
  EXPECT_EQ(CheckSegmentHeader(header), "") << "the first release's segments";
  PutU32(3, header.data() + 8);
  EXPECT_EQ(CheckSegmentHeader(header),
            "journal format version 3; this acdd reads versions 1 to 2");
}

TEST(RecordFormat, SegmentNamesCarryTheirFirstSequence) {
  EXPECT_EQ(SegmentFileName(12), "journal-00000000000000000012.seg");
  EXPECT_EQ(SegmentFirstSequence(SegmentFileName(12)), 12u);
  EXPECT_EQ(SegmentFirstSequence("journal-12.seg"), 0u);
  EXPECT_EQ(SegmentFirstSequence("snapshot-00000000000000000012.seg"), 0u);
}

TEST(JournalReader, AnEmptyOrMissingDirReadsAsAnEmptyJournal) {
  TempDir dir;
  ReadBack empty = Read(dir.path());
  ASSERT_TRUE(empty.status.ok()) << empty.status;
  EXPECT_EQ(empty.scan.last_sequence, 0u);
  EXPECT_TRUE(empty.scan.tail_segment.empty());
  ReadBack missing = Read(dir.path() + "/not-there");
  ASSERT_TRUE(missing.status.ok()) << missing.status;
  EXPECT_THAT(missing.payloads, IsEmpty());
}

TEST(JournalReader, ReadsBackEveryRecordInOrderAcrossSegments) {
  TempDir dir;
  const std::vector<std::string> payloads = Payloads(500);
  WriteJournal(dir.path(), payloads, /*segment_bytes=*/1024);
  ReadBack back = Read(dir.path());
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_EQ(back.payloads, payloads);
  EXPECT_GT(back.scan.segments, 5) << "1 KiB segments: the journal moved on to new files";
  EXPECT_EQ(back.scan.last_sequence, 500u);
  EXPECT_EQ(back.scan.epoch, 1u);
  EXPECT_THAT(back.scan.notes, IsEmpty());
}

TEST(JournalReader, ReadsFromASequenceOn) {
  TempDir dir;
  const std::vector<std::string> payloads = Payloads(300);
  WriteJournal(dir.path(), payloads, 1024);
  ReadBack back = Read(dir.path(), RecoverMode::kStop, 201);
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_EQ(back.payloads, std::vector<std::string>(payloads.begin() + 200, payloads.end()));
  EXPECT_EQ(back.scan.first_sequence, 201u);
}

TEST(JournalReader, AWriteCutShortAtAnyByteIsCutWithANoteAndTheRestIsKept) {
  TempDir dir;
  const std::vector<std::string> payloads = Payloads(40);
  WriteJournal(dir.path(), payloads);
  const std::string segment = dir.path() + "/" + SegmentFileName(1);
  const std::string whole = ReadFile(segment);
  std::mt19937 random(7);
  for (int trial = 0; trial < 60; ++trial) {
    const size_t cut = std::uniform_int_distribution<size_t>(0, whole.size() - 1)(random);
    WriteFile(segment, whole.substr(0, cut));
    ReadBack back = Read(dir.path());
    ASSERT_TRUE(back.status.ok()) << "cut at " << cut << ": " << back.status;
    // Every record wholly before the cut is read, none after.
    size_t records = 0, end = kSegmentHeaderBytes;
    while (records < payloads.size() &&
           end + kRecordHeaderBytes + payloads[records].size() <= cut) {
      end += kRecordHeaderBytes + payloads[records].size();
      ++records;
    }
    if (cut < kSegmentHeaderBytes) records = 0;
    EXPECT_EQ(back.payloads, std::vector<std::string>(payloads.begin(), payloads.begin() + records))
        << "cut at " << cut;
    if (cut != end) {
      ASSERT_THAT(back.scan.notes, SizeIs(1)) << "cut at " << cut;
      EXPECT_THAT(back.scan.notes[0], HasSubstr("torn last write"));
      EXPECT_THAT(back.scan.notes[0], HasSubstr(segment));
    }
    // Cutting leaves a journal that reads clean and continues where the good part ended.
    ASSERT_TRUE(CutJournal(back.scan).ok());
    ReadBack again = Read(dir.path());
    ASSERT_TRUE(again.status.ok()) << again.status;
    EXPECT_THAT(again.scan.notes, IsEmpty()) << "cut at " << cut;
    EXPECT_EQ(again.payloads.size(), records);
  }
}

TEST(JournalReader, DamageWithRecordsAfterItStopsRecoveryNamingFileAndOffset) {
  TempDir dir;
  WriteJournal(dir.path(), Payloads(20));
  const std::string segment = dir.path() + "/" + SegmentFileName(1);
  std::string bytes = ReadFile(segment);
  const size_t third = kSegmentHeaderBytes + 2 * kRecordHeaderBytes + Payloads(2)[0].size() +
                       Payloads(2)[1].size();
  bytes[third + kRecordHeaderBytes] ^= 0x40;  // a payload byte of record 3
  WriteFile(segment, bytes);

  ReadBack stop = Read(dir.path());
  EXPECT_EQ(stop.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(stop.status.message(), HasSubstr(absl::StrCat(segment, " at offset ", third)));
  EXPECT_THAT(stop.status.message(), HasSubstr("--journal_recover=truncate"));

  ReadBack truncate = Read(dir.path(), RecoverMode::kTruncate);
  ASSERT_TRUE(truncate.status.ok()) << truncate.status;
  EXPECT_THAT(truncate.payloads, SizeIs(2)) << "the records before the damage";
  ASSERT_THAT(truncate.scan.notes, SizeIs(1));
  EXPECT_THAT(truncate.scan.notes[0], HasSubstr("corrupt record"));
  ASSERT_TRUE(CutJournal(truncate.scan).ok());
  ReadBack after = Read(dir.path());
  ASSERT_TRUE(after.status.ok()) << after.status;
  EXPECT_THAT(after.payloads, SizeIs(2));
}

TEST(JournalReader, ARecordOfAnOlderEpochAfterANewerOneStopsRecovery) {
  TempDir dir;
  std::string segment = SegmentHeader();
  AppendRecord(1, 3, "leader of epoch 3", &segment);
  AppendRecord(2, 5, "leader of epoch 5", &segment);
  AppendRecord(3, 3, "the deposed leader again", &segment);
  AppendRecord(4, 5, "leader of epoch 5 again", &segment);
  WriteFile(dir.path() + "/" + SegmentFileName(1), segment);
  ReadBack back = Read(dir.path());
  EXPECT_EQ(back.status.code(), absl::StatusCode::kDataLoss) << back.status;
  EXPECT_THAT(back.status.message(), HasSubstr("epoch 3 after a record of epoch 5"));
  ReadBack cut = Read(dir.path(), RecoverMode::kTruncate);
  ASSERT_TRUE(cut.status.ok()) << cut.status;
  EXPECT_THAT(cut.payloads, SizeIs(2));
  EXPECT_EQ(cut.scan.epoch, 5u);
}

TEST(JournalReader, StopsBeforeTheRecordTheOperatorNamesAndCutsFromThere) {
  TempDir dir;
  const std::vector<std::string> payloads = Payloads(30);
  WriteJournal(dir.path(), payloads, 256);
  ReadBack back;
  absl::StatusOr<JournalScan> scan = ReadJournal(
      dir.path(), RecoverMode::kStop, 1,
      [&](const DecodedRecord& r) {
        back.payloads.emplace_back(r.payload);
        return absl::OkStatus();
      },
      /*stop_before=*/17);
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(back.payloads, std::vector<std::string>(payloads.begin(), payloads.begin() + 16));
  ASSERT_THAT(scan->notes, SizeIs(1));
  EXPECT_THAT(scan->notes[0], HasSubstr("cut at record 17"));
  EXPECT_THAT(scan->notes[0], HasSubstr("--journal_stop_before"));
  EXPECT_FALSE(scan->cut_segments.empty()) << "the later segments go too";
  ASSERT_TRUE(CutJournal(*scan).ok());
  ReadBack after = Read(dir.path());
  ASSERT_TRUE(after.status.ok()) << after.status;
  EXPECT_THAT(after.payloads, SizeIs(16));
  EXPECT_THAT(after.scan.notes, IsEmpty());
}

TEST(JournalReader, RandomByteFlipsNeverGoUnnoticedOrCrash) {
  TempDir dir;
  const std::vector<std::string> payloads = Payloads(60);
  WriteJournal(dir.path(), payloads, 512);
  auto segments = ListSegments(dir.path());
  ASSERT_TRUE(segments.ok());
  std::mt19937 random(11);
  for (int trial = 0; trial < 200; ++trial) {
    const std::string& segment =
        (*segments)[std::uniform_int_distribution<size_t>(0, segments->size() - 1)(random)];
    const std::string original = ReadFile(segment);
    std::string bytes = original;
    const size_t at = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(random);
    bytes[at] ^= static_cast<char>(1 << std::uniform_int_distribution<int>(0, 7)(random));
    WriteFile(segment, bytes);
    ReadBack back = Read(dir.path());
    // Either recovery refuses, or what it read is a prefix of what was written, with a note.
    if (back.status.ok()) {
      ASSERT_LT(back.payloads.size(), payloads.size()) << segment << " byte " << at;
      EXPECT_EQ(back.payloads,
                std::vector<std::string>(payloads.begin(), payloads.begin() + back.payloads.size()));
      EXPECT_THAT(back.scan.notes, SizeIs(1));
    } else {
      EXPECT_EQ(back.status.code(), absl::StatusCode::kDataLoss) << back.status;
    }
    WriteFile(segment, original);
  }
}

TEST(FileJournal, ContinuesTheJournalItWasOpenedOnWithTheNextSequence) {
  TempDir dir;
  WriteJournal(dir.path(), Payloads(10));
  ReadBack first = Read(dir.path());
  ASSERT_TRUE(first.status.ok());
  {
    metrics::JournalSeries series;
    FileJournalOptions options;
    options.dir = dir.path();
    auto journal = FileJournal::Start(options, first.scan, &series, {});
    ASSERT_TRUE(journal.ok()) << journal.status();
    EXPECT_EQ((*journal)->next_sequence(), 11u);
    EXPECT_EQ((*journal)->Append("eleven"), 11u);
  }
  ReadBack back = Read(dir.path());
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_THAT(back.payloads, SizeIs(11));
  EXPECT_EQ(back.payloads.back(), "eleven");
}

TEST(FileJournal, ReportsEachBatchDurableInOrderAndCountsIt) {
  TempDir dir;
  metrics::JournalSeries series;
  FileJournalOptions options;
  options.dir = dir.path();
  options.sync = SyncMode::kFsync;
  absl::Mutex mu;
  uint64_t durable = 0;
  bool in_order = true;
  JournalEvents events;
  events.durable = [&](uint64_t sequence) {
    absl::MutexLock lock(&mu);
    in_order = in_order && sequence > durable;
    durable = sequence;
  };
  auto journal = FileJournal::Start(options, JournalScan{}, &series, std::move(events));
  ASSERT_TRUE(journal.ok()) << journal.status();
  for (const std::string& p : Payloads(1000)) (*journal)->Append(p);
  {
    absl::MutexLock lock(&mu);
    mu.AwaitWithTimeout(absl::Condition(+[](uint64_t* d) { return *d == 1000; }, &durable),
                        absl::Seconds(20));
    EXPECT_EQ(durable, 1000u);
    EXPECT_TRUE(in_order);
  }
  EXPECT_EQ(series.records.Get(), 1000u);
  EXPECT_GT(series.bytes.Get(), 1000u * kRecordHeaderBytes);
}

// A new journal on `dir`, or null after a failure the test has been told of.
std::unique_ptr<FileJournal> NewJournal(const std::string& dir, metrics::JournalSeries* series) {
  FileJournalOptions options;
  options.dir = dir;
  absl::StatusOr<std::unique_ptr<FileJournal>> journal =
      FileJournal::Start(options, JournalScan{}, series, {});
  EXPECT_TRUE(journal.ok()) << journal.status();
  return journal.ok() ? *std::move(journal) : nullptr;
}

// Waits until `journal` reports `sequence` durable (through its durable_sequence()).
void AwaitDurable(const FileJournal& journal, uint64_t sequence) {
  for (int i = 0; i < 2000 && journal.durable_sequence() < sequence; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_GE(journal.durable_sequence(), sequence);
}

TEST(FileJournal, HandsEachFramedRecordToItsTapAsItIsAppended) {
  TempDir dir;
  metrics::JournalSeries series;
  std::unique_ptr<FileJournal> journal = NewJournal(dir.path(), &series);
  ASSERT_NE(journal, nullptr);
  std::string tapped;
  std::vector<uint64_t> sequences;
  journal->SetTap([&](absl::string_view framed, uint64_t sequence) {
    tapped.append(framed.data(), framed.size());
    sequences.push_back(sequence);
  });
  const std::vector<std::string> payloads = Payloads(5);
  for (const std::string& p : payloads) journal->Append(p);
  EXPECT_EQ(sequences, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  AwaitDurable(*journal, 5);
  journal.reset();  // stopped: the segment ends where its records do
  // What the tap got is byte for byte what the segment holds after its header.
  const std::string segment = ReadFile(dir.path() + "/" + SegmentFileName(1));
  EXPECT_EQ(segment.substr(kSegmentHeaderBytes), tapped);
}

TEST(FileJournal, AppendsRecordsFramedElsewhereAsTheyAreAndTakesOnTheirEpoch) {
  // A leader's records, epoch 7, framed by its journal.
  std::string framed;
  const std::vector<std::string> payloads = Payloads(6);
  for (int i = 0; i < 6; ++i) AppendRecord(i + 1, 7, payloads[i], &framed);
  TempDir dir;
  {
    metrics::JournalSeries series;
    std::unique_ptr<FileJournal> standby = NewJournal(dir.path(), &series);
    ASSERT_NE(standby, nullptr);
    const size_t half =
        3 * kRecordHeaderBytes + payloads[0].size() + payloads[1].size() + payloads[2].size();
    standby->AppendFramed(absl::string_view(framed).substr(0, half), 1, 3, 7);
    standby->AppendFramed(absl::string_view(framed).substr(half), 4, 6, 7);
    EXPECT_EQ(standby->next_sequence(), 7u);
    EXPECT_EQ(standby->epoch(), 7u);
    AwaitDurable(*standby, 6);
  }
  ReadBack back = Read(dir.path());
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_EQ(back.payloads, payloads);
  EXPECT_EQ(back.scan.epoch, 7u);
}

// What a journal's events said, for a test to wait on.
struct HeardEvents {
  absl::Mutex mu;
  uint64_t durable ABSL_GUARDED_BY(mu) = 0;
  int durable_reports ABSL_GUARDED_BY(mu) = 0;
  std::vector<std::string> trouble ABSL_GUARDED_BY(mu);  // each report's message ("": all well)

  JournalEvents Events() {
    JournalEvents events;
    events.durable = [this](uint64_t sequence) {
      absl::MutexLock lock(&mu);
      durable = sequence;
      ++durable_reports;
    };
    events.trouble = [this](const absl::Status& status) {
      absl::MutexLock lock(&mu);
      trouble.push_back(std::string(status.message()));
    };
    return events;
  }
  bool AwaitTrouble() {
    absl::MutexLock lock(&mu);
    auto told = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !trouble.empty(); };
    return mu.AwaitWithTimeout(absl::Condition(&told), absl::Seconds(10));
  }
  bool AwaitDurable(uint64_t sequence) {
    absl::MutexLock lock(&mu);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return durable >= sequence; };
    return mu.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }
};

// A standby's journal on an empty dir, and a leader's six records of epoch 7 for it, framed by
// the leader's journal, in two parts: records 1-3 and 4-6.
class StandbyJournal : public ::testing::Test {
 protected:
  StandbyJournal() {
    for (size_t i = 0; i < payloads_.size(); ++i) {
      AppendRecord(i + 1, 7, payloads_[i], i < 3 ? &first_ : &second_);
    }
  }
  // Started on the dir; null after a failure the test has been told of.
  std::unique_ptr<FileJournal> Start(absl::Duration retry_every = absl::Seconds(1),
                                     SyncMode sync = SyncMode::kWrite,
                                     uint64_t window_bytes = FileJournalOptions().window_bytes) {
    FileJournalOptions options;
    options.dir = dir_.path();
    options.retry_every = retry_every;
    options.sync = sync;
    options.window_bytes = window_bytes;
    auto journal = FileJournal::Start(options, JournalScan{}, &series_, heard_.Events());
    EXPECT_TRUE(journal.ok()) << journal.status();
    return journal.ok() ? *std::move(journal) : nullptr;
  }
  // Once the journal has stopped: the dir holds the six records in order, of epoch 7.
  void ExpectEveryRecordOnDisk() {
    ReadBack back = Read(dir_.path());
    ASSERT_TRUE(back.status.ok()) << back.status;
    EXPECT_EQ(back.payloads, payloads_);
    EXPECT_EQ(back.scan.epoch, 7u);
  }

  const std::vector<std::string> payloads_ = Payloads(6);
  std::string first_, second_;
  TempDir dir_;
  metrics::JournalSeries series_;
  HeardEvents heard_;
};

TEST_F(StandbyJournal, WritesFramedRecordsOnTheCallersThreadWhenTheJournalThreadIsIdle) {
  {
    std::unique_ptr<FileJournal> standby = Start();
    ASSERT_NE(standby, nullptr);
    // Durable on return, each write its own batch; the durable event is the caller's to give.
    EXPECT_TRUE(standby->WriteFramed(first_, 1, 3, 7));
    EXPECT_EQ(standby->durable_sequence(), 3u);
    EXPECT_TRUE(standby->WriteFramed(second_, 4, 6, 7));
    EXPECT_EQ(standby->durable_sequence(), 6u);
    EXPECT_EQ(standby->next_sequence(), 7u);
    EXPECT_EQ(series_.records.Get(), 6u);
    EXPECT_EQ(series_.batch_records.Read().sample_count, 2u);
    absl::MutexLock lock(&heard_.mu);
    EXPECT_EQ(heard_.durable_reports, 0);
  }
  ExpectEveryRecordOnDisk();
}

TEST_F(StandbyJournal, LeavesFramedRecordsToTheJournalThreadWhenItSyncsWithFdatasync) {
  {
    std::unique_ptr<FileJournal> standby = Start(absl::Seconds(1), SyncMode::kFsync);
    ASSERT_NE(standby, nullptr);
    // Its group commit takes what comes while it syncs: one sync for several of the leader's
    // batches, where the follower would sync each.
    EXPECT_FALSE(standby->WriteFramed(first_, 1, 3, 7));
    EXPECT_FALSE(standby->WriteFramed(second_, 4, 6, 7));
    ASSERT_TRUE(heard_.AwaitDurable(6));
  }
  ExpectEveryRecordOnDisk();
}

// Files this process writes may grow to `bytes` at most while it lives (SIGXFSZ ignored: a write
// past the limit fails with EFBIG, as on a full disk).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &before_);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit limit = before_;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    Lift();
    signal(SIGXFSZ, old_handler_);
  }
  void Lift() { setrlimit(RLIMIT_FSIZE, &before_); }

 private:
  rlimit before_;
  sighandler_t old_handler_;
};

TEST_F(StandbyJournal, LeavesAFramedWriteThatFailedToTheJournalThreadWhichRetriesAndReportsIt) {
  {
    // Without a window the follower writes itself (with one it copies, and cannot fail).
    std::unique_ptr<FileJournal> standby =
        Start(/*retry_every=*/absl::Milliseconds(20), SyncMode::kWrite, /*window_bytes=*/0);
    ASSERT_NE(standby, nullptr);
    FileSizeLimit limit(0);  // not even a segment's header fits
    EXPECT_FALSE(standby->WriteFramed(first_, 1, 3, 7));
    // The thread holds the failed batch now: what comes next waits behind it.
    EXPECT_FALSE(standby->WriteFramed(second_, 4, 6, 7));
    EXPECT_EQ(standby->durable_sequence(), 0u);
    absl::SleepFor(absl::Milliseconds(100));  // a few retries, all failing
    {
      absl::MutexLock lock(&heard_.mu);
      EXPECT_EQ(heard_.durable_reports, 0);
      // Told once, with the cause of the follower's own failed write.
      EXPECT_THAT(heard_.trouble, ElementsAre(HasSubstr("File too large")));
    }
    EXPECT_GE(series_.errors.Get(), 2u);  // the follower's write and the thread's retries
    EXPECT_EQ(series_.writable.Get(), 0);
    limit.Lift();
    ASSERT_TRUE(heard_.AwaitDurable(6));
    EXPECT_EQ(standby->durable_sequence(), 6u);
    EXPECT_EQ(series_.writable.Get(), 1);
    absl::MutexLock lock(&heard_.mu);
    EXPECT_THAT(heard_.trouble, ElementsAre(HasSubstr("File too large"), ""));
  }
  ExpectEveryRecordOnDisk();
}

// --- The window (SyncMode::kWrite): records copied into the mapped segment by the appender. ---

// The bytes a file takes on its disk (its holes do not count).
uint64_t AllocatedBytes(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}
uint64_t FileBytes(const std::string& path) { return std::filesystem::file_size(path); }

// The bytes records 1..n of `payloads` take in a segment, after its header.
uint64_t RecordBytes(const std::vector<std::string>& payloads, size_t n) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < n; ++i) bytes += kRecordHeaderBytes + payloads[i].size();
  return bytes;
}

TEST(FileJournalWindow, ARecordIsDurableWhenAppendReturnsAndNoThreadIsToldOrWoken) {
  TempDir dir;
  metrics::JournalSeries series;
  HeardEvents heard;
  const std::vector<std::string> payloads = Payloads(1000);
  const std::string segment = dir.path() + "/" + SegmentFileName(1);
  {
    FileJournalOptions options;
    options.dir = dir.path();
    auto journal = FileJournal::Start(options, JournalScan{}, &series, heard.Events());
    ASSERT_TRUE(journal.ok()) << journal.status();
    for (const std::string& p : payloads) {
      const uint64_t sequence = (*journal)->Append(p);
      ASSERT_EQ((*journal)->durable_sequence(), sequence) << "copied, so durable at once";
    }
    EXPECT_EQ(series.records.Get(), 1000u);
    EXPECT_EQ(series.bytes.Get(), RecordBytes(payloads, 1000));
    EXPECT_EQ(series.batch_records.Read().sample_count, 1000u) << "each copy is a write of one";
    {
      absl::MutexLock lock(&heard.mu);
      EXPECT_EQ(heard.durable_reports, 0) << "the appender knows: nobody is told";
    }
    // While acdd runs, the segment ends in the window's zeros; a reader stops there, quietly.
    EXPECT_GT(FileBytes(segment), kSegmentHeaderBytes + RecordBytes(payloads, 1000));
    ReadBack live = Read(dir.path());
    ASSERT_TRUE(live.status.ok()) << live.status;
    EXPECT_EQ(live.payloads, payloads);
    EXPECT_THAT(live.scan.notes, IsEmpty());
    EXPECT_EQ(live.scan.tail_good_bytes, kSegmentHeaderBytes + RecordBytes(payloads, 1000));
  }
  // Stopped: the segment ends where its records do.
  EXPECT_EQ(FileBytes(segment), kSegmentHeaderBytes + RecordBytes(payloads, 1000));
  ReadBack back = Read(dir.path());
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_EQ(back.payloads, payloads);
  EXPECT_EQ(back.scan.cut_bytes, 0u);
}

TEST(FileJournalWindow, MovesOnAsItFillsAndAcrossSegmentsWhoseUnusedEndsTakeNoSpace) {
  TempDir dir;
  metrics::JournalSeries series;
  const std::vector<std::string> payloads = Payloads(20000);  // about 700 KB of records
  {
    FileJournalOptions options;
    options.dir = dir.path();
    options.segment_bytes = 64 << 10;
    options.window_bytes = 16 << 10;
    auto journal = FileJournal::Start(options, JournalScan{}, &series, {});
    ASSERT_TRUE(journal.ok()) << journal.status();
    uint64_t copied = 0;
    for (const std::string& p : payloads) {
      const uint64_t sequence = (*journal)->Append(p);
      if ((*journal)->durable_sequence() == sequence) {
        ++copied;
      } else {
        // The thread's way (a new segment, or a window used up before the thread extended it):
        // written, and then the thread prepares the window again, before the loop goes on.
        AwaitDurable(**journal, sequence);
        absl::SleepFor(absl::Milliseconds(2));
      }
    }
    EXPECT_GT(copied, payloads.size() * 9 / 10) << "most records were copies";
    ReadBack live = Read(dir.path());
    ASSERT_TRUE(live.status.ok()) << live.status;
    EXPECT_EQ(live.payloads, payloads);
    EXPECT_THAT(live.scan.notes, IsEmpty());
    EXPECT_GT(live.scan.segments, 8);
  }
  absl::StatusOr<std::vector<std::string>> segments = ListSegments(dir.path());
  ASSERT_TRUE(segments.ok()) << segments.status();
  for (size_t i = 0; i + 1 < segments->size(); ++i) {
    // The part of its window a full segment never used was given back (a hole reads as zeros).
    const std::string& segment = (*segments)[i];
    const uint64_t written = ReadFile(segment).find_last_not_of('\0') + 1;
    EXPECT_LE(AllocatedBytes(segment), (written + 4095) / 4096 * 4096 + 4096) << segment;
  }
  ReadBack back = Read(dir.path());
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_EQ(back.payloads, payloads);
  EXPECT_THAT(back.scan.notes, IsEmpty());
  EXPECT_EQ(back.scan.cut_bytes, 0u);
}

TEST(FileJournalWindowDeathTest, AKilledAcddLeavesZerosThatTheNextStartCutsWithoutANote) {
  TempDir dir;
  const std::vector<std::string> payloads = Payloads(100);
  EXPECT_EXIT(
      {
        metrics::JournalSeries series;
        FileJournalOptions options;
        options.dir = dir.path();
        auto journal = FileJournal::Start(options, JournalScan{}, &series, {});
        if (!journal.ok()) _exit(1);
        for (const std::string& p : payloads) (*journal)->Append(p);
        if ((*journal)->durable_sequence() != payloads.size()) _exit(2);
        raise(SIGKILL);  // as kill -9: no destructor cuts the window off
      },
      ::testing::KilledBySignal(SIGKILL), "");
  const std::string segment = dir.path() + "/" + SegmentFileName(1);
  const uint64_t records_end = kSegmentHeaderBytes + RecordBytes(payloads, 100);
  ASSERT_GT(FileBytes(segment), records_end) << "the window's zeros are still there";
  ReadBack back = Read(dir.path());
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_EQ(back.payloads, payloads);
  EXPECT_THAT(back.scan.notes, IsEmpty()) << "zeros are no torn write: nothing to tell";
  EXPECT_EQ(back.scan.tail_good_bytes, records_end);
  ASSERT_TRUE(CutJournal(back.scan).ok());
  EXPECT_EQ(FileBytes(segment), records_end);
  // The journal goes on from there, in a window again.
  {
    metrics::JournalSeries series;
    FileJournalOptions options;
    options.dir = dir.path();
    auto journal = FileJournal::Start(options, back.scan, &series, {});
    ASSERT_TRUE(journal.ok()) << journal.status();
    EXPECT_EQ((*journal)->Append("after the crash"), 101u);
    EXPECT_EQ((*journal)->durable_sequence(), 101u);
  }
  ReadBack again = Read(dir.path());
  ASSERT_TRUE(again.status.ok()) << again.status;
  ASSERT_THAT(again.payloads, SizeIs(101));
  EXPECT_EQ(again.payloads.back(), "after the crash");
}

TEST(FileJournalWindow, ATornRecordBeforeTheZerosIsCutWithANoteCountingOnlyItsBytes) {
  TempDir dir;
  const std::vector<std::string> payloads = Payloads(10);
  WriteJournal(dir.path(), payloads);
  const std::string segment = dir.path() + "/" + SegmentFileName(1);
  // A copy cut short by a crash: half a record where the records end, then the window's zeros.
  std::string bytes = ReadFile(segment);
  const size_t records_end = bytes.size();
  bytes += EncodeRecord(11, 1, "eleven").substr(0, kRecordHeaderBytes + 3);
  bytes += std::string(8192, '\0');
  WriteFile(segment, bytes);
  ReadBack back = Read(dir.path());
  ASSERT_TRUE(back.status.ok()) << back.status;
  EXPECT_EQ(back.payloads, payloads);
  ASSERT_THAT(back.scan.notes, SizeIs(1));
  EXPECT_THAT(back.scan.notes[0], HasSubstr("cut a torn last write (27 bytes"));
  EXPECT_EQ(back.scan.tail_good_bytes, records_end);
  EXPECT_EQ(back.scan.cut_bytes, 27u + 8192u);
}

TEST(FileJournalWindow, ZerosInTheMiddleOfASegmentWithRecordsAfterThemAreDamage) {
  TempDir dir;
  const std::vector<std::string> payloads = Payloads(10);
  WriteJournal(dir.path(), payloads);
  const std::string segment = dir.path() + "/" + SegmentFileName(1);
  std::string bytes = ReadFile(segment);
  const size_t third = kSegmentHeaderBytes + RecordBytes(payloads, 2);
  const size_t third_size = kRecordHeaderBytes + payloads[2].size();
  bytes.replace(third, third_size, std::string(third_size, '\0'));
  WriteFile(segment, bytes);
  ReadBack back = Read(dir.path());
  EXPECT_EQ(back.status.code(), absl::StatusCode::kDataLoss) << back.status;
  EXPECT_THAT(back.status.message(), HasSubstr(absl::StrCat(segment, " at offset ", third)));
}

TEST(FileJournalWindow, RecordsTakeTheJournalThreadsWayWhenTheWindowCannotGrowAndNoneIsLost) {
  TempDir dir;
  metrics::JournalSeries series;
  HeardEvents heard;
  const std::vector<std::string> payloads = Payloads(3000);  // about 100 KB of records
  {
    FileJournalOptions options;
    options.dir = dir.path();
    options.window_bytes = 16 << 10;
    options.retry_every = absl::Milliseconds(20);
    auto journal = FileJournal::Start(options, JournalScan{}, &series, heard.Events());
    ASSERT_TRUE(journal.ok()) << journal.status();
    // The file may not grow past what it holds now: the first window fills, the next cannot be
    // allocated, and the thread's writes fail too.
    auto limit = std::make_unique<FileSizeLimit>(FileBytes(dir.path() + "/" + SegmentFileName(1)));
    uint64_t copied = 0, last_copied = 0;
    for (const std::string& p : payloads) {
      const uint64_t sequence = (*journal)->Append(p);
      if ((*journal)->durable_sequence() == sequence) {
        ++copied;
        last_copied = sequence;
      }
    }
    EXPECT_GT(copied, 100u) << "the window the journal had";
    EXPECT_LT(last_copied, payloads.size()) << "and not one past it";
    EXPECT_TRUE(heard.AwaitTrouble()) << "the thread's write failed and said so";
    EXPECT_EQ((*journal)->durable_sequence(), last_copied);
    EXPECT_EQ(series.writable.Get(), 0);
    limit.reset();
    ASSERT_TRUE(heard.AwaitDurable(payloads.size()));
    EXPECT_EQ(series.writable.Get(), 1);
    {
      absl::MutexLock lock(&heard.mu);
      EXPECT_THAT(heard.trouble, ElementsAre(HasSubstr("File too large"), ""));
    }
    // The window is back: the next record is copied again.
    absl::SleepFor(absl::Milliseconds(50));
    EXPECT_EQ((*journal)->Append("after"), payloads.size() + 1);
    EXPECT_EQ((*journal)->durable_sequence(), payloads.size() + 1);
  }
  ReadBack back = Read(dir.path());
  ASSERT_TRUE(back.status.ok()) << back.status;
  ASSERT_THAT(back.payloads, SizeIs(payloads.size() + 1));
  EXPECT_EQ(std::vector<std::string>(back.payloads.begin(), back.payloads.end() - 1), payloads);
}

TEST(FileJournal, WritesLaterRecordsWithARaisedEpoch) {
  TempDir dir;
  {
    metrics::JournalSeries series;
    std::unique_ptr<FileJournal> journal = NewJournal(dir.path(), &series);
    ASSERT_NE(journal, nullptr);
    journal->Append("as a lone acdd");
    journal->RaiseEpoch(42);
    journal->Append("as the leader of epoch 42");
    AwaitDurable(*journal, 2);
  }
  std::vector<uint64_t> epochs;
  ASSERT_TRUE(ReadJournal(dir.path(), RecoverMode::kStop, 1, [&](const DecodedRecord& r) {
                epochs.push_back(r.epoch);
                return absl::OkStatus();
              }).ok());
  EXPECT_EQ(epochs, (std::vector<uint64_t>{1, 42}));
}

TEST(FileJournalDeathTest, RefusesFramedRecordsThatDoNotComeNext) {
  TempDir dir;
  metrics::JournalSeries series;
  std::unique_ptr<FileJournal> journal = NewJournal(dir.path(), &series);
  ASSERT_NE(journal, nullptr);
  const std::string record = EncodeRecord(5, 1, "five");
  EXPECT_DEATH(journal->AppendFramed(record, 5, 5, 1), "record 1 of epoch 1 comes next");
}

TEST(FileJournal, RefusesToStartOnADataDirItCannotCreate) {
  TempDir dir;
  const std::string file = dir.path() + "/a-file";
  WriteFile(file, "not a directory");
  metrics::JournalSeries series;
  FileJournalOptions options;
  options.dir = file + "/data";
  auto journal = FileJournal::Start(options, JournalScan{}, &series, {});
  ASSERT_FALSE(journal.ok());
  EXPECT_THAT(journal.status().message(), HasSubstr(file));
}

}  // namespace
}  // namespace acd::daemon::journal
