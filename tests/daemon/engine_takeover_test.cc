// A switch's new command sink taking over from its old one (Engine::OpenCommandStream), or coming
// after one acdd cut off: what the old sink delivered counts before the reconnect even when its
// report is still on a gRPC thread, so a switch that got an offer and reconnected gets it again
// marked resent, numbered as before; an offer the old sink never wrote, or any other command in
// a write still in flight, comes plain; a refused sink leaves the old one open; with a journal, a
// second report of one write is not journaled. A real engine on its thread, in memory (one with
// a data dir), with sinks that stand in for a stream and say what they delivered.
#include <string>
#include <utility>
#include <vector>

#include "acd/v1/acd.pb.h"
#include "daemon/command_sink.h"
#include "daemon/engine.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"
#include "tests/daemon/journal_test_support.h"
#include "tests/daemon/on_engine.h"

namespace acd::daemon::testing {
namespace {

// A sink as a stream would be: it keeps what the engine sends, and hands over what a test says
// it delivered without the engine having heard of it. Touched on the engine's thread only.
class RecordingSink final : public CommandSink {
 public:
  void SendCommand(acd::v1::Command command) override { sent.push_back(std::move(command)); }
  size_t backlog() const override { return queued; }
  void Close(const grpc::Status& status) override { ended = status; }
  void Abort(const grpc::Status& status) override { ended = status; }
  Delivered TakeDelivered() override { return std::exchange(delivered, {}); }

  std::vector<acd::v1::Command> sent;
  size_t queued = 0;  // what backlog() says: past --max_stream_backlog the engine cuts it off
  Delivered delivered;
  grpc::Status ended = grpc::Status(grpc::StatusCode::UNKNOWN, "still open");
};

// A ready agent with the sales skill.
acd::v1::LoginRequest SalesAgent(const std::string& agent_id) {
  return SimulatedCenter::LoginRequest(agent_id, "sales");
}

class SinkTakeoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(engine_.Start().ok());
    OnEngine(engine_, [&] {
      ASSERT_TRUE(engine_.OpenCommandStream("sw1", &old_sink_, nullptr).ok());
      acd::v1::AgentInfo agent;
      ASSERT_TRUE(engine_.Login(SalesAgent("alice"), &agent).ok());
      acd::v1::EnqueueCallResponse enqueued;
      ASSERT_TRUE(
          engine_.EnqueueCall(SimulatedCenter::EnqueueRequest("c1", "sales"), &enqueued).ok());
    });
    offer_ = OnEngine(engine_, [&] {
      EXPECT_EQ(old_sink_.sent.size(), 1u);
      return old_sink_.sent.empty() ? acd::v1::Command() : old_sink_.sent.front();
    });
    ASSERT_TRUE(offer_.has_offer_call()) << offer_.DebugString();
  }
  void TearDown() override { engine_.Stop(); }

  // A new sink of sw1 takes over; what it was sent first.
  std::vector<acd::v1::Command> TakeOver() {
    return OnEngine(engine_, [&] {
      EXPECT_TRUE(engine_.OpenCommandStream("sw1", &new_sink_, nullptr).ok());
      EXPECT_EQ(old_sink_.ended.error_code(), grpc::StatusCode::ABORTED);
      return new_sink_.sent;
    });
  }

  // The sinks outlive the engine that refers to them.
  RecordingSink old_sink_;
  RecordingSink new_sink_;
  RecordingSink third_sink_;
  FakeClock clock_{kStart};
  Engine engine_{PolicyFromYaml(kCenterPolicy), "test policy", EngineOptions{}, &clock_};
  acd::v1::Command offer_;  // c1's offer, sent to the old sink
};

TEST_F(SinkTakeoverTest, AnOfferTheOldSinkWroteComesAgainResentThoughItsReportHadNotArrived) {
  old_sink_.delivered.written.push_back(offer_);  // written; its report still on gRPC's thread
  std::vector<acd::v1::Command> first = TakeOver();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].sequence(), offer_.sequence());
  EXPECT_TRUE(first[0].resent());
  EXPECT_EQ(first[0].offer_call().call_id(), "c1");
}

