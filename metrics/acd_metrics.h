// AcdMetrics holds every figure acdd exports to Prometheus (metrics/README.md lists them) and is
// the prometheus::Collectable that serializes them at scrape time. Each series has one writer, the
// engine thread (the journal's write figures: the journal thread): it stores plain relaxed atomics, never takes a lock and never allocates on an
// observation; a scrape reads the atomics from the HTTP thread and never blocks the engine.
// Per-queue series are created once per policy (SetQueues on start and reload), so no label set
// is ever built on the routing path.
//   AcdMetrics metrics;
//   metrics.SetQueues(policy);                       // engine thread, on start and each reload
//   QueueSeries* q = metrics.queue(queue_id);         // engine thread
//   q->calls[Outcome::kAnswered].Add(1);
//   registry.Collect() ... metrics.Collect();         // HTTP thread
#ifndef ACD_METRICS_ACD_METRICS_H_
#define ACD_METRICS_ACD_METRICS_H_

#include <array>
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "metrics/queue_figures.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "routing/compiled_policy.h"
#include "routing/prompt_kind.h"

namespace acd::metrics {

// A value one thread writes and others read.
class RelaxedDouble {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double Get() const { return value_.load(std::memory_order_relaxed); }
 private:
  std::atomic<double> value_{0};
};

class RelaxedCounter {
 public:
  void Add(uint64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }
 private:
  std::atomic<uint64_t> value_{0};
};

// Fixed buckets, one writer: Observe is a bucket search and two relaxed additions.
class RelaxedHistogram {
 public:
  explicit RelaxedHistogram(std::vector<double> upper_bounds);
  void Observe(double value);
  prometheus::ClientMetric::Histogram Read() const;
 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, plus +Inf last
  std::atomic<double> sum_{0};
};

enum class Outcome : uint8_t { kAnswered, kAbandoned, kOverflowed, kCallback, kFallback };
inline constexpr int kOutcomeCount = 5;
enum class CallbackOutcome : uint8_t { kAccepted, kStarted, kNotReached, kGaveUp };
inline constexpr int kCallbackOutcomeCount = 4;
inline constexpr int kWindowCount = 2;        // 15m, 1h

// One queue's series. Gauges are refreshed by the engine about once a second; counters and
// histograms move as events happen.
struct QueueSeries {
  explicit QueueSeries(const routing::CompiledQueue& queue);

  const std::string name;
  const std::string channel;  // a queue whose channel changes in a reload gets new series
  RelaxedDouble calls_waiting, callbacks_waiting, oldest_wait_seconds, staffed_agents;
  RelaxedDouble ewt_seconds;  // NaN: unknown (not exported)
  std::array<RelaxedDouble, routing::kAgentStateCount> agents_by_state;
  std::array<RelaxedCounter, kOutcomeCount> calls;
  RelaxedHistogram wait, answered_wait, handle, hold;
  std::array<RelaxedCounter, 2> hold_overruns;   // expected, max
  std::array<RelaxedCounter, routing::kTransferKindCount> transfers;  // by routing::TransferKind
  std::array<RelaxedCounter, routing::kPromptKindCount> prompts;      // by routing::PromptKind
  std::array<RelaxedCounter, kCallbackOutcomeCount> callbacks;
  struct WindowGauges {
    RelaxedDouble service_level, asa_seconds, aht_seconds, abandon_rate;  // NaN: no data yet
  };
  std::array<WindowGauges, kWindowCount> windows;
  // The policy's values, for boards that colour themselves (a reload may change them).
  RelaxedDouble service_level_target, service_level_alert, service_level_threshold_seconds;
  RelaxedDouble oldest_wait_alert_seconds, calls_waiting_alert;

