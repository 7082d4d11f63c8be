// The names of the prompt kinds, as metrics labels and API fields spell them.
#include "routing/prompt_kind.h"

namespace acd::routing {

absl::string_view PromptKindName(PromptKind kind) {
  switch (kind) {
    case PromptKind::kNone: return "none";
    case PromptKind::kEntry: return "entry";
    case PromptKind::kUpdate: return "update";
    case PromptKind::kHoldReminder: return "hold_reminder";
    case PromptKind::kCallbackOffer: return "callback_offer";
  }
  return "unknown";
}

}  // namespace acd::routing
