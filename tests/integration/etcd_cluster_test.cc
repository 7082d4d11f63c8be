// The etcd test fixture against real etcd: members come up healthy with a leader, a killed leader
// is replaced, a member without quorum says so until it has quorum again, a killed member restarts
// on its data dir, and nothing is left behind.
#include "tests/integration/etcd_cluster.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/http_get.h"

namespace acd::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Asks Leader() until some member other than `not_this` leads, or `patience` has passed.
std::optional<int> WaitForLeader(const EtcdCluster& etcd, std::optional<int> not_this,
                                 milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  do {
    std::optional<int> leader = etcd.Leader();
    if (leader.has_value() && leader != not_this) return leader;
    std::this_thread::sleep_for(milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

// Whether `pid` is a process running etcd on `data_dir` (so a reused pid does not count).
bool RunsEtcdOn(pid_t pid, const std::string& data_dir) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
  const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmdline.find(data_dir) != std::string::npos;
}

TEST(EtcdCluster, StartsThreeHealthyMembersOfWhichOneLeads) {
  EtcdCluster etcd;
  ASSERT_EQ(etcd.size(), 3);
  EXPECT_EQ(etcd.endpoints(), etcd.endpoint(0) + "," + etcd.endpoint(1) + "," + etcd.endpoint(2));
  std::set<std::string> distinct;
  for (int i = 0; i < etcd.size(); ++i) {
    EXPECT_TRUE(etcd.Healthy(i)) << etcd.endpoint(i);
    EXPECT_EQ(etcd.endpoint(i).rfind("127.0.0.1:", 0), 0u) << etcd.endpoint(i);
    EXPECT_NE(etcd.endpoint(i), "127.0.0.1:2379");
    distinct.insert(etcd.endpoint(i));
  }
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_TRUE(WaitForLeader(etcd, std::nullopt, seconds(2)).has_value());
}

TEST(EtcdCluster, ElectsANewLeaderWithinSecondsWhenTheLeaderIsKilled) {
  EtcdCluster etcd;
  const std::optional<int> old_leader = WaitForLeader(etcd, std::nullopt, seconds(2));
  ASSERT_TRUE(old_leader.has_value());

  etcd.Kill(*old_leader);

  const std::optional<int> new_leader = WaitForLeader(etcd, old_leader, seconds(3));
  ASSERT_TRUE(new_leader.has_value()) << "no new leader 3 s after the leader was killed";
  EXPECT_FALSE(etcd.Healthy(*old_leader));
  for (int i = 0; i < etcd.size(); ++i) {
    if (i == *old_leader) continue;
    EXPECT_TRUE(etcd.WaitHealthy(i, seconds(2))) << "member " << i;
  }
}

TEST(EtcdCluster, AMemberWithoutQuorumIsUnhealthyUntilThePausedMembersResume) {
  EtcdCluster etcd;
  ASSERT_TRUE(etcd.Healthy(2));

  etcd.Pause(0);
  etcd.Pause(1);
  EXPECT_FALSE(etcd.Healthy(0, milliseconds(300))) << "a paused member answered";
  bool lost_health = false;
  for (auto deadline = std::chrono::steady_clock::now() + seconds(5);
       !lost_health && std::chrono::steady_clock::now() < deadline;) {
    lost_health = !etcd.Healthy(2);
  }
  EXPECT_TRUE(lost_health) << "member 2 stayed healthy 5 s after losing its quorum";
  EXPECT_FALSE(etcd.Leader().has_value());

  etcd.Resume(0);
  etcd.Resume(1);
  for (int i = 0; i < etcd.size(); ++i) {
    EXPECT_TRUE(etcd.WaitHealthy(i, seconds(5))) << "member " << i;
  }
  EXPECT_TRUE(WaitForLeader(etcd, std::nullopt, seconds(2)).has_value());
}

TEST(EtcdCluster, AKilledMemberRestartedOnItsDataDirIsHealthyAgain) {
  EtcdCluster etcd;
  etcd.Kill(1);
  EXPECT_FALSE(etcd.Healthy(1));
  EXPECT_TRUE(std::filesystem::exists(etcd.data_dir(1) + "/member"));

  etcd.Restart(1);

  EXPECT_TRUE(etcd.WaitHealthy(1, seconds(5))) << etcd.LogTail(1);
  EXPECT_TRUE(WaitForLeader(etcd, std::nullopt, seconds(2)).has_value());
}

TEST(EtcdCluster, LeavesNoProcessDataDirOrLogBehindWhenDestroyed) {
  std::vector<pid_t> pids;
  std::vector<std::string> data_dirs, logs, endpoints;
  {
    EtcdCluster etcd;
    for (int i = 0; i < etcd.size(); ++i) {
      pids.push_back(etcd.pid(i));
      data_dirs.push_back(etcd.data_dir(i));
      logs.push_back(etcd.log_path(i));
      endpoints.push_back(etcd.endpoint(i));
      EXPECT_TRUE(RunsEtcdOn(etcd.pid(i), etcd.data_dir(i)));
      EXPECT_TRUE(std::filesystem::exists(etcd.data_dir(i)));
      EXPECT_TRUE(std::filesystem::exists(etcd.log_path(i)));
    }
    etcd.Pause(1);  // the destructor must not hang on a stopped member,
    etcd.Kill(2);   // nor trip on one already gone
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    EXPECT_FALSE(RunsEtcdOn(pids[i], data_dirs[i])) << "pid " << pids[i];
    EXPECT_FALSE(std::filesystem::exists(data_dirs[i])) << data_dirs[i];
    EXPECT_FALSE(std::filesystem::exists(logs[i])) << logs[i];
    EXPECT_FALSE(HttpGet(endpoints[i], "/health").has_value()) << endpoints[i];
  }
}

}  // namespace
}  // namespace acd::testing
