// The core on simulated time, for what happens to a call beyond its first offer: holds with their
// reminders, overrun flags and exact hold times, blind and warm transfers carrying the call's
// context, and callbacks with their retries.
#include <string>
#include <vector>

#include "daemon/core.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// ---------------------------------------------------------------------------------------------
// Holds.

TEST(CoreHolds, AHeldCallerIsRemindedAtTheIntervalAndAnOverrunIsFlaggedAtTheExpectedTime) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Connect("c1", "sales", "alice");
  center.Pass(absl::Seconds(10));
  const absl::Time held_at = center.now();
  ASSERT_TRUE(center.Event("c1", "alice", Hold(60)).ok());
  EXPECT_TRUE(center.TakeCommands().empty());

  // sales' reminder_interval_seconds is 40.
  center.Pass(absl::Seconds(25));
  EXPECT_EQ(center.GetCall("c1").hold_seconds(), 25) << "a hold going on counts until now";
  ASSERT_EQ(center.core().NextWakeup(), held_at + absl::Seconds(40));
  center.Wait(absl::Seconds(15) - absl::Milliseconds(1));
  EXPECT_TRUE(center.TakeCommands().empty()) << "nothing before the interval is up";
  center.Wait(absl::Milliseconds(1));
  std::vector<acd::v1::Command> reminder = center.TakeCommandsOnly();
  ASSERT_EQ(reminder.size(), 2u);
  ASSERT_TRUE(reminder[0].has_play_prompt()) << reminder[0].DebugString();
  EXPECT_EQ(reminder[0].play_prompt().kind(), acd::v1::PlayPrompt::KIND_HOLD_REMINDER);
  EXPECT_EQ(reminder[0].play_prompt().held_seconds(), 40);
  ASSERT_TRUE(reminder[1].has_hold_reminder()) << reminder[1].DebugString();
  EXPECT_EQ(reminder[1].hold_reminder().agent_id(), "alice");
  EXPECT_EQ(reminder[1].hold_reminder().held_seconds(), 40);
  EXPECT_EQ(reminder[1].hold_reminder().expected_seconds(), 60) << "what the caller was told";
  EXPECT_EQ(TimeOf(reminder[1].at()), held_at + absl::Seconds(40));

  ASSERT_EQ(center.core().NextWakeup(), held_at + absl::Seconds(60));
  center.Wait(absl::Seconds(20));
  const acd::v1::Command overrun = center.TakeOnlyCommand();
  ASSERT_TRUE(overrun.has_hold_overrun()) << overrun.DebugString();
  EXPECT_EQ(overrun.hold_overrun().reason(), "expected");
  EXPECT_EQ(overrun.hold_overrun().agent_id(), "alice");
  EXPECT_EQ(overrun.hold_overrun().held_seconds(), 60);
  EXPECT_EQ(TimeOf(overrun.at()), held_at + absl::Seconds(60));
  EXPECT_EQ(center.Queue("sales").hold_overruns(), 1u);

  center.Wait(absl::Seconds(20));
  std::vector<acd::v1::Command> again = center.TakeCommandsOnly();
  ASSERT_EQ(again.size(), 2u) << "the next reminder, an interval after the first";
  EXPECT_EQ(again[1].hold_reminder().held_seconds(), 80);

  center.Pass(absl::Seconds(10));
  ASSERT_TRUE(center.Event("c1", "alice", Unhold()).ok());
  acd::v1::CallInfo back = center.GetCall("c1");
  EXPECT_FALSE(back.on_hold());
  EXPECT_EQ(back.hold_count(), 1u);
  EXPECT_EQ(back.hold_seconds(), 90);
  EXPECT_EQ(center.core().NextWakeup(), std::nullopt) << "no reminders once the hold ended";
}

