// The call book: acdd's record of every call a switch handed over, beside the router. It keeps
// what the router does not: whose call it is, what the switch asked and was answered, the call's
// story and the context it carries from agent to agent, the ids the switch gave its holds, the
// answers retries get — and, once the call has left, how it ended. Live routing facts (state,
// agent, position, holds) are the router's alone; the API reads them there while the call lives.
// Finished records stay for a retention time (for GetCall and late retries), at most so many.
//   CallBook book(absl::Minutes(15), 200000);
//   CallRecord& record = book.Open(request, response);
//   book.AddHistory(record, "enqueued", "sales", now);
//   book.Finish("c1", {.state = acd::v1::CALL_STATE_ENDED, ...}, now);
//   book.Sweep(now);                      // drops finished records past their retention
#ifndef ACD_DAEMON_CALL_BOOK_H_
#define ACD_DAEMON_CALL_BOOK_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/container/node_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "acd/v1/acd.pb.h"
#include "daemon/retry_ledger.h"

namespace acd::daemon {

// One line of a call's story: "offered alice", "hold_started checking_account, ...".
struct HistoryEntry {
  absl::Time at;
  const char* what;  // a word of the history's fixed vocabulary (a string literal, or HistoryWord's)
  std::string detail;
};

// The history's vocabulary word spelled `word` ("offered", "hold_started", ...), or nullptr when
// it is not one: how a snapshot's history lines find their words again.
const char* HistoryWord(absl::string_view word);

// How a call that left acd ended.
struct FinishedCall {
  acd::v1::CallState state = acd::v1::CALL_STATE_UNSPECIFIED;  // ended, abandoned, fallback...
  std::string queue;           // the queue it left from
  absl::Time arrived;          // its original arrival
  std::string agent_id;        // the agent the caller was last with, or the one it last rang
  uint32_t holds = 0;
  absl::Duration hold_time;
};

struct CallRecord {
  // The EnqueueCallRequest as the switch sent it, deterministically serialized (compact: a waiting
  // call's record is most of what acdd holds for it): a retry must repeat it byte for byte, and an
  // offer reads the caller's attributes from it.
  std::string request;
  acd::v1::EnqueueCallRequest Request() const;
  // The switch that owns the call (the book keeps one copy of each switch's id).
  const std::string* owning_switch = nullptr;
  const std::string& switch_id() const { return *owning_switch; }
  acd::v1::EnqueueCallResponse first_response;  // what a retried enqueue is answered
  std::vector<HistoryEntry> history;
  CallAnswers answers;                          // the retry ledger of its events
  // What the call carries from agent to agent: grows with each transfer, sent with every offer;
  // not allocated until the first transfer (most calls have none).
  std::unique_ptr<acd::v1::CallContext> transfer_context;
  const acd::v1::CallContext& context() const {
    return transfer_context ? *transfer_context : acd::v1::CallContext::default_instance();
  }
  acd::v1::CallContext* mutable_context() {
    if (!transfer_context) transfer_context = std::make_unique<acd::v1::CallContext>();
    return transfer_context.get();
  }
  // A warm transfer in progress: the context as it was, restored if the consult is cancelled.
  std::unique_ptr<acd::v1::CallContext> context_before_consult;
  uint64_t connected_sequence = 0;  // the offer the connected agent accepted
  uint64_t consults = 0;            // consults started, to tell a retry from a new one
  std::vector<std::string> hold_ids;  // ids the switch gave its holds, for exact retries
  std::string current_hold_id;
  std::string callback_number;        // from callback_accepted
  // The agent the call last rang (an offer or a callback's start) until a blind transfer or a
  // callback attempt that failed: whom a finished call names when no agent was on the line.
  std::string agent_rung;
  std::unique_ptr<FinishedCall> finished;  // set once the call has left acd
};

class CallBook {
 public:
  // Finished records stay `retention` after the call left, and at most `max_finished` of them
  // (the oldest go first). REQUIRES: max_finished >= 1.
  CallBook(absl::Duration retention, size_t max_finished)
      : retention_(retention), max_finished_(max_finished) {}

