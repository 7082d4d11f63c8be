// SwitchOutboxes: each switch's numbering, what waits unwritten (bounded), the offers still
// outstanding, and what a new stream is sent first.
#include "daemon/switch_outbox.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

acd::v1::Command Offer(const std::string& call, const std::string& agent) {
  acd::v1::Command command;
  command.mutable_offer_call()->set_call_id(call);
  command.mutable_offer_call()->set_agent_id(agent);
  return command;
}

acd::v1::Command Callback(const std::string& call, const std::string& agent) {
  acd::v1::Command command;
  command.mutable_start_callback()->set_call_id(call);
  command.mutable_start_callback()->set_agent_id(agent);
  return command;
}

acd::v1::Command Prompt(const std::string& call) {
  acd::v1::Command command;
  command.mutable_play_prompt()->set_call_id(call);
  return command;
}

std::vector<uint64_t> Sequences(const std::vector<acd::v1::Command>& commands) {
  std::vector<uint64_t> out;
  for (const acd::v1::Command& c : commands) out.push_back(c.sequence());
  return out;
}

std::vector<bool> Resent(const std::vector<acd::v1::Command>& commands) {
  std::vector<bool> out;
  for (const acd::v1::Command& c : commands) out.push_back(c.resent());
  return out;
}

TEST(SwitchOutboxes, NumbersEachSwitchsCommandsFromOneAndStampsThem) {
  SwitchOutboxes outboxes(100);
  EXPECT_EQ(outboxes.Send("sw1", Prompt("a"), kStart), 1u);
  EXPECT_EQ(outboxes.Send("sw2", Prompt("b"), kStart + absl::Seconds(1)), 1u);
  EXPECT_EQ(outboxes.Send("sw1", Prompt("c"), kStart + absl::Seconds(2)), 2u);

  std::vector<OutgoingCommand> out = outboxes.TakeNew();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].switch_id, "sw1");
  EXPECT_EQ(out[0].command->sequence(), 1u);
  EXPECT_EQ(out[1].switch_id, "sw2");
  EXPECT_EQ(out[1].command->sequence(), 1u);
  EXPECT_EQ(out[2].command->play_prompt().call_id(), "c");
  EXPECT_EQ(out[2].command->sequence(), 2u);
  EXPECT_EQ(TimeOf(out[2].command->at()), kStart + absl::Seconds(2));
  EXPECT_THAT(outboxes.TakeNew(), IsEmpty()) << "each new command is handed out once";
}

TEST(SwitchOutboxes, AReconnectGetsTheUnwrittenCommandsInOrderThenWrittenOutstandingOffers) {
  SwitchOutboxes outboxes(100);
  outboxes.Send("sw1", Offer("c1", "alice"), kStart);   // 1: written, outstanding
  outboxes.Send("sw1", Prompt("c2"), kStart);           // 2: written
  outboxes.Send("sw1", Callback("c3", "bob"), kStart);  // 3: written, outstanding
  outboxes.Send("sw1", Offer("c4", "carol"), kStart);   // 4: unwritten
  outboxes.Send("sw1", Prompt("c5"), kStart);           // 5: unwritten
  outboxes.Send("sw2", Offer("x", "dave"), kStart);
  outboxes.TakeNew();  // taken by the old stream, which wrote only some
  for (uint64_t written : {1, 2, 3}) outboxes.Written("sw1", written);
  EXPECT_EQ(outboxes.unwritten("sw1"), 2u);

  std::vector<acd::v1::Command> first = outboxes.Reconnect("sw1");
  EXPECT_THAT(Sequences(first), ElementsAre(4u, 5u, 1u, 3u));
  EXPECT_THAT(Resent(first), ElementsAre(false, false, true, true));
  EXPECT_TRUE(first[3].has_start_callback()) << "a callback's start is resent like an offer";
  EXPECT_THAT(outboxes.Reconnect("sw1"), ::testing::SizeIs(4)) << "nothing is lost by asking";
}

TEST(SwitchOutboxes, OffersAreOutstandingUntilEndedAndAWrittenOneEndedIsNotResent) {
  SwitchOutboxes outboxes(100);
  const uint64_t seq = outboxes.Send("sw1", Offer("c1", "alice"), kStart);
  ASSERT_NE(outboxes.OutstandingOffer("sw1", "c1"), nullptr);
  EXPECT_EQ(outboxes.OutstandingOffer("sw1", "c1")->sequence(), seq);
  EXPECT_EQ(outboxes.OutstandingOffer("sw1", "c2"), nullptr);
  EXPECT_EQ(outboxes.OutstandingOffer("sw2", "c1"), nullptr);
  outboxes.Send("sw1", Prompt("c2"), kStart);
  EXPECT_EQ(outboxes.OutstandingOffer("sw1", "c2"), nullptr) << "a prompt reserves nobody";

  outboxes.Written("sw1", seq);
  outboxes.EndOffer("sw1", "c1");
  EXPECT_EQ(outboxes.OutstandingOffer("sw1", "c1"), nullptr);
  EXPECT_THAT(Sequences(outboxes.Reconnect("sw1")), ElementsAre(2u)) << "only the prompt";
}

