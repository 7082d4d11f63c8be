// The core on simulated time: calls entering and being offered, what a waiting caller hears and
// when, retries answered from the ledger, each switch's command numbering and what a reconnecting
// switch is sent, and that the same inputs at the same times give the same output.
#include "daemon/core.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// (switch, sequence) of each command.
std::vector<std::pair<std::string, uint64_t>> Numbering(const std::vector<OutgoingCommand>& out) {
  std::vector<std::pair<std::string, uint64_t>> numbers;
  for (const OutgoingCommand& c : out) numbers.emplace_back(c.switch_id, c.command->sequence());
  return numbers;
}

// ---------------------------------------------------------------------------------------------
// Calls entering.

TEST(Core, AnEnqueuedCallIsOfferedToTheFreeAgentAsACommandToItsSwitch) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Pass(absl::Seconds(7));
  acd::v1::EnqueueCallRequest request = SimulatedCenter::EnqueueRequest("c1", "sales");
  (*request.mutable_attributes())["language"] = "es";

  acd::v1::EnqueueCallResponse response = center.Enqueue(request);
  EXPECT_EQ(response.disposition(), acd::v1::EnqueueCallResponse::DISPOSITION_OFFERED);
  EXPECT_EQ(response.expected_wait_seconds(), 0)
      << "a caller who finds a free agent waits for nobody";

  std::vector<OutgoingCommand> commands = center.TakeCommands();
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(commands[0].switch_id, "sw1");
  const acd::v1::Command& offer = *commands[0].command;
  EXPECT_EQ(offer.sequence(), 1u);
  EXPECT_EQ(TimeOf(offer.at()), kStart + absl::Seconds(7)) << "stamped with the input's time";
  EXPECT_FALSE(offer.resent());
  ASSERT_TRUE(offer.has_offer_call()) << offer.DebugString();
  EXPECT_EQ(offer.offer_call().call_id(), "c1");
  EXPECT_EQ(offer.offer_call().agent_id(), "alice");
  EXPECT_EQ(offer.offer_call().queue(), "sales");
  EXPECT_EQ(offer.offer_call().offer_timeout_seconds(), 15) << "sales' offer_timeout_seconds";
  EXPECT_THAT(offer.offer_call().attributes(),
              UnorderedElementsAre(Pair("account", "ACME-42"), Pair("language", "es")));
  EXPECT_EQ(offer.offer_call().waited_seconds(), 0);
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_RESERVED);
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_OFFERED);
}

TEST(Core, ACallThatWaitedIsOfferedWithHowLongItWaited) {
  SimulatedCenter center;
  center.Enqueue("c1", "sales");
  center.TakeCommands();  // the entry prompt
  center.Pass(absl::Seconds(12));
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  const acd::v1::Command offer = center.TakeOffer();
  EXPECT_EQ(offer.offer_call().waited_seconds(), 12);
  EXPECT_EQ(TimeOf(offer.at()), kStart + absl::Seconds(12)) << "made when alice logged in";
}