// The shell's wakeup and the switch's report race: the reminder fell due first, so it goes out
// first, and it says what it would have said on time.
TEST(CoreHolds, AReminderDueBeforeAReportedEndStillCarriesWhatTheCallerWasTold) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Connect("c1", "sales", "alice");
  const absl::Time held_at = center.now();
  ASSERT_TRUE(center.Event("c1", "alice", Hold(60)).ok());
  center.Pass(absl::Seconds(45));  // the wakeup at 40 s has not run yet
  ASSERT_TRUE(center.Event("c1", "alice", Unhold()).ok());
  std::vector<acd::v1::Command> reminder = center.TakeCommandsOnly();
  ASSERT_EQ(reminder.size(), 2u);
  ASSERT_TRUE(reminder[1].has_hold_reminder()) << reminder[1].DebugString();
  EXPECT_EQ(TimeOf(reminder[1].at()), held_at + absl::Seconds(40));
  EXPECT_EQ(reminder[1].hold_reminder().held_seconds(), 40);
  EXPECT_EQ(reminder[1].hold_reminder().expected_seconds(), 60);
  EXPECT_EQ(center.GetCall("c1").hold_seconds(), 45);
}

TEST(CoreHolds, HoldTimesAreExactToTheSimulatedSecondAlsoAfterTheCallEnded) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Pass(absl::Seconds(3));
  center.Connect("c1", "sales", "alice");
  center.Pass(absl::Seconds(10));
  ASSERT_TRUE(center.Event("c1", "alice", Hold(0)).ok());
  center.Pass(absl::Seconds(30));
  ASSERT_TRUE(center.Event("c1", "alice", Unhold()).ok());
  center.Pass(absl::Seconds(10));
  ASSERT_TRUE(center.Event("c1", "alice", Hold(0)).ok());
  center.Pass(absl::Seconds(12));
  acd::v1::CallInfo second_hold = center.GetCall("c1");
  EXPECT_TRUE(second_hold.on_hold());
  EXPECT_EQ(second_hold.hold_count(), 2u);
  EXPECT_EQ(second_hold.hold_seconds(), 42);
  ASSERT_TRUE(center.Event("c1", "alice", End).ok());  // the end closes the hold

  center.Pass(absl::Seconds(100));
  acd::v1::CallInfo done = center.GetCall("c1");
  EXPECT_EQ(done.state(), acd::v1::CALL_STATE_ENDED);
  EXPECT_FALSE(done.on_hold());
  EXPECT_EQ(done.hold_count(), 2u);
  EXPECT_EQ(done.hold_seconds(), 42) << "time after the end does not count";
  EXPECT_EQ(done.agent_id(), "alice");
  EXPECT_EQ(TimeOf(done.arrived()), kStart + absl::Seconds(3));
  EXPECT_THAT(Story(done), ElementsAre("enqueued", "offered", "connected", "hold_started",
                                       "hold_ended", "hold_started", "ended"));
}

TEST(CoreHolds, AHoldIdMakesRetriesOfItsStartAndEndExact) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Connect("c1", "sales", "alice");
  ASSERT_TRUE(center.Event("c1", "alice", Hold(0, "h1")).ok());
  center.Pass(absl::Seconds(5));
  ASSERT_TRUE(center.Event("c1", "alice", Hold(0, "h1")).ok()) << "a retry";
  EXPECT_EQ(center.GetCall("c1").hold_count(), 1u);
  EXPECT_EQ(center.Event("c1", "alice", Hold(0, "h2")).code(),
            absl::StatusCode::kFailedPrecondition)
      << "another hold while h1 lasts";
  EXPECT_EQ(center.Event("c1", "alice", Unhold("h2")).code(), absl::StatusCode::kFailedPrecondition)
      << "the caller is on h1, not h2";
  ASSERT_TRUE(center.Event("c1", "alice", Unhold("h1")).ok());
  center.Pass(absl::Seconds(5));
  ASSERT_TRUE(center.Event("c1", "alice", Unhold("h1")).ok()) << "a retry of the end";
  ASSERT_TRUE(center.Event("c1", "alice", Hold(0, "h1")).ok()) << "a late retry of the start";
  acd::v1::CallInfo after = center.GetCall("c1");
  EXPECT_FALSE(after.on_hold()) << "a retried hold id starts nothing";
  EXPECT_EQ(after.hold_count(), 1u);
  EXPECT_EQ(after.hold_seconds(), 5);

  ASSERT_TRUE(center.Event("c1", "alice", Hold(0, "h2")).ok());
  EXPECT_EQ(center.GetCall("c1").hold_count(), 2u) << "a new id is a new hold";
}

