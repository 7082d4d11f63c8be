// Whole-process tests of what the caller hears and the call flows around it: update prompts on
// the queue's cadence, hold reminders and overrun flags, a warm transfer carrying the call's
// context, and a callback with its retries. The real acdd runs on the engine's own clock, so these
// tests wait for real seconds (the policy's shortest allowed intervals, 10 s).
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/acdd_process.h"
#include "tests/integration/center.h"
#include "tests/integration/http_get.h"

namespace acd::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

std::string CallerPolicy() {
  return std::string(ACD_SOURCE_DIR) + "/tests/integration/testdata/caller.yaml";
}

double SecondsBetween(const acd::v1::Command& earlier, const acd::v1::Command& later) {
  return (later.at().seconds() - earlier.at().seconds()) +
         (later.at().nanos() - earlier.at().nanos()) / 1e9;
}

TEST(CallerExperience, AWaitingCallerHearsAnUpdateEveryIntervalWithPositionOnlyWhenItImproved) {
  AcddProcess acdd({"--policy", CallerPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  center.Enqueue("first", "care");
  acd::v1::EnqueueCallResponse second = center.Enqueue("second", "care");
  EXPECT_EQ(second.position(), 2);

  std::optional<acd::v1::Command> entry1 = commands.NextPrompt();
  std::optional<acd::v1::Command> entry2 = commands.NextPrompt();
  ASSERT_TRUE(entry1 && entry2);
  EXPECT_EQ(entry1->play_prompt().call_id(), "first");
  EXPECT_EQ(entry2->play_prompt().call_id(), "second");
  EXPECT_EQ(entry2->play_prompt().kind(), acd::v1::PlayPrompt::KIND_ENTRY);
  EXPECT_EQ(entry2->play_prompt().position(), 2) << "acknowledged at once with its position";
  EXPECT_EQ(entry2->play_prompt().queue(), "care");

  // The first caller hangs up: the second moves up to position 1.
  ASSERT_TRUE(center.Event("first", "", Abandon).ok());

  std::optional<acd::v1::Command> update1 = commands.NextPrompt(15s);
  ASSERT_TRUE(update1 && update1->has_play_prompt());
  EXPECT_EQ(update1->play_prompt().call_id(), "second");
  EXPECT_EQ(update1->play_prompt().kind(), acd::v1::PlayPrompt::KIND_UPDATE);
  EXPECT_EQ(update1->play_prompt().position(), 1) << "it improved: announce it";
  EXPECT_NEAR(SecondsBetween(*entry2, *update1), 10, 1.0) << "update_interval_seconds: 10";

  std::optional<acd::v1::Command> update2 = commands.NextPrompt(15s);
  ASSERT_TRUE(update2 && update2->has_play_prompt());
  EXPECT_EQ(update2->play_prompt().kind(), acd::v1::PlayPrompt::KIND_UPDATE);
  EXPECT_EQ(update2->play_prompt().position(), 0) << "unchanged since the last prompt: not repeated";
  EXPECT_NEAR(SecondsBetween(*update1, *update2), 10, 1.0);

  acd::v1::QueueInfo care = center.Queue("care");
  EXPECT_EQ(care.prompts_played().at("entry"), 2u);
  EXPECT_EQ(care.prompts_played().at("update"), 2u);
  EXPECT_EQ(care.prompts_played().at("callback_offer"), 0u) << "care offers no callbacks";
  EXPECT_EQ(center.GetCall("second").prompts_played(), 3u);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(CallerExperience, AHeldCallerAndTheAgentAreRemindedAndAnOverrunIsFlagged) {
  AcddProcess acdd({"--policy", CallerPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("agent", "sales").ok());
  center.Enqueue("c1", "sales");
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("c1", "agent", Accept).ok());
  ASSERT_TRUE(center.Event("c1", "agent", [](acd::v1::CallEvent* e) {
    e->mutable_hold_started()->set_caller_consented(true);
    e->mutable_hold_started()->set_reason("checking_account");
    e->mutable_hold_started()->set_expected_seconds(4);
  }).ok());

  std::optional<acd::v1::Command> overrun = commands.NextPrompt(8s);
  ASSERT_TRUE(overrun && overrun->has_hold_overrun()) << (overrun ? overrun->DebugString() : "");
  EXPECT_EQ(overrun->hold_overrun().reason(), "expected");
  EXPECT_EQ(overrun->hold_overrun().agent_id(), "agent");
  EXPECT_NEAR(overrun->hold_overrun().held_seconds(), 4, 0.5);

  // At 10 s on hold: the caller hears a reminder and the agent is reminded too.
  std::optional<acd::v1::Command> first = commands.NextPrompt(10s);
  std::optional<acd::v1::Command> second = commands.NextPrompt(1s);
  ASSERT_TRUE(first && second);
  const acd::v1::Command& to_caller = first->has_play_prompt() ? *first : *second;
  const acd::v1::Command& to_agent = first->has_hold_reminder() ? *first : *second;
  ASSERT_TRUE(to_caller.has_play_prompt());
  ASSERT_TRUE(to_agent.has_hold_reminder());
  EXPECT_EQ(to_caller.play_prompt().kind(), acd::v1::PlayPrompt::KIND_HOLD_REMINDER);
  EXPECT_NEAR(to_caller.play_prompt().held_seconds(), 10, 1.0);
  EXPECT_EQ(to_agent.hold_reminder().agent_id(), "agent");
  EXPECT_EQ(to_agent.hold_reminder().expected_seconds(), 4);
  EXPECT_NEAR(SecondsBetween(*overrun, to_agent), 6, 1.0);

  ASSERT_TRUE(center.Event("c1", "agent", [](acd::v1::CallEvent* e) { e->mutable_hold_ended(); }).ok());
  acd::v1::CallInfo info = center.GetCall("c1");
  EXPECT_FALSE(info.on_hold());
  EXPECT_EQ(info.hold_count(), 1u);
  EXPECT_GE(info.hold_seconds(), 10);
  EXPECT_EQ(center.Queue("sales").hold_overruns(), 1u);
  // The next reminder would have come at 20 s on hold.
  EXPECT_EQ(commands.NextPrompt(11s), std::nullopt) << "no reminders once the hold ended";
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(CallerExperience, AWarmTransferKeepsTheFirstAgentUntilTheNextAcceptsAndCarriesTheContext) {
  AcddProcess acdd({"--policy", CallerPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  center.Enqueue("c1", "sales");
  std::optional<acd::v1::Command> first_offer = commands.Next();
  ASSERT_TRUE(first_offer && first_offer->has_offer_call());
  ASSERT_TRUE(center.Event("c1", "seller", Accept).ok());

  auto consult = [](acd::v1::CallEvent* e) {
    e->mutable_consult_transfer_requested()->set_queue("support");
    e->mutable_consult_transfer_requested()->set_reason("router will not boot");
    e->mutable_consult_transfer_requested()->set_notes("model X200, already power-cycled twice");
  };
  ASSERT_TRUE(center.Event("c1", "seller", consult).ok());
  EXPECT_TRUE(center.Event("c1", "seller", consult).ok()) << "a repeat is a retry";
  EXPECT_EQ(center.Agent("seller").state(), acd::v1::AGENT_STATE_BUSY)
      << "the first agent stays with the caller while acd finds the next one";
  acd::v1::CallInfo consulting = center.GetCall("c1");
  EXPECT_EQ(consulting.consulting_agent(), "seller");
  EXPECT_EQ(consulting.queue(), "support");

  ASSERT_TRUE(center.Login("fixer", "support").ok());
  std::optional<acd::v1::Command> offer = commands.Next();
  ASSERT_TRUE(offer && offer->has_offer_call()) << (offer ? offer->DebugString() : "");
  EXPECT_EQ(offer->offer_call().agent_id(), "fixer");
  const acd::v1::CallContext& context = offer->offer_call().context();
  EXPECT_EQ(context.transfers(), 1u);
  EXPECT_THAT(context.previous_queues(), ElementsAre("sales"));
  EXPECT_THAT(context.previous_agents(), ElementsAre("seller"));
  EXPECT_EQ(context.transfer_reason(), "router will not boot");
  EXPECT_THAT(context.notes(), ElementsAre("model X200, already power-cycled twice"));
  EXPECT_EQ(offer->offer_call().attributes().at("account"), "ACME-42");
  EXPECT_EQ(center.Agent("seller").state(), acd::v1::AGENT_STATE_BUSY) << "still until accepted";

  ASSERT_TRUE(center.Event("c1", "fixer", Accept, nullptr, offer->sequence()).ok());
  std::optional<acd::v1::Command> complete = commands.Next();
  ASSERT_TRUE(complete && complete->has_complete_transfer()) << (complete ? complete->DebugString() : "");
  EXPECT_EQ(complete->complete_transfer().call_id(), "c1");
  EXPECT_EQ(complete->complete_transfer().agent_id(), "fixer");
  EXPECT_EQ(complete->complete_transfer().from_agent_id(), "seller");
  EXPECT_NE(center.Agent("seller").state(), acd::v1::AGENT_STATE_BUSY) << "released";
  acd::v1::CallInfo info = center.GetCall("c1");
  EXPECT_EQ(info.state(), acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(info.agent_id(), "fixer");
  EXPECT_EQ(info.consulting_agent(), "");
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

// A Prometheus counter's value in a scrape, or -1 when the series is missing.
double Counter(const std::string& scrape, const std::string& series) {
  const size_t at = scrape.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(scrape.substr(at + series.size() + 2));
}

TEST(CallerExperience, TheFirstAgentCanHoldCancelAndConsultAgainAndNoAnswerIsCountedForIt) {
  AcddProcess acdd({"--policy", CallerPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("seller", "sales").ok());
  ASSERT_TRUE(center.Login("fixer", "support").ok());
  ASSERT_TRUE(center.Login("second", "support").ok());
  center.Enqueue("c1", "sales");
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("c1", "seller", Accept).ok());
  auto consult = [](acd::v1::CallEvent* e) {
    e->mutable_consult_transfer_requested()->set_queue("support");
    e->mutable_consult_transfer_requested()->set_reason("modem");
  };
  ASSERT_TRUE(center.Event("c1", "seller", consult).ok());
  std::optional<acd::v1::Command> first = commands.Next();
  ASSERT_TRUE(first && first->has_offer_call());
  // The caller is still with the seller, who puts them on hold while the offer rings.
  auto hold = [](acd::v1::CallEvent* e) { e->mutable_hold_started()->set_caller_consented(true); };
  auto unhold = [](acd::v1::CallEvent* e) { e->mutable_hold_ended(); };
  EXPECT_TRUE(center.Event("c1", "seller", hold).ok());
  EXPECT_EQ(center.Event("c1", first->offer_call().agent_id(), unhold).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION) << "the ringing agent does not hold the caller";
  EXPECT_TRUE(center.Event("c1", "seller", unhold).ok());

  ASSERT_TRUE(center.Event("c1", "seller", [](acd::v1::CallEvent* e) {
    e->mutable_consult_cancelled();
  }).ok());
  std::optional<acd::v1::Command> cancel = commands.Next();
  ASSERT_TRUE(cancel && cancel->has_cancel_offer());
  EXPECT_EQ(cancel->cancel_offer().reason(), "consult_cancelled");
  acd::v1::CallInfo back = center.GetCall("c1");
  EXPECT_EQ(back.state(), acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(back.agent_id(), "seller");
  EXPECT_EQ(back.context().transfers(), 0u) << "a cancelled consult transferred nothing";

  ASSERT_TRUE(center.Event("c1", "seller", consult).ok()) << "a second consult is a new one";
  std::optional<acd::v1::Command> again = commands.Next();
  ASSERT_TRUE(again && again->has_offer_call()) << "the second consult makes a new offer";
  EXPECT_EQ(again->offer_call().context().transfers(), 1u);
  ASSERT_TRUE(center.Event("c1", again->offer_call().agent_id(), Accept, nullptr,
                           again->sequence()).ok());
  std::optional<acd::v1::Command> complete = commands.Next();
  ASSERT_TRUE(complete && complete->has_complete_transfer());

  std::optional<HttpResponse> scrape = HttpGet(acdd.http_address(), "/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_EQ(Counter(scrape->body, "acd_calls_total{queue=\"sales\",outcome=\"answered\"}"), 1);
  EXPECT_EQ(Counter(scrape->body, "acd_calls_total{queue=\"support\",outcome=\"answered\"}"), 0)
      << "a caller taken over in a warm transfer did not wait in support's line";
  EXPECT_EQ(Counter(scrape->body, "acd_transfers_total{queue=\"sales\",kind=\"warm\"}"), 2);
  EXPECT_EQ(Counter(scrape->body, "acd_hold_seconds_count{queue=\"sales\"}"), 1);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(CallerExperience, ACallbackKeepsThePlaceDialsOutWhenReachedRetriesAndGivesUp) {
  AcddProcess acdd({"--policy", CallerPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");
  ASSERT_TRUE(center.Login("agent", "sales").ok());
  // One call of about a second teaches the queue its handle time.
  center.Enqueue("warmup", "sales");
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("warmup", "agent", Accept).ok());
  std::this_thread::sleep_for(1s);
  ASSERT_TRUE(center.Event("warmup", "agent", End).ok());

  center.Enqueue("busy", "sales");  // the agent takes this one...
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("busy", "agent", Accept).ok());
  acd::v1::EnqueueCallResponse queued = center.Enqueue("caller", "sales");  // ...so this one waits
  EXPECT_GT(queued.expected_wait_seconds(), 0.5);

  // The wait is over the queue's 0.5 s threshold: the entry prompt comes with a callback offer.
  std::optional<acd::v1::Command> entry = commands.NextPrompt();
  std::optional<acd::v1::Command> callback_offer = commands.NextPrompt();
  ASSERT_TRUE(entry && callback_offer);
  EXPECT_EQ(entry->play_prompt().kind(), acd::v1::PlayPrompt::KIND_ENTRY);
  EXPECT_EQ(callback_offer->play_prompt().kind(), acd::v1::PlayPrompt::KIND_CALLBACK_OFFER);
  EXPECT_EQ(callback_offer->play_prompt().call_id(), "caller");

  ASSERT_TRUE(center.Event("caller", "", [](acd::v1::CallEvent* e) {
    e->mutable_callback_accepted()->set_number("+15550100");
  }).ok());
  acd::v1::CallInfo waiting = center.GetCall("caller");
  EXPECT_TRUE(waiting.callback());
  EXPECT_EQ(waiting.callback_number(), "+15550100") << "shown to an admin (no tokens: everyone)";
  ASSERT_FALSE(waiting.history().empty());
  EXPECT_EQ(waiting.history().rbegin()->what(), "callback_accepted");
  EXPECT_EQ(waiting.history().rbegin()->detail(), "another number")
      << "the number itself is only in callback_number";
  EXPECT_EQ(waiting.position(), 1) << "the caller left the line but kept the place";
  EXPECT_EQ(center.Queue("sales").callbacks_waiting(), 1);

  // The agent frees up: acd reserves them and has the switch dial the customer back.
  ASSERT_TRUE(center.Event("busy", "agent", End).ok());
  std::optional<acd::v1::Command> start = commands.Next();
  ASSERT_TRUE(start && start->has_start_callback()) << (start ? start->DebugString() : "");
  EXPECT_EQ(start->start_callback().agent_id(), "agent");
  EXPECT_EQ(start->start_callback().number(), "+15550100");
  EXPECT_EQ(start->start_callback().attempt(), 1);
  ASSERT_TRUE(center.Event("caller", "agent", Accept, nullptr, start->sequence()).ok());
  acd::v1::CallState state;
  ASSERT_TRUE(center.Event("caller", "agent", [](acd::v1::CallEvent* e) {
    e->mutable_callback_not_reached()->set_reason("no_answer");
  }, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_CALLBACK_PENDING);
  EXPECT_EQ(center.Agent("agent").state(), acd::v1::AGENT_STATE_READY) << "free at once";

  // retry_interval_seconds: 10, then the second and last attempt.
  std::optional<acd::v1::Command> retry = commands.Next(15s);
  ASSERT_TRUE(retry && retry->has_start_callback()) << (retry ? retry->DebugString() : "");
  EXPECT_EQ(retry->start_callback().attempt(), 2);
  EXPECT_NEAR(SecondsBetween(*start, *retry), 10, 1.5);
  ASSERT_TRUE(center.Event("caller", "agent", Accept, nullptr, retry->sequence()).ok());
  ASSERT_TRUE(center.Event("caller", "agent", [](acd::v1::CallEvent* e) {
    e->mutable_callback_not_reached()->set_reason("busy");
  }).ok());
  std::optional<acd::v1::Command> gave_up = commands.Next();
  ASSERT_TRUE(gave_up && gave_up->has_callback_gave_up()) << (gave_up ? gave_up->DebugString() : "");
  EXPECT_EQ(gave_up->callback_gave_up().attempts(), 2);
  EXPECT_EQ(center.GetCall("caller").state(), acd::v1::CALL_STATE_CALLBACK_FAILED);
  acd::v1::QueueInfo sales = center.Queue("sales");
  EXPECT_EQ(sales.callbacks_accepted(), 1u);
  EXPECT_EQ(sales.callbacks_gave_up(), 1u);
  EXPECT_EQ(sales.calls_waiting(), 0);
  std::optional<HttpResponse> scrape = HttpGet(acdd.http_address(), "/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_EQ(Counter(scrape->body, "acd_calls_total{queue=\"sales\",outcome=\"callback\"}"), 1);
  EXPECT_EQ(Counter(scrape->body, "acd_calls_total{queue=\"sales\",outcome=\"answered\"}"), 2)
      << "warmup and busy; the callback customer was never in line when reached";
  EXPECT_EQ(Counter(scrape->body, "acd_callbacks_total{queue=\"sales\",outcome=\"started\"}"), 2);
  EXPECT_EQ(Counter(scrape->body, "acd_callbacks_total{queue=\"sales\",outcome=\"gave_up\"}"), 1);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace acd::testing
