// The engine as one replica of an HA pair (engine.h's HA section, daemon/ha/resync.h): a standby
// fed the leader's journal records holds what the leader holds and refuses state changes; a
// promotion needs an epoch above the journal's; a leader's fence refuses state changes, fails
// waiting replies and holds commands while it is shut; output commit waits for a counted standby;
// a data dir holding only a snapshot (what a resync leaves) recovers, journals on after it and
// keeps the snapshot's epoch; and the resync itself against a real ReplicationSource on loopback.
// Real engines run on their own threads with data dirs in temp dirs and a FakeClock; a test talks
// to an engine on its thread (OnEngine) and waits for the journal by polling with a deadline.
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "daemon/core_input.h"
#include "daemon/engine.h"
#include "daemon/ha/record_feed.h"
#include "daemon/ha/replication_source.h"
#include "daemon/ha/resync.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"
#include "tests/daemon/on_engine.h"
#include "tests/daemon/journal_test_support.h"

namespace acd::daemon::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

// How long a test waits for another thread (the journal's, the engine's) before it fails.
constexpr absl::Duration kPatience = absl::Seconds(5);

// Polls `ready` on the test's thread until it holds, or the patience runs out (false).
bool Eventually(const std::function<bool()>& ready) {
  return testing::Eventually(ready, kPatience);
}

// Whether `engine`'s journal has made every record it appended durable.
bool AllDurable(Engine& engine) {
  const uint64_t last = OnEngine(engine, [&] { return engine.last_sequence(); });
  return engine.local_durable() >= last;
}

constexpr SnapshotOptions kNoSnapshots{.every_records = 0, .every = absl::ZeroDuration()};
// A snapshot after every record: once the snapshot taker has caught up, the newest snapshot holds
// the state at the journal's last record.
constexpr SnapshotOptions kSnapshotEachRecord{.every_records = 1, .every = absl::ZeroDuration()};

std::unique_ptr<Engine> MakeEngine(const std::string& dir, const Clock* clock, bool standby,
                                   SnapshotOptions snapshots = kNoSnapshots) {
  return std::make_unique<Engine>(
      PolicyFromYaml(kCenterPolicy), "test policy",
      EngineOptions{.journal = {.data_dir = dir, .snapshots = snapshots}, .standby = standby},
      clock);
}

// The first replica of a pair to lead: a standby on an empty data dir, promoted with `leading`,
// founds the journal (its first record creates the state, with `leading.epoch`).
std::unique_ptr<Engine> StartLeader(const std::string& dir, const Clock* clock,
                                    Engine::Leading leading,
                                    SnapshotOptions snapshots = kNoSnapshots) {
  std::unique_ptr<Engine> leader = MakeEngine(dir, clock, /*standby=*/true, snapshots);
  if (absl::Status s = leader->Start(); !s.ok()) {
    ADD_FAILURE() << "leader start: " << s;
    return leader;
  }
  absl::Status promoted = OnEngine(*leader, [&] { return leader->Promote(std::move(leading)); });
  EXPECT_TRUE(promoted.ok()) << promoted;
  return leader;
}

// The journal's tap of a leader, handing each record to `standby`'s Replicate on the standby's
// thread, framed as it goes to the segment, as the follower does.
journal::FileJournal::Tap FeedTo(Engine* standby) {
  return [standby](absl::string_view framed, uint64_t sequence) {
    journal::DecodedRecord record;
    ASSERT_EQ(journal::DecodeRecord(framed, 0, &record), journal::RecordCheck::kOk);
    ASSERT_EQ(record.sequence, sequence);
    standby->Post([standby, records = std::string(framed), sequence, epoch = record.epoch] {
      standby->Replicate(records, sequence, sequence, epoch);
    });
  };
}

acd::v1::EnqueueCallRequest CallTo(const std::string& call, const std::string& queue) {
  return SimulatedCenter::EnqueueRequest(call, queue);
}

acd::v1::LoginRequest AgentFor(const std::string& agent, const std::string& skill) {
  return SimulatedCenter::LoginRequest(agent, skill);
}

// Engine thread: enqueues `call`; the call's status as the engine answered it.
grpc::Status Enqueue(Engine& engine, const std::string& call, const std::string& queue = "sales") {
  acd::v1::EnqueueCallResponse response;
  return engine.EnqueueCall(CallTo(call, queue), &response);
}

grpc::Status EnqueueOn(Engine& engine, const std::string& call,
                       const std::string& queue = "sales") {
  return OnEngine(engine, [&] { return Enqueue(engine, call, queue); });
}

grpc::StatusCode GetCallOn(Engine& engine, const std::string& call,
                           acd::v1::CallInfo* info = nullptr) {
  return OnEngine(engine, [&] {
    acd::v1::GetCallRequest request;
    request.set_call_id(call);
    acd::v1::CallInfo ignored;
    return engine.GetCall(request, info != nullptr ? info : &ignored).error_code();
  });
}

// A reply registered with WhenDurable, as a gRPC handler's Finish would be: whether it has left
// and with what. Touched on the engine's thread only.
struct Reply {
  bool released = false;
  grpc::Status status;
};

