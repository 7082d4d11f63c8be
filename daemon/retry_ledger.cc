#include "daemon/retry_ledger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "daemon/commands.h"
#include "routing/quote.h"

namespace acd::daemon {

using acd::v1::CallEvent;

void CallAnswers::Remember(const CallEvent& event, uint64_t subject, acd::v1::CallState state) {
  answers_.push_back({event.event_case(), event.agent_id(), subject, state});
}

void CallAnswers::ForgetConsultRequests(absl::string_view agent_id) {
  std::erase_if(answers_, [&](const Answer& a) {
    return a.event == CallEvent::kConsultTransferRequested && a.agent_id == agent_id;
  });
}

bool AnswersAnOffer(const CallEvent& event) {
  return event.has_offer_accepted() || event.has_offer_rejected() || event.has_offer_no_answer() ||
         event.has_answered();
}

RetryVerdict JudgeRetry(const CallEvent& event, const CallAnswers& answers,
                        const CallSubjects& now) {
  const bool about_offer = AnswersAnOffer(event);
  const bool about_connection = event.has_answered() || event.has_transfer_requested() ||
                                event.has_consult_transfer_requested() ||
                                event.has_callback_not_reached();
  const bool about_consult = event.has_consult_cancelled();
  uint64_t subject = 0;
  if (about_offer && now.offer != nullptr && *ReservedAgentId(*now.offer) == event.agent_id()) {
    subject = now.offer->sequence();
  } else if (about_connection && now.connected && now.agent_id == event.agent_id()) {
    subject = now.connected_sequence;
  }
  if (about_consult && now.consulting_agent == event.agent_id()) subject = now.consults;

  // The latest answer to an event of this kind about `about`: once per call for events about
  // nothing named, else from the same agent about the same subject (any, when `about` is 0).
  auto stored = [&](uint64_t about) -> const CallAnswers::Answer* {
    for (auto a = answers.answers().rbegin(); a != answers.answers().rend(); ++a) {
      if (a->event != event.event_case()) continue;
      if (!about_offer && !about_connection && !about_consult) return &*a;
      if (a->agent_id == event.agent_id() && (about == 0 || a->subject == about)) return &*a;
    }
    return nullptr;
  };
  RetryVerdict verdict;
  if ((about_offer || about_connection) && event.offer_sequence() != 0 &&
      event.offer_sequence() != subject) {
    // It names an offer or connection that is over: a retry of what was answered then, or late.
    if (const CallAnswers::Answer* answer = stored(event.offer_sequence())) {
      verdict.kind = RetryVerdict::kRepeat;
      verdict.state = answer->state;
      return verdict;
    }
    verdict.kind = RetryVerdict::kStale;
    verdict.refusal = absl::FailedPreconditionError(absl::StrCat(
        "offer ", event.offer_sequence(), " of call ", routing::Quote(event.call_id()), " to ",
        routing::Quote(event.agent_id()), " is no longer ringing or connected"));
    return verdict;
  }
  // Without a sequence: an event about the current offer or connection is new unless it was
  // answered already; one about none repeats the last answer of its kind from that agent.
  if (!event.has_hold_started() && !event.has_hold_ended()) {
    if (const CallAnswers::Answer* answer = stored(subject)) {
      if (subject == 0 || answer->subject == subject) {
        verdict.kind = RetryVerdict::kRepeat;
        verdict.state = answer->state;
        return verdict;
      }
    }
  }
  verdict.subject = subject;
  return verdict;
}

}  // namespace acd::daemon
