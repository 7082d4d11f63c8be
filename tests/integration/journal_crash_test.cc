// acdd's journal under kill -9: a simulated switch and its agents keep calls arriving, being
// answered and ended, callers hanging up and agents changing state, while acdd is killed with
// SIGKILL at random moments and restarted on the same --data_dir. After every restart, everything
// acdd acknowledged before the kill is still there, and no command sequence is ever reused.
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/integration/acdd_process.h"
#include "tests/integration/journal_crash_site.h"

namespace acd::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kKills = 10;

// A temporary folder holding acdd's data dir and its log; removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "acd-journal-crash-XXXXXX";
    path_ = mkdtemp(pattern.data());
    mkdir(data_dir().c_str(), 0755);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string data_dir() const { return path_ + "/data"; }
  std::string log_path() const { return path_ + "/acdd.stderr"; }
  std::string Log() const {
    std::ifstream in(log_path());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  // The lines of acdd's log that start with `prefix`.
  std::vector<std::string> LogLines(const std::string& prefix) const {
    std::vector<std::string> out;
    std::istringstream in(Log());
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(prefix, 0) == 0) out.push_back(line);
    }
    return out;
  }

 private:
  std::string path_;
};

TEST(JournalCrash, KillNineUnderLoadLosesNoAcknowledgedCallOrAgentChange) {
  const auto started = Steady::now();
  TempDir dir;
  // Both ways of counting a record durable: written to the OS, and fdatasync'd (which leaves
  // records waiting for the disk while replies are due: a reply sent early would be lost). Small
  // segments, so that kills fall near a new segment's start too. A snapshot every 3,000 records
  // (about every 1.5 s under this load), and segments removed as soon as one covers them: kills
  // fall while a snapshot is being written too, and restarts recover from snapshots and a journal
  // whose start is gone.
  auto args = [&](int run) -> std::vector<std::string> {
    const char* sync = run % 2 == 0 ? "write" : "fsync";
    return {"--data_dir", dir.data_dir(), "--journal_sync", sync, "--journal_segment_mb", "1",
            "--snapshot_every_records", "3000", "--journal_retention", "0s"};
  };
  auto acdd = std::make_unique<AcddProcess>(args(0), dir.log_path());
  ASSERT_FALSE(acdd->grpc_address().empty()) << dir.Log();
  const uint64_t seed = std::random_device()();
  SCOPED_TRACE(absl::StrCat("random seed ", seed));
  std::mt19937_64 rng(seed);
  Site site(seed);
  site.Connect(*acdd);
  site.LogInAgents();
  site.Resume();

  for (int killed = 1; killed <= kKills; ++killed) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500 + rng() % 1500));
    site.ExpectNoCommandSequenceReused();
    site.ExpectPendingOffersRedelivered();
    grpc::Status listed;
    const acd::v1::ListCallsResponse before = site.LiveCalls(&listed);
    ASSERT_TRUE(listed.ok()) << "acdd stopped answering before kill " << killed << ": "
                             << listed.error_message() << "\n"
                             << dir.Log();
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 50));
    acdd->Stop(SIGKILL);
    site.Freeze();

    acdd = std::make_unique<AcddProcess>(args(killed), dir.log_path());
    ASSERT_FALSE(acdd->grpc_address().empty())
        << "acdd did not come back after kill " << killed << ":\n"
        << dir.Log();
    const std::vector<std::string> recovered = dir.LogLines("acdd: recovered from --data_dir");
    ASSERT_EQ(recovered.size(), static_cast<size_t>(killed)) << dir.Log();
    std::cout << "kill " << killed << ": " << recovered.back() << std::endl;
    site.Connect(*acdd);
    const acd::v1::ListCallsResponse after = site.LiveCalls(&listed);
    ASSERT_TRUE(listed.ok()) << listed.error_message();

    site.ExpectEveryAcknowledgedCallIsKnown();
    site.ExpectWaitingCallsKeepArrivalAndOrder(before, after);
    site.ExpectListCallsAgreesWithTheSite(after);
    site.ExpectAcknowledgedAgentChangesHold();
    site.RetryUnansweredArrivals();
    site.RetryUnansweredCallEvents();
    site.ResyncAfterRestart();
    site.Resume();
  }
  std::this_thread::sleep_for(1s);
  site.Freeze();
  site.ExpectNoCommandSequenceReused();
  site.ExpectPendingOffersRedelivered();
  EXPECT_GE(site.ArrivalsPerSecond(), 300);
  EXPECT_EQ(acdd->Stop(SIGTERM), 0);
  auto any_contains = [](const std::vector<std::string>& lines, const std::string& words) {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.find(words) != std::string::npos;
    });
  };
  EXPECT_TRUE(any_contains(dir.LogLines("acdd: recovered from --data_dir"),
                           "after the snapshot at record"))
      << "no restart recovered from a snapshot";
  EXPECT_TRUE(any_contains(dir.LogLines("acdd: snapshot at record"), "retention removed"))
      << "no covered segment was removed";
  std::cout << site.Figures() << "; " << kKills << " kills in "
            << std::chrono::duration<double>(Steady::now() - started).count() << " s" << std::endl;
  if (::testing::Test::HasFailure()) std::cout << "acdd's log:\n" << dir.Log() << std::endl;
}

}  // namespace
}  // namespace acd::testing