// Engine thread: enqueues `call` and holds its reply until output commit lets it go.
void EnqueueAndReplyWhenDurable(Engine& engine, const std::string& call, Reply* reply) {
  grpc::Status enqueued = Enqueue(engine, call);
  EXPECT_TRUE(enqueued.ok()) << enqueued.error_message();
  engine.WhenDurable([reply, enqueued](const grpc::Status& journal) {
    EXPECT_FALSE(reply->released) << "a reply released twice";
    reply->released = true;
    reply->status = journal.ok() ? enqueued : journal;
  });
}

bool ReleasedOn(Engine& engine, const Reply& reply) {
  return OnEngine(engine, [&] { return reply.released; });
}

// Checks for `d` that `reply` stays held (and gives the engine's thread time to hear from its
// journal meanwhile).
void ExpectHeldFor(Engine& engine, const Reply& reply, absl::Duration d, const char* why) {
  const absl::Time until = absl::Now() + d;
  while (absl::Now() < until) {
    ASSERT_FALSE(ReleasedOn(engine, reply)) << why;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

struct Record {
  uint64_t sequence = 0;
  uint64_t epoch = 0;
  std::string payload;
  bool operator==(const Record&) const = default;
};

// The records of `dir`'s journal from `from` on.
std::vector<Record> JournalRecords(const std::string& dir, uint64_t from = 1) {
  std::vector<Record> out;
  absl::StatusOr<journal::JournalScan> scan = journal::ReadJournal(
      dir, journal::RecoverMode::kStop, from, [&](const journal::DecodedRecord& r) {
        out.push_back({r.sequence, r.epoch, std::string(r.payload)});
        return absl::OkStatus();
      });
  EXPECT_TRUE(scan.ok()) << scan.status();
  return out;
}

// The first `n` of `records` (all when there are fewer).
std::vector<Record> FirstOf(std::vector<Record> records, uint64_t n) {
  if (records.size() > n) records.resize(n);
  return records;
}

JournalInput InputOf(const Record& record) {
  JournalInput input;
  EXPECT_TRUE(input.ParseFromString(record.payload)) << "record " << record.sequence;
  return input;
}

// The names of the files and dirs in `dir` (not below it).
std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  return names;
}

// Every file below `dir` with its bytes, by path relative to `dir`.
std::map<std::string, std::string> Contents(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    absl::StatusOr<std::string> bytes = ReadFile(entry.path().string());
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    files[std::filesystem::relative(entry.path(), dir).string()] = bytes.value_or("");
  }
  return files;
}

uint64_t NewestSnapshot(const std::string& dir) {
  absl::StatusOr<std::vector<journal::SnapshotFile>> snapshots = journal::ListSnapshots(dir);
  EXPECT_TRUE(snapshots.ok()) << snapshots.status();
  return snapshots.ok() && !snapshots->empty() ? snapshots->front().sequence : 0;
}

// Runs a lone acdd's engine on `dir` with a snapshot after every record, enqueues `calls` to
// sales, and stops it once a snapshot holds them all. Returns that snapshot's record.
uint64_t RecordCenterWithSnapshot(const std::string& dir, const std::vector<std::string>& calls) {
  FakeClock clock(kStart);
  std::unique_ptr<Engine> engine = MakeEngine(dir, &clock, /*standby=*/false, kSnapshotEachRecord);
  if (absl::Status s = engine->Start(); !s.ok()) {
    ADD_FAILURE() << s;
    return 0;
  }
  for (const std::string& call : calls) EXPECT_TRUE(EnqueueOn(*engine, call).ok()) << call;
  const uint64_t last = OnEngine(*engine, [&] { return engine->last_sequence(); });
  EXPECT_TRUE(Eventually([&] { return NewestSnapshot(dir) >= last; }))
      << "no snapshot at record " << last << " in " << dir;
  engine.reset();
  return NewestSnapshot(dir);
}

// A leader (a promoted standby on an empty data dir, epoch 2) whose fence the test opens and
// shuts, and, if asked, a standby fed the leader's records through its journal's tap.
class Pair {
 public:
  explicit Pair(bool with_standby = true)
      : leader_dir_("ha_leader"), standby_dir_("ha_standby"), clock_(kStart) {
    if (with_standby) {
      standby_ = MakeEngine(standby_dir_.path(), &clock_, /*standby=*/true);
      absl::Status started = standby_->Start();
      EXPECT_TRUE(started.ok()) << started;
    }
    leader_ = StartLeader(leader_dir_.path(), &clock_,
                          {.epoch = 2,
                           .fence_open = [this] { return FenceOpen(); },
                           .tap = standby_ ? FeedTo(standby_.get()) : nullptr});
  }
  // The leader goes first: its tap posts to the standby.
  ~Pair() { StopLeader(); }

  Engine& leader() { return *leader_; }
  Engine& standby() { return *standby_; }
  const std::string& leader_dir() const { return leader_dir_.path(); }
  const std::string& standby_dir() const { return standby_dir_.path(); }
  void SetFence(bool open) { fence_open_ = open; }
  // Engine thread: the fence stays open for `looks` more looks at it, then shuts (a lease that
  // runs out while the engine works).
  void ShutFenceAfter(int looks) { open_for_looks_ = looks; }
  void StopLeader() { leader_.reset(); }