TEST(Core, ACallerNobodyCanTakeIsQueuedGreetedAndHearsAnUpdateWhenItFallsDue) {
  SimulatedCenter center;
  EXPECT_EQ(center.Enqueue("c0", "sales").position(), 1);
  center.TakeCommands();
  center.Pass(absl::Seconds(5));

  acd::v1::EnqueueCallResponse response = center.Enqueue("c1", "sales");
  EXPECT_EQ(response.disposition(), acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED);
  EXPECT_EQ(response.position(), 2);
  const acd::v1::Command entry = center.TakeOnlyCommand();
  ASSERT_TRUE(entry.has_play_prompt()) << entry.DebugString();
  EXPECT_EQ(entry.play_prompt().kind(), acd::v1::PlayPrompt::KIND_ENTRY);
  EXPECT_EQ(entry.play_prompt().call_id(), "c1");
  EXPECT_EQ(entry.play_prompt().queue(), "sales");
  EXPECT_EQ(entry.play_prompt().position(), 2);
  EXPECT_EQ(entry.sequence(), 2u);
  EXPECT_EQ(TimeOf(entry.at()), kStart + absl::Seconds(5));

  // sales' update_interval_seconds is 30: c0's update is due at 30 s, c1's at 35 s.
  const absl::Time first_due = kStart + absl::Seconds(30);
  ASSERT_EQ(center.core().NextWakeup(), first_due);
  center.Wait(absl::Seconds(25) - absl::Milliseconds(1));
  EXPECT_TRUE(center.TakeCommands().empty()) << "nothing before it falls due";
  // The shell wakes late, at 40 s: both updates come out, each dated when it fell due.
  center.Wait(absl::Seconds(10) + absl::Milliseconds(1));
  std::vector<acd::v1::Command> updates = center.TakeCommandsOnly();
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].play_prompt().call_id(), "c0");
  EXPECT_EQ(updates[0].play_prompt().kind(), acd::v1::PlayPrompt::KIND_UPDATE);
  EXPECT_EQ(TimeOf(updates[0].at()), first_due);
  EXPECT_EQ(updates[1].play_prompt().call_id(), "c1");
  EXPECT_EQ(updates[1].play_prompt().kind(), acd::v1::PlayPrompt::KIND_UPDATE);
  EXPECT_EQ(TimeOf(updates[1].at()), kStart + absl::Seconds(35));
  EXPECT_EQ(center.core().NextWakeup(), first_due + absl::Seconds(30)) << "c0's next update";
  EXPECT_EQ(center.GetCall("c1").prompts_played(), 2u);
}

TEST(Core, AnUnansweredOfferIsWithdrawnAtTheQueuesOfferTimeout) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "support").ok());
  ASSERT_TRUE(center.Login("bob", "support", /*ready=*/false).ok());
  center.Enqueue("c1", "support");
  EXPECT_EQ(center.TakeOffer().offer_call().agent_id(), "alice");
  acd::v1::SetAgentStateRequest ready;
  ready.set_agent_id("bob");
  ready.mutable_ready();
  acd::v1::AgentInfo bob;
  ASSERT_TRUE(center.core().SetAgentState(ready, &bob, center.now()).ok());

  center.Wait(absl::Seconds(14));
  EXPECT_TRUE(center.TakeCommands().empty());
  center.Wait(absl::Seconds(1));
  std::vector<acd::v1::Command> commands = center.TakeCommandsOnly();
  ASSERT_EQ(commands.size(), 2u);
  ASSERT_TRUE(commands[0].has_cancel_offer()) << commands[0].DebugString();
  EXPECT_EQ(commands[0].cancel_offer().agent_id(), "alice");
  EXPECT_EQ(commands[0].cancel_offer().reason(), "no_answer");
  ASSERT_TRUE(commands[1].has_offer_call()) << commands[1].DebugString();
  EXPECT_EQ(commands[1].offer_call().agent_id(), "bob");
  EXPECT_EQ(commands[1].offer_call().waited_seconds(), 15);
  EXPECT_THAT(Story(center.GetCall("c1")),
              ElementsAre("enqueued", "offered", "offer_cancelled", "offered"));
}

TEST(Core, ASwitchListsItsLiveCallsInIdOrder) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Enqueue("c2", "sales");
  center.Enqueue("c3", "support");
  center.Enqueue("c1", "billing");
  center.Enqueue("elsewhere", "billing", "sw2");
  ASSERT_TRUE(center.Event("c3", "", Abandon).ok());
  acd::v1::ListCallsRequest request;
  request.set_switch_id("sw1");
  acd::v1::ListCallsResponse response;
  ASSERT_TRUE(center.core().ListCalls(request, &response, center.now()).ok());
  ASSERT_EQ(response.calls_size(), 2);
  EXPECT_EQ(response.calls(0).call_id(), "c1");
  EXPECT_EQ(response.calls(0).state(), acd::v1::CALL_STATE_WAITING);
  EXPECT_EQ(response.calls(1).call_id(), "c2");
  EXPECT_EQ(response.calls(1).state(), acd::v1::CALL_STATE_OFFERED);
  EXPECT_EQ(response.calls(1).agent_id(), "alice");
}

