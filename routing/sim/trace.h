// A Trace is recorded traffic, as a what-if replays it (what_if.h): every call that arrived, with
// what it asked for, how long its caller talked and was ready to wait; every agent's logins,
// pauses and logouts; and what the recorded day's figures were. reports/recorded_traffic.h makes
// one from a data dir's journal; tests build them by hand. Times are seconds from `start`.
//   Trace trace{.start = from, .seconds = 3600};
//   trace.calls.push_back({.arrived = 12.5, .spec = {.call_id = "c1", .queue = "sales"},
//                          .talk_seconds = 180, .waited_seconds = 20});
#ifndef ACD_ROUTING_SIM_TRACE_H_
#define ACD_ROUTING_SIM_TRACE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "routing/router.h"

namespace acd::routing::sim {

struct TraceCall {
  double arrived = 0;
  CallSpec spec;  // as the switch enqueued it: queue, skills, priority, tier, language
  // Talk with agents, holds included, as recorded; unset when the caller never reached one (the
  // replay then draws it from the queue's recorded talks).
  std::optional<double> talk_seconds;
  // How long the answering agent's phone rang; unset: never answered (the queue's mean is used).
  std::optional<double> ring_seconds;
  // Offers of the call that went unanswered (rang out or were rejected) before the one answered:
  // the replay lets as many ring out before an agent answers.
  int missed_offers = 0;
  // The recorded wait in line, and whether the caller hung up then (their patience), or was still
  // there (served or sent on: patience only known to be longer).
  double waited_seconds = 0;
  bool abandoned = false;
  // When the agent ended their wrap-up after this call themselves (a desktop's end_wrap_up): how
  // long after the talk. Unset: the policy's wrap-up ran its course.
  std::optional<double> wrap_up_seconds;
};

struct TraceAgentEvent {
  enum class Kind : uint8_t { kLogin, kReady, kNotReady, kLogout };
  double at = 0;
  Kind kind = Kind::kLogin;
  AgentSpec login;  // kLogin: the agent as it logged in (ready or not)
  std::string agent_id;
  std::string reason;  // kNotReady
};

struct Trace {
  absl::Time start;
  double seconds = 0;                   // the span replayed; calls arriving in it count
  // When the recording ended with some of the span's calls still in acd (a live data dir): the
  // moment it ended. What happens after it counts on neither side; unset, the replay goes on
  // until its calls have left.
  std::optional<double> recording_ended;
  std::vector<TraceCall> calls;         // by arrival
  std::vector<TraceAgentEvent> agents;  // by time
};

}  // namespace acd::routing::sim

#endif  // ACD_ROUTING_SIM_TRACE_H_