  // Waits until the standby holds, durably, every record the leader has journaled and both
  // journals have them on file; returns the leader's last record.
  uint64_t WaitForTheStandby() {
    const uint64_t last = OnEngine(*leader_, [&] { return leader_->last_sequence(); });
    EXPECT_TRUE(Eventually([&] {
      return leader_->local_durable() >= last && standby_->local_durable() >= last;
    })) << "the standby never held record "
        << last;
    return last;
  }

 private:
  ScratchDir leader_dir_, standby_dir_;
  FakeClock clock_;
  bool FenceOpen() {
    if (open_for_looks_ < 0) return fence_open_.load();
    if (open_for_looks_ == 0) return false;
    --open_for_looks_;
    return true;
  }

  std::atomic<bool> fence_open_{true};
  int open_for_looks_ = -1;  // engine thread; below 0: fence_open_ says
  std::unique_ptr<Engine> standby_;
  std::unique_ptr<Engine> leader_;
};

// ---------------------------------------------------------------------------------------------
// A standby fed the leader's records.

TEST(StandbyEngine, HoldsTheLeadersCallsAgentsAndJournalRecordsOnceFedThem) {
  Pair pair;
  Engine& leader = pair.leader();
  OnEngine(leader, [&] {
    acd::v1::AgentInfo agent;
    EXPECT_TRUE(leader.Login(AgentFor("alice", "support"), &agent).ok());
    EXPECT_TRUE(Enqueue(leader, "c1", "sales").ok());
    EXPECT_TRUE(Enqueue(leader, "c2", "sales").ok());
    EXPECT_TRUE(Enqueue(leader, "c3", "support").ok());  // offered to alice
  });
  const uint64_t last = pair.WaitForTheStandby();
  ASSERT_TRUE(Eventually([&] {
    return OnEngine(pair.standby(), [&] { return pair.standby().last_sequence(); }) >= last;
  }));

  auto calls_of = [](Engine& engine) {
    return OnEngine(engine, [&] {
      acd::v1::ListCallsRequest request;
      request.set_switch_id("sw1");
      acd::v1::ListCallsResponse calls;
      EXPECT_TRUE(engine.ListCalls(request, &calls).ok());
      return calls;
    });
  };
  auto agents_of = [](Engine& engine) {
    return OnEngine(engine, [&] {
      acd::v1::ListAgentsResponse agents;
      EXPECT_TRUE(engine.ListAgents({}, &agents).ok());
      return agents;
    });
  };
  const acd::v1::ListCallsResponse on_leader = calls_of(leader);
  ASSERT_EQ(on_leader.calls_size(), 3);
  EXPECT_EQ(calls_of(pair.standby()).DebugString(), on_leader.DebugString());
  EXPECT_EQ(agents_of(pair.standby()).DebugString(), agents_of(leader).DebugString());
  acd::v1::CallInfo c3;
  ASSERT_EQ(GetCallOn(pair.standby(), "c3", &c3), grpc::StatusCode::OK);
  EXPECT_EQ(c3.agent_id(), "alice");

  const std::vector<Record> leader_records = FirstOf(JournalRecords(pair.leader_dir()), last);
  ASSERT_EQ(leader_records.size(), last);
  EXPECT_EQ(FirstOf(JournalRecords(pair.standby_dir()), last), leader_records);
  EXPECT_EQ(OnEngine(pair.standby(), [&] { return pair.standby().journal_epoch(); }), 2u);
}