// The call ids of one ListCalls page of switch sw1, and the token it gives for the next.
std::pair<std::vector<std::string>, std::string> CallsPage(SimulatedCenter& center, int page_size,
                                                           const std::string& after) {
  acd::v1::ListCallsRequest request;
  request.set_switch_id("sw1");
  request.set_page_size(page_size);
  request.set_page_token(after);
  acd::v1::ListCallsResponse page;
  EXPECT_TRUE(center.core().ListCalls(request, &page, center.now()).ok());
  std::vector<std::string> ids;
  for (const acd::v1::CallInfo& call : page.calls()) ids.push_back(call.call_id());
  return {ids, page.next_page_token()};
}

TEST(Core, ListCallsComesInPagesByCallIdAndListsNoCallTwiceWhileCallsComeAndGo) {
  SimulatedCenter center;
  for (int i = 24; i >= 0; --i) center.Enqueue(absl::StrFormat("c%02d", i), "billing");
  center.Enqueue("elsewhere", "billing", "sw2");

  auto [first, after_first] = CallsPage(center, 10, "");
  EXPECT_THAT(first,
              ElementsAre("c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09"));
  EXPECT_EQ(after_first, "c09");
  // Between pages a call arrives after the token (listed), one before it (not: its page is
  // past), and one of the next page leaves (not listed).
  center.Enqueue("c095", "billing");
  center.Enqueue("c005", "billing");
  ASSERT_TRUE(center.Event("c12", "", Abandon).ok());
  auto [second, after_second] = CallsPage(center, 10, after_first);
  EXPECT_THAT(second,
              ElementsAre("c095", "c10", "c11", "c13", "c14", "c15", "c16", "c17", "c18", "c19"));
  auto [last, after_last] = CallsPage(center, 10, after_second);
  EXPECT_THAT(last, ElementsAre("c20", "c21", "c22", "c23", "c24"));
  EXPECT_EQ(after_last, "") << "the last page";
  // Exactly a page's worth left: that page is the last.
  EXPECT_EQ(CallsPage(center, 5, after_second).second, "");
}

TEST(Core, AListCallsPageIsAThousandCallsUnlessAskedAndNeverMoreThanTenThousand) {
  SimulatedCenter center;
  for (int i = 0; i <= Core::kMaxCallsPage; ++i) {
    center.Enqueue(absl::StrFormat("c%05d", i), "billing");
  }
  auto [unasked, after_unasked] = CallsPage(center, 0, "");
  EXPECT_EQ(unasked.size(), static_cast<size_t>(Core::kDefaultCallsPage));
  EXPECT_EQ(after_unasked, "c00999");
  auto [most, after_most] = CallsPage(center, 1'000'000, "");
  EXPECT_EQ(most.size(), static_cast<size_t>(Core::kMaxCallsPage));
  EXPECT_EQ(after_most, "c09999");
  EXPECT_EQ(CallsPage(center, 1'000'000, after_most),
            std::make_pair(std::vector<std::string>{"c10000"}, std::string()));
}