TEST(CoreHolds, OnlyAConnectedCallerCanBeHeldAndOnlyByTheAgentOnTheLine) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Enqueue("c1", "sales");
  center.TakeCommands();
  EXPECT_EQ(center.Event("c1", "alice", Hold(0)).code(), absl::StatusCode::kFailedPrecondition)
      << "a ringing caller cannot be held";
  ASSERT_TRUE(center.Event("c1", "alice", Accept).ok());
  EXPECT_EQ(center.Event("c1", "mallory", Hold(0)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(center.Event("c1", "alice", Unhold()).code(), absl::StatusCode::kFailedPrecondition)
      << "never held";
  EXPECT_FALSE(center.GetCall("c1").on_hold());
}

// ---------------------------------------------------------------------------------------------
// Transfers.

// seller, connected with c1 in sales, consults support, whose agent fixer is offered the call.
// Returns that offer.
acd::v1::Command ConsultRinging(SimulatedCenter& center) {
  EXPECT_TRUE(center.Login("seller", "sales").ok());
  EXPECT_TRUE(center.Login("fixer", "support").ok());
  center.Connect("c1", "sales", "seller");
  EXPECT_TRUE(center.Event("c1", "seller", TransferTo("support", /*warm=*/true)).ok());
  const acd::v1::Command offer = center.TakeOffer();
  EXPECT_EQ(offer.offer_call().agent_id(), "fixer");
  return offer;
}

TEST(CoreTransfers, ABlindTransferCarriesTheContextToTheNextAgentsOffer) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  ASSERT_TRUE(center.Login("biller", "billing").ok());
  center.Connect("c1", "sales", "seller");

  ASSERT_TRUE(center.Event("c1", "seller", TransferTo("billing", /*warm=*/false)).ok());
  ASSERT_TRUE(center.Event("c1", "seller", TransferTo("billing", false)).ok()) << "a retry";
  const acd::v1::Command offer = center.TakeOffer();  // one offer, not two
  EXPECT_EQ(offer.offer_call().agent_id(), "biller");
  EXPECT_EQ(offer.offer_call().queue(), "billing");
  const acd::v1::CallContext& context = offer.offer_call().context();
  EXPECT_EQ(context.transfers(), 1u);
  EXPECT_THAT(context.previous_queues(), ElementsAre("sales"));
  EXPECT_THAT(context.previous_agents(), ElementsAre("seller"));
  EXPECT_EQ(context.transfer_reason(), "invoice dispute");
  EXPECT_THAT(context.notes(), ElementsAre("invoice 42 billed twice"));
  EXPECT_EQ(offer.offer_call().attributes().at("account"), "ACME-42") << "the IVR's data too";
  EXPECT_EQ(center.Agent("seller").state(), acd::v1::AGENT_STATE_WRAP_UP);

  // The next agent passes it on: the context grows, oldest first.
  ASSERT_TRUE(center.Event("c1", "biller", Accept, nullptr, offer.sequence()).ok());
  ASSERT_TRUE(center.Login("fixer", "support").ok());
  ASSERT_TRUE(
      center.Event("c1", "biller", TransferTo("support", false, "router broken", "model X200"))
          .ok());
  const acd::v1::Command next_offer = center.TakeOffer();
  const acd::v1::CallContext& next = next_offer.offer_call().context();
  EXPECT_EQ(next.transfers(), 2u);
  EXPECT_THAT(next.previous_queues(), ElementsAre("sales", "billing"));
  EXPECT_THAT(next.previous_agents(), ElementsAre("seller", "biller"));
  EXPECT_EQ(next.transfer_reason(), "router broken");
  EXPECT_THAT(next.notes(), ElementsAre("invoice 42 billed twice", "model X200"));
  EXPECT_EQ(center.GetCall("c1").context().transfers(), 2u);
}

TEST(CoreTransfers, OnlyTheAgentOnTheCallCanTransferIt) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  center.Connect("c1", "sales", "seller");
  EXPECT_EQ(center.Event("c1", "mallory", TransferTo("billing", false)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(center.GetCall("c1").context().transfers(), 0u);
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_CONNECTED);
}