TEST(StandbyEngine, RefusesStateChangesWhileItIsAStandby) {
  Pair pair;
  ASSERT_TRUE(EnqueueOn(pair.leader(), "c1").ok());
  const uint64_t last = pair.WaitForTheStandby();
  Engine& standby = pair.standby();
  ASSERT_TRUE(Eventually(
      [&] { return OnEngine(standby, [&] { return standby.last_sequence(); }) >= last; }));
  const uint64_t before = OnEngine(standby, [&] { return standby.last_sequence(); });

  const grpc::Status enqueued = EnqueueOn(standby, "c2");
  EXPECT_EQ(enqueued.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(enqueued.error_message(), HasSubstr("standby"));
  const grpc::Status login = OnEngine(standby, [&] {
    acd::v1::AgentInfo agent;
    return standby.Login(AgentFor("bob", "sales"), &agent);
  });
  EXPECT_EQ(login.error_code(), grpc::StatusCode::UNAVAILABLE);

  EXPECT_TRUE(OnEngine(standby, [&] { return standby.standby(); }));
  EXPECT_EQ(OnEngine(standby, [&] { return standby.last_sequence(); }), before)
      << "a refused input was journaled";
  EXPECT_EQ(GetCallOn(standby, "c2"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCallOn(standby, "c1"), grpc::StatusCode::OK) << "reads still answer";
}

// ---------------------------------------------------------------------------------------------
// Promotion.

TEST(Promotion, RefusesAnEpochNotAboveTheJournalsAndLeavesTheStandbyAsItWas) {
  Pair pair;
  ASSERT_TRUE(EnqueueOn(pair.leader(), "c1").ok());
  pair.WaitForTheStandby();
  pair.StopLeader();
  Engine& standby = pair.standby();
  const uint64_t last = OnEngine(standby, [&] { return standby.last_sequence(); });
  ASSERT_EQ(OnEngine(standby, [&] { return standby.journal_epoch(); }), 2u);

  for (uint64_t epoch : {uint64_t{2}, uint64_t{1}}) {
    const absl::Status promoted =
        OnEngine(standby, [&] { return standby.Promote({.epoch = epoch}); });
    EXPECT_EQ(promoted.code(), absl::StatusCode::kFailedPrecondition) << epoch << ": " << promoted;
    EXPECT_THAT(promoted.message(), HasSubstr("not above the journal's epoch 2"));
  }
  EXPECT_TRUE(OnEngine(standby, [&] { return standby.standby(); }));
  EXPECT_EQ(OnEngine(standby, [&] { return standby.journal_epoch(); }), 2u);
  EXPECT_EQ(OnEngine(standby, [&] { return standby.last_sequence(); }), last);
  EXPECT_EQ(EnqueueOn(standby, "c2").error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(Eventually([&] { return standby.local_durable() >= last; }));
  EXPECT_EQ(JournalRecords(pair.standby_dir()).size(), last) << "a refused promotion journaled";
}

TEST(Promotion, AStandbyPromotedWithAHigherEpochTakesCallsAndJournalsThemUnderIt) {
  Pair pair;
  ASSERT_TRUE(EnqueueOn(pair.leader(), "c1").ok());
  pair.WaitForTheStandby();
  pair.StopLeader();
  Engine& standby = pair.standby();
  const uint64_t replicated = OnEngine(standby, [&] { return standby.last_sequence(); });

  const absl::Status promoted = OnEngine(standby, [&] { return standby.Promote({.epoch = 3}); });
  ASSERT_TRUE(promoted.ok()) << promoted;
  EXPECT_FALSE(OnEngine(standby, [&] { return standby.standby(); }));
  EXPECT_EQ(OnEngine(standby, [&] { return standby.journal_epoch(); }), 3u);
  Reply reply;
  OnEngine(standby, [&] { EnqueueAndReplyWhenDurable(standby, "c2", &reply); });
  ASSERT_TRUE(Eventually([&] { return ReleasedOn(standby, reply); }));
  EXPECT_TRUE(reply.status.ok()) << reply.status.error_message();
  EXPECT_EQ(GetCallOn(standby, "c1"), grpc::StatusCode::OK);
  EXPECT_EQ(GetCallOn(standby, "c2"), grpc::StatusCode::OK);

  ASSERT_TRUE(Eventually([&] { return AllDurable(standby); }));
  const std::vector<Record> records = JournalRecords(pair.standby_dir());
  ASSERT_GT(records.size(), replicated + 1);
  bool enqueued_c2 = false;
  for (const Record& record : records) {
    EXPECT_EQ(record.epoch, record.sequence <= replicated ? 2u : 3u)
        << "record " << record.sequence;
    const JournalInput input = InputOf(record);
    if (record.sequence == replicated + 1) {
      EXPECT_TRUE(input.has_started()) << "the new leader's first record: " << input.DebugString();
    }
    if (input.has_enqueue_call() && input.enqueue_call().call_id() == "c2") {
      enqueued_c2 = true;
      EXPECT_GT(record.sequence, replicated + 1);
    }
  }
  EXPECT_TRUE(enqueued_c2);
}

// ---------------------------------------------------------------------------------------------
// The leader's fence.

TEST(LeaderFence, AShutFenceRefusesStateChangesFailsWaitingRepliesAndStillAnswersReads) {
  Pair pair(/*with_standby=*/false);
  Engine& leader = pair.leader();
  ASSERT_TRUE(EnqueueOn(leader, "c1").ok());
  // Replies now wait for a standby that never reports: held by output commit.
  Reply waiting;
  OnEngine(leader, [&] {
    leader.CountReplica(true, 0);
    EnqueueAndReplyWhenDurable(leader, "c2", &waiting);
  });
  ASSERT_TRUE(Eventually([&] { return AllDurable(leader); }));
  ASSERT_NO_FATAL_FAILURE(ExpectHeldFor(leader, waiting, absl::Milliseconds(30),
                                        "released before the counted standby held its record"));

  pair.SetFence(false);
  ASSERT_TRUE(Eventually([&] { return ReleasedOn(leader, waiting); }))
      << "a reply waiting for the journal was not released when the fence shut";
  EXPECT_EQ(waiting.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << "released as " << waiting.status.error_message();

  const grpc::Status refused = EnqueueOn(leader, "c3");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(refused.error_message(), HasSubstr("etcd"));
  EXPECT_EQ(GetCallOn(leader, "c3"), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetCallOn(leader, "c1"), grpc::StatusCode::OK);
  const grpc::Status queues = OnEngine(leader, [&] {
    acd::v1::ListQueuesResponse response;
    return leader.ListQueues(&response);
  });
  EXPECT_TRUE(queues.ok()) << queues.error_message();
}

TEST(LeaderFence, AFenceOpenAgainTakesStateChangesAgain) {
  Pair pair(/*with_standby=*/false);
  Engine& leader = pair.leader();
  pair.SetFence(false);
  ASSERT_EQ(EnqueueOn(leader, "c1").error_code(), grpc::StatusCode::UNAVAILABLE);

  pair.SetFence(true);
  Reply reply;
  ASSERT_TRUE(Eventually([&] {
    return OnEngine(leader, [&] {
      if (!Enqueue(leader, "c1").ok()) return false;
      leader.WhenDurable([&](const grpc::Status& journal) {
        reply.released = true;
        reply.status = journal;
      });
      return true;
    });
  }));
  ASSERT_TRUE(Eventually([&] { return ReleasedOn(leader, reply); }));
  EXPECT_TRUE(reply.status.ok()) << reply.status.error_message();
  EXPECT_EQ(GetCallOn(leader, "c1"), grpc::StatusCode::OK);
}

// Engine thread: switch sw1 plays in-process, its commands going to `delivered`; alice, in sales,
// waits for a call; the leader counts a standby that holds every record so far.
void AliceWaitsOnSw1WithACountedStandby(Engine& leader, std::vector<acd::v1::Command>* delivered) {
  leader.AttachLocalSwitch(
      "sw1", [delivered](const acd::v1::Command& command) { delivered->push_back(command); });
  acd::v1::AgentInfo agent;
  EXPECT_TRUE(leader.Login(AgentFor("alice", "sales"), &agent).ok());
  leader.CountReplica(true, leader.last_sequence());
}

TEST(LeaderFence, ACommandWaitingForTheJournalLeavesOnlyOnceTheFenceIsOpenAgain) {
  Pair pair(/*with_standby=*/false);
  Engine& leader = pair.leader();
  std::vector<acd::v1::Command> delivered;  // engine thread
  auto delivered_count = [&] { return OnEngine(leader, [&] { return delivered.size(); }); };
  OnEngine(leader, [&] {
    AliceWaitsOnSw1WithACountedStandby(leader, &delivered);
    EXPECT_TRUE(Enqueue(leader, "c1").ok());  // offered to alice: an OfferCall for sw1
  });
  ASSERT_TRUE(Eventually([&] { return AllDurable(leader); }));
  EXPECT_EQ(delivered_count(), 0u) << "a command left before the counted standby held its input";

  pair.SetFence(false);
  OnEngine(leader, [&] { leader.OnReplicaDurable(leader.last_sequence()); });
  absl::SleepFor(absl::Milliseconds(30));  // the fence is looked at every 20 ms
  EXPECT_EQ(delivered_count(), 0u) << "a command left through a shut fence";

  pair.SetFence(true);
  ASSERT_TRUE(Eventually([&] { return delivered_count() > 0; }))
      << "the command never left once the fence was open again";
  const acd::v1::Command offer = OnEngine(leader, [&] { return delivered.front(); });
  EXPECT_TRUE(offer.has_offer_call()) << offer.DebugString();
}

TEST(LeaderFence, AReplyAndTheCommandsItsInputCausedLeaveTogetherWhenTheFenceShutsMeanwhile) {
  Pair pair(/*with_standby=*/false);
  Engine& leader = pair.leader();
  std::vector<acd::v1::Command> delivered;  // engine thread
  Reply reply;
  OnEngine(leader, [&] {
    AliceWaitsOnSw1WithACountedStandby(leader, &delivered);
    EnqueueAndReplyWhenDurable(leader, "c1", &reply);  // offered to alice: an OfferCall for sw1
  });
  ASSERT_TRUE(Eventually([&] { return AllDurable(leader); }));
  ASSERT_NO_FATAL_FAILURE(ExpectHeldFor(leader, reply, absl::Milliseconds(20), "released early"));

  // The standby's word comes as the lease runs out: one more look finds the fence open.
  OnEngine(leader, [&] {
    pair.ShutFenceAfter(1);
    leader.OnReplicaDurable(leader.last_sequence());
  });
  ASSERT_TRUE(ReleasedOn(leader, reply));
  ASSERT_TRUE(reply.status.ok()) << reply.status.error_message();
  // The local switch gets a command from a task posted behind the one that released it, which
  // may run after this thread's next look; left behind, the offer would never leave (every later
  // look finds the fence shut).
  auto left = [&] { return OnEngine(leader, [&] { return delivered; }); };
  ASSERT_TRUE(Eventually([&] { return !left().empty(); }))
      << "the reply left, the offer its enqueue caused stayed behind";
  absl::SleepFor(absl::Milliseconds(30));  // the fence is looked at every 20 ms
  ASSERT_EQ(left().size(), 1u) << "the offer left twice";
  EXPECT_TRUE(left().front().has_offer_call()) << left().front().DebugString();
}

// ---------------------------------------------------------------------------------------------
// Output commit with a counted standby.

TEST(OutputCommit, AReplyWaitsForTheCountedStandbyToHoldItsRecordAndLeavesRightAfter) {
  Pair pair(/*with_standby=*/false);
  Engine& leader = pair.leader();
  ASSERT_TRUE(Eventually([&] { return AllDurable(leader); }));
  Reply reply;
  uint64_t record = 0;
  OnEngine(leader, [&] {
    leader.CountReplica(true, leader.last_sequence());  // a standby that is caught up
    EnqueueAndReplyWhenDurable(leader, "c1", &reply);
    record = leader.last_sequence();
  });
  ASSERT_TRUE(Eventually([&] { return leader.local_durable() >= record; }));
  ASSERT_NO_FATAL_FAILURE(ExpectHeldFor(leader, reply, absl::Milliseconds(50),
                                        "released while only the leader's journal held it"));

  OnEngine(leader, [&] {
    leader.OnReplicaDurable(record - 1);
    EXPECT_FALSE(reply.released) << "released before the standby held its record";
    leader.OnReplicaDurable(record);
    EXPECT_TRUE(reply.released) << "held once the standby held its record";
  });
  EXPECT_TRUE(reply.status.ok()) << reply.status.error_message();
}

TEST(OutputCommit, NoLongerCountingTheStandbyReleasesWhatWaitedForIt) {
  Pair pair(/*with_standby=*/false);
  Engine& leader = pair.leader();
  ASSERT_TRUE(Eventually([&] { return AllDurable(leader); }));
  Reply first, second;
  OnEngine(leader, [&] {
    leader.CountReplica(true, leader.last_sequence());
    EnqueueAndReplyWhenDurable(leader, "c1", &first);
    EnqueueAndReplyWhenDurable(leader, "c2", &second);
  });
  ASSERT_TRUE(Eventually([&] { return AllDurable(leader); }));
  ASSERT_NO_FATAL_FAILURE(
      ExpectHeldFor(leader, second, absl::Milliseconds(50), "released without the standby"));
  EXPECT_FALSE(ReleasedOn(leader, first));

  OnEngine(leader, [&] {
    const uint64_t last = leader.CountReplica(false);
    EXPECT_EQ(last, leader.last_sequence());
    EXPECT_TRUE(first.released);
    EXPECT_TRUE(second.released);
  });
  EXPECT_TRUE(first.status.ok()) << first.status.error_message();
  EXPECT_TRUE(second.status.ok()) << second.status.error_message();
}

// ---------------------------------------------------------------------------------------------
// A data dir holding only a snapshot (what a resync leaves).

TEST(SnapshotOnlyRecovery, AnEngineRecoversTheSnapshotAndJournalsOnFromTheRecordAfterIt) {
  ScratchDir dir("ha_snapshot_only"), away("ha_segments_away");
  const uint64_t snapshot = RecordCenterWithSnapshot(dir.path(), {"c1", "c2", "c3"});
  ASSERT_GT(snapshot, 0u);
  // Only the newest snapshot stays; the segments and older snapshots go.
  for (const std::string& name : Entries(dir.path())) {
    if (name != journal::SnapshotFileName(snapshot)) {
      std::filesystem::rename(dir / name, away / name);
    }
  }
  ASSERT_THAT(Entries(dir.path()),
              UnorderedElementsAreArray({journal::SnapshotFileName(snapshot)}));

  FakeClock clock(kStart + absl::Seconds(10));
  std::unique_ptr<Engine> engine = MakeEngine(dir.path(), &clock, /*standby=*/false);
  const absl::Status started = engine->Start();
  ASSERT_TRUE(started.ok()) << started;
  for (const char* call : {"c1", "c2", "c3"}) {
    EXPECT_EQ(GetCallOn(*engine, call), grpc::StatusCode::OK) << call;
  }
  EXPECT_EQ(OnEngine(*engine, [&] { return engine->journal_epoch(); }), 1u);
  ASSERT_TRUE(EnqueueOn(*engine, "c4").ok());
  const uint64_t c4 = OnEngine(*engine, [&] { return engine->last_sequence(); });
  ASSERT_TRUE(Eventually([&] { return AllDurable(*engine); }));
  engine.reset();

  // Its start is journaled as the record after the snapshot's, in a segment that begins there.
  const std::vector<Record> records = JournalRecords(dir.path());
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.front().sequence, snapshot + 1);
  EXPECT_TRUE(InputOf(records.front()).has_started()) << InputOf(records.front()).DebugString();
  EXPECT_TRUE(std::filesystem::exists(dir / journal::SegmentFileName(snapshot + 1)));
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].sequence, snapshot + 1 + i);
    EXPECT_EQ(records[i].epoch, 1u);
  }
  ASSERT_EQ(records.back().sequence, c4);
  EXPECT_EQ(InputOf(records.back()).enqueue_call().call_id(), "c4");

  // And it recovers again, from the snapshot and the journal after it.
  engine = MakeEngine(dir.path(), &clock, /*standby=*/false);
  ASSERT_TRUE(engine->Start().ok());
  for (const char* call : {"c1", "c2", "c3", "c4"}) {
    EXPECT_EQ(GetCallOn(*engine, call), grpc::StatusCode::OK) << call;
  }
}

