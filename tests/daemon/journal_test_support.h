// Data dirs for the journal and snapshot tests: a scratch dir, files read and written whole, a
// journal opened as acdd opens it, one seed's random traffic recorded into a data dir (with
// snapshots taken on the way if asked), a journal copied cut short, and two cores compared by what
// they do (Text of an Effect) and what they hold (ExpectSameState on their Dumps).
//   ScratchDir dir("journal_replay");
//   Recording run = Record(/*seed=*/1, dir.path(), /*inputs=*/3000, /*dump_after=*/{0, 3000});
//   absl::StatusOr<Recovered> r = RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
//   ExpectSameState(run.dumps.at(3000), r->core->Dump(), "recovered");
#ifndef ACD_TESTS_DAEMON_JOURNAL_TEST_SUPPORT_H_
#define ACD_TESTS_DAEMON_JOURNAL_TEST_SUPPORT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "acd/v1/acd.pb.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/snapshot_io.h"
#include "daemon/text_diff.h"
#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"
#include "tests/daemon/random_core_traffic.h"

namespace acd::daemon::testing {

// Small segments, so that a journal spans many: recovery crosses from one to the next, and
// retention has some to remove.
inline constexpr uint64_t kSmallSegmentBytes = 16 << 10;

// A fresh directory under the test's temp dir, named `prefix` and a random tail, removed with
// everything in it at the end.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) {
    std::string path = ::testing::TempDir() + prefix + "_XXXXXX";
    if (mkdtemp(path.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << path;
    path_ = path;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

inline absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Where the snapshot of the state at record `sequence` lies in `dir`.
inline std::string SnapshotPath(const std::string& dir, uint64_t sequence) {
  return absl::StrCat(dir, "/", journal::SnapshotFileName(sequence));
}

// An effect as text (messages print their map entries in key order), to compare two cores.
inline std::string Text(const Effect& effect) {
  std::string out = absl::StrCat(
      effect.status.ToString(), "\nenqueue ", effect.enqueue_call.ShortDebugString(), "\nevent ",
      effect.call_event.ShortDebugString(), "\nagent ", effect.agent.ShortDebugString(),
      "\npolicy ", effect.set_policy.ShortDebugString(), "\n");
  for (const acd::v1::Command& c : effect.reconnect) {
    absl::StrAppend(&out, "reconnect ", c.ShortDebugString(), "\n");
  }
  for (const OutgoingCommand& c : effect.commands) {
    absl::StrAppend(&out, "command ", c.switch_id, " ", c.command->ShortDebugString(), "\n");
  }
  return out;
}

// Expects two dumps to be equal and shows how they differ when they are not.
inline void ExpectSameState(const std::string& original, const std::string& other,
                            const std::string& other_name) {
  EXPECT_TRUE(original == other) << "the " << other_name << " core differs from the original:\n"
                                 << UnifiedDiff(original, other, "original", other_name);
}

// Expects `traffic` to have counted each of `what` (names as Traffic::Count takes them) at least
// once: each test names what its core must have done, or it could pass on a core that did nothing.
inline void ExpectEachHappened(const Traffic& traffic, std::initializer_list<const char*> what) {
  for (const char* one : what) {
    EXPECT_GT(traffic.Count(one), 0) << one << " never happened:\n" << traffic.Summary();
  }
}

// Opens the journal of `dir` as acdd does: what is there is read and cut, then appended to.
inline std::unique_ptr<journal::FileJournal> OpenJournal(const std::string& dir,
                                                         metrics::JournalSeries* metrics) {
  absl::StatusOr<journal::JournalScan> scan =
      journal::ReadJournal(dir, journal::RecoverMode::kStop, 1,
                           [](const journal::DecodedRecord&) { return absl::OkStatus(); });
  if (!scan.ok()) {
    ADD_FAILURE() << scan.status();
    return nullptr;
  }
  if (absl::Status cut = journal::CutJournal(*scan); !cut.ok()) {
    ADD_FAILURE() << cut;
    return nullptr;
  }
  absl::StatusOr<std::unique_ptr<journal::FileJournal>> opened = journal::FileJournal::Start(
      {.dir = dir, .segment_bytes = kSmallSegmentBytes}, *scan, metrics, {});
  if (!opened.ok()) {
    ADD_FAILURE() << opened.status();
    return nullptr;
  }
  return *std::move(opened);
}

// Writes `core`'s snapshot at record `head.sequence()` into `dir` as acdd does: under a temporary
// name, then published. Returns its path.
inline std::string TakeSnapshot(const Core& core, const acd::journal::v1::SnapshotHead& head,
                                const std::string& dir) {
  const std::string path = SnapshotPath(dir, head.sequence());
  const std::string temporary = path + ".tmp";
  absl::StatusOr<uint64_t> bytes = WriteSnapshot(core, head, temporary);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  if (!bytes.ok()) return path;
  EXPECT_EQ(*bytes, std::filesystem::file_size(temporary))
      << "WriteSnapshot returns the file's size";
  absl::Status published = journal::PublishSnapshot(temporary, path);
  EXPECT_TRUE(published.ok()) << published;
  return path;
}

// One seed's traffic, journaled, with any snapshots taken on the way.
struct Recording {
  std::unique_ptr<Core> core;
  std::unique_ptr<Traffic> traffic;
  std::map<int, std::string> dumps;            // after input k (0: the created record alone)
  std::map<int, uint64_t> snapshots;           // after input k: the snapshot's sequence
  std::optional<acd::v1::Policy> file_policy;  // as recovery follows it, through the last record
  absl::Time last_time;                        // of the last record
};

// Drives a new core with `inputs` inputs of `seed`'s traffic, journaling each in `dir` before the
// core takes it, as the engine does, its invariants checked after each (Core::CheckInvariants);
// keeps the core's Dump() after each input of `dump_after`, and
// writes a snapshot into `dir` after each input of `snapshot_after` (input k is record k + 1: the
// created record is 1). The journal is closed (flushed) at the end.
inline Recording Record(uint64_t seed, const std::string& dir, int inputs,
                        const std::set<int>& dump_after = {},
                        const std::set<int>& snapshot_after = {}) {
  Recording out;
  out.traffic = std::make_unique<Traffic>(seed);
  metrics::JournalSeries metrics;
  std::unique_ptr<journal::FileJournal> writer = OpenJournal(dir, &metrics);
  if (writer == nullptr) return out;
  for (int k = 0; k <= inputs; ++k) {
    const JournalInput input = k == 0 ? out.traffic->Created() : out.traffic->Next(*out.core);
    const uint64_t sequence = writer->Append(input.SerializeAsString());
    absl::Status answered;
    if (k == 0) {
      absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(input, nullptr);
      if (!core.ok()) {
        ADD_FAILURE() << core.status();
        return out;
      }
      out.core = *std::move(core);
    } else {
      const Effect effect = Apply(*out.core, input);
      answered = effect.status;
      out.traffic->Learn(input, effect);
    }
    FollowFilePolicy(input, answered, *out.core, &out.file_policy);
    out.last_time = daemon::TimeOf(input);
    if (absl::Status held = out.core->CheckInvariants(); !held.ok()) {
      ADD_FAILURE() << "input " << k << ", " << input.ShortDebugString() << ": " << held;
      return out;
    }
    if (dump_after.contains(k)) out.dumps[k] = out.core->Dump();
    if (snapshot_after.contains(k)) {
      acd::journal::v1::SnapshotHead head;
      head.set_sequence(sequence);
      head.set_epoch(writer->epoch());
      head.set_time_unix_micros(absl::ToUnixMicros(daemon::TimeOf(input)));
      if (out.file_policy) *head.mutable_file_policy() = *out.file_policy;
      TakeSnapshot(*out.core, head, dir);
      out.snapshots[k] = sequence;
    }
  }
  return out;
}

// acdd starts on the data dir `run` was recorded in, with `again` recovered from it, appending to
// its journal through `writer`: it journals that it started, then takes `more` inputs of the run's
// traffic. The original is handed the very same ones, and `again` must answer each and make its
// commands exactly as the original does (a fatal failure names the first input where it did not).
inline void ExpectToGoOnAsTheOriginal(Recording& run, Core& again, journal::FileJournal& writer,
                                      int more) {
  for (int k = 0; k <= more; ++k) {
    const JournalInput input = k == 0 ? run.traffic->Restarted() : run.traffic->Next(*run.core);
    writer.Append(input.SerializeAsString());
    const Effect original = Apply(*run.core, input);
    const std::string expected = Text(original);
    const std::string actual = Text(Apply(again, input));
    ASSERT_TRUE(expected == actual)
        << "input " << k << " after recovery, " << input.ShortDebugString() << ":\n"
        << UnifiedDiff(expected, actual, "original", "recovered");
    run.traffic->Learn(input, original);
  }
}

// Copies the journal of `from` into `to` with only its first `keep` records, as if acdd had
// stopped there: the segment holding the next record ends where that record would start, or
// `torn_bytes` into it (a write a crash cut short), and later segments are left out.
inline void CopyJournalCut(const std::string& from, const std::string& to, uint64_t keep,
                           size_t torn_bytes) {
  absl::StatusOr<std::vector<std::string>> segments = journal::ListSegments(from);
  ASSERT_TRUE(segments.ok()) << segments.status();
  uint64_t kept = 0;
  for (const std::string& path : *segments) {
    absl::StatusOr<std::string> bytes = ReadFile(path);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    bool cut = false;
    for (size_t offset = journal::kSegmentHeaderBytes; offset <= bytes->size();) {
      journal::DecodedRecord record;
      // A segment ends where its records do, or where the zeros of its window begin.
      const bool more = offset < bytes->size() && bytes->find_first_not_of('\0', offset) <
                                                      offset + journal::kRecordHeaderBytes;
      if (!more) bytes->resize(offset);
      if (more) {
        ASSERT_EQ(journal::DecodeRecord(*bytes, offset, &record), journal::RecordCheck::kOk)
            << path << " at " << offset;
      }
      if (kept == keep && more) {
        bytes->resize(offset + std::min(torn_bytes, record.size - 1));
        cut = true;
        break;
      }
      if (!more) break;
      offset += record.size;
      ++kept;
    }
    ASSERT_NO_FATAL_FAILURE(WriteFile(
        absl::StrCat(to, "/", std::filesystem::path(path).filename().string()), *bytes));
    if (cut) return;
  }
}

}  // namespace acd::daemon::testing

#endif  // ACD_TESTS_DAEMON_JOURNAL_TEST_SUPPORT_H_