TEST(Core, AListCallsPageEndsOnceItHoldsAboutEightMegabytes) {
  SimulatedCenter center;
  constexpr int kCalls = 2500;  // about 20 KB each, about 50 MB in all
  for (int i = 0; i < kCalls; ++i) {
    acd::v1::EnqueueCallRequest request =
        SimulatedCenter::EnqueueRequest(absl::StrFormat("c%04d", i), "billing");
    for (int a = 0; a < 20; ++a) {
      (*request.mutable_attributes())[absl::StrCat("note", a)] = std::string(1000, 'n');
    }
    center.Enqueue(request);
  }
  acd::v1::ListCallsRequest request;
  request.set_switch_id("sw1");
  request.set_page_size(Core::kMaxCallsPage);
  int calls = 0, pages = 0;
  do {
    acd::v1::ListCallsResponse page;
    ASSERT_TRUE(center.core().ListCalls(request, &page, center.now()).ok());
    ++pages;
    calls += page.calls_size();
    // It ends with the call that took it past the bound (or with the last call).
    EXPECT_LT(page.ByteSizeLong(), Core::kCallsPageBytes + 25'000);
    if (!page.next_page_token().empty()) {
      EXPECT_GE(page.ByteSizeLong(), Core::kCallsPageBytes);
      EXPECT_EQ(page.next_page_token(), page.calls(page.calls_size() - 1).call_id());
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(calls, kCalls);
  EXPECT_GE(pages, 6) << "about 50 MB in pages of about 8 MB";
}

TEST(Core, WhileDrainingNewCallsAreRefusedButARetriedEnqueueIsAnswered) {
  SimulatedCenter center;
  const acd::v1::EnqueueCallResponse first = center.Enqueue("c1", "sales");
  center.core().BeginDrain();
  absl::Status refused;
  center.Enqueue(SimulatedCenter::EnqueueRequest("c2", "sales"), &refused);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnavailable);
  absl::Status retried;
  const acd::v1::EnqueueCallResponse again =
      center.Enqueue(SimulatedCenter::EnqueueRequest("c1", "sales"), &retried);
  EXPECT_TRUE(retried.ok()) << retried;
  EXPECT_EQ(DeterministicBytes(again), DeterministicBytes(first));
  EXPECT_EQ(center.Queue("sales").calls_waiting(), 1);
}

TEST(Core, ARetriedLoginIsAnsweredAndALoginWithOtherSettingsIsRefused) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Enqueue("c1", "sales");
  center.TakeCommands();
  ASSERT_TRUE(center.Login("alice", "sales").ok()) << "the same login again is a retry";
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_RESERVED) << "as it stands";
  EXPECT_EQ(center.Login("alice", "billing").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(center.TakeCommands().empty());
}

// ---------------------------------------------------------------------------------------------
// Retries answered from the ledger.

TEST(Core, ARetriedEnqueueGetsTheFirstAnswerAndMakesNoNewCommand) {
  SimulatedCenter center;
  const acd::v1::EnqueueCallResponse first = center.Enqueue("c1", "sales");
  EXPECT_EQ(first.disposition(), acd::v1::EnqueueCallResponse::DISPOSITION_QUEUED);
  center.Enqueue("c2", "sales");
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  EXPECT_EQ(center.TakeOffer().offer_call().call_id(), "c1");

  center.Pass(absl::Seconds(3));
  const acd::v1::EnqueueCallResponse again = center.Enqueue("c1", "sales");
  EXPECT_EQ(DeterministicBytes(again), DeterministicBytes(first)) << again.DebugString();
  EXPECT_TRUE(center.TakeCommands().empty());
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_OFFERED) << "still ringing alice";
  EXPECT_EQ(center.Queue("sales").calls_waiting(), 1) << "c2 alone waits: c1 was not added again";
}

TEST(Core, ACallIdInUseForAnotherCallIsRefusedAsAlreadyExisting) {
  SimulatedCenter center;
  center.Enqueue("c1", "sales");
  center.TakeCommands();

  absl::Status other_queue;
  center.Enqueue(SimulatedCenter::EnqueueRequest("c1", "billing"), &other_queue);
  EXPECT_EQ(other_queue.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(other_queue.message(), HasSubstr("a retry must repeat the request exactly"));
  absl::Status other_switch;
  center.Enqueue(SimulatedCenter::EnqueueRequest("c1", "sales", "sw2"), &other_switch);
  EXPECT_EQ(other_switch.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(other_switch.message(), HasSubstr("in use by switch 'sw1'"));

  EXPECT_TRUE(center.TakeCommands().empty());
  EXPECT_EQ(center.GetCall("c1").queue(), "sales");
  EXPECT_EQ(center.Queue("billing").calls_waiting(), 0);
}

TEST(Core, ARepeatedOfferAcceptedAnswersTheSameStateAndActsOnce) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Enqueue("c1", "sales");
  const uint64_t offer = center.TakeOffer().sequence();

  acd::v1::CallState state = acd::v1::CALL_STATE_UNSPECIFIED;
  ASSERT_TRUE(center.Event("c1", "alice", Accept, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);
  for (uint64_t sequence : {uint64_t{0}, offer}) {
    state = acd::v1::CALL_STATE_UNSPECIFIED;
    absl::Status retry = center.Event("c1", "alice", Accept, &state, sequence);
    EXPECT_TRUE(retry.ok()) << "offer_sequence " << sequence << ": " << retry;
    EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED) << "offer_sequence " << sequence;
  }
  EXPECT_THAT(Story(center.GetCall("c1")), ElementsAre("enqueued", "offered", "connected"));
  EXPECT_TRUE(center.TakeCommands().empty());

  ASSERT_TRUE(center.Event("c1", "alice", End, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_ENDED);
  ASSERT_TRUE(center.Event("c1", "alice", Accept, &state, offer).ok()) << "a late retry";
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED) << "the answer it got then";
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_WRAP_UP);
}