TEST(CoreTransfers, AWarmTransferKeepsTheFirstAgentUntilTheNextAcceptsThenCompletesIt) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  center.Connect("c1", "sales", "seller");
  ASSERT_TRUE(center.Event("c1", "seller", TransferTo("support", /*warm=*/true)).ok());
  ASSERT_TRUE(center.Event("c1", "seller", TransferTo("support", true)).ok()) << "a retry";
  EXPECT_EQ(center.Agent("seller").state(), acd::v1::AGENT_STATE_BUSY)
      << "the first agent stays with the caller while acd finds the next one";
  acd::v1::CallInfo consulting = center.GetCall("c1");
  EXPECT_EQ(consulting.consulting_agent(), "seller");
  EXPECT_EQ(consulting.queue(), "support");
  EXPECT_TRUE(center.TakeCommands().empty()) << "no prompt: the caller is with the agent";

  center.Pass(absl::Seconds(20));
  ASSERT_TRUE(center.Login("fixer", "support").ok());
  const acd::v1::Command offer = center.TakeOffer();
  EXPECT_EQ(offer.offer_call().agent_id(), "fixer");
  EXPECT_EQ(offer.offer_call().context().transfers(), 1u);
  EXPECT_THAT(offer.offer_call().context().previous_agents(), ElementsAre("seller"));
  EXPECT_EQ(center.Agent("seller").state(), acd::v1::AGENT_STATE_BUSY) << "until accepted";

  ASSERT_TRUE(center.Event("c1", "fixer", Accept, nullptr, offer.sequence()).ok());
  const acd::v1::Command complete = center.TakeOnlyCommand();
  ASSERT_TRUE(complete.has_complete_transfer()) << complete.DebugString();
  EXPECT_EQ(complete.complete_transfer().call_id(), "c1");
  EXPECT_EQ(complete.complete_transfer().agent_id(), "fixer");
  EXPECT_EQ(complete.complete_transfer().from_agent_id(), "seller");
  EXPECT_EQ(TimeOf(complete.at()), center.now());
  EXPECT_EQ(center.Agent("seller").state(), acd::v1::AGENT_STATE_WRAP_UP) << "released";
  acd::v1::CallInfo info = center.GetCall("c1");
  EXPECT_EQ(info.state(), acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(info.agent_id(), "fixer");
  EXPECT_EQ(info.consulting_agent(), "");
}

TEST(CoreTransfers, ACancelledConsultRestoresTheContextAndASecondConsultIsNew) {
  SimulatedCenter center;
  const acd::v1::Command offer = ConsultRinging(center);
  EXPECT_EQ(offer.offer_call().context().transfers(), 1u);

  ASSERT_TRUE(center.Event("c1", "seller", CancelConsult).ok());
  const acd::v1::Command cancel = center.TakeOnlyCommand();
  ASSERT_TRUE(cancel.has_cancel_offer()) << cancel.DebugString();
  EXPECT_EQ(cancel.cancel_offer().agent_id(), "fixer");
  EXPECT_EQ(cancel.cancel_offer().reason(), "consult_cancelled");
  acd::v1::CallInfo back = center.GetCall("c1");
  EXPECT_EQ(back.state(), acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(back.agent_id(), "seller");
  EXPECT_EQ(back.queue(), "sales");
  EXPECT_EQ(back.context().transfers(), 0u) << "a cancelled consult transferred nothing";
  EXPECT_THAT(back.context().previous_queues(), IsEmpty());
  ASSERT_TRUE(center.Event("c1", "seller", CancelConsult).ok()) << "a retry of the cancel";

  ASSERT_TRUE(center.Event("c1", "seller", TransferTo("support", true)).ok());
  const acd::v1::Command again = center.TakeOffer();  // a new consult, not a retry
  EXPECT_EQ(again.offer_call().context().transfers(), 1u);
  EXPECT_THAT(again.offer_call().context().previous_queues(), ElementsAre("sales"));
  EXPECT_EQ(center.GetCall("c1").consulting_agent(), "seller");
}

TEST(CoreTransfers, ACallEndedDuringAConsultEndsWithTheAgentTheCallerWasWith) {
  SimulatedCenter center;
  ConsultRinging(center);
  acd::v1::CallState state;
  ASSERT_TRUE(center.Event("c1", "seller", End, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_ENDED);
  const acd::v1::Command cancel = center.TakeOnlyCommand();
  EXPECT_EQ(cancel.cancel_offer().agent_id(), "fixer");
  EXPECT_EQ(cancel.cancel_offer().reason(), "call_ended");
  const acd::v1::CallInfo done = center.GetCall("c1");
  EXPECT_EQ(done.state(), acd::v1::CALL_STATE_ENDED);
  EXPECT_EQ(done.agent_id(), "seller");
  EXPECT_EQ(center.Agent("fixer").state(), acd::v1::AGENT_STATE_READY) << "never took it";
}

// ---------------------------------------------------------------------------------------------
// Callbacks.

constexpr char kCallbackPolicy[] = R"(
name: callbacks
skills: [{name: sales}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: 1}]
    callbacks: {offer_when_ewt_over_seconds: 30, max_attempts: 2, retry_interval_seconds: 60}
)";

