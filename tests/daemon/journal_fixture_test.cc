// A journal written by the first release of the journal format (tests/daemon/testdata/journal-v1,
// made by a real acdd on tests/integration/testdata/center.yaml: two agents, four calls, one of
// them answered, an agent made not ready, then a clean stop). Every later release must recover
// it to the same state: if this test fails, the format or the meaning of an input changed in a
// way that would lose a center's calls on upgrade.
//
// And a snapshot written by the first release of the snapshot format
// (tests/daemon/testdata/snapshot-v1: the same data dir after a real acdd started on it with
// --snapshot_every_records=1, snapshotted the state at record 17 and stopped; its journal runs to
// record 19). A later release must recover it from the snapshot to the state the journal gives.
//
// And a journal of the second format (tests/daemon/testdata/journal-v2, written by
// tests/daemon/testdata/make_journal_v2.py: the same center journaled by a real acdd, then killed
// with SIGKILL, so that its segment ends in the zeros of the window acdd had prepared).
#include <filesystem>
#include <string>

#include "daemon/core.h"
#include "daemon/recovery.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace acd::daemon {
namespace {

const std::string kFixture = std::string(ACD_SOURCE_DIR) + "/tests/daemon/testdata/journal-v1";
const std::string kSecondFixture =
    std::string(ACD_SOURCE_DIR) + "/tests/daemon/testdata/journal-v2";
const std::string kSnapshotFixture =
    std::string(ACD_SOURCE_DIR) + "/tests/daemon/testdata/snapshot-v1";

acd::v1::CallInfo CallOf(const Core& core, const std::string& call_id, absl::Time now) {
  acd::v1::GetCallRequest request;
  request.set_call_id(call_id);
  acd::v1::CallInfo info;
  EXPECT_TRUE(core.GetCall(request, &info, now).ok()) << call_id;
  return info;
}

TEST(JournalFixture, TheFirstFormatsJournalRecoversToTheCenterItRecorded) {
  absl::StatusOr<Recovered> recovered = RecoverCore(kFixture, journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  const Core& core = *recovered->core;
  const absl::Time now = recovered->last_time;
  EXPECT_EQ(recovered->replayed, 16u);
  EXPECT_EQ(recovered->scan.last_sequence, 16u);
  EXPECT_EQ(recovered->scan.epoch, 1u);
  EXPECT_TRUE(recovered->scan.notes.empty());

  acd::v1::PolicyInfo policy;
  ASSERT_TRUE(core.GetPolicy(&policy).ok());
  EXPECT_EQ(policy.policy().name(), "integration-center");

  const acd::v1::CallInfo answered = CallOf(core, "fx-1", now);
  EXPECT_EQ(answered.state(), acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(answered.agent_id(), "fx-ann");
  EXPECT_EQ(answered.switch_id(), "sw-fixture");
  for (int i = 2; i <= 4; ++i) {
    const acd::v1::CallInfo waiting = CallOf(core, "fx-" + std::to_string(i), now);
    EXPECT_EQ(waiting.state(), acd::v1::CALL_STATE_WAITING) << i;
    EXPECT_EQ(waiting.position(), i - 1) << "arrival order kept";
    EXPECT_EQ(waiting.queue(), "sales");
  }

  acd::v1::ListAgentsResponse agents;
  ASSERT_TRUE(core.ListAgents({}, &agents).ok());
  ASSERT_EQ(agents.agents_size(), 2);
  EXPECT_EQ(agents.agents(0).agent_id(), "fx-ann");
  EXPECT_EQ(agents.agents(0).state(), acd::v1::AGENT_STATE_BUSY);
  EXPECT_EQ(agents.agents(1).agent_id(), "fx-bob");
  EXPECT_EQ(agents.agents(1).state(), acd::v1::AGENT_STATE_NOT_READY);
  EXPECT_EQ(agents.agents(1).not_ready_reason(), "training");

  EXPECT_TRUE(core.draining()) << "its last record began the drain of the clean stop";
  EXPECT_EQ(recovered->file_policy->name(), "integration-center");
}

TEST(JournalFixture, TheFirstSnapshotFormatRecoversToTheStateItsJournalGives) {
  absl::StatusOr<Recovered> from_snapshot =
      RecoverCore(kSnapshotFixture, journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(from_snapshot.ok()) << from_snapshot.status();
  ASSERT_NE(from_snapshot->core, nullptr);
  EXPECT_EQ(from_snapshot->snapshot_sequence, 17u);
  EXPECT_EQ(from_snapshot->replayed, 2u) << "the time that passed and the drain after it";
  EXPECT_TRUE(from_snapshot->notes.empty());

  // The same journal without its snapshot, replayed whole.
  const std::string journal_only = ::testing::TempDir() + "snapshot-v1-journal-only";
  std::filesystem::remove_all(journal_only);
  std::filesystem::create_directories(journal_only);
  std::filesystem::copy_file(kSnapshotFixture + "/journal-00000000000000000001.seg",
                             journal_only + "/journal-00000000000000000001.seg");
  absl::StatusOr<Recovered> replayed = RecoverCore(journal_only, journal::RecoverMode::kStop, nullptr);
  std::filesystem::remove_all(journal_only);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  ASSERT_NE(replayed->core, nullptr);
  EXPECT_EQ(replayed->snapshot_sequence, 0u);
  EXPECT_EQ(replayed->replayed, 19u);
  EXPECT_EQ(from_snapshot->core->Dump(), replayed->core->Dump());
  EXPECT_EQ(from_snapshot->file_policy->name(), "integration-center");

  const Core& core = *from_snapshot->core;
  const absl::Time now = from_snapshot->last_time;
  EXPECT_EQ(CallOf(core, "fx-1", now).agent_id(), "fx-ann");
  for (int i = 2; i <= 4; ++i) {
    EXPECT_EQ(CallOf(core, "fx-" + std::to_string(i), now).queue(), "sales") << i;
  }
  acd::v1::ListAgentsResponse agents;
  ASSERT_TRUE(core.ListAgents({}, &agents).ok());
  EXPECT_EQ(agents.agents_size(), 2);
}

TEST(JournalFixture, TheSecondFormatsJournalKilledWithItsWindowOpenRecoversToTheCenterItRecorded) {
  absl::StatusOr<Recovered> recovered =
      RecoverCore(kSecondFixture, journal::RecoverMode::kStop, nullptr);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_NE(recovered->core, nullptr);
  EXPECT_EQ(recovered->replayed, 10u);
  EXPECT_EQ(recovered->scan.last_sequence, 10u);
  EXPECT_TRUE(recovered->scan.notes.empty()) << "the window's zeros are no torn write";
  EXPECT_GT(recovered->scan.cut_bytes, 0u) << "the zeros a start cuts";
  const Core& core = *recovered->core;
  const absl::Time now = recovered->last_time;
  const acd::v1::CallInfo answered = CallOf(core, "fx-1", now);
  EXPECT_EQ(answered.state(), acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(answered.agent_id(), "fx-ann");
  for (int i = 2; i <= 4; ++i) {
    const acd::v1::CallInfo waiting = CallOf(core, "fx-" + std::to_string(i), now);
    EXPECT_EQ(waiting.state(), acd::v1::CALL_STATE_WAITING) << i;
    EXPECT_EQ(waiting.position(), i - 1) << "arrival order kept";
  }
  acd::v1::ListAgentsResponse agents;
  ASSERT_TRUE(core.ListAgents({}, &agents).ok());
  ASSERT_EQ(agents.agents_size(), 2);
  EXPECT_EQ(agents.agents(0).state(), acd::v1::AGENT_STATE_BUSY);
  EXPECT_EQ(agents.agents(1).state(), acd::v1::AGENT_STATE_NOT_READY);
  EXPECT_EQ(agents.agents(1).not_ready_reason(), "training");
  EXPECT_FALSE(core.draining()) << "killed, not stopped";
}

}  // namespace
}  // namespace acd::daemon
