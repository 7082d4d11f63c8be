// The hot standby's pieces that need no etcd: reading --etcd_endpoints, etcd's prefix ranges, the
// leader's fence, and its feed of records to the standbys. Leadership itself runs against real etcd
// members in tests/integration/leadership_test.cc.
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/ha/etcd_client.h"
#include "daemon/ha/fence.h"
#include "daemon/ha/leadership.h"
#include "daemon/ha/record_feed.h"
#include "daemon/journal/record_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace acd::daemon::ha {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(EtcdEndpoints, AreReadFromACommaSeparatedListWithOrWithoutHttp) {
  absl::StatusOr<std::vector<std::string>> endpoints =
      ParseEtcdEndpoints("10.0.0.1:2379, http://etcd-2.example:2379,[::1]:2379");
  ASSERT_TRUE(endpoints.ok()) << endpoints.status();
  EXPECT_THAT(*endpoints, ElementsAre("10.0.0.1:2379", "etcd-2.example:2379", "[::1]:2379"));
}

TEST(EtcdEndpoints, RefuseAnEntryWithoutAPortNamingIt) {
  for (const char* bad : {"", "10.0.0.1:2379,", "etcd-1", "etcd-1:", "etcd-1:99999", ":2379"}) {
    absl::StatusOr<std::vector<std::string>> endpoints = ParseEtcdEndpoints(bad);
    EXPECT_FALSE(endpoints.ok()) << bad;
    EXPECT_THAT(endpoints.status().message(), HasSubstr("is not HOST:PORT")) << bad;
  }
}

TEST(PrefixEnd, IsThePrefixWithItsLastByteRaised) {
  EXPECT_EQ(PrefixEnd("/acd/c/sync/"), "/acd/c/sync0");
  EXPECT_EQ(PrefixEnd(std::string("a\xFF", 2)), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xFF\xFF", 2)), std::string(1, '\0'));
}

TEST(LeadershipKeys, LiveUnderTheClustersPrefix) {
  EXPECT_EQ(LeaderKey("east"), "/acd/east/leader");
  EXPECT_EQ(SyncKey("east", "acd-1"), "/acd/east/sync/acd-1");
  EXPECT_EQ(InitializedKey("east"), "/acd/east/initialized");
}

TEST(Fence, IsShutUntilExtendedAndOpenOnlyBeforeItsDeadline) {
  Fence fence;
  EXPECT_FALSE(fence.Open(absl::Seconds(1)));
  fence.ExtendTo(absl::Seconds(10));
  EXPECT_TRUE(fence.Open(absl::Seconds(9)));
  EXPECT_FALSE(fence.Open(absl::Seconds(10)));
  EXPECT_EQ(fence.Remaining(absl::Seconds(8)), absl::Seconds(2));
  EXPECT_EQ(fence.Remaining(absl::Seconds(11)), absl::ZeroDuration());
}

TEST(Fence, NeverMovesBackWhenAnOlderRenewalIsReportedLate) {
  Fence fence;
  fence.ExtendTo(absl::Seconds(10));
  fence.ExtendTo(absl::Seconds(5));
  EXPECT_TRUE(fence.Open(absl::Seconds(9)));
}

TEST(Fence, ShutsAtOnceOnSteppingDown) {
  Fence fence;
  fence.ExtendTo(absl::Seconds(10));
  fence.Shut();
  EXPECT_FALSE(fence.Open(absl::Seconds(1)));
}

// Records 1..n of epoch 1 with payloads "record <i>", framed.
std::string Framed(uint64_t first, uint64_t last) {
  std::string out;
  for (uint64_t i = first; i <= last; ++i) {
    journal::AppendRecord(i, 1, absl::StrCat("record ", i), &out);
  }
  return out;
}

TEST(RecordFeed, HandsAFollowerTheRecordsAfterTheLastItSentAsTheyAre) {
  RecordFeed feed(1 << 20);
  for (uint64_t i = 1; i <= 5; ++i) feed.Add(Framed(i, i), i);
  RecordFeed::Taken taken = feed.Take(3, absl::ZeroDuration(), 1 << 20);
  ASSERT_EQ(taken.outcome, RecordFeed::Taken::kRecords);
  EXPECT_EQ(taken.first, 3u);
  EXPECT_EQ(taken.last, 5u);
  EXPECT_EQ(taken.records, Framed(3, 5));
}

TEST(RecordFeed, HandsOutAtMostAboutTheBytesAskedButAlwaysOneRecord) {
  RecordFeed feed(1 << 20);
  for (uint64_t i = 1; i <= 5; ++i) feed.Add(Framed(i, i), i);
  const size_t one = Framed(1, 1).size();
  RecordFeed::Taken taken = feed.Take(1, absl::ZeroDuration(), 2 * one + 1);
  EXPECT_EQ(taken.last, 2u);
  taken = feed.Take(1, absl::ZeroDuration(), 1);
  EXPECT_EQ(taken.last, 1u);
}

TEST(RecordFeed, KeepsOnlyTheNewestRecordsWithinItsBytesAndSaysWhenOneIsGone) {
  const size_t one = Framed(1, 1).size();
  RecordFeed feed(3 * one);
  for (uint64_t i = 1; i <= 9; ++i) feed.Add(Framed(i, i), i);
  EXPECT_EQ(feed.oldest(), 7u);
  EXPECT_EQ(feed.last(), 9u);
  EXPECT_EQ(feed.Take(6, absl::ZeroDuration(), 1 << 20).outcome, RecordFeed::Taken::kTooOld);
  EXPECT_EQ(feed.Take(7, absl::ZeroDuration(), 1 << 20).records, Framed(7, 9));
}

TEST(RecordFeed, AFollowerThatHasEverythingWaitsForTheNextRecord) {
  RecordFeed feed(1 << 20);
  feed.Add(Framed(1, 1), 1);
  EXPECT_EQ(feed.Take(2, absl::Milliseconds(10), 1 << 20).outcome, RecordFeed::Taken::kNothing);
  std::thread engine([&] {
    absl::SleepFor(absl::Milliseconds(50));
    feed.Add(Framed(2, 2), 2);
  });
  RecordFeed::Taken taken = feed.Take(2, absl::Seconds(10), 1 << 20);
  engine.join();
  ASSERT_EQ(taken.outcome, RecordFeed::Taken::kRecords);
  EXPECT_EQ(taken.records, Framed(2, 2));
}

TEST(RecordFeed, ClosingWakesAWaitingFollower) {
  RecordFeed feed(1 << 20);
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    feed.Close();
  });
  const absl::Time start = absl::Now();
  EXPECT_EQ(feed.Take(1, absl::Seconds(10), 1 << 20).outcome, RecordFeed::Taken::kNothing);
  closer.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(RecordFeedDeathTest, RefusesARecordThatDoesNotFollowTheLast) {
  RecordFeed feed(1 << 20);
  feed.Add(Framed(1, 1), 1);
  EXPECT_DEATH(feed.Add(Framed(3, 3), 3), "record 3 fed after record 1");
}

TEST(BootClock, CountsForward) {
  BootClock clock;
  const absl::Duration first = clock.Now();
  EXPECT_GT(first, absl::ZeroDuration());
  EXPECT_GE(clock.Now(), first);
}

}  // namespace
}  // namespace acd::daemon::ha
