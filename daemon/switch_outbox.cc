#include "daemon/switch_outbox.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/api_convert.h"
#include "daemon/commands.h"

namespace acd::daemon {

uint64_t SwitchOutboxes::Send(const std::string& switch_id, acd::v1::Command command,
                              absl::Time at) {
  Outbox& outbox = outboxes_[switch_id];
  const uint64_t sequence = outbox.next_sequence++;
  command.set_sequence(sequence);
  *command.mutable_at() = TimestampOf(at);
  if (outbox.unwritten.size() >= max_unwritten_) {
    outbox.unwritten.erase(outbox.unwritten.begin());
    if (dropped_.empty() || dropped_.back().first != switch_id) dropped_.emplace_back(switch_id, 0);
    dropped_.back().second++;
  }
  auto shared = std::make_shared<const acd::v1::Command>(std::move(command));
  if (const std::string* call_id = ReservedCallId(*shared)) {
    outbox.offers[*call_id] = Outstanding{.offer = shared};
  }
  outbox.unwritten.emplace_hint(outbox.unwritten.end(), sequence, shared);
  new_.push_back({switch_id, std::move(shared)});
  return sequence;
}

const acd::v1::Command* SwitchOutboxes::OutstandingOffer(const std::string& switch_id,
                                                         const std::string& call_id) const {
  auto outbox = outboxes_.find(switch_id);
  if (outbox == outboxes_.end()) return nullptr;
  auto it = outbox->second.offers.find(call_id);
  return it == outbox->second.offers.end() ? nullptr : it->second.offer.get();
}

void SwitchOutboxes::EndOffer(const std::string& switch_id, const std::string& call_id) {
  auto outbox = outboxes_.find(switch_id);
  if (outbox == outboxes_.end()) return;
  auto it = outbox->second.offers.find(call_id);
  if (it == outbox->second.offers.end()) return;
  if (!it->second.written) outbox->second.unwritten.erase(it->second.offer->sequence());
  outbox->second.offers.erase(it);
}

void SwitchOutboxes::Written(const std::string& switch_id, uint64_t sequence) {
  auto outbox = outboxes_.find(switch_id);
  if (outbox == outboxes_.end()) return;
  auto it = outbox->second.unwritten.find(sequence);
  if (it != outbox->second.unwritten.end()) {
    MarkOfferWritten(outbox->second, *it->second);
    outbox->second.unwritten.erase(it);
    return;
  }
  // Not among the unwritten: taken back, written before a takeover, or an outstanding offer the
  // bound dropped and a reconnect sent again. Few offers ring at once: look among them.
  for (auto& [call_id, offer] : outbox->second.offers) {
    if (offer.offer->sequence() == sequence) offer.written = true;
  }
}

bool SwitchOutboxes::AwaitsWrite(const std::string& switch_id, uint64_t sequence) const {
  auto outbox = outboxes_.find(switch_id);
  if (outbox == outboxes_.end()) return false;
  if (outbox->second.unwritten.contains(sequence)) return true;
  return std::any_of(outbox->second.offers.begin(), outbox->second.offers.end(),
                     [&](const auto& entry) {
                       return !entry.second.written && entry.second.offer->sequence() == sequence;
                     });
}

std::vector<acd::v1::Command> SwitchOutboxes::Reconnect(const std::string& switch_id) {
  Outbox& outbox = outboxes_[switch_id];
  auto by_sequence = [](const acd::v1::Command& a, const acd::v1::Command& b) {
    return a.sequence() < b.sequence();
  };
  // Never delivered: the unwritten commands, and outstanding offers the bound dropped.
  std::vector<acd::v1::Command> out;
  out.reserve(outbox.unwritten.size());
  for (const auto& [sequence, command] : outbox.unwritten) out.push_back(*command);
  std::vector<acd::v1::Command> dropped;
  std::vector<acd::v1::Command> again;  // written to a stream that may have lost them
  for (const auto& [call_id, offer] : outbox.offers) {
    if (offer.written) {
      again.push_back(*offer.offer);
      again.back().set_resent(true);
    } else if (!outbox.unwritten.contains(offer.offer->sequence())) {
      dropped.push_back(*offer.offer);
    }
  }
  if (!dropped.empty()) {
    out.insert(out.end(), dropped.begin(), dropped.end());
    std::sort(out.begin(), out.end(), by_sequence);
  }
  std::sort(again.begin(), again.end(), by_sequence);  // so that replays agree
  for (acd::v1::Command& command : again) out.push_back(std::move(command));
  return out;
}

void SwitchOutboxes::MarkOfferWritten(Outbox& outbox, const acd::v1::Command& command) {
  const std::string* call_id = ReservedCallId(command);
  if (call_id == nullptr) return;
  auto offer = outbox.offers.find(*call_id);
  if (offer != outbox.offers.end() && offer->second.offer->sequence() == command.sequence()) {
    offer->second.written = true;
  }
}

std::vector<std::pair<std::string, uint64_t>> SwitchOutboxes::TakeDropped() {
  std::vector<std::pair<std::string, uint64_t>> out;
  out.swap(dropped_);
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

std::vector<acd::journal::v1::OutboxState> SwitchOutboxes::Save() const {
  std::vector<acd::journal::v1::OutboxState> out;
  out.reserve(outboxes_.size());
  for (const auto& [switch_id, outbox] : outboxes_) {
    acd::journal::v1::OutboxState& state = out.emplace_back();
    state.set_switch_id(switch_id);
    state.set_next_sequence(outbox.next_sequence);
    for (const auto& [sequence, command] : outbox.unwritten) *state.add_unwritten() = *command;
    for (const auto& [call_id, offer] : outbox.offers) {
      acd::journal::v1::OutboxState::Offer* saved = state.add_offers();
      saved->set_call_id(call_id);
      *saved->mutable_offer() = *offer.offer;
      saved->set_written(offer.written);
    }
    std::sort(state.mutable_offers()->begin(), state.mutable_offers()->end(),
              [](const auto& a, const auto& b) { return a.call_id() < b.call_id(); });
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.switch_id() < b.switch_id(); });
  return out;
}

absl::Status SwitchOutboxes::Restore(const acd::journal::v1::OutboxState& state) {
  auto [it, fresh] = outboxes_.try_emplace(state.switch_id());
  if (!fresh) return absl::DataLossError(absl::StrCat("switch ", state.switch_id(), " twice"));
  Outbox& outbox = it->second;
  outbox.next_sequence = state.next_sequence();
  for (const acd::v1::Command& command : state.unwritten()) {
    if (command.sequence() == 0 || command.sequence() >= outbox.next_sequence ||
        !outbox.unwritten
             .emplace(command.sequence(), std::make_shared<const acd::v1::Command>(command))
             .second) {
      return absl::DataLossError(absl::StrCat("switch ", state.switch_id(), ": command sequence ",
                                              command.sequence(), " out of place"));
    }
  }
  for (const auto& offer : state.offers()) {
    const std::string* reserved = ReservedCallId(offer.offer());
    if (reserved == nullptr || *reserved != offer.call_id() ||
        !outbox.offers
             .try_emplace(offer.call_id(),
                          Outstanding{std::make_shared<const acd::v1::Command>(offer.offer()),
                                      offer.written()})
             .second) {
      return absl::DataLossError(absl::StrCat("switch ", state.switch_id(), ": offer for call ",
                                              offer.call_id(), " is not one"));
    }
  }
  return absl::OkStatus();
}

}  // namespace acd::daemon
