// The retry ledger: what every call event that acted answered, so that a retry of it (the switch
// lost the reply, or sent twice) is answered the same instead of acting again. Refused events are
// not kept: they did nothing, so a repeat is judged afresh.
//
// An event is matched to what it is about: an answer to an offer names the offer ringing at that
// agent; `answered`, a transfer and a callback not reached name the connection (the offer the
// agent accepted); a consult's cancel names the consult by its number on the call. Switches may
// send the offer's command sequence in `offer_sequence`, which makes the match exact: a late retry
// is never taken for an event about a newer offer of the same agent. Other events happen once per
// call (the caller hangs up once); holds are judged by the call's state, not here.
//   CallSubjects subjects{.offer = outbox.OutstandingOffer(sw, id), ...};
//   RetryVerdict v = JudgeRetry(event, record.answers, subjects);
//   if (v.kind == RetryVerdict::kRepeat) return v.state;   // answered before
//   ... act ...; record.answers.Remember(event, v.subject, state_after);
#ifndef ACD_DAEMON_RETRY_LEDGER_H_
#define ACD_DAEMON_RETRY_LEDGER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "acd/v1/acd.pb.h"

namespace acd::daemon {

// The answers one call's events got.
class CallAnswers {
 public:
  struct Answer {
    acd::v1::CallEvent::EventCase event;
    std::string agent_id;
    uint64_t subject;  // the offer's sequence, or the consult's number; 0: about nothing named
    acd::v1::CallState state;
  };
  void Remember(const acd::v1::CallEvent& event, uint64_t subject, acd::v1::CallState state);
  // After a cancelled consult a new consult request by `agent_id` is new, not a retry.
  void ForgetConsultRequests(absl::string_view agent_id);
  const std::vector<Answer>& answers() const { return answers_; }
  // An answer a snapshot kept, put back in its place (after those restored before it).
  void Restore(Answer answer) { answers_.push_back(std::move(answer)); }

 private:
  std::vector<Answer> answers_;
};

// Where the call stands now, as far as telling a retry from a new event goes.
struct CallSubjects {
  const acd::v1::Command* offer = nullptr;  // the offer outstanding for the call, if any
  bool connected = false;                   // the call is connected to `agent_id`
  absl::string_view agent_id;               // offered to or connected with
  uint64_t connected_sequence = 0;          // the offer the connected agent accepted
  absl::string_view consulting_agent;       // a warm transfer's first agent, or empty
  uint64_t consults = 0;                    // consults started on the call
};

struct RetryVerdict {
  enum Kind { kNew, kRepeat, kStale };
  Kind kind = kNew;
  uint64_t subject = 0;      // kNew: what the event is about, to remember its answer by
  acd::v1::CallState state = acd::v1::CALL_STATE_UNSPECIFIED;  // kRepeat: the answer given then
  absl::Status refusal;      // kStale: it names an offer or connection that is over
};

// An answer to an offer (accepted, rejected, no answer, or `answered`, which also accepts a ringing
// one): it is about the offer ringing at the agent it names, so it must name one.
bool AnswersAnOffer(const acd::v1::CallEvent& event);

RetryVerdict JudgeRetry(const acd::v1::CallEvent& event, const CallAnswers& answers,
                        const CallSubjects& now);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_RETRY_LEDGER_H_
