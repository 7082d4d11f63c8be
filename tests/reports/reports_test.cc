// The reporting feeds on a scripted morning in the core's test center (tests/daemon/
// core_fixture.h: sales has a 30 s wrap-up, 15 s offer timeout, the default 20 s service-level
// threshold), told by the core as it happens, checked against figures worked out by hand:
//   t=0    alice logs in to sales; c1 arrives and rings her at once
//   t=4    she takes c1 (waited 4 s, rang 4 s); c2 arrives and waits first in line
//   t=10   c2 hangs up after 6 s in line
//   t=64   c1 ends (talk 60 s); c3 arrives and waits (alice wraps up until t=94)
//   t=94   c3 rings alice; t=109 the offer times out, and rings her again
//   t=112  she takes c3 (waited 48 s, rang 3 s); t=120..150 on hold; t=172 the caller hangs up
//   t=172  alice pauses for lunch
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/history_sink.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "reports/call_records.h"
#include "reports/interval_report.h"
#include "reports/queue_log.h"
#include "tests/daemon/core_fixture.h"

namespace acd::reports {
namespace {

using daemon::testing::Abandon;
using daemon::testing::Accept;
using daemon::testing::End;
using daemon::testing::Hold;
using daemon::testing::kStart;
using daemon::testing::SimulatedCenter;
using daemon::testing::Unhold;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ReportsTest : public ::testing::Test {
 protected:
  ReportsTest()
      : queue_log_([this](const std::string& line) { queue_log_lines_.push_back(line); }),
        call_records_([this](const std::string& line) { call_record_lines_.push_back(line); }),
        intervals_(
            {.interval = absl::Minutes(15), .from = kStart, .to = kStart + absl::Minutes(30)},
            [](const std::string& queue) {
              return QueueRules{
                  .service_level_threshold = absl::Seconds(20),
                  .wrap_up = queue == "sales" ? absl::Seconds(30) : absl::ZeroDuration()};
            }),
        sinks_({&queue_log_, &call_records_, &intervals_}) {
    center_.core().set_history_sink(&sinks_);
  }

  // The scripted morning of the header comment.
  void PlayTheMorning() {
    ASSERT_TRUE(center_.Login("alice", "sales").ok());
    center_.Enqueue("c1", "sales");
    center_.Wait(absl::Seconds(4));
    ASSERT_TRUE(center_.Event("c1", "alice", Accept).ok());
    center_.Enqueue("c2", "sales");
    center_.Wait(absl::Seconds(6));
    ASSERT_TRUE(center_.Event("c2", "", Abandon).ok());
    center_.Wait(absl::Seconds(54));
    ASSERT_TRUE(center_.Event("c1", "alice", End).ok());
    center_.Enqueue("c3", "sales");
    center_.Wait(absl::Seconds(48));  // t=112: rang at 94, timed out at 109, ringing again
    ASSERT_TRUE(center_.Event("c3", "alice", Accept).ok());
    center_.Wait(absl::Seconds(8));
    ASSERT_TRUE(center_.Event("c3", "alice", Hold(60)).ok());
    center_.Wait(absl::Seconds(30));
    ASSERT_TRUE(center_.Event("c3", "alice", Unhold()).ok());
    center_.Wait(absl::Seconds(22));
    ASSERT_TRUE(center_.Event("c3", "alice", Abandon).ok());
    acd::v1::SetAgentStateRequest lunch;
    lunch.set_agent_id("alice");
    lunch.mutable_not_ready()->set_reason("lunch");
    acd::v1::AgentInfo info;
    ASSERT_TRUE(center_.core().SetAgentState(lunch, &info, center_.now()).ok());
  }

  static std::string At(int seconds) { return absl::StrCat(1'800'000'000 + seconds); }

  SimulatedCenter center_;
  std::vector<std::string> queue_log_lines_;
  std::vector<std::string> call_record_lines_;
  QueueLog queue_log_;
  CallRecords call_records_;
  IntervalReport intervals_;
  daemon::HistorySinks sinks_;
};

TEST_F(ReportsTest, TheQueueLogTellsTheMorningAsAsteriskWouldWriteIt) {
  ASSERT_NO_FATAL_FAILURE(PlayTheMorning());
  EXPECT_THAT(
      queue_log_lines_,
      ElementsAre(
          At(0) + "|NONE|sales|alice|ADDMEMBER|", At(0) + "|c1|sales|NONE|ENTERQUEUE||",
          At(4) + "|c1|sales|alice|CONNECT|4|c1|4", At(4) + "|c2|sales|NONE|ENTERQUEUE||",
          At(10) + "|c2|sales|NONE|ABANDON|1|1|6", At(64) + "|c1|sales|alice|COMPLETEAGENT|4|60|1",
          At(64) + "|c3|sales|NONE|ENTERQUEUE||", At(109) + "|c3|sales|alice|RINGNOANSWER|15000",
          At(112) + "|c3|sales|alice|CONNECT|48|c3|3",
          At(172) + "|c3|sales|alice|COMPLETECALLER|48|60|1",
          At(172) + "|NONE|sales|alice|PAUSE|lunch"));
}

TEST_F(ReportsTest, EachFinishedCallHasOneRecordWithItsWaitsTalkAndHolds) {
  ASSERT_NO_FATAL_FAILURE(PlayTheMorning());
  ASSERT_EQ(call_record_lines_.size(), 3u);
  EXPECT_THAT(call_record_lines_[0],
              HasSubstr("{\"call_id\":\"c2\",\"entered\":\"2027-01-15T08:00:04.000Z\","
                        "\"left\":\"2027-01-15T08:00:10.000Z\",\"outcome\":\"abandoned\","
                        "\"queues\":[\"sales\"],\"agents\":[],\"offers\":0,\"wait_seconds\":6,"
                        "\"answered_after_seconds\":null,\"talk_seconds\":0,\"holds\":0,"));
  EXPECT_EQ(call_record_lines_[1],
            "{\"call_id\":\"c1\",\"entered\":\"2027-01-15T08:00:00.000Z\","
            "\"left\":\"2027-01-15T08:01:04.000Z\",\"outcome\":\"ended\",\"queues\":[\"sales\"],"
            "\"agents\":[\"alice\"],\"offers\":1,\"wait_seconds\":4,\"answered_after_seconds\":4,"
            "\"talk_seconds\":60,\"holds\":0,\"hold_seconds\":0,\"transfers\":0,"
            "\"callback\":false,\"fallback\":null,\"prompts\":{\"entry\":0,\"update\":0,"
            "\"hold_reminder\":0,\"callback_offer\":0},\"complete\":true}");
  EXPECT_THAT(call_record_lines_[2],
              HasSubstr("\"call_id\":\"c3\",\"entered\":\"2027-01-15T08:01:04.000Z\","
                        "\"left\":\"2027-01-15T08:02:52.000Z\",\"outcome\":\"ended\","
                        "\"queues\":[\"sales\"],\"agents\":[\"alice\"],\"offers\":2,"
                        "\"wait_seconds\":48,\"answered_after_seconds\":48,\"talk_seconds\":60,"
                        "\"holds\":1,\"hold_seconds\":30,\"transfers\":0,"));
  for (const std::string& line : call_record_lines_) {
    EXPECT_THAT(line, ::testing::Not(HasSubstr("ACME-42")));  // the calls' attribute
  }
}

TEST_F(ReportsTest, TheIntervalFiguresAreTheWallboardsDefinitionsPerQuarterHour) {
  ASSERT_NO_FATAL_FAILURE(PlayTheMorning());
  const std::vector<std::string> lines =
      absl::StrSplit(intervals_.Csv(center_.now()), '\n', absl::SkipEmpty());
  // Offered 3; answered c1 (4 s, within 20 s) and c3 (48 s); c2 abandoned after 6 s: it counts
  // for neither side of the service level (1 of 2). ASA (4 + 48) / 2; AHT (60 + 30) each; alice
  // staffed 172 s of the first 900, none of the second.
  EXPECT_THAT(lines,
              ElementsAre("interval_start,queue,offered,answered,answered_within_threshold,"
                          "abandoned,short_abandoned,left_otherwise,service_level,asa_seconds,"
                          "aht_seconds,longest_wait_seconds,average_agents_staffed",
                          "2027-01-15T08:00:00Z,sales,3,2,1,1,0,0,0.500,26.000,90.000,48.000,"
                          "0.191",
                          "2027-01-15T08:15:00Z,sales,0,0,0,0,0,0,,,,,0.000"));
}

TEST_F(ReportsTest, LinesOutsideTheRangeAreNotWrittenButStillTeachWhereCallsStand) {
  std::vector<std::string> lines;
  QueueLog late([&](const std::string& line) { lines.push_back(line); },
                kStart + absl::Seconds(100), kStart + absl::Seconds(150));
  center_.core().set_history_sink(&late);
  ASSERT_NO_FATAL_FAILURE(PlayTheMorning());
  // c3 entered at t=64, before the range: its CONNECT still knows how long it waited.
  EXPECT_THAT(lines, ElementsAre(At(109) + "|c3|sales|alice|RINGNOANSWER|15000",
                                 At(112) + "|c3|sales|alice|CONNECT|48|c3|3"));
}

}  // namespace
}  // namespace acd::reports
