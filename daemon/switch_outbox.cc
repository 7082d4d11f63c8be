#include "daemon/switch_outbox.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/api_convert.h"
#include "daemon/commands.h"
#include "daemon/log.h"

namespace acd::daemon {

uint64_t SwitchOutboxes::Send(const std::string& switch_id, acd::v1::Command command,
                              absl::Time at) {
  Outbox& outbox = outboxes_[switch_id];
  const uint64_t sequence = outbox.next_sequence++;
  command.set_sequence(sequence);
  *command.mutable_at() = TimestampOf(at);
  if (outbox.unwritten.size() >= max_unwritten_) {
    Log(absl::StrCat("switch ", switch_id, " has not read its commands; dropping the oldest"));
    outbox.unwritten.erase(outbox.unwritten.begin());
  }
  if (const std::string* call_id = ReservedCallId(command)) {
    outbox.offers[*call_id] = Outstanding{.offer = command};
  }
  outbox.unwritten.emplace_hint(outbox.unwritten.end(), sequence, command);
  new_.push_back({switch_id, std::move(command)});
  return sequence;
}

const acd::v1::Command* SwitchOutboxes::OutstandingOffer(const std::string& switch_id,
                                                         const std::string& call_id) const {
  auto outbox = outboxes_.find(switch_id);
  if (outbox == outboxes_.end()) return nullptr;
  auto it = outbox->second.offers.find(call_id);
  return it == outbox->second.offers.end() ? nullptr : &it->second.offer;
}

void SwitchOutboxes::EndOffer(const std::string& switch_id, const std::string& call_id) {
  auto outbox = outboxes_.find(switch_id);
  if (outbox == outboxes_.end()) return;
  auto it = outbox->second.offers.find(call_id);
  if (it == outbox->second.offers.end()) return;
  if (!it->second.written) outbox->second.unwritten.erase(it->second.offer.sequence());
  outbox->second.offers.erase(it);
}

void SwitchOutboxes::Written(const std::string& switch_id, uint64_t sequence) {
  auto outbox = outboxes_.find(switch_id);
  if (outbox == outboxes_.end()) return;
  auto it = outbox->second.unwritten.find(sequence);
  if (it == outbox->second.unwritten.end()) return;  // taken back, or written before a takeover
  if (const std::string* call_id = ReservedCallId(it->second)) {
    auto offer = outbox->second.offers.find(*call_id);
    if (offer != outbox->second.offers.end() && offer->second.offer.sequence() == sequence) {
      offer->second.written = true;
    }
  }
  outbox->second.unwritten.erase(it);
}

std::vector<acd::v1::Command> SwitchOutboxes::Reconnect(const std::string& switch_id) {
  Outbox& outbox = outboxes_[switch_id];
  std::vector<acd::v1::Command> out;
  out.reserve(outbox.unwritten.size());
  for (const auto& [sequence, command] : outbox.unwritten) out.push_back(command);
  // Outstanding offers not among the unwritten ones: written to a stream that may have lost them,
  // or dropped by the bound while the switch was away. In sequence order, so replays agree.
  std::vector<acd::v1::Command> again;
  for (const auto& [call_id, offer] : outbox.offers) {
    if (!offer.written && outbox.unwritten.contains(offer.offer.sequence())) continue;
    again.push_back(offer.offer);
    again.back().set_resent(offer.written);
  }
  std::sort(again.begin(), again.end(), [](const acd::v1::Command& a, const acd::v1::Command& b) {
    return a.sequence() < b.sequence();
  });
  for (acd::v1::Command& command : again) out.push_back(std::move(command));
  return out;
}

std::vector<OutgoingCommand> SwitchOutboxes::TakeNew() {
  std::vector<OutgoingCommand> out;
  out.swap(new_);
  return out;
}

size_t SwitchOutboxes::unwritten(const std::string& switch_id) const {
  auto outbox = outboxes_.find(switch_id);
  return outbox == outboxes_.end() ? 0 : outbox->second.unwritten.size();
}

}  // namespace acd::daemon