TEST_F(SinkTakeoverTest, AnOfferInTheWriteStillInFlightComesAgainResentToo) {
  old_sink_.delivered.in_flight.push_back(offer_);  // the switch may have it, or not
  std::vector<acd::v1::Command> first = TakeOver();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].sequence(), offer_.sequence());
  EXPECT_TRUE(first[0].resent());
}

TEST_F(SinkTakeoverTest, AnOfferTheOldSinkNeverWroteComesPlainWithItsNumber) {
  std::vector<acd::v1::Command> first = TakeOver();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].sequence(), offer_.sequence());
  EXPECT_FALSE(first[0].resent());
}

TEST_F(SinkTakeoverTest, ACommandOtherThanAnOfferInTheWriteStillInFlightComesAgainAsItWas) {
  // c2 waits (alice has c1): its entry prompt is being written when the switch reconnects. Only
  // an offer, outstanding until answered, may count as delivered; the prompt stays unwritten and
  // comes again, plain, in its place, or the switch might never hear of it.
  acd::v1::Command prompt = OnEngine(engine_, [&] {
    acd::v1::EnqueueCallResponse enqueued;
    EXPECT_TRUE(
        engine_.EnqueueCall(SimulatedCenter::EnqueueRequest("c2", "sales"), &enqueued).ok());
    EXPECT_EQ(old_sink_.sent.size(), 2u);
    return old_sink_.sent.back();
  });
  ASSERT_TRUE(prompt.has_play_prompt()) << prompt.DebugString();
  old_sink_.delivered.in_flight.push_back(prompt);
  std::vector<acd::v1::Command> first = TakeOver();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].sequence(), offer_.sequence()) << "c1's offer, never written: first";
  EXPECT_FALSE(first[0].resent());
  EXPECT_EQ(first[1].sequence(), prompt.sequence());
  EXPECT_TRUE(first[1].has_play_prompt());
  EXPECT_FALSE(first[1].resent());
}

TEST_F(SinkTakeoverTest, TheOldSinksLateReportChangesNothingForTheNewOne) {
  old_sink_.delivered.written.push_back(offer_);
  ASSERT_EQ(TakeOver().size(), 1u);
  // The report the old sink's thread had on its way arrives after all, then a third sink comes:
  // the offer is still outstanding, still resent, still numbered as first.
  std::vector<acd::v1::Command> again = OnEngine(engine_, [&] {
    engine_.OnCommandWritten("sw1", offer_, &old_sink_);
    EXPECT_TRUE(engine_.OpenCommandStream("sw1", &third_sink_, nullptr).ok());
    return third_sink_.sent;
  });
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].sequence(), offer_.sequence());
  EXPECT_TRUE(again[0].resent());
}

TEST_F(SinkTakeoverTest, AStreamCutOffForItsBacklogStillCountsWhatItDeliveredAtTheReconnect) {
  // The switch stopped reading: the next command (c2's offer to bob) cuts its stream off. It had
  // got c1's offer, whose report is still on its way.
  old_sink_.queued = 20'000;
  old_sink_.delivered.written.push_back(offer_);
  std::vector<acd::v1::Command> first = OnEngine(engine_, [&] {
    acd::v1::AgentInfo agent;
    EXPECT_TRUE(engine_.Login(SalesAgent("bob"), &agent).ok());
    acd::v1::EnqueueCallResponse enqueued;
    EXPECT_TRUE(
        engine_.EnqueueCall(SimulatedCenter::EnqueueRequest("c2", "sales"), &enqueued).ok());
    EXPECT_EQ(old_sink_.ended.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_TRUE(engine_.OpenCommandStream("sw1", &new_sink_, nullptr).ok());
    return new_sink_.sent;
  });
  // c2's offer never reached the switch: first, as it was; then c1's, again.
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].offer_call().call_id(), "c2");
  EXPECT_FALSE(first[0].resent());
  EXPECT_EQ(first[1].sequence(), offer_.sequence());
  EXPECT_TRUE(first[1].resent());
}

