// The command builder: turns one router decision into the acd.v1.Command its switch receives.
// A pure function; the facts a command carries beyond the decision (the caller's attributes, the
// call's context, how long it has waited...) are handed in. Numbering and time stamps are the
// switch outbox's job.
//   std::optional<acd::v1::Command> c = CommandFor(decision, {.request = &request, ...});
#ifndef ACD_DAEMON_COMMANDS_H_
#define ACD_DAEMON_COMMANDS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "acd/v1/acd.pb.h"
#include "routing/router.h"

namespace acd::daemon {

// What a command needs beyond the decision. Only offers and callback starts read any of it.
struct CommandFacts {
  const acd::v1::EnqueueCallRequest* request = nullptr;  // the caller's attributes
  const acd::v1::CallContext* context = nullptr;         // where the call has been
  absl::Duration waited;               // since the call's original arrival
  absl::Duration offer_timeout;        // of the queue the offer is made from
  absl::string_view callback_number;   // from callback_accepted; empty: the caller's own
};

// The command for `decision`, or nullopt when it is not one (an overflow, an agent made not
// ready: the switch is not told).
std::optional<acd::v1::Command> CommandFor(const routing::Decision& decision,
                                           const CommandFacts& facts);

// The call an offer-like command (an offer, or a callback's start) reserves an agent for, and
// that agent; nullptr when the command reserves nobody.
const std::string* ReservedCallId(const acd::v1::Command& command);
const std::string* ReservedAgentId(const acd::v1::Command& command);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_COMMANDS_H_
