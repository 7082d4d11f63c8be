// PromptKind says what a prompt to a caller is for: the greeting on entering the line, the updates
// while waiting, the reminder while on hold, the callback offer. The kinds, their count and their
// names live here once, for the router's decisions, the daemon's commands and the metrics' labels.
//   std::array<uint64_t, kPromptKindCount> played{};  // indexed by PromptKind
//   played[static_cast<int>(PromptKind::kUpdate)]++;
//   PromptKindName(PromptKind::kUpdate);              // "update"
#ifndef ACD_ROUTING_PROMPT_KIND_H_
#define ACD_ROUTING_PROMPT_KIND_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace acd::routing {

enum class PromptKind : uint8_t {
  kNone,
  kEntry,           // on entering the line: position and expected wait at once
  kUpdate,          // every prompts.update_interval while waiting
  kHoldReminder,    // every holds.reminder_interval while on hold ("thanks for holding")
  kCallbackOffer,   // the wait is long: offer a callback (answer with AcceptCallback)
};
// kNone included, so that arrays indexed by the kind have a slot for every value.
inline constexpr int kPromptKindCount = 5;

// "none", "entry", "update", "hold_reminder", "callback_offer".
absl::string_view PromptKindName(PromptKind kind);

}  // namespace acd::routing

#endif  // ACD_ROUTING_PROMPT_KIND_H_
