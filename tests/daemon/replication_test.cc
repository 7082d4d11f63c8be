// The journal's replication (daemon/ha/replication_source.h, follower.h) between two real
// journals in temp dirs over gRPC on loopback: a standby's journal ends up byte for byte the
// leader's, whether it follows from the start, starts late and catches up from the segment files,
// or reconnects; what it makes durable reaches the leader; a standby holding a deposed leader's
// tail is told where to cut it (and then follows), one the leader can no longer match to resync.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "daemon/ha/follower.h"
#include "daemon/ha/record_feed.h"
#include "daemon/ha/replication_source.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"
#include "tests/daemon/on_engine.h"

namespace acd::daemon::ha {
namespace {

using ::acd::daemon::testing::Eventually;
using ::testing::HasSubstr;

std::string TempDir() {
  std::string pattern = ::testing::TempDir() + "replication-XXXXXX";
  return mkdtemp(pattern.data());
}

// The records of a data dir's journal, framed, back to back (what a segment holds after its
// header, across segments).
std::string JournalBytes(const std::string& dir) {
  std::string out;
  absl::StatusOr<journal::JournalScan> scan = journal::ReadJournal(
      dir, journal::RecoverMode::kStop, 1, [&](const journal::DecodedRecord& r) {
        journal::AppendRecord(r.sequence, r.epoch, r.payload, &out);
        return absl::OkStatus();
      });
  EXPECT_TRUE(scan.ok()) << scan.status();
  return out;
}

// The leader: its journal (records appended from the test's thread), the feed its tap fills, and
// the Follow service on a loopback port, recording what each standby reported durable.
class Leader {
 public:
  explicit Leader(size_t feed_bytes = 64 << 20, uint64_t segment_bytes = 64 << 20)
      : dir_(TempDir()), feed_(feed_bytes) {
    journal::FileJournalOptions options;
    options.dir = dir_;
    options.segment_bytes = segment_bytes;
    journal_ = *journal::FileJournal::Start(options, journal::JournalScan{}, &series_, {});
    journal_->SetTap([this](absl::string_view framed, uint64_t seq) { feed_.Add(framed, seq); });
    source_ = std::make_unique<ReplicationSource>(
        ReplicationSourceOptions{.data_dir = dir_}, &feed_, [this] { return epoch_.load(); },
        [this](const std::string& id, uint64_t durable) {
          absl::MutexLock lock(&mu_);
          acked_[id] = durable;
        });
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(source_.get());
    server_ = builder.BuildAndStart();
  }
  ~Leader() {
    source_->Stop();
    server_->Shutdown();
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }
  void RaiseEpoch(uint64_t epoch) {
    epoch_ = epoch;
    journal_->RaiseEpoch(epoch);
  }
  // Appends `n` records, each durable before the next: a batch (and with a small segment_bytes,
  // a segment) each.
  void AppendEach(int n) {
    for (int i = 0; i < n; ++i) {
      Append(1);
      ASSERT_TRUE(Durable());
    }
  }
  // Removes the segments of records 1..`last` (one record each), as retention would.
  void RemoveSegmentsThrough(uint64_t last) {
    for (uint64_t i = 1; i <= last; ++i) {
      ASSERT_TRUE(std::filesystem::remove(dir_ + "/" + journal::SegmentFileName(i))) << i;
    }
  }
  void Append(int n) {
    for (int i = 0; i < n; ++i) journal_->Append(absl::StrCat("input ", journal_->next_sequence()));
  }
  uint64_t last() const { return journal_->next_sequence() - 1; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  const std::string& dir() const { return dir_; }
  uint64_t acked(const std::string& id) const {
    absl::MutexLock lock(&mu_);
    auto it = acked_.find(id);
    return it == acked_.end() ? 0 : it->second;
  }
  bool Durable() const {
    return Eventually([&] { return journal_->durable_sequence() == last(); });
  }

 private:
  const std::string dir_;
  metrics::JournalSeries series_;
  RecordFeed feed_;
  std::atomic<uint64_t> epoch_{1};
  std::unique_ptr<journal::FileJournal> journal_;
  std::unique_ptr<ReplicationSource> source_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  mutable absl::Mutex mu_;
  std::map<std::string, uint64_t> acked_ ABSL_GUARDED_BY(mu_);
};

// A standby: its own journal, appended by the follower's records and reporting durable back.
class Standby {
 public:
  // On `dir` (a data dir that outlives it), or on a temp dir of its own.
  explicit Standby(const std::string& id, const std::string& dir = "")
      : dir_(dir.empty() ? TempDir() : dir), owns_dir_(dir.empty()) {
    absl::StatusOr<journal::JournalScan> scan =
        journal::ReadJournal(dir_, journal::RecoverMode::kStop, 1,
                             [](const journal::DecodedRecord&) { return absl::OkStatus(); });
    journal::FileJournalOptions options;
    options.dir = dir_;
    journal::JournalEvents events;
    events.durable = [this](uint64_t sequence) { follower_->Durable(sequence); };
    journal_ = *journal::FileJournal::Start(options, *scan, &series_, std::move(events));
    follower_ = std::make_unique<Follower>(
        FollowerOptions{.replica_id = id}, scan->last_sequence, scan->epoch,
        FollowerEvents{.records = [this](const std::string& records, uint64_t first, uint64_t last,
                                         uint64_t epoch) -> uint64_t {
                         return journal_->WriteFramed(records, first, last, epoch) ? last : 0;
                       },
                       .cut =
                           [this](uint64_t after, const std::string& why) {
                             absl::MutexLock lock(&mu_);
                             cut_ = {after, why};
                           },
                       .resync =
                           [this](const std::string& why) {
                             absl::MutexLock lock(&mu_);
                             resync_ = why;
                           }});
  }
  ~Standby() {
    follower_->Stop();
    journal_.reset();
    if (owns_dir_) std::filesystem::remove_all(dir_);
  }
  void Follow(const Leader& leader) { follower_->Start(leader.address()); }
  void Stop() { follower_->Stop(); }
  uint64_t last() const { return follower_->last_sequence(); }
  const std::string& dir() const { return dir_; }
  std::string resync() const {
    absl::MutexLock lock(&mu_);
    return resync_;
  }
  std::optional<std::pair<uint64_t, std::string>> cut() const {
    absl::MutexLock lock(&mu_);
    return cut_;
  }
  bool Durable(uint64_t sequence) const {
    return Eventually([&] { return journal_->durable_sequence() >= sequence; });
  }

