// Journal replay: acdd journals every state-changing input before its core takes it, and after a
// restart rebuilds the core by replaying the journal. Under random, mostly valid traffic written
// through a real FileJournal, the recovered core equals the original byte for byte (Core::Dump),
// it then makes exactly the commands and answers the original would, and a journal cut after any
// record, or torn inside the next one as a crash leaves it, recovers the state the original had
// right after that record.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/recovery.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"
#include "tests/daemon/journal_test_support.h"
#include "tests/daemon/random_core_traffic.h"

namespace acd::daemon::testing {
namespace {

constexpr char kScratch[] = "journal_replay";

// The traffic must have made the core do what a replay has to reproduce, or a test could pass on
// a core that did nothing.
void ExpectTheTrafficExercisedTheCore(const Traffic& traffic) {
  ExpectEachHappened(
      traffic, {"ok enqueue_call", "ok offer_accepted", "ok offer_rejected", "ok offer_no_answer",
                "ok answered", "ok hold_started", "ok hold_ended", "ok transfer_requested",
                "ok consult_transfer_requested", "ok consult_cancelled", "ok callback_accepted",
                "ok callback_not_reached", "ok call_ended", "ok caller_abandoned", "ok login",
                "ok set_agent_state", "ok logout", "ok set_policy", "input policy_text",
                "input command_written", "input switch_reconnected", "input time_passed",
                "input drain_begun", "input started", "command offer_call", "command cancel_offer",
                "command play_prompt", "command hold_reminder", "command hold_overrun",
                "command start_callback", "command complete_transfer", "command send_to_fallback",
                "command callback_gave_up", "resent on reconnect"});
}

// ---------------------------------------------------------------------------------------------

TEST(JournalReplay, ARecoveredCoreEqualsTheOriginalByteForByte) {
  constexpr int kInputs = 3000;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    ScratchDir dir(kScratch);
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
    ScratchDir dir(kScratch);
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
    ASSERT_NO_FATAL_FAILURE(ExpectToGoOnAsTheOriginal(run, again, *writer, kMore));
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

TEST(JournalReplay, APolicyFileThatIsNotUtf8IsJournaledRefusedAndRefusedAgainOnReplay) {
  // Found by fuzz/policy_text_fuzzer: a SIGHUP's file text with a Latin-1 byte was journaled in a
  // proto3 string, and the record could not be parsed back: acdd could not start again.
  ScratchDir dir(kScratch);
  Traffic traffic(1);
  metrics::JournalSeries metrics;
  std::unique_ptr<journal::FileJournal> writer = OpenJournal(dir.path(), &metrics);
  ASSERT_NE(writer, nullptr);
  const JournalInput created = traffic.Created();
  writer->Append(created.SerializeAsString());
  absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(created, nullptr);
  ASSERT_TRUE(core.ok()) << core.status();
  JournalInput reload = InputAt(daemon::TimeOf(created) + absl::Seconds(1));
  reload.mutable_policy_text()->set_yaml("name: caf\xE9\nqueues: [{name: sales}]\n");
  reload.mutable_policy_text()->set_source(kPolicyFile);
  writer->Append(reload.SerializeAsString());
  const absl::Status refused = ApplyInput(**core, reload);
  EXPECT_THAT(refused.message(), ::testing::HasSubstr("1:10: the policy is not UTF-8 here (byte 0xe9)"));
  writer.reset();  // flushes

  absl::StatusOr<Recovered> recovered =
      RecoverCore(dir.path(), journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->replayed, 2u);
  ExpectSameState((*core)->Dump(), recovered->core->Dump(), "recovered");
}

TEST(JournalReplay, SettingsWithoutRoomForAnUnwrittenCommandAreReadAsTheSmallestAcddWrites) {
  // Found by fuzz/journal_fuzzer: a start record whose settings keep no unwritten command (acdd
  // never writes one: --max_outbox is at least 1) made the next command erase from an empty
  // outbox, and recovery crashed. Such settings now keep one; a creating record with them is
  // refused as damage.
  Traffic traffic(1);
  JournalInput created = traffic.Created();
  absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(created, nullptr);
  ASSERT_TRUE(core.ok()) << core.status();
  JournalInput restarted = traffic.Restarted();
  restarted.mutable_started()->mutable_settings()->set_max_outbox(0);
  ASSERT_TRUE(ApplyInput(**core, restarted).ok());
  for (int i = 0; i < 50; ++i) {  // enough traffic for commands to be sent
    const JournalInput next = traffic.Next(**core);
    (void)ApplyInput(**core, next);
    (void)(*core)->TakeCommands();
  }
  EXPECT_TRUE((*core)->CheckInvariants().ok());

  created.mutable_created()->mutable_settings()->set_max_outbox(0);
  absl::StatusOr<std::unique_ptr<Core>> refused = CreateCore(created, nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
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
    ScratchDir dir(kScratch);
    Recording run = Record(seed, dir.path(), kInputs, cuts);
    ASSERT_NE(run.core, nullptr);

    for (const int k : cuts) {
      // At a record boundary, as a clean stop leaves it; or inside the next record, as a crash
      // in the middle of a write does (recovery drops the torn record).
      for (const bool torn : {false, true}) {
        if (torn && k == kInputs) continue;  // no record after the last one to tear
        SCOPED_TRACE(absl::StrCat("cut after input ", k, torn ? ", the next record torn" : ""));
        ScratchDir cut(kScratch);
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