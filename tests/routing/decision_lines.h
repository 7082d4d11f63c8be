// Router decisions as short lines that tests compare whole: "offer c1 a1", "cancel c1 a1
// no_answer", "entry c1 #2 240s" (a prompt: kind, call, position, wait, "+" over the cap),
// "hold c1 30s" (a hold reminder prompt), "remind a c1 30s", "overrun c1 expected 50s",
// "callback c1 a #1", "gave_up c1 #2", "transferred c1 a->b".
#ifndef ACD_TESTS_ROUTING_DECISION_LINES_H_
#define ACD_TESTS_ROUTING_DECISION_LINES_H_

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "routing/router.h"

namespace acd::routing::testing {

inline std::string Secs(absl::Duration d) { return absl::StrCat(absl::ToInt64Seconds(d), "s"); }

inline std::vector<std::string> Lines(const std::vector<Decision>& decisions) {
  std::vector<std::string> out;
  for (const Decision& d : decisions) {
    switch (d.kind) {
      case Decision::Kind::kOfferCall:
        out.push_back("offer " + d.call_id + " " + d.agent_id);
        break;
      case Decision::Kind::kCancelOffer:
        out.push_back("cancel " + d.call_id + " " + d.agent_id + " " + d.reason);
        break;
      case Decision::Kind::kSendToFallback:
        out.push_back("fallback " + d.call_id + " " + d.target + " " + d.reason);
        break;
      case Decision::Kind::kCallOverflowed:
        out.push_back("overflow " + d.call_id + " " + d.from_queue + "->" + d.queue);
        break;
      case Decision::Kind::kAgentMadeNotReady:
        out.push_back("not_ready " + d.agent_id + " " + d.reason);
        break;
      case Decision::Kind::kPlayPrompt: {
        if (d.prompt == Decision::PromptKind::kHoldReminder) {
          out.push_back("hold " + d.call_id + " " + Secs(d.held));
          break;
        }
        std::string line = d.prompt == Decision::PromptKind::kEntry    ? "entry"
                           : d.prompt == Decision::PromptKind::kUpdate ? "update"
                                                             : "callback_offer";
        line += " " + d.call_id;
        if (d.position > 0) line += absl::StrCat(" #", d.position);
        if (d.expected_wait) line += " " + Secs(*d.expected_wait);
        if (d.wait_over_cap) line += "+";
        out.push_back(line);
        break;
      }
      case Decision::Kind::kHoldReminder:
        out.push_back("remind " + d.agent_id + " " + d.call_id + " " + Secs(d.held));
        break;
      case Decision::Kind::kHoldOverrun:
        out.push_back("overrun " + d.call_id + " " + d.reason + " " + Secs(d.held));
        break;
      case Decision::Kind::kStartCallback:
        out.push_back(absl::StrCat("callback ", d.call_id, " ", d.agent_id, " #", d.attempt));
        break;
      case Decision::Kind::kCallbackGaveUp:
        out.push_back(absl::StrCat("gave_up ", d.call_id, " #", d.attempt));
        break;
      case Decision::Kind::kTransferCompleted:
        out.push_back("transferred " + d.call_id + " " + d.from_agent + "->" + d.agent_id);
        break;
    }
  }
  return out;
}

}  // namespace acd::routing::testing

#endif  // ACD_TESTS_ROUTING_DECISION_LINES_H_