 private:
  const std::string dir_;
  const bool owns_dir_;
  metrics::JournalSeries series_;
  std::unique_ptr<journal::FileJournal> journal_;
  std::unique_ptr<Follower> follower_;
  mutable absl::Mutex mu_;
  std::string resync_ ABSL_GUARDED_BY(mu_);
  std::optional<std::pair<uint64_t, std::string>> cut_ ABSL_GUARDED_BY(mu_);
};

TEST(Replication, AStandbyFollowingFromTheStartHoldsTheLeadersJournalByteForByte) {
  Leader leader;
  Standby standby("b");
  standby.Follow(leader);
  leader.Append(500);
  ASSERT_TRUE(leader.Durable());
  ASSERT_TRUE(Eventually([&] { return leader.acked("b") == 500; })) << leader.acked("b");
  ASSERT_TRUE(standby.Durable(500));
  EXPECT_EQ(JournalBytes(standby.dir()), JournalBytes(leader.dir()));
}

TEST(Replication, AStandbyStartedLateCatchesUpFromTheSegmentFiles) {
  Leader leader(/*feed_bytes=*/1000);  // keeps a few dozen records: the rest from the files
  leader.Append(2000);
  ASSERT_TRUE(leader.Durable());
  Standby standby("b");
  standby.Follow(leader);
  leader.Append(100);
  ASSERT_TRUE(Eventually([&] { return leader.acked("b") == 2100; })) << leader.acked("b");
  EXPECT_EQ(JournalBytes(standby.dir()), JournalBytes(leader.dir()));
}

TEST(Replication, AStandbyThatReconnectsGoesOnFromItsLastRecord) {
  Leader leader;
  const std::string dir = TempDir();
  {
    Standby first("b", dir);
    first.Follow(leader);
    leader.Append(300);
    ASSERT_TRUE(first.Durable(300));
    first.Stop();
  }
  leader.Append(200);  // while the standby is away
  Standby again("b", dir);
  EXPECT_EQ(again.last(), 300u);
  again.Follow(leader);
  ASSERT_TRUE(Eventually([&] { return leader.acked("b") == 500; })) << leader.acked("b");
  EXPECT_EQ(JournalBytes(dir), JournalBytes(leader.dir()));
  std::filesystem::remove_all(dir);
}

// A data dir holding `n` records of epoch 1, as a deposed leader's.
std::string OldLeadersDir(int n) {
  const std::string dir = TempDir();
  metrics::JournalSeries series;
  journal::FileJournalOptions options;
  options.dir = dir;
  auto old = *journal::FileJournal::Start(options, journal::JournalScan{}, &series, {});
  for (int i = 0; i < n; ++i) old->Append(absl::StrCat("input ", old->next_sequence()));
  EXPECT_TRUE(Eventually([&] { return old->durable_sequence() == static_cast<uint64_t>(n); }));
  return dir;
}

TEST(Replication, AStandbyHoldingRecordsTheLeaderLacksIsToldToCutThem) {
  // The standby led before and wrote records 3 and 4, which no one else received.
  const std::string dir = OldLeadersDir(4);
  Leader leader;
  leader.Append(2);
  Standby standby("b", dir);
  standby.Follow(leader);
  ASSERT_TRUE(Eventually([&] { return standby.cut().has_value(); }));
  EXPECT_EQ(standby.cut()->first, 2u);
  EXPECT_THAT(standby.cut()->second,
              HasSubstr("holds record 4, which the leader's journal does not"));
  standby.Stop();
  std::filesystem::remove_all(dir);
}

TEST(Replication, AStandbyWithADeposedLeadersTailIsToldToCutItWhereTheEpochsPart) {
  // The standby led epoch 1 and wrote records 1..5; the new leader received 1..3, took over with
  // epoch 2 and wrote its own 4..6.
  const std::string dir = OldLeadersDir(5);
  Leader leader;
  leader.Append(3);
  leader.RaiseEpoch(2);
  leader.Append(3);
  {
    Standby standby("b", dir);
    standby.Follow(leader);
    ASSERT_TRUE(Eventually([&] { return standby.cut().has_value(); }));
    EXPECT_EQ(standby.cut()->first, 3u);
    EXPECT_THAT(standby.cut()->second,
                HasSubstr("record 5 is of epoch 1 on the standby and of epoch 2 on the leader"));
  }
  // Cut there (as acdd does with --journal_stop_before 4), it follows and ends as the leader's.
  absl::StatusOr<journal::JournalScan> scan = journal::ReadJournal(
      dir, journal::RecoverMode::kStop, 1,
      [](const journal::DecodedRecord&) { return absl::OkStatus(); },
      /*stop_before=*/4);
  ASSERT_TRUE(scan.ok()) << scan.status();
  ASSERT_TRUE(journal::CutJournal(*scan).ok());
  Standby again("b", dir);
  EXPECT_EQ(again.last(), 3u);
  again.Follow(leader);
  ASSERT_TRUE(Eventually([&] { return leader.acked("b") == 6; })) << leader.acked("b");
  EXPECT_EQ(JournalBytes(dir), JournalBytes(leader.dir()));
  again.Stop();
  std::filesystem::remove_all(dir);
}

TEST(Replication, AStandbyWhoseLastRecordTheLeaderNoLongerKeepsIsToldToResync) {
  const std::string dir = OldLeadersDir(3);
  // A leader whose feed keeps only its newest record, with a segment per record.
  Leader leader(/*feed_bytes=*/1, /*segment_bytes=*/1);
  leader.AppendEach(3);
  leader.RaiseEpoch(2);
  leader.AppendEach(3);
  leader.RemoveSegmentsThrough(3);  // as retention would: its journal starts at 4
  Standby standby("b", dir);
  standby.Follow(leader);
  ASSERT_TRUE(Eventually([&] { return !standby.resync().empty(); }));
  EXPECT_THAT(standby.resync(), HasSubstr("no longer keeps record 3 (its journal starts at 4)"));
  standby.Stop();
  std::filesystem::remove_all(dir);
}

TEST(Replication, AStandbySharingNoRecordTheLeaderStillKeepsIsToldToResyncNotToCut) {
  // The standby wrote 1..6 in epoch 1; the leader took over after record 4 and has since
  // removed 1..4: nothing it keeps is the standby's.
  const std::string dir = OldLeadersDir(6);
  Leader leader(/*feed_bytes=*/1, /*segment_bytes=*/1);
  leader.AppendEach(4);
  leader.RaiseEpoch(2);
  leader.AppendEach(2);
  leader.RemoveSegmentsThrough(4);
  Standby standby("b", dir);
  standby.Follow(leader);
  ASSERT_TRUE(Eventually([&] { return !standby.resync().empty() || standby.cut(); }));
  EXPECT_FALSE(standby.cut().has_value());
  EXPECT_THAT(standby.resync(), HasSubstr("shares no record the leader still keeps"));
  standby.Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace acd::daemon::ha