TEST(Core, AnAnswerNamingAnOfferThatIsOverIsRefusedEvenWhenTheSameAgentRingsAgain) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Enqueue("c1", "sales");
  const uint64_t first = center.TakeOffer().sequence();
  center.Wait(absl::Seconds(15));  // the offer times out; alice, the only agent, rings again
  const acd::v1::Command second = center.TakeOffer();
  ASSERT_EQ(second.offer_call().agent_id(), "alice");
  ASSERT_GT(second.sequence(), first);

  acd::v1::CallState state;
  absl::Status late = center.Event("c1", "alice", Accept, &state, first);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition) << late;
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_OFFERED) << "not taken for the new";
  ASSERT_TRUE(center.Event("c1", "alice", Accept, &state, second.sequence()).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);
}

TEST(Core, ARetriedRejectionNamingItsOfferIsAnsweredAsThenAndCountedOnce) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "support").ok());
  center.Enqueue("c1", "support");
  const uint64_t first = center.TakeOffer().sequence();
  acd::v1::CallState answered;
  ASSERT_TRUE(center.Event("c1", "alice", Reject, &answered, first).ok());
  const acd::v1::Command again = center.TakeOffer();  // alice, the only agent, rings again
  ASSERT_EQ(again.offer_call().agent_id(), "alice");

  acd::v1::CallState state = acd::v1::CALL_STATE_UNSPECIFIED;
  ASSERT_TRUE(center.Event("c1", "alice", Reject, &state, first).ok());
  EXPECT_EQ(state, answered);
  EXPECT_EQ(center.Agent("alice").missed_offers_in_a_row(), 1u) << "counted once";
  EXPECT_TRUE(center.TakeCommands().empty()) << "the new offer still rings";
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_OFFERED);
}

TEST(Core, AnEventAboutAnUnknownCallOrFromAnotherSwitchIsRefused) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Enqueue("c1", "sales");
  EXPECT_EQ(center.Event("ghost", "alice", Accept).code(), absl::StatusCode::kNotFound);
  absl::Status other = center.Event("c1", "alice", Accept, nullptr, 0, "sw2");
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(other.message(), HasSubstr("belongs to switch 'sw1'"));
  EXPECT_EQ(center.GetCall("c1").state(), acd::v1::CALL_STATE_OFFERED);
}

TEST(Core, ARefusedEventIsNotRememberedSoItsRepeatIsJudgedAfresh) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  center.Enqueue("c1", "sales");
  center.TakeCommands();
  // The switch reports the end before its delayed accept: refused, nothing happened.
  acd::v1::CallState state;
  EXPECT_EQ(center.Event("c1", "alice", End, &state).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(center.Event("c1", "alice", Accept, &state).ok());
  EXPECT_EQ(state, acd::v1::CALL_STATE_CONNECTED);
  ASSERT_TRUE(center.Event("c1", "alice", End, &state).ok()) << "the real end is not a replay";
  EXPECT_EQ(state, acd::v1::CALL_STATE_ENDED);
  EXPECT_EQ(center.Agent("alice").state(), acd::v1::AGENT_STATE_WRAP_UP);
}

// ---------------------------------------------------------------------------------------------
// Command numbering and reconnects.

TEST(Core, CommandsAreNumberedFromOnePerSwitchIndependentlyOfOtherSwitches) {
  SimulatedCenter center;
  center.Enqueue("a1", "sales", "sw1");
  center.Enqueue("b1", "sales", "sw2");
  center.Enqueue("a2", "sales", "sw1");
  ASSERT_TRUE(center.Login("alice", "sales").ok());  // a1, the longest waiting, is offered
  std::vector<OutgoingCommand> commands = center.TakeCommands();
  EXPECT_THAT(Numbering(commands),
              ElementsAre(Pair("sw1", 1u), Pair("sw2", 1u), Pair("sw1", 2u), Pair("sw1", 3u)));
  ASSERT_EQ(commands.size(), 4u);
  EXPECT_TRUE(commands[3].command->has_offer_call());
  EXPECT_EQ(commands[3].command->offer_call().call_id(), "a1");
}