// What a resync leaves, started as a standby and stopped before the leader sent a record (the
// leader is unreachable, or acdd restarts at once): the journal's only segment, begun at the
// record after the snapshot, holds no record yet. The next start must still know the journal's
// epoch from the snapshot: the follower tells the leader where its journal ends by it, and a
// promotion must be refused an epoch not above it.
TEST(SnapshotOnlyRecovery, AStandbyRestartedBeforeItsFirstRecordKeepsTheSnapshotsEpoch) {
  ScratchDir leader_dir("ha_epoch_leader"), dir("ha_epoch_standby");
  FakeClock clock(kStart);
  uint64_t snapshot = 0;
  {
    std::unique_ptr<Engine> leader =
        StartLeader(leader_dir.path(), &clock, {.epoch = 2}, kSnapshotEachRecord);
    ASSERT_TRUE(EnqueueOn(*leader, "c1").ok());
    const uint64_t last = OnEngine(*leader, [&] { return leader->last_sequence(); });
    ASSERT_TRUE(Eventually([&] { return NewestSnapshot(leader_dir.path()) >= last; }));
    snapshot = NewestSnapshot(leader_dir.path());
  }
  std::filesystem::copy_file(leader_dir / journal::SnapshotFileName(snapshot),
                             dir / journal::SnapshotFileName(snapshot));

  for (const char* start : {"first start", "restart"}) {
    SCOPED_TRACE(start);
    std::unique_ptr<Engine> standby = MakeEngine(dir.path(), &clock, /*standby=*/true);
    const absl::Status started = standby->Start();
    ASSERT_TRUE(started.ok()) << started;
    EXPECT_EQ(OnEngine(*standby, [&] { return standby->last_sequence(); }), snapshot);
    EXPECT_EQ(GetCallOn(*standby, "c1"), grpc::StatusCode::OK);
    EXPECT_EQ(OnEngine(*standby, [&] { return standby->journal_epoch(); }), 2u)
        << "the epoch of the snapshot's record " << snapshot;
    const absl::Status promoted =
        OnEngine(*standby, [&] { return standby->Promote({.epoch = 2}); });
    EXPECT_EQ(promoted.code(), absl::StatusCode::kFailedPrecondition)
        << "promoted with the epoch the snapshot's records already carry";
    if (promoted.ok()) return;  // it journaled as a leader: the dir is no longer the case
  }
}

