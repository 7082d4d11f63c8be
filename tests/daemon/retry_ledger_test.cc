// JudgeRetry and CallAnswers: which call events are retries of one answered before (and get that
// answer), which name an offer or connection that is over, and which are new.
#include "daemon/retry_ledger.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

using ::testing::HasSubstr;

// An event about call c1 from `agent`; `set` says which event.
template <typename SetEvent>
acd::v1::CallEvent EventFrom(const std::string& agent, SetEvent set, uint64_t offer_sequence = 0) {
  return CallEventOf("c1", agent, set, offer_sequence);
}
const auto Transfer = TransferTo("billing", /*warm=*/false);
const auto Consult = TransferTo("billing", /*warm=*/true);

acd::v1::Command OfferTo(const std::string& agent, uint64_t sequence) {
  acd::v1::Command offer;
  offer.set_sequence(sequence);
  offer.mutable_offer_call()->set_call_id("c1");
  offer.mutable_offer_call()->set_agent_id(agent);
  return offer;
}

// The call rings `offer`'s agent.
CallSubjects Ringing(const acd::v1::Command& offer) {
  return CallSubjects{.offer = &offer, .agent_id = offer.offer_call().agent_id()};
}
// The call is connected to `agent`, who accepted offer `sequence`.
CallSubjects ConnectedTo(const char* agent, uint64_t sequence) {
  return CallSubjects{.connected = true, .agent_id = agent, .connected_sequence = sequence};
}

TEST(JudgeRetry, AnAnswerToTheRingingOfferIsNewAndAboutThatOffer) {
  const acd::v1::Command offer = OfferTo("alice", 7);
  CallAnswers none;
  for (uint64_t sequence : {uint64_t{0}, uint64_t{7}}) {
    RetryVerdict v = JudgeRetry(EventFrom("alice", Accept, sequence), none, Ringing(offer));
    EXPECT_EQ(v.kind, RetryVerdict::kNew) << "offer_sequence " << sequence;
    EXPECT_EQ(v.subject, 7u) << "offer_sequence " << sequence;
  }
}

TEST(JudgeRetry, ARepeatOfAnAnsweredOfferGetsTheAnswerGivenThenWithOrWithoutItsSequence) {
  CallAnswers answers;
  answers.Remember(EventFrom("alice", Accept), 7, acd::v1::CALL_STATE_CONNECTED);
  for (uint64_t sequence : {uint64_t{0}, uint64_t{7}}) {
    RetryVerdict v =
        JudgeRetry(EventFrom("alice", Accept, sequence), answers, ConnectedTo("alice", 7));
    EXPECT_EQ(v.kind, RetryVerdict::kRepeat) << "offer_sequence " << sequence;
    EXPECT_EQ(v.state, acd::v1::CALL_STATE_CONNECTED);
  }
  EXPECT_EQ(JudgeRetry(EventFrom("bob", Accept), answers, ConnectedTo("alice", 7)).kind,
            RetryVerdict::kNew)
      << "another agent's answer is not a repeat of alice's";
}