TEST(Core, AReconnectingSwitchGetsItsUnwrittenCommandsThenItsOutstandingOffersResent) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  ASSERT_TRUE(center.Login("bob", "support").ok());
  center.Enqueue("c1", "sales");
  const acd::v1::Command delivered = center.TakeOffer();
  center.core().CommandWritten("sw1", delivered.sequence());
  center.Enqueue("c2", "support");  // offered, never written
  center.Enqueue("c3", "billing");  // nobody: an entry prompt, never written
  center.Enqueue("other", "billing", "sw2");
  center.TakeCommands();

  std::vector<acd::v1::Command> first = center.core().ReconnectSwitch("sw1");
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(first[0].sequence(), 2u);
  EXPECT_EQ(first[0].offer_call().call_id(), "c2");
  EXPECT_FALSE(first[0].resent()) << "never delivered: sent for the first time";
  EXPECT_EQ(first[1].sequence(), 3u);
  EXPECT_EQ(first[1].play_prompt().call_id(), "c3");
  EXPECT_FALSE(first[1].resent());
  EXPECT_EQ(first[2].sequence(), delivered.sequence()) << "a resent command keeps its number";
  EXPECT_TRUE(first[2].resent())
      << "written before, still outstanding: the switch may have lost it";
  acd::v1::Command as_delivered = first[2];
  as_delivered.clear_resent();
  EXPECT_EQ(DeterministicBytes(as_delivered), DeterministicBytes(delivered))
      << "the same offer, time stamp included";

  // The new stream writes what it got; the next reconnect only resends the outstanding offers.
  for (const acd::v1::Command& c : first) center.core().CommandWritten("sw1", c.sequence());
  std::vector<acd::v1::Command> second = center.core().ReconnectSwitch("sw1");
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].sequence(), 1u);
  EXPECT_EQ(second[1].sequence(), 2u);
  EXPECT_TRUE(second[0].resent() && second[1].resent());

  center.Enqueue("c4", "billing");
  std::vector<OutgoingCommand> next = center.TakeCommands();
  EXPECT_THAT(Numbering(next), ElementsAre(Pair("sw1", 4u))) << "numbers go on; none is reused";
}

TEST(Core, AnOfferAnsweredOrWithdrawnMeanwhileIsNotResent) {
  SimulatedCenter center;
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  ASSERT_TRUE(center.Login("bob", "support").ok());
  ASSERT_TRUE(center.Login("carol", "billing").ok());
  center.Enqueue("answered", "sales");
  center.Enqueue("withdrawn", "support");
  center.Enqueue("unwritten", "billing");
  std::vector<acd::v1::Command> offers = center.TakeCommandsOnly();
  ASSERT_EQ(offers.size(), 3u);
  center.core().CommandWritten("sw1", offers[0].sequence());
  center.core().CommandWritten("sw1", offers[1].sequence());

  ASSERT_TRUE(center.Event("answered", "alice", Accept).ok());
  acd::v1::LogoutRequest logout;
  logout.set_agent_id("bob");
  ASSERT_TRUE(center.core().Logout(logout, center.now()).ok());  // the call waits again
  ASSERT_TRUE(center.Event("unwritten", "", Abandon).ok());  // the caller hangs up while it rings
  std::vector<uint64_t> cancels;
  std::vector<acd::v1::Command> since = center.TakeCommandsOnly();
  ASSERT_FALSE(since.empty());
  EXPECT_EQ(since[0].sequence(), 4u) << "the taken-back offer's number 3 is not reused";
  for (const acd::v1::Command& c : since) {
    if (c.has_cancel_offer()) cancels.push_back(c.sequence());
  }
  ASSERT_EQ(cancels.size(), 2u);
  EXPECT_EQ(center.GetCall("withdrawn").state(), acd::v1::CALL_STATE_WAITING);

  std::vector<uint64_t> cancels_again;
  for (const acd::v1::Command& c : center.core().ReconnectSwitch("sw1")) {
    EXPECT_FALSE(c.has_offer_call()) << "resent an offer that is over: " << c.DebugString();
    EXPECT_FALSE(c.resent());
    if (c.has_cancel_offer()) cancels_again.push_back(c.sequence());
  }
  EXPECT_EQ(cancels_again, cancels);
}