// ---------------------------------------------------------------------------------------------
// ResyncFromLeader.

// acd.ha.v1.Replication on a loopback port over a leader's data dir (the feed stays empty: only
// GetSnapshot is asked). Snapshots come in small chunks, so a resync takes several.
class ReplicationServer {
 public:
  explicit ReplicationServer(const std::string& leader_dir, uint64_t epoch = 2)
      : feed_(1 << 20),
        source_(
            {.data_dir = leader_dir, .max_batch_bytes = 512}, &feed_, [epoch] { return epoch; },
            [](const std::string&, uint64_t) {}) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&source_);
    server_ = builder.BuildAndStart();
  }
  ~ReplicationServer() {
    source_.Stop();
    server_->Shutdown();
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  ha::RecordFeed feed_;
  ha::ReplicationSource source_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST(ResyncFromLeader, LeavesTheLeadersNewestSnapshotAloneInTheDataDirAndSetsTheOldFilesAside) {
  ScratchDir leader_dir("ha_resync_leader"), standby_dir("ha_resync_standby");
  const uint64_t snapshot = RecordCenterWithSnapshot(leader_dir.path(), {"c1", "c2", "c3"});
  ASSERT_GT(snapshot, 0u);
  // The standby's own old journal and snapshots, which the leader cannot continue.
  ASSERT_GT(RecordCenterWithSnapshot(standby_dir.path(), {"old1"}), 0u);
  const std::map<std::string, std::string> old = Contents(standby_dir.path());
  ASSERT_GE(old.size(), 2u);

  ReplicationServer server(leader_dir.path());
  const absl::Time now = absl::Now();
  const absl::StatusOr<uint64_t> resynced =
      ha::ResyncFromLeader(server.address(), nullptr, standby_dir.path(), now);
  ASSERT_TRUE(resynced.ok()) << resynced.status();
  EXPECT_EQ(*resynced, snapshot);

  const std::string aside = absl::StrCat("set-aside-", absl::ToUnixSeconds(now));
  EXPECT_THAT(Entries(standby_dir.path()),
              UnorderedElementsAreArray({journal::SnapshotFileName(snapshot), aside}));
  const absl::StatusOr<std::string> got =
      ReadFile(standby_dir / journal::SnapshotFileName(snapshot));
  const absl::StatusOr<std::string> sent =
      ReadFile(leader_dir / journal::SnapshotFileName(snapshot));
  ASSERT_TRUE(got.ok() && sent.ok());
  EXPECT_TRUE(*got == *sent) << "the snapshot differs from the leader's (" << got->size() << " vs "
                             << sent->size() << " bytes)";
  EXPECT_EQ(Contents(standby_dir / aside), old) << "the old files, set aside as they were";
}

TEST(ResyncFromLeader, FailsAgainstALeaderWithNoSnapshotAndLeavesTheDataDirUntouched) {
  ScratchDir leader_dir("ha_resync_leader"), standby_dir("ha_resync_standby");
  {
    FakeClock clock(kStart);
    std::unique_ptr<Engine> leader = MakeEngine(leader_dir.path(), &clock, /*standby=*/false);
    ASSERT_TRUE(leader->Start().ok());
    ASSERT_TRUE(EnqueueOn(*leader, "c1").ok());
    ASSERT_TRUE(Eventually([&] { return AllDurable(*leader); }));
  }
  ASSERT_EQ(NewestSnapshot(leader_dir.path()), 0u);
  ASSERT_GT(RecordCenterWithSnapshot(standby_dir.path(), {"old1"}), 0u);
  const std::map<std::string, std::string> before = Contents(standby_dir.path());
  const std::set<std::string> entries = Entries(standby_dir.path());

  ReplicationServer server(leader_dir.path());
  const absl::StatusOr<uint64_t> resynced =
      ha::ResyncFromLeader(server.address(), nullptr, standby_dir.path(), absl::Now());
  ASSERT_FALSE(resynced.ok()) << "resynced to record " << *resynced;
  EXPECT_THAT(resynced.status().message(), HasSubstr("no snapshot"));
  EXPECT_EQ(Entries(standby_dir.path()), entries);
  EXPECT_EQ(Contents(standby_dir.path()), before);
}

TEST(ResyncFromLeader, AStandbyStartedOnTheResyncedDirFollowsTheLeadersJournalAfterTheSnapshot) {
  ScratchDir leader_dir("ha_resync_leader"), standby_dir("ha_resync_standby");
  FakeClock clock(kStart);
  // The standby is attached to the leader's tap later, as a follower that joins.
  absl::Mutex mu;
  Engine* follower = nullptr;
  std::unique_ptr<Engine> standby;  // declared first: it outlives the leader whose tap feeds it
  std::unique_ptr<Engine> leader =
      StartLeader(leader_dir.path(), &clock,
                  {.epoch = 2,
                   .tap =
                       [&](absl::string_view framed, uint64_t sequence) {
                         absl::MutexLock lock(&mu);
                         if (follower != nullptr) FeedTo(follower)(framed, sequence);
                       }},
                  kSnapshotEachRecord);
  ASSERT_TRUE(EnqueueOn(*leader, "c1").ok());
  ASSERT_TRUE(EnqueueOn(*leader, "c2").ok());
  const uint64_t before = OnEngine(*leader, [&] { return leader->last_sequence(); });
  ASSERT_TRUE(Eventually([&] { return NewestSnapshot(leader_dir.path()) >= before; }));

  uint64_t snapshot = 0;
  {
    ReplicationServer server(leader_dir.path());
    absl::StatusOr<uint64_t> resynced =
        ha::ResyncFromLeader(server.address(), nullptr, standby_dir.path(), absl::Now());
    ASSERT_TRUE(resynced.ok()) << resynced.status();
    snapshot = *resynced;
  }
  standby = MakeEngine(standby_dir.path(), &clock, /*standby=*/true);
  const absl::Status started = standby->Start();
  ASSERT_TRUE(started.ok()) << started;
  EXPECT_EQ(OnEngine(*standby, [&] { return standby->last_sequence(); }), snapshot);
  EXPECT_EQ(OnEngine(*standby, [&] { return standby->journal_epoch(); }), 2u);
  EXPECT_EQ(GetCallOn(*standby, "c1"), grpc::StatusCode::OK);
  EXPECT_EQ(GetCallOn(*standby, "c2"), grpc::StatusCode::OK);

  // On the leader's thread, so that no record is missed or sent twice: the records after the
  // snapshot from the leader's files, then each new one from the tap.
  OnEngine(*leader, [&] {
    const uint64_t last = leader->last_sequence();
    ASSERT_TRUE(Eventually([&] { return leader->local_durable() >= last; }));
    for (const Record& record : JournalRecords(leader_dir.path(), snapshot + 1)) {
      FeedTo(standby.get())(journal::EncodeRecord(record.sequence, record.epoch, record.payload),
                            record.sequence);
    }
    absl::MutexLock lock(&mu);
    follower = standby.get();
  });
  ASSERT_TRUE(EnqueueOn(*leader, "c3").ok());
  const uint64_t last = OnEngine(*leader, [&] { return leader->last_sequence(); });
  ASSERT_TRUE(Eventually([&] {
    return OnEngine(*standby, [&] { return standby->last_sequence(); }) >= last &&
           standby->local_durable() >= last && leader->local_durable() >= last;
  }));
  EXPECT_EQ(GetCallOn(*standby, "c3"), grpc::StatusCode::OK);
  EXPECT_EQ(FirstOf(JournalRecords(standby_dir.path()), last - snapshot),
            FirstOf(JournalRecords(leader_dir.path(), snapshot + 1), last - snapshot));
}

}  // namespace
}  // namespace acd::daemon::testing