  CallRecord* Find(absl::string_view call_id);
  const CallRecord* Find(absl::string_view call_id) const;
  // A call the router accepted. REQUIRES: no record for its id.
  CallRecord& Open(const acd::v1::EnqueueCallRequest& request,
                   const acd::v1::EnqueueCallResponse& response);
  // Past 100 entries only those that say where the call went are kept, so its end always shows;
  // past 200, nothing more. `what` must be a word of the vocabulary (call_book.cc lists it): a
  // snapshot holding another does not restore (the snapshot tests cover every word acdd writes).
  static void AddHistory(CallRecord& record, const char* what, std::string detail, absl::Time at);
  // The call left acd at `at`: its record is kept as finished.
  void Finish(const std::string& call_id, FinishedCall how, absl::Time at);
  // Drops finished records whose retention has passed by `now`.
  void Sweep(absl::Time now);

  // Calls `f(call_id, record)` for every record, live and finished, in no particular order.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [call_id, record] : records_) f(call_id, record);
  }
  // Calls `f(call_id, record)` for `switch_id`'s live calls whose ids come after `after` (empty:
  // all), in call id order, for as long as `f` returns true. Costs a lookup and the calls it
  // visits, however many calls the book holds: ListCalls' pages.
  template <typename F>
  void ForEachLiveOf(absl::string_view switch_id, absl::string_view after, F&& f) const {
    auto of_switch = live_by_switch_.find(switch_id);
    if (of_switch == live_by_switch_.end()) return;
    const LiveCalls& live = of_switch->second;
    for (auto it = after.empty() ? live.begin() : live.upper_bound(after); it != live.end(); ++it) {
      if (!f(it->first, *it->second)) return;
    }
  }
  // Whether the live record of `call_id` is where ForEachLiveOf finds it, and how many are there
  // in all: the core's invariants.
  bool ListedLive(absl::string_view call_id, const CallRecord& record) const;
  size_t listed_live() const;
  // Calls `f(call_id, left_at, record)` for every finished record, in the order they left.
  template <typename F>
  void ForEachFinished(F&& f) const {
    for (const auto& [left_at, call_id] : finished_) f(call_id, left_at, records_.at(call_id));
  }
  // A snapshot's record, put back: a live one (`left_at` unset) or a finished one (`left_at` set,
  // the finished ones in the order they left). The caller fills the record.
  // REQUIRES: no record for `call_id`; `record.finished` set exactly when `left_at` is.
  CallRecord& Restore(const std::string& call_id, const std::string& switch_id,
                      std::optional<absl::Time> left_at);
  absl::Duration retention() const { return retention_; }
  // New limits (acdd restarted with other flags); they apply from the next call to leave or sweep.
  void SetLimits(absl::Duration retention, size_t max_finished) {
    retention_ = retention;
    max_finished_ = max_finished;
  }
  size_t size() const { return records_.size(); }
  size_t finished() const { return finished_.size(); }

 private:
  absl::Duration retention_;
  size_t max_finished_;
  // Node-based: records are large and many (finished ones are kept for retries), so a rehash must
  // never move them.
  absl::node_hash_map<std::string, CallRecord> records_;
  absl::node_hash_set<std::string> switch_ids_;  // every switch that handed over a call, once
  // Each switch's live calls by id; the views are of records_' and switch_ids_' own keys.
  using LiveCalls = absl::btree_map<absl::string_view, const CallRecord*>;
  absl::flat_hash_map<absl::string_view, LiveCalls> live_by_switch_;
  void ListLive(absl::string_view call_id, const CallRecord& record);
  std::deque<std::pair<absl::Time, std::string>> finished_;  // (left at, call id), oldest first
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_CALL_BOOK_H_