void CallbackAccepted(acd::v1::CallEvent* e) {
  e->mutable_callback_accepted()->set_number("+15550100");
}
void CallbackNotReached(acd::v1::CallEvent* e) {
  e->mutable_callback_not_reached()->set_reason("no_answer");
}

TEST(CoreCallbacks, ACallbackKeepsThePlaceDialsOutWhenReachedRetriesOnTimeAndGivesUp) {
  SimulatedCenter center(CoreOptions{}, nullptr, kCallbackPolicy);
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Connect("warmup", "sales", "alice");  // 90 s of talk teach sales its handle time
  center.Pass(absl::Seconds(90));
  ASSERT_TRUE(center.Event("warmup", "alice", End).ok());
  center.Connect("busy", "sales", "alice");

  center.Enqueue("caller", "sales");
  std::vector<acd::v1::Command> prompts = center.TakeCommandsOnly();
  ASSERT_EQ(prompts.size(), 2u) << "the wait is over 30 s: the greeting and a callback offer";
  EXPECT_EQ(prompts[0].play_prompt().kind(), acd::v1::PlayPrompt::KIND_ENTRY);
  EXPECT_EQ(prompts[1].play_prompt().kind(), acd::v1::PlayPrompt::KIND_CALLBACK_OFFER);
  ASSERT_TRUE(center.Event("caller", "", CallbackAccepted).ok());
  acd::v1::CallInfo waiting = center.GetCall("caller");
  EXPECT_TRUE(waiting.callback());
  EXPECT_EQ(waiting.position(), 1) << "the caller left the line but kept the place";

  center.Pass(absl::Seconds(20));
  ASSERT_TRUE(center.Event("busy", "alice", End).ok());
  const acd::v1::Command starts = center.TakeOnlyCommand();
  ASSERT_TRUE(starts.has_start_callback()) << starts.DebugString();
  EXPECT_EQ(starts.start_callback().agent_id(), "alice");
  EXPECT_EQ(starts.start_callback().number(), "+15550100");
  EXPECT_EQ(starts.start_callback().attempt(), 1);
  EXPECT_EQ(starts.start_callback().waited_seconds(), 20);
  acd::v1::CallState state;
  ASSERT_TRUE(center.Event("caller", "alice", Accept, &state, starts.sequence()).ok());
  ASSERT_TRUE(center.Event("caller", "alice", CallbackNotReached, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_CALLBACK_PENDING);
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_READY) << "free at once";

  // retry_interval_seconds: 60, to the second.
  const absl::Time retry_due = center.now() + absl::Seconds(60);
  EXPECT_EQ(center.core().NextWakeup(), retry_due);
  center.Wait(absl::Seconds(60));
  const acd::v1::Command retry = center.TakeOnlyCommand();
  ASSERT_TRUE(retry.has_start_callback()) << retry.DebugString();
  EXPECT_EQ(retry.start_callback().attempt(), 2);
  EXPECT_EQ(TimeOf(retry.at()), retry_due);
  ASSERT_TRUE(center.Event("caller", "alice", Accept, nullptr, retry.sequence()).ok());
  ASSERT_TRUE(center.Event("caller", "alice", CallbackNotReached, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_CALLBACK_FAILED);
  const acd::v1::Command gave_up = center.TakeOnlyCommand();
  ASSERT_TRUE(gave_up.has_callback_gave_up()) << gave_up.DebugString();
  EXPECT_EQ(gave_up.callback_gave_up().attempts(), 2);
  EXPECT_EQ(center.GetCall("caller").state(), acd::v1::CALL_STATE_CALLBACK_FAILED);
  const acd::v1::QueueInfo sales = center.Queue("sales");
  EXPECT_EQ(sales.callbacks_accepted(), 1u);
  EXPECT_EQ(sales.callbacks_gave_up(), 1u);
}

}  // namespace
}  // namespace acd::daemon::testing