// ---------------------------------------------------------------------------------------------
// Determinism.

// A morning at a small center: logins, calls on two switches, offers answered, rejected and
// timing out, holds, a transfer, a caller hanging up, a fallback by max wait, a reconnect. Every
// command and every reconnect's delivery goes into `stream`.
void RunMorning(SimulatedCenter& center, std::vector<std::string>* stream) {
  auto drain = [&] {
    for (const OutgoingCommand& c : center.TakeCommands()) {
      stream->push_back(c.switch_id + ":" + DeterministicBytes(*c.command));
    }
  };
  auto step = [&](double seconds) {
    center.Wait(absl::Seconds(seconds));
    drain();
  };
  ASSERT_TRUE(center.Login("alice", "sales").ok());
  ASSERT_TRUE(center.Login("bob", "support").ok());
  for (int i = 0; i < 6; ++i) {
    const char* queue[] = {"sales", "support", "billing"};
    acd::v1::EnqueueCallRequest request = SimulatedCenter::EnqueueRequest(
        "call-" + std::to_string(i), queue[i % 3], i % 2 == 0 ? "sw1" : "sw2");
    (*request.mutable_attributes())["order"] = std::to_string(100 + i);
    (*request.mutable_attributes())["segment"] = i % 2 ? "retail" : "business";
    center.Enqueue(request);
    step(2.5);
  }
  (void)center.Event("call-0", "alice", Accept, nullptr, 0, "sw1");
  (void)center.Event("call-1", "bob", Reject, nullptr, 0, "sw2");
  step(16);  // bob's next offer times out
  (void)center.Event("call-0", "alice", Hold(20, "h1"), nullptr, 0, "sw1");
  step(45);  // overrun and a reminder
  (void)center.Event("call-0", "alice", Unhold("h1"), nullptr, 0, "sw1");
  ASSERT_TRUE(center.Login("carol", "billing").ok());
  (void)center.Event("call-0", "alice", TransferTo("billing", false), nullptr, 0, "sw1");
  drain();
  for (const acd::v1::Command& c : center.core().ReconnectSwitch("sw2")) {
    stream->push_back("reconnect sw2:" + DeterministicBytes(c));
  }
  (void)center.Event("call-3", "", Abandon, nullptr, 0, "sw2");
  step(130);  // billing's max wait sends what still waits there to its fallback
  for (const std::string id : {"call-2", "call-4", "call-5"}) {
    (void)center.Event(id, "carol", Accept, nullptr, 0, id == "call-4" ? "sw1" : "sw2");
  }
  step(60);
}

// Compared as DeterministicBytes: plain SerializeAsString does not promise equal bytes for equal
// messages with maps (attributes, prompts_played), whose order protobuf seeds per instance.
TEST(Core, TheSameInputsAtTheSameTimesGiveByteIdenticalCommandsAndAnswers) {
  SimulatedCenter one, two;
  std::vector<std::string> stream_one, stream_two;
  RunMorning(one, &stream_one);
  RunMorning(two, &stream_two);
  EXPECT_GT(stream_one.size(), 20u) << "the morning made a real stream";
  EXPECT_EQ(stream_one, stream_two);
  for (int i = 0; i < 6; ++i) {
    const std::string id = "call-" + std::to_string(i);
    const acd::v1::CallInfo a = one.GetCall(id);
    EXPECT_EQ(DeterministicBytes(a), DeterministicBytes(two.GetCall(id))) << a.DebugString();
  }
  acd::v1::ListQueuesResponse queues_one, queues_two;
  ASSERT_TRUE(one.core().ListQueues(&queues_one, one.now()).ok());
  ASSERT_TRUE(two.core().ListQueues(&queues_two, two.now()).ok());
  EXPECT_EQ(DeterministicBytes(queues_one), DeterministicBytes(queues_two));
}

}  // namespace
}  // namespace acd::daemon::testing
