#include "daemon/call_book.h"

#include <cstring>

#include "daemon/api_convert.h"

namespace acd::daemon {
namespace {

constexpr size_t kMaxHistory = 100;

// The history entries that say where a call went: kept past the cap.
bool Essential(const char* what) {
  static constexpr const char* kEssential[] = {
      "connected", "transferred", "ended",     "consult_started", "transfer_completed",
      "callback_accepted", "callback_gave_up", "abandoned", "fallback", "overflowed"};
  for (const char* word : kEssential) {
    if (std::strcmp(word, what) == 0) return true;
  }
  return false;
}

}  // namespace

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
  CallRecord& record = records_[request.call_id()];
  record.request = DeterministicBytes(request);
  record.owning_switch = &*switch_ids_.insert(request.switch_id()).first;
  record.first_response = response;
  return record;
}

void CallBook::AddHistory(CallRecord& record, const char* what, std::string detail, absl::Time at) {
  if (record.history.size() >= kMaxHistory &&
      (record.history.size() >= 2 * kMaxHistory || !Essential(what))) {
    return;
  }
  record.history.push_back({at, what, std::move(detail)});
}

void CallBook::Finish(const std::string& call_id, FinishedCall how, absl::Time at) {
  CallRecord* record = Find(call_id);
  if (record == nullptr || record->finished) return;
  record->finished = std::make_unique<FinishedCall>(std::move(how));
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
