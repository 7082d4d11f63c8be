// The hot standby's pieces that need no etcd: reading --etcd_endpoints, etcd's prefix ranges, and
// the leader's fence. Leadership itself runs against real etcd members in
// tests/integration/leadership_test.cc.
#include "daemon/ha/etcd_client.h"
#include "daemon/ha/fence.h"
#include "daemon/ha/leadership.h"
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

TEST(BootClock, CountsForward) {
  BootClock clock;
  const absl::Duration first = clock.Now();
  EXPECT_GT(first, absl::ZeroDuration());
  EXPECT_GE(clock.Now(), first);
}

}  // namespace
}  // namespace acd::daemon::ha
