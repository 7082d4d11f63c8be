#include "daemon/call_book.h"

#include "daemon/api_convert.h"

namespace acd::daemon {
namespace {

constexpr size_t kMaxHistory = 100;

// The history's vocabulary; `essential` words say where a call went and are kept past the cap.
struct Word {
  const char* word;
  bool essential;
};
constexpr Word kVocabulary[] = {
    {"enqueued", false},          {"offered", false},           {"offer_cancelled", false},
    {"offer_rejected", false},    {"offer_no_answer", false},   {"answered", false},
    {"connected", true},          {"transferred", true},        {"transfer_completed", true},
    {"consult_started", true},    {"consult_cancelled", false}, {"hold_started", false},
    {"hold_ended", false},        {"hold_overrun", false},      {"callback_offered", false},
    {"callback_accepted", true},  {"callback_started", false},  {"callback_not_reached", false},
    {"callback_gave_up", true},   {"fallback", true},           {"overflowed", true},
    {"abandoned", true},          {"ended", true},
};

const Word* FindWord(absl::string_view word) {
  for (const Word& w : kVocabulary) {
    if (word == w.word) return &w;
  }
  return nullptr;
}

}  // namespace

const char* HistoryWord(absl::string_view word) {
  const Word* w = FindWord(word);
  return w == nullptr ? nullptr : w->word;
}

CallRecord* CallBook::Find(absl::string_view call_id) {
  auto it = records_.find(call_id);
  return it == records_.end() ? nullptr : &it->second;
}

const CallRecord* CallBook::Find(absl::string_view call_id) const {
  auto it = records_.find(call_id);
  return it == records_.end() ? nullptr : &it->second;
}

acd::v1::EnqueueCallRequest CallRecord::Request() const {
  acd::v1::EnqueueCallRequest out;
  out.ParseFromString(request);
  return out;
}

CallRecord& CallBook::Open(const acd::v1::EnqueueCallRequest& request,
                           const acd::v1::EnqueueCallResponse& response) {
  auto entry = records_.try_emplace(request.call_id()).first;
  CallRecord& record = entry->second;
  record.request = DeterministicBytes(request);
  record.owning_switch = &*switch_ids_.insert(request.switch_id()).first;
  record.first_response = response;
  ListLive(entry->first, record);
  return record;
}

void CallBook::ListLive(absl::string_view call_id, const CallRecord& record) {
  live_by_switch_[record.switch_id()][call_id] = &record;
}

bool CallBook::ListedLive(absl::string_view call_id, const CallRecord& record) const {
  auto of_switch = live_by_switch_.find(record.switch_id());
  if (of_switch == live_by_switch_.end()) return false;
  auto it = of_switch->second.find(call_id);
  return it != of_switch->second.end() && it->second == &record;
}

size_t CallBook::listed_live() const {
  size_t listed = 0;
  for (const auto& [switch_id, live] : live_by_switch_) listed += live.size();
  return listed;
}

void CallBook::AddHistory(CallRecord& record, const char* what, std::string detail, absl::Time at) {
  // The vocabulary is looked up only past the cap: a call's history grows on the engine thread.
  if (record.history.size() >= kMaxHistory) {
    const Word* word = FindWord(what);
    if (record.history.size() >= 2 * kMaxHistory || word == nullptr || !word->essential) return;
  }
  record.history.push_back({at, what, std::move(detail)});
}

CallRecord& CallBook::Restore(const std::string& call_id, const std::string& switch_id,
                              std::optional<absl::Time> left_at) {
  auto entry = records_.try_emplace(call_id).first;
  CallRecord& record = entry->second;
  record.owning_switch = &*switch_ids_.insert(switch_id).first;
  if (left_at) {
    finished_.emplace_back(*left_at, call_id);
  } else {
    ListLive(entry->first, record);
  }
  return record;
}

void CallBook::Finish(const std::string& call_id, FinishedCall how, absl::Time at) {
  CallRecord* record = Find(call_id);
  if (record == nullptr || record->finished) return;
  record->finished = std::make_unique<FinishedCall>(std::move(how));
  if (auto of_switch = live_by_switch_.find(record->switch_id());
      of_switch != live_by_switch_.end()) {
    of_switch->second.erase(call_id);
    if (of_switch->second.empty()) live_by_switch_.erase(of_switch);
  }
  finished_.emplace_back(at, call_id);
  while (finished_.size() > max_finished_) {
    auto oldest = records_.find(finished_.front().second);
    if (oldest != records_.end() && oldest->second.finished && &oldest->second != record) {
      records_.erase(oldest);
    }
    finished_.pop_front();
  }
}

void CallBook::Sweep(absl::Time now) {
  while (!finished_.empty() && finished_.front().first + retention_ <= now) {
    auto it = records_.find(finished_.front().second);
    if (it != records_.end() && it->second.finished) records_.erase(it);
    finished_.pop_front();
  }
}

}  // namespace acd::daemon