TEST_F(SinkTakeoverTest, ARefusedStreamLeavesTheOldOneOpen) {
  RecordingSink refused;
  OnEngine(engine_, [&] {
    EXPECT_FALSE(engine_.OpenCommandStream("sw1", &refused, [] { return false; }).ok());
    EXPECT_EQ(refused.ended.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(old_sink_.ended.error_code(), grpc::StatusCode::UNKNOWN) << "the old one ended";
  });
}

// With a journal: each write the outbox counts is one command_written record, and a second report
// of the same write (the takeover counted the old stream's offer; the new stream wrote it again,
// and the old one's report came late) is none.
TEST(JournaledTakeover, ASecondReportOfTheSameWriteIsNotJournaled) {
  ScratchDir dir("engine_takeover");
  RecordingSink old_sink, new_sink;  // they outlive the engine that refers to them
  FakeClock clock{kStart};
  Engine engine(
      PolicyFromYaml(kCenterPolicy), "test policy",
      EngineOptions{.journal = {.data_dir = dir.path(),
                                .snapshots = {.every_records = 0, .every = absl::ZeroDuration()}}},
      &clock);
  ASSERT_TRUE(engine.Start().ok());
  // What a sink was sent, read on the engine's thread once the journal has let `count` out.
  auto sent_to = [&](RecordingSink& sink, size_t count) {
    EXPECT_TRUE(Eventually([&] {
      return OnEngine(engine, [&] { return sink.sent.size(); }) >= count;
    })) << "the sink got fewer than "
        << count << " commands";
    return OnEngine(engine, [&] { return sink.sent; });
  };
  OnEngine(engine, [&] {
    EXPECT_TRUE(engine.OpenCommandStream("sw1", &old_sink, nullptr).ok());
    acd::v1::AgentInfo agent;
    EXPECT_TRUE(engine.Login(SalesAgent("alice"), &agent).ok());
    acd::v1::EnqueueCallResponse enqueued;
    EXPECT_TRUE(engine.EnqueueCall(SimulatedCenter::EnqueueRequest("c1", "sales"), &enqueued).ok());
  });
  const std::vector<acd::v1::Command> offered = sent_to(old_sink, 1);
  ASSERT_EQ(offered.size(), 1u);
  const acd::v1::Command offer = offered[0];
  ASSERT_TRUE(offer.has_offer_call()) << offer.DebugString();

  old_sink.delivered.written.push_back(offer);  // its report still on gRPC's thread
  const uint64_t before_takeover = OnEngine(engine, [&] { return engine.last_sequence(); });
  OnEngine(engine, [&] { EXPECT_TRUE(engine.OpenCommandStream("sw1", &new_sink, nullptr).ok()); });
  const std::vector<acd::v1::Command> resent = sent_to(new_sink, 1);
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_TRUE(resent[0].resent());
  const uint64_t after_takeover = OnEngine(engine, [&] { return engine.last_sequence(); });
  EXPECT_EQ(after_takeover, before_takeover + 2) << "the old stream's write, then the reconnect";

  OnEngine(engine, [&] {
    engine.OnCommandWritten("sw1", resent[0], &new_sink);
    engine.OnCommandWritten("sw1", offer, &old_sink);
    EXPECT_EQ(engine.last_sequence(), after_takeover) << "no record for writes counted already";
    // c2 waits (alice has c1): its entry prompt, written once, is journaled once.
    acd::v1::EnqueueCallResponse enqueued;
    EXPECT_TRUE(engine.EnqueueCall(SimulatedCenter::EnqueueRequest("c2", "sales"), &enqueued).ok());
  });
  const std::vector<acd::v1::Command> then = sent_to(new_sink, 2);
  ASSERT_EQ(then.size(), 2u);
  ASSERT_TRUE(then[1].has_play_prompt()) << then[1].DebugString();
  OnEngine(engine, [&] {
    const uint64_t before = engine.last_sequence();
    engine.OnCommandWritten("sw1", then[1], &new_sink);
    EXPECT_EQ(engine.last_sequence(), before + 1);
    engine.OnCommandWritten("sw1", then[1], &new_sink);
    EXPECT_EQ(engine.last_sequence(), before + 1);
  });
  engine.Stop();
}

}  // namespace
}  // namespace acd::daemon::testing
