// LogLimiter: a condition repeated at will reaches the log ten times a minute, then as one line
// saying how many were left out; the rest are counted for the metric, topic by topic.
#include "daemon/log_limiter.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace acd::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

struct LimitedLog {
  std::vector<std::string> lines;
  std::map<std::string, uint64_t> suppressed;
  LogLimiter limiter{
      {},
      [this](absl::string_view line) { lines.emplace_back(line); },
      [this](absl::string_view topic, uint64_t n) { suppressed[std::string(topic)] += n; }};
};

TEST(LogLimiter, TenLinesOfATopicInAMinuteAreLoggedAndTheRestCounted) {
  LimitedLog log;
  for (int i = 0; i < 1000; ++i) {
    log.limiter.Log("commands_dropped", absl::StrCat("drop ", i), kStart + absl::Milliseconds(i));
  }
  ASSERT_THAT(log.lines, SizeIs(10));
  EXPECT_EQ(log.lines.front(), "drop 0");
  EXPECT_EQ(log.lines.back(), "drop 9");
  EXPECT_EQ(log.suppressed["commands_dropped"], 990u);
}

TEST(LogLimiter, AfterTheMinuteOneLineSaysHowManyWereLeftOutThenLinesFlowAgain) {
  LimitedLog log;
  for (int i = 0; i < 25; ++i) log.limiter.Log("commands_dropped", "drop", kStart);
  log.limiter.Log("commands_dropped", "drop later", kStart + absl::Minutes(1));
  ASSERT_THAT(log.lines, SizeIs(12));
  EXPECT_THAT(log.lines[10], HasSubstr("15 more 'commands_dropped' lines in 1m"));
  EXPECT_EQ(log.lines[11], "drop later");
}

TEST(LogLimiter, FlushSaysHowManyWereLeftOutOnceTheMinuteHasPassedEvenWhenTheFloodStopped) {
  LimitedLog log;
  for (int i = 0; i < 12; ++i) log.limiter.Log("agent_made_not_ready", "not ready", kStart);
  log.limiter.Flush(kStart + absl::Seconds(59));
  EXPECT_THAT(log.lines, SizeIs(10)) << "the minute has not passed";
  log.limiter.Flush(kStart + absl::Seconds(60));
  ASSERT_THAT(log.lines, SizeIs(11));
  EXPECT_THAT(log.lines[10], HasSubstr("2 more 'agent_made_not_ready' lines"));
  log.limiter.Flush(kStart + absl::Minutes(5));
  EXPECT_THAT(log.lines, SizeIs(11)) << "said once";
}

TEST(LogLimiter, TopicsAreLimitedEachOnItsOwn) {
  LimitedLog log;
  for (int i = 0; i < 15; ++i) log.limiter.Log("commands_dropped", "drop", kStart);
  log.limiter.Log("policy", "policy applied", kStart);
  EXPECT_THAT(log.lines, SizeIs(11));
  EXPECT_EQ(log.lines.back(), "policy applied");
  EXPECT_EQ(log.suppressed["commands_dropped"], 5u);
  EXPECT_EQ(log.suppressed.count("policy"), 0u);
}

}  // namespace
}  // namespace acd::daemon
