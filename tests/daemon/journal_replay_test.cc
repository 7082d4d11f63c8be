// Journal replay: acdd journals every state-changing input before its core takes it, and after a
// restart rebuilds the core by replaying the journal. Under random, mostly valid traffic written
// through a real FileJournal, the recovered core equals the original byte for byte (Core::Dump),
// it then makes exactly the commands and answers the original would, and a journal cut after any
// record, or torn inside the next one as a crash leaves it, recovers the state the original had
// right after that record.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "acd/v1/acd.pb.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "daemon/recovery.h"
#include "daemon/text_diff.h"
#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"
#include "tests/daemon/random_core_traffic.h"

namespace acd::daemon::testing {
namespace {

// Small segments, so that a journal spans many and recovery crosses from one to the next.
constexpr uint64_t kSegmentBytes = 16 << 10;

// A fresh directory under the test's temp dir, removed with everything in it at the end.
class ScratchDir {
 public:
  ScratchDir() {
    std::string path = ::testing::TempDir() + "journal_replay_XXXXXX";
    if (mkdtemp(path.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << path;
    path_ = path;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An effect as text (messages print their map entries in key order), to compare two cores.
std::string Text(const Effect& effect) {
  std::string out = absl::StrCat(
      effect.status.ToString(), "\nenqueue ", effect.enqueue_call.ShortDebugString(), "\nevent ",
      effect.call_event.ShortDebugString(), "\nagent ", effect.agent.ShortDebugString(),
      "\npolicy ", effect.set_policy.ShortDebugString(), "\n");
  for (const acd::v1::Command& c : effect.reconnect) {
    absl::StrAppend(&out, "reconnect ", c.ShortDebugString(), "\n");
  }
  for (const OutgoingCommand& c : effect.commands) {
    absl::StrAppend(&out, "command ", c.switch_id, " ", c.command.ShortDebugString(), "\n");
  }
  return out;
}

// Expects two dumps to be equal and shows how they differ when they are not.
void ExpectSameState(const std::string& original, const std::string& other,
                     const std::string& other_name) {
  EXPECT_TRUE(original == other) << "the " << other_name << " core differs from the original:\n"
                                 << UnifiedDiff(original, other, "original", other_name);
}

// The traffic must have made the core do what a replay has to reproduce, or a test could pass on
// a core that did nothing.
void ExpectTheTrafficExercisedTheCore(const Traffic& traffic) {
  for (const char* what :
       {"ok enqueue_call", "ok offer_accepted", "ok offer_rejected", "ok offer_no_answer",
        "ok answered", "ok hold_started", "ok hold_ended", "ok transfer_requested",
        "ok consult_transfer_requested", "ok consult_cancelled", "ok callback_accepted",
        "ok callback_not_reached", "ok call_ended", "ok caller_abandoned", "ok login",
        "ok set_agent_state", "ok logout", "ok set_policy", "input policy_text",
        "input command_written", "input switch_reconnected", "input time_passed",
        "input drain_begun", "input started", "command offer_call", "command cancel_offer",
        "command play_prompt", "command hold_reminder", "command hold_overrun",
        "command start_callback", "command complete_transfer", "command send_to_fallback",
        "command callback_gave_up", "resent on reconnect"}) {
    EXPECT_GT(traffic.Count(what), 0) << what << " never happened:\n" << traffic.Summary();
  }
}

// One seed's traffic, journaled: the original core, and its Dump() after the inputs asked for.
struct Recording {
  std::unique_ptr<Core> core;
  std::unique_ptr<Traffic> traffic;
  std::map<int, std::string> dumps;  // after input k (0: the created record alone)
};

// Opens the journal of `dir` as acdd does: what is there is read and cut, then appended to.
std::unique_ptr<journal::FileJournal> OpenJournal(const std::string& dir,
                                                  metrics::JournalSeries* metrics) {
  absl::StatusOr<journal::JournalScan> scan = journal::ReadJournal(
      dir, journal::RecoverMode::kStop, 1,
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
      {.dir = dir, .segment_bytes = kSegmentBytes}, *scan, metrics, {});
  if (!opened.ok()) {
    ADD_FAILURE() << opened.status();
    return nullptr;
  }
  return *std::move(opened);
}

// Drives a new core with `inputs` inputs of `seed`'s traffic, journaling each in `dir` before the
// core takes it, as the engine does; the journal is closed (flushed) at the end.
Recording Record(uint64_t seed, const std::string& dir, int inputs,
                 const std::set<int>& dump_after = {}) {
  Recording out;
  out.traffic = std::make_unique<Traffic>(seed);
  metrics::JournalSeries metrics;
  std::unique_ptr<journal::FileJournal> writer = OpenJournal(dir, &metrics);
  if (writer == nullptr) return out;
  const JournalInput created = out.traffic->Created();
  writer->Append(created.SerializeAsString());
  absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(created, nullptr);
  if (!core.ok()) {
    ADD_FAILURE() << core.status();
    return out;
  }
  out.core = *std::move(core);
  if (dump_after.contains(0)) out.dumps[0] = out.core->Dump();
  for (int k = 1; k <= inputs; ++k) {
    const JournalInput input = out.traffic->Next(*out.core);
    writer->Append(input.SerializeAsString());
    out.traffic->Learn(input, Apply(*out.core, input));
    if (dump_after.contains(k)) out.dumps[k] = out.core->Dump();
  }
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// Copies the journal of `from` into `to` with only its first `keep` records, as if acdd had
// stopped there: the segment holding the next record ends where that record would start, or
// `torn_bytes` into it (a write a crash cut short), and later segments are left out.
void CopyJournalCut(const std::string& from, const std::string& to, uint64_t keep,
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
      const bool more = offset < bytes->size();
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
    std::ofstream out(std::filesystem::path(to) / std::filesystem::path(path).filename(),
                      std::ios::binary);
    out << *bytes;
    ASSERT_TRUE(out.good());
    if (cut) return;
  }
}

// ---------------------------------------------------------------------------------------------

TEST(JournalReplay, ARecoveredCoreEqualsTheOriginalByteForByte) {
  constexpr int kInputs = 3000;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    ScratchDir dir;
    Recording run = Record(seed, dir.path(), kInputs);
    ASSERT_NE(run.core, nullptr);
    absl::StatusOr<std::vector<std::string>> segments = journal::ListSegments(dir.path());
    ASSERT_TRUE(segments.ok()) << segments.status();
    EXPECT_GT(segments->size(), 1u) << "the journal should span several segments";

    absl::StatusOr<Recovered> recovered =
        RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_NE(recovered->core, nullptr);
    EXPECT_EQ(recovered->replayed, kInputs + 1u) << "the created record and every input";
    EXPECT_TRUE(recovered->scan.notes.empty()) << "a whole journal needs no cut";
    ExpectSameState(run.core->Dump(), recovered->core->Dump(), "recovered");
    ExpectTheTrafficExercisedTheCore(*run.traffic);
  }
}

TEST(JournalReplay, ARecoveredCoreGoesOnExactlyAsTheOriginalWould) {
  constexpr int kInputs = 2000;
  constexpr int kMore = 2000;
  for (uint64_t seed = 11; seed <= 14; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    ScratchDir dir;
    Recording run = Record(seed, dir.path(), kInputs);
    ASSERT_NE(run.core, nullptr);
    absl::StatusOr<Recovered> recovered =
        RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_NE(recovered->core, nullptr);
    Core& again = *recovered->core;

    // acdd starts on the recovered data dir: it journals that it started, then takes inputs; the
    // original is handed the very same ones.
    metrics::JournalSeries metrics;
    std::unique_ptr<journal::FileJournal> writer = OpenJournal(dir.path(), &metrics);
    ASSERT_NE(writer, nullptr);
    for (int k = 0; k <= kMore; ++k) {
      const JournalInput input = k == 0 ? run.traffic->Restarted() : run.traffic->Next(*run.core);
      writer->Append(input.SerializeAsString());
      const Effect original = Apply(*run.core, input);
      const Effect recovered_effect = Apply(again, input);
      const std::string expected = Text(original);
      const std::string actual = Text(recovered_effect);
      ASSERT_TRUE(expected == actual)
          << "input " << k << " after recovery, " << input.ShortDebugString() << ":\n"
          << UnifiedDiff(expected, actual, "original", "recovered");
      run.traffic->Learn(input, original);
    }
    ExpectSameState(run.core->Dump(), again.Dump(), "recovered");

    // The journal appended to after a recovery replays as well: the whole story, recovered once
    // more, is the original again.
    writer.reset();  // flushes
    absl::StatusOr<Recovered> twice = RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
    ASSERT_TRUE(twice.ok()) << twice.status();
    ASSERT_NE(twice->core, nullptr);
    EXPECT_EQ(twice->replayed, kInputs + kMore + 2u);
    ExpectSameState(run.core->Dump(), twice->core->Dump(), "recovered twice");
    ExpectTheTrafficExercisedTheCore(*run.traffic);
  }
}

TEST(JournalReplay, AJournalCutAfterAnyRecordRecoversTheStateTheOriginalHadThere) {
  constexpr int kInputs = 2000;
  for (uint64_t seed = 21; seed <= 23; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    std::mt19937_64 random(seed);
    // Input k is record k + 1 (the created record comes first). Cut after the created record
    // alone, after the last input, and at random places between.
    std::set<int> cuts = {0, kInputs};
    while (cuts.size() < 7) cuts.insert(1 + static_cast<int>(random() % (kInputs - 1)));
    ScratchDir dir;
    Recording run = Record(seed, dir.path(), kInputs, cuts);
    ASSERT_NE(run.core, nullptr);

    for (const int k : cuts) {
      // At a record boundary, as a clean stop leaves it; or inside the next record, as a crash
      // in the middle of a write does (recovery drops the torn record).
      for (const bool torn : {false, true}) {
        if (torn && k == kInputs) continue;  // no record after the last one to tear
        SCOPED_TRACE(absl::StrCat("cut after input ", k, torn ? ", the next record torn" : ""));
        ScratchDir cut;
        const size_t torn_bytes = torn ? 1 + static_cast<size_t>(random() % 200) : 0;
        ASSERT_NO_FATAL_FAILURE(CopyJournalCut(dir.path(), cut.path(), k + 1, torn_bytes));
        absl::StatusOr<Recovered> recovered =
            RecoverCore(cut.path(), journal::RecoverMode::kStop, nullptr);
        ASSERT_TRUE(recovered.ok()) << recovered.status();
        ASSERT_NE(recovered->core, nullptr);
        EXPECT_EQ(recovered->replayed, static_cast<uint64_t>(k) + 1);
        EXPECT_EQ(recovered->scan.last_sequence, static_cast<uint64_t>(k) + 1);
        EXPECT_EQ(recovered->scan.notes.size(), torn ? 1u : 0u)
            << "only a torn record is cut, and it is noted for the log";
        ExpectSameState(run.dumps.at(k), recovered->core->Dump(), "recovered");
      }
    }
    ExpectTheTrafficExercisedTheCore(*run.traffic);
  }
}

}  // namespace
}  // namespace acd::daemon::testing