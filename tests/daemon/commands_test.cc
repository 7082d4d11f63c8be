// CommandFor: each router decision as the acd.v1.Command its switch receives, carrying the facts
// handed in; the decisions the switch is not told about make none.
#include "daemon/commands.h"

#include <optional>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

using routing::Decision;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

// The facts an offer carries: the caller's attributes, a transfer in its context, 42 s waited.
struct OfferFacts {
  OfferFacts() : request(SimulatedCenter::EnqueueRequest("c1", "sales")) {
    (*request.mutable_attributes())["language"] = "es";
    context.set_transfers(1);
    context.add_previous_queues("support");
    context.add_previous_agents("fixer");
    context.set_transfer_reason("wants to buy");
    facts = CommandFacts{.request = &request,
                         .context = &context,
                         .waited = absl::Seconds(42),
                         .offer_timeout = absl::Seconds(15),
                         .callback_number = "+15550100"};
  }
  acd::v1::EnqueueCallRequest request;
  acd::v1::CallContext context;
  CommandFacts facts;
};

acd::v1::Command Built(const Decision& decision, const CommandFacts& facts = {}) {
  std::optional<acd::v1::Command> command = CommandFor(decision, facts);
  if (!command) {
    ADD_FAILURE() << "no command";
    return {};
  }
  EXPECT_EQ(command->sequence(), 0u) << "numbering is the outbox's job";
  EXPECT_FALSE(command->has_at()) << "so is the time stamp";
  return *command;
}

TEST(CommandFor, AnOfferCarriesTheCallersAttributesContextWaitAndOfferTimeout) {
  OfferFacts given;
  const acd::v1::Command command = Built(Decision{.kind = Decision::Kind::kOfferCall,
                                                  .call_id = "c1",
                                                  .agent_id = "alice",
                                                  .queue = "sales"},
                                         given.facts);
  ASSERT_TRUE(command.has_offer_call());
  const acd::v1::OfferCall& offer = command.offer_call();
  EXPECT_EQ(offer.call_id(), "c1");
  EXPECT_EQ(offer.agent_id(), "alice");
  EXPECT_EQ(offer.queue(), "sales");
  EXPECT_EQ(offer.offer_timeout_seconds(), 15);
  EXPECT_EQ(offer.waited_seconds(), 42);
  EXPECT_THAT(offer.attributes(),
              UnorderedElementsAre(Pair("account", "ACME-42"), Pair("language", "es")));
  EXPECT_EQ(offer.context().transfers(), 1u);
  EXPECT_THAT(offer.context().previous_agents(), ElementsAre("fixer"));
  EXPECT_EQ(offer.context().transfer_reason(), "wants to buy");
  EXPECT_EQ(ReservedCallId(command) ? *ReservedCallId(command) : "", "c1");
  EXPECT_EQ(ReservedAgentId(command) ? *ReservedAgentId(command) : "", "alice");
}

TEST(CommandFor, ACallbacksStartCarriesTheOffersFactsTheNumberAndTheAttempt) {
  OfferFacts given;
  const acd::v1::Command command = Built(Decision{.kind = Decision::Kind::kStartCallback,
                                                  .call_id = "c1",
                                                  .agent_id = "bob",
                                                  .queue = "sales",
                                                  .attempt = 2},
                                         given.facts);
  ASSERT_TRUE(command.has_start_callback());
  const acd::v1::StartCallback& start = command.start_callback();
  EXPECT_EQ(start.agent_id(), "bob");
  EXPECT_EQ(start.number(), "+15550100");
  EXPECT_EQ(start.attempt(), 2);
  EXPECT_EQ(start.offer_timeout_seconds(), 15);
  EXPECT_EQ(start.waited_seconds(), 42);
  EXPECT_EQ(start.attributes().at("account"), "ACME-42");
  EXPECT_EQ(start.context().transfers(), 1u);
  EXPECT_EQ(ReservedCallId(command) ? *ReservedCallId(command) : "", "c1");
  EXPECT_EQ(ReservedAgentId(command) ? *ReservedAgentId(command) : "", "bob");
}

TEST(CommandFor, AnOfferWithoutARequestOrContextCarriesNone) {
  const acd::v1::Command command =
      Built(Decision{.kind = Decision::Kind::kOfferCall, .call_id = "c1", .agent_id = "alice"});
  EXPECT_TRUE(command.offer_call().attributes().empty());
  EXPECT_FALSE(command.offer_call().has_context());
}

TEST(CommandFor, ACancelledOfferNamesTheAgentAndWhy) {
  const acd::v1::Command command = Built(Decision{.kind = Decision::Kind::kCancelOffer,
                                                  .call_id = "c1",
                                                  .agent_id = "alice",
                                                  .reason = "no_answer"});
  ASSERT_TRUE(command.has_cancel_offer());
  EXPECT_EQ(command.cancel_offer().call_id(), "c1");
  EXPECT_EQ(command.cancel_offer().agent_id(), "alice");
  EXPECT_EQ(command.cancel_offer().reason(), "no_answer");
  EXPECT_EQ(ReservedCallId(command), nullptr) << "a cancel reserves nobody";
  EXPECT_EQ(ReservedAgentId(command), nullptr);
}

TEST(CommandFor, AFallbackNamesTheQueueTargetAndReason) {
  const acd::v1::Command command = Built(Decision{.kind = Decision::Kind::kSendToFallback,
                                                  .call_id = "c1",
                                                  .queue = "billing",
                                                  .target = "voicemail:billing",
                                                  .reason = "max_wait"});
  ASSERT_TRUE(command.has_send_to_fallback());
  EXPECT_EQ(command.send_to_fallback().call_id(), "c1");
  EXPECT_EQ(command.send_to_fallback().queue(), "billing");
  EXPECT_EQ(command.send_to_fallback().target(), "voicemail:billing");
  EXPECT_EQ(command.send_to_fallback().reason(), "max_wait");
}

TEST(CommandFor, APromptSaysWhatTheRulesLetTheCallerHear) {
  const acd::v1::Command update = Built(Decision{.kind = Decision::Kind::kPlayPrompt,
                                                 .call_id = "c1",
                                                 .queue = "sales",
                                                 .prompt = routing::PromptKind::kUpdate,
                                                 .position = 3,
                                                 .expected_wait = absl::Seconds(1200),
                                                 .wait_over_cap = true});
  ASSERT_TRUE(update.has_play_prompt());
  EXPECT_EQ(update.play_prompt().kind(), acd::v1::PlayPrompt::KIND_UPDATE);
  EXPECT_EQ(update.play_prompt().queue(), "sales");
  EXPECT_EQ(update.play_prompt().position(), 3);
  EXPECT_EQ(update.play_prompt().expected_wait_seconds(), 1200);
  EXPECT_TRUE(update.play_prompt().wait_over_cap());

  const acd::v1::Command unknown = Built(Decision{
      .kind = Decision::Kind::kPlayPrompt, .call_id = "c1", .prompt = routing::PromptKind::kEntry});
  EXPECT_EQ(unknown.play_prompt().kind(), acd::v1::PlayPrompt::KIND_ENTRY);
  EXPECT_EQ(unknown.play_prompt().position(), 0) << "0: do not announce the position";
  EXPECT_EQ(unknown.play_prompt().expected_wait_seconds(), -1) << "-1: do not announce the wait";

  const acd::v1::Command held = Built(Decision{.kind = Decision::Kind::kPlayPrompt,
                                               .call_id = "c1",
                                               .prompt = routing::PromptKind::kHoldReminder,
                                               .held = absl::Seconds(40)});
  EXPECT_EQ(held.play_prompt().kind(), acd::v1::PlayPrompt::KIND_HOLD_REMINDER);
  EXPECT_EQ(held.play_prompt().held_seconds(), 40);
  EXPECT_EQ(Built(Decision{.kind = Decision::Kind::kPlayPrompt,
                           .prompt = routing::PromptKind::kCallbackOffer})
                .play_prompt()
                .kind(),
            acd::v1::PlayPrompt::KIND_CALLBACK_OFFER);
}

TEST(CommandFor, AHoldReminderTellsTheAgentHowLongAndWhatTheCallerWasTold) {
  const acd::v1::Command command = Built(Decision{.kind = Decision::Kind::kHoldReminder,
                                                  .call_id = "c1",
                                                  .agent_id = "alice",
                                                  .held = absl::Seconds(80),
                                                  .hold_expected = absl::Seconds(60)},
                                         CommandFacts{});
  ASSERT_TRUE(command.has_hold_reminder());
  EXPECT_EQ(command.hold_reminder().call_id(), "c1");
  EXPECT_EQ(command.hold_reminder().agent_id(), "alice");
  EXPECT_EQ(command.hold_reminder().held_seconds(), 80);
  EXPECT_EQ(command.hold_reminder().expected_seconds(), 60);
}

TEST(CommandFor, AHoldOverrunSaysHowLongAndWhichLimit) {
  const acd::v1::Command command = Built(Decision{.kind = Decision::Kind::kHoldOverrun,
                                                  .call_id = "c1",
                                                  .agent_id = "alice",
                                                  .reason = "max",
                                                  .held = absl::Seconds(300)});
  ASSERT_TRUE(command.has_hold_overrun());
  EXPECT_EQ(command.hold_overrun().agent_id(), "alice");
  EXPECT_EQ(command.hold_overrun().held_seconds(), 300);
  EXPECT_EQ(command.hold_overrun().reason(), "max");
}

TEST(CommandFor, AGivenUpCallbackSaysHowManyAttemptsWereMade) {
  const acd::v1::Command command = Built(Decision{
      .kind = Decision::Kind::kCallbackGaveUp, .call_id = "c1", .queue = "sales", .attempt = 3});
  ASSERT_TRUE(command.has_callback_gave_up());
  EXPECT_EQ(command.callback_gave_up().queue(), "sales");
  EXPECT_EQ(command.callback_gave_up().attempts(), 3);
}

TEST(CommandFor, ACompletedWarmTransferNamesTheNewAgentAndTheOneReleased) {
  const acd::v1::Command command = Built(Decision{.kind = Decision::Kind::kTransferCompleted,
                                                  .call_id = "c1",
                                                  .agent_id = "fixer",
                                                  .from_agent = "seller"});
  ASSERT_TRUE(command.has_complete_transfer());
  EXPECT_EQ(command.complete_transfer().call_id(), "c1");
  EXPECT_EQ(command.complete_transfer().agent_id(), "fixer");
  EXPECT_EQ(command.complete_transfer().from_agent_id(), "seller");
}

TEST(CommandFor, AnOverflowOrAnAgentMadeNotReadyIsNoCommand) {
  EXPECT_FALSE(CommandFor(Decision{.kind = Decision::Kind::kCallOverflowed,
                                   .call_id = "c1",
                                   .queue = "general",
                                   .from_queue = "vip"},
                          {}));
  EXPECT_FALSE(CommandFor(Decision{.kind = Decision::Kind::kAgentMadeNotReady,
                                   .agent_id = "alice",
                                   .reason = "missed_offers"},
                          {}));
}

}  // namespace
}  // namespace acd::daemon::testing