  // Engine thread only: the rolling outcomes the window gauges are computed from.
  QueueFigures figures;
};

// The journal's series (only exported when acdd runs with a data dir). The journal thread writes
// the write-side ones, the engine thread the recovery ones; each has that one writer.
struct JournalSeries {
  JournalSeries();
  std::atomic<bool> enabled{false};
  RelaxedCounter records, bytes, errors;
  RelaxedDouble writable;                       // 1: records reach the disk; 0: writes fail
  RelaxedHistogram sync_seconds;                // one batch's write (and fdatasync)
  RelaxedHistogram batch_records;               // records per batch (group commit)
  RelaxedDouble recovery_seconds, recovered_records;  // the last start's recovery
  // Snapshots: how long one took to be written and published, its size, and the outcome; what
  // retention removed.
  RelaxedHistogram snapshot_seconds;
  RelaxedDouble snapshot_bytes;                 // the last published snapshot's size
  RelaxedDouble snapshot_sequence;              // the record it ends at
  RelaxedDouble snapshot_timestamp_seconds;     // when it was published (Unix time)
  RelaxedDouble snapshot_copy_behind;           // records the copy's last pass found waiting
  RelaxedCounter snapshots_taken, snapshots_failed;
  RelaxedCounter retention_removed_bytes;
};

// One replica of an HA pair's series (only exported in HA mode). The replica's coordinator
// (daemon/ha/replica.h) writes them, but for replicated_records (the engine thread).
struct HaSeries {
  HaSeries();
  std::atomic<bool> enabled{false};
  // Leader (engine thread), while a standby is counted: from a record's append to the standby's
  // word that it is durable there.
  RelaxedHistogram replication_seconds;
  RelaxedDouble leader;   // 1 while this replica leads, 0 as a standby
  RelaxedDouble epoch;    // the epoch it leads with (0 as a standby)
  RelaxedDouble in_sync;  // leader: 1 while a standby is in sync (output commit waits for it)
  // Leader: records journaled that the standby has not made durable; standby: records the
  // leader has said exist that it has not yet made durable.
  RelaxedDouble lag_records;
  RelaxedCounter failovers;           // times this replica took over as leader
  RelaxedCounter out_of_sync;         // leader: times it went on without its standby
  RelaxedCounter replicated_records;  // standby: records taken from the leader
};

// Requests finished, by what they asked (one of `names`, by index) and gRPC status code; any
// thread counts, the scrape reads.
class CountsByCode {
 public:
  static constexpr int kCodes = 17;
  explicit CountsByCode(std::vector<std::string> names);
  void Count(int name, int code);  // an index or a code out of range is ignored
  const std::vector<std::string>& names() const { return names_; }
  uint64_t Get(int name, int code) const {
    return counts_[name * kCodes + code].load(std::memory_order_relaxed);
  }

 private:
  const std::vector<std::string> names_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // [name * kCodes + code]
};

// What a switch's session asked, for acd_session_requests_total (SwitchMessage's oneof names).
// kUnset: a message with none of them set.
enum class SessionRequest : int {
  kOpen,
  kEnqueueCall,
  kCallEvent,
  kListCalls,
  kSetAgentState,
  kPing,
  kUnset
};

class AcdMetrics : public prometheus::Collectable {
 public:
  AcdMetrics();

  // Engine thread. Builds the per-queue series for `policy`'s queues (QueueId order); a queue that
  // keeps its name keeps its counters and rolling figures across a reload.
  void SetQueues(const routing::CompiledPolicy& policy);
  // Engine thread: the series of a queue of the policy last set.
  QueueSeries* queue(routing::QueueId id) { return engine_queues_[id].get(); }
  const QueueSeries* queue(routing::QueueId id) const { return engine_queues_[id].get(); }
  // Engine thread: recomputes the window gauges of every queue from its rolling figures.
  void RefreshWindows(absl::Time now);

  // Engine-wide series.
  RelaxedHistogram routing_decision_seconds;
  RelaxedCounter engine_events;
  std::atomic<int64_t> engine_queue_depth{0};  // tasks posted to the engine, not yet run
  JournalSeries journal;
  HaSeries ha;

  // Engine thread: log lines of `topic` left out by acdd's log limiter.
  void CountSuppressedLogLines(absl::string_view topic, uint64_t lines);

  // gRPC handlers (any thread): one finished RPC.
  void CountRpc(int method, int code) { rpcs_.Count(method, code); }
  // Switch sessions (any thread): one request answered; sessions open.
  void CountSessionRequest(SessionRequest request, int code) {
    session_requests_.Count(static_cast<int>(request), code);
  }
  std::atomic<int64_t> sessions_open{0};
  // The methods CountRpc knows, by index.
  static const std::vector<std::string>& RpcMethods();
  static int RpcMethodIndex(absl::string_view full_name);  // -1 if unknown

  // HTTP thread.
  std::vector<prometheus::MetricFamily> Collect() const override;

  // The wallboard's JSON (/api/queues): the engine publishes a fresh one about once a second and
  // the HTTP threads read the latest.
  void PublishQueuesJson(std::string json);
  std::shared_ptr<const std::string> queues_json() const;

 private:
  using QueueTable = std::vector<std::shared_ptr<QueueSeries>>;
  std::vector<std::shared_ptr<QueueSeries>> engine_queues_;  // the engine's own copy
  // Guards the published pointers and the suppressed-line counts below; held for a copy, never for
  // long.
  mutable absl::Mutex mu_;
  std::shared_ptr<const QueueTable> published_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const std::string> queues_json_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint64_t> suppressed_log_lines_ ABSL_GUARDED_BY(mu_);
  CountsByCode rpcs_;
  CountsByCode session_requests_;
};

}  // namespace acd::metrics

#endif  // ACD_METRICS_ACD_METRICS_H_
