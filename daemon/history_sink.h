// HistoryEvent is one thing that happened in the contact center as the reports tell it: a caller
// entered a queue, rang an agent, was answered, hung up, moved on; an agent logged in, paused,
// came back. The core tells a HistorySink each one, in the order they happened and dated when
// they happened, as it settles each input; the same journal replayed gives the same events. The
// reporting feeds (reports/: queue_log, call records, interval reports, what-if) are sinks.
//   class Counter : public HistorySink {
//     void Record(const HistoryEvent& e) override { if (e.kind == HistoryEvent::kAbandoned) ++n; }
//   };
//   core.set_history_sink(&counter);
// A sink runs inside the core's input: it must not call the core, and should be quick.
#ifndef ACD_DAEMON_HISTORY_SINK_H_
#define ACD_DAEMON_HISTORY_SINK_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace acd::daemon {

class Core;

struct HistoryEvent {
  enum Kind : uint8_t {
    // Calls. `queue` is the queue the call is in (or left); `agent_id` the agent concerned.
    kEntered,         // the switch handed the call to `queue`; `position` its place (0: offered
                      // at once or sent to a fallback at once)
    kOffered,         // `agent_id`'s phone rings with the call (or a callback's customer is dialed)
    kOfferEnded,      // the ringing at `agent_id` stopped unanswered: `reason` no_answer,
                      // rejected, abandoned or agent_logged_out
    kConnected,       // the caller reached `agent_id` after waiting `duration` in `queue`
    kCallerHungUp,    // the caller hung up while with an agent (the talk ends next)
    kTalkEnded,       // `agent_id`'s part of the call ended after `duration` (holds included)
    kAbandoned,       // the caller hung up in line after `duration`, at `position` (0: ringing)
    kHoldStarted,     // `agent_id` put the caller on hold
    kHoldEnded,       // the hold ended after `duration`
    kOverflowed,      // the call moved from `other` to `queue`
    kSentToFallback,  // the call left `queue` for the fallback `other`; `reason` queue_full,
                      // max_wait, escalation or too_many_transfers
    kTransferred,     // `agent_id` sent the call on: `other` is "queue Q" or "agent A"; `reason`
                      // the agent's; `warm`: a consult (the agent stays until it completes)
    kTransferCompleted,  // a warm transfer completed: the caller is with `agent_id`, `other` left
    kPrompted,           // the caller heard a prompt: `reason` its kind (PromptKindName)
    kCallbackAccepted,   // the caller took a callback and left the line
    kCallbackGaveUp,     // every attempt to reach a callback's customer failed
    kLeft,  // the call left acd: `reason` ended, abandoned, fallback or callback_gave_up
    // Agents. `queues` are the queues the agent serves.
    kLoggedIn,  // `agent_id` logged in, ready or not (`reason` "logged_in" when not)
    kLoggedOut,
    kReady,     // `agent_id` became ready
    kNotReady,  // `agent_id` became not ready for `reason` (by the agent, or by policy)
  };
  Kind kind;
  absl::Time at;
  std::string call_id;
  std::string queue;
  std::string agent_id;
  std::string other;
  std::string reason;
  absl::Duration duration;
  int position = 0;
  bool warm = false;
  std::vector<std::string> queues;
};

class HistorySink {
 public:
  virtual ~HistorySink() = default;
  virtual void Record(const HistoryEvent& event) = 0;
};

// Tells every one of several sinks, in order.
class HistorySinks : public HistorySink {
 public:
  explicit HistorySinks(std::vector<HistorySink*> sinks) : sinks_(std::move(sinks)) {}
  void Record(const HistoryEvent& event) override {
    for (HistorySink* sink : sinks_) sink->Record(event);
  }

 private:
  std::vector<HistorySink*> sinks_;
};

// A sink fed from the durable journal as acdd runs (acdd's live feeds, reports/live_feeds.h): the
// snapshot taker's copy of the core follows the journal's durable records and tells it what each
// one made happen, so nothing leaves before its input is durable, and the engine does no work for
// it. It is told which record comes next, also while the copy recovers at start, so that it can
// pass over what it had written before a restart.
class HistoryFeed : public HistorySink {
 public:
  // Once, before the first record: the core the events will come from, as it stands.
  virtual void Start(const Core& core) = 0;
  // The record whose events come next.
  virtual void BeforeRecord(uint64_t sequence) = 0;
  // Writes out what the records so far made, and remembers how far it got. Called after each
  // pass over the newly durable records (every few tens of milliseconds while records come). An
  // error means the feed lags the copy: no snapshot is taken until it is OK again, so that a
  // restart can replay what it misses.
  virtual absl::Status Flush() = 0;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_HISTORY_SINK_H_