TEST(JudgeRetry, AnAnswerNamingAnOfferThatIsOverAndWasNeverAnsweredIsStale) {
  const acd::v1::Command ringing = OfferTo("alice", 9);
  CallAnswers none;
  RetryVerdict v = JudgeRetry(EventFrom("alice", Accept, 7), none, Ringing(ringing));
  EXPECT_EQ(v.kind, RetryVerdict::kStale);
  EXPECT_EQ(v.refusal.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(v.refusal.message(), HasSubstr("offer 7 of call 'c1' to 'alice'"));
}

TEST(JudgeRetry, ASequenceTellsALateRetryFromAnAnswerToTheNewOfferOfTheSameAgent) {
  CallAnswers answers;
  answers.Remember(EventFrom("alice", Reject), 7, acd::v1::CALL_STATE_OFFERED);
  const acd::v1::Command again = OfferTo("alice", 9);
  RetryVerdict late = JudgeRetry(EventFrom("alice", Reject, 7), answers, Ringing(again));
  EXPECT_EQ(late.kind, RetryVerdict::kRepeat);
  EXPECT_EQ(late.state, acd::v1::CALL_STATE_OFFERED);
  RetryVerdict unnamed = JudgeRetry(EventFrom("alice", Reject), answers, Ringing(again));
  EXPECT_EQ(unnamed.kind, RetryVerdict::kNew) << "without a sequence: about the offer ringing now";
  EXPECT_EQ(unnamed.subject, 9u);
}

TEST(JudgeRetry, AnEventAboutNothingNamedHappensOncePerCall) {
  CallAnswers answers;
  const CallSubjects waiting;
  EXPECT_EQ(JudgeRetry(EventFrom("", Abandon), answers, waiting).kind, RetryVerdict::kNew);
  answers.Remember(EventFrom("", Abandon), 0, acd::v1::CALL_STATE_ABANDONED);
  RetryVerdict v = JudgeRetry(EventFrom("alice", Abandon), answers, waiting);
  EXPECT_EQ(v.kind, RetryVerdict::kRepeat);
  EXPECT_EQ(v.state, acd::v1::CALL_STATE_ABANDONED);
}

TEST(JudgeRetry, ATransferNamesTheConnectionItWasMadeOn) {
  CallAnswers answers;
  RetryVerdict first = JudgeRetry(EventFrom("alice", Transfer), answers, ConnectedTo("alice", 7));
  EXPECT_EQ(first.kind, RetryVerdict::kNew);
  EXPECT_EQ(first.subject, 7u);
  answers.Remember(EventFrom("alice", Transfer), first.subject, acd::v1::CALL_STATE_WAITING);

  // The call came back to alice on offer 12: a retry naming 7 repeats, a new transfer is new.
  const CallSubjects again = ConnectedTo("alice", 12);
  EXPECT_EQ(JudgeRetry(EventFrom("alice", Transfer, 7), answers, again).kind,
            RetryVerdict::kRepeat);
  RetryVerdict second = JudgeRetry(EventFrom("alice", Transfer), answers, again);
  EXPECT_EQ(second.kind, RetryVerdict::kNew);
  EXPECT_EQ(second.subject, 12u);
  EXPECT_EQ(JudgeRetry(EventFrom("alice", Transfer, 5), answers, again).kind, RetryVerdict::kStale)
      << "a connection never answered";
}

TEST(JudgeRetry, AConsultsCancelIsJudgedByTheConsultsNumberOnTheCall) {
  CallAnswers answers;
  CallSubjects first_consult = ConnectedTo("alice", 7);
  first_consult.consulting_agent = "alice";
  first_consult.consults = 1;
  RetryVerdict v = JudgeRetry(EventFrom("alice", CancelConsult), answers, first_consult);
  EXPECT_EQ(v.kind, RetryVerdict::kNew);
  EXPECT_EQ(v.subject, 1u);
  answers.Remember(EventFrom("alice", CancelConsult), v.subject, acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(JudgeRetry(EventFrom("alice", CancelConsult), answers, first_consult).kind,
            RetryVerdict::kRepeat);
  CallSubjects second_consult = first_consult;
  second_consult.consults = 2;
  EXPECT_EQ(JudgeRetry(EventFrom("alice", CancelConsult), answers, second_consult).kind,
            RetryVerdict::kNew);
}

TEST(CallAnswers, AfterACancelledConsultTheAgentsNextConsultRequestIsNew) {
  CallAnswers answers;
  answers.Remember(EventFrom("alice", Consult), 7, acd::v1::CALL_STATE_CONNECTED);
  answers.Remember(EventFrom("alice", Transfer), 7, acd::v1::CALL_STATE_WAITING);
  answers.Remember(EventFrom("bob", Consult), 8, acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(JudgeRetry(EventFrom("alice", Consult), answers, ConnectedTo("alice", 7)).kind,
            RetryVerdict::kRepeat);
  answers.ForgetConsultRequests("alice");
  EXPECT_EQ(JudgeRetry(EventFrom("alice", Consult), answers, ConnectedTo("alice", 7)).kind,
            RetryVerdict::kNew);
  EXPECT_EQ(answers.answers().size(), 2u) << "alice's transfer and bob's consult stay";
}

TEST(JudgeRetry, HoldsAreJudgedByTheCallsStateNeverFromTheLedger) {
  CallAnswers answers;
  answers.Remember(EventFrom("alice", Hold(0)), 0, acd::v1::CALL_STATE_CONNECTED);
  EXPECT_EQ(JudgeRetry(EventFrom("alice", Hold(0)), answers, ConnectedTo("alice", 7)).kind,
            RetryVerdict::kNew);
}

}  // namespace
}  // namespace acd::daemon::testing