TEST(SwitchOutboxes, EndingAnUnwrittenOfferTakesItBackAndItsNumberIsNotReused) {
  SwitchOutboxes outboxes(100);
  outboxes.Send("sw1", Prompt("c0"), kStart);
  outboxes.Send("sw1", Offer("c1", "alice"), kStart);
  outboxes.EndOffer("sw1", "c1");
  EXPECT_EQ(outboxes.unwritten("sw1"), 1u);
  EXPECT_THAT(Sequences(outboxes.Reconnect("sw1")), ElementsAre(1u));
  EXPECT_EQ(outboxes.Send("sw1", Prompt("c2"), kStart), 3u);
  outboxes.Written("sw1", 2);  // a late report about the taken-back offer changes nothing
  EXPECT_THAT(Sequences(outboxes.Reconnect("sw1")), ElementsAre(1u, 3u));
}

TEST(SwitchOutboxes, ABoundedOutboxDropsTheOldestButStillResendsItsOutstandingOffer) {
  SwitchOutboxes outboxes(2);
  outboxes.Send("sw1", Offer("c1", "alice"), kStart);  // 1: dropped, still outstanding
  outboxes.Send("sw1", Prompt("c2"), kStart);          // 2: dropped
  outboxes.Send("sw1", Prompt("c3"), kStart);          // 3
  outboxes.Send("sw1", Prompt("c4"), kStart);          // 4
  EXPECT_EQ(outboxes.unwritten("sw1"), 2u);
  EXPECT_THAT(outboxes.TakeDropped(), ElementsAre(std::pair<std::string, uint64_t>("sw1", 2)));
  const std::vector<acd::v1::Command> first = outboxes.Reconnect("sw1");
  EXPECT_THAT(Sequences(first), ElementsAre(1u, 3u, 4u)) << "never delivered: in sequence order";
  EXPECT_THAT(Resent(first), ElementsAre(false, false, false))
      << "the dropped offer never reached the switch: not a resend";

  // Once the new stream has written it, the offer is one the switch may have lost, like any other.
  for (uint64_t sequence : {1, 3, 4}) outboxes.Written("sw1", sequence);
  const std::vector<acd::v1::Command> again = outboxes.Reconnect("sw1");
  EXPECT_THAT(Sequences(again), ElementsAre(1u));
  EXPECT_THAT(Resent(again), ElementsAre(true));
}

TEST(SwitchOutboxes, ANewOfferForTheSameCallReplacesTheOutstandingOne) {
  SwitchOutboxes outboxes(100);
  outboxes.Send("sw1", Offer("c1", "alice"), kStart);
  outboxes.Written("sw1", 1);
  outboxes.EndOffer("sw1", "c1");
  outboxes.Send("sw1", Offer("c1", "bob"), kStart);
  outboxes.Written("sw1", 2);
  const std::vector<acd::v1::Command> again = outboxes.Reconnect("sw1");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].offer_call().agent_id(), "bob");
  EXPECT_TRUE(again[0].resent());
}

TEST(SwitchOutboxes, AWriteAwaitedOnceIsAwaitedNoMoreAfterItsFirstReport) {
  SwitchOutboxes outboxes(1);
  outboxes.Send("sw1", Offer("c1", "alice"), kStart);  // 1: dropped by the bound, still outstanding
  outboxes.Send("sw1", Prompt("c2"), kStart);          // 2
  EXPECT_TRUE(outboxes.AwaitsWrite("sw1", 1)) << "a dropped offer is sent again, then written";
  EXPECT_TRUE(outboxes.AwaitsWrite("sw1", 2));
  EXPECT_FALSE(outboxes.AwaitsWrite("sw1", 3)) << "not sent yet";
  EXPECT_FALSE(outboxes.AwaitsWrite("sw2", 1)) << "another switch";
  for (uint64_t sequence : {1, 2}) {
    outboxes.Written("sw1", sequence);
    EXPECT_FALSE(outboxes.AwaitsWrite("sw1", sequence)) << sequence;
  }
}

TEST(SwitchOutboxes, ASwitchNeverHeardOfHasNothingPending) {
  SwitchOutboxes outboxes(100);
  outboxes.Written("ghost", 1);
  outboxes.EndOffer("ghost", "c1");
  EXPECT_EQ(outboxes.unwritten("ghost"), 0u);
  EXPECT_FALSE(outboxes.AwaitsWrite("ghost", 1));
  EXPECT_THAT(outboxes.Reconnect("ghost"), IsEmpty());
  EXPECT_EQ(outboxes.Send("ghost", Prompt("c1"), kStart), 1u);
}

}  // namespace
}  // namespace acd::daemon::testing
