// Relaxed-atomic series and their serialization at scrape time; see acd_metrics.h.
#include "metrics/acd_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace acd::metrics {
namespace {

const std::array<const char*, kOutcomeCount> kOutcomeNames = {"answered", "abandoned", "overflowed",
                                                              "callback", "fallback"};
const std::array<const char*, kCallbackOutcomeCount> kCallbackOutcomeNames = {
    "accepted", "started", "not_reached", "gave_up"};
const std::array<const char*, kWindowCount> kWindowNames = {"15m", "1h"};
const std::array<absl::Duration, kWindowCount> kWindows = {absl::Minutes(15), absl::Hours(1)};

const std::vector<double> kWaitBuckets = {1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600,
                                          1200, 1800, 3600};
const std::vector<double> kHandleBuckets = {10, 30, 60, 120, 180, 300, 450, 600, 900, 1200, 1800,
                                            3600};
const std::vector<double> kHoldBuckets = {5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600};
const std::vector<double> kDecisionBuckets = {1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4,
                                              5e-4, 1e-3, 5e-3, 1e-2};

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

prometheus::ClientMetric& Add(prometheus::MetricFamily& f,
                              std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric& m = f.metric.emplace_back();
  m.label = std::move(labels);
  return m;
}

void AddGauge(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
              double value) {
  if (std::isnan(value)) return;  // unknown: no sample rather than a made-up one
  Add(f, std::move(labels)).gauge.value = value;
}

void AddCounter(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
                double value) {
  Add(f, std::move(labels)).counter.value = value;
}

// What /proc says about this process: CPU seconds, memory, file descriptors, start time.
std::vector<prometheus::MetricFamily> ProcessFamilies() {
  std::vector<prometheus::MetricFamily> out;
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start at state, field 3.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return out;
  std::vector<std::string> fields =
      absl::StrSplit(stat.substr(close + 2), ' ', absl::SkipEmpty());
  auto field = [&](int n) {  // 1-based field number as in proc(5)
    double v = 0;
    if (n - 3 >= 0 && n - 3 < static_cast<int>(fields.size())) {
      (void)absl::SimpleAtod(fields[n - 3], &v);
    }
    return v;
  };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  auto cpu = Family("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
                    prometheus::MetricType::Counter);
  AddCounter(cpu, {}, (field(14) + field(15)) / ticks);
  out.push_back(std::move(cpu));
  auto rss = Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                    prometheus::MetricType::Gauge);
  AddGauge(rss, {}, field(24) * page);
  out.push_back(std::move(rss));
  auto vsize = Family("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                      prometheus::MetricType::Gauge);
  AddGauge(vsize, {}, field(23));
  out.push_back(std::move(vsize));
  // Boot time (btime in /proc/stat) + start ticks after boot.
  std::ifstream proc_stat("/proc/stat");
  std::string line;
  double boot = 0;
  while (std::getline(proc_stat, line)) {
    if (line.rfind("btime ", 0) == 0) (void)absl::SimpleAtod(line.substr(6), &boot);
  }
  auto start = Family("process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.",
                      prometheus::MetricType::Gauge);
  AddGauge(start, {}, boot + field(22) / ticks);
  out.push_back(std::move(start));
  int fds = 0;
  if (DIR* dir = opendir("/proc/self/fd")) {
    while (readdir(dir) != nullptr) fds++;
    closedir(dir);
    fds -= 3;  // ".", ".." and the directory's own descriptor
  }
  auto open_fds = Family("process_open_fds", "Number of open file descriptors.",
                         prometheus::MetricType::Gauge);
  AddGauge(open_fds, {}, std::max(fds, 0));
  out.push_back(std::move(open_fds));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    auto max_fds = Family("process_max_fds", "Maximum number of open file descriptors.",
                          prometheus::MetricType::Gauge);
    AddGauge(max_fds, {}, static_cast<double>(limit.rlim_cur));
    out.push_back(std::move(max_fds));
  }
  return out;
}

}  // namespace

RelaxedHistogram::RelaxedHistogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void RelaxedHistogram::Observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  // One writer: a load and a store need no compare-and-swap loop.
  sum_.store(sum_.load(std::memory_order_relaxed) + value, std::memory_order_relaxed);
}

prometheus::ClientMetric::Histogram RelaxedHistogram::Read() const {
  prometheus::ClientMetric::Histogram h;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i].load(std::memory_order_relaxed);
    prometheus::ClientMetric::Bucket& b = h.bucket.emplace_back();
    b.cumulative_count = cumulative;
    b.upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
  }
  h.sample_count = cumulative;
  h.sample_sum = sum_.load(std::memory_order_relaxed);
  return h;
}

QueueSeries::QueueSeries(const routing::CompiledQueue& queue)
    : name(queue.name),
      channel(routing::ChannelName(queue.channel)),
      wait(kWaitBuckets),
      answered_wait(kWaitBuckets),
      handle(kHandleBuckets),
      hold(kHoldBuckets),
      figures(absl::Seconds(20)) {
  ewt_seconds.Set(std::nan(""));
  for (auto& w : windows) {
    w.service_level.Set(std::nan(""));
    w.asa_seconds.Set(std::nan(""));
    w.aht_seconds.Set(std::nan(""));
    w.abandon_rate.Set(std::nan(""));
  }
}

JournalSeries::JournalSeries()
    : sync_seconds({1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1,
                    0.25, 0.5, 1}),
      batch_records({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}),
      snapshot_seconds({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}) {}

HaSeries::HaSeries()
    : replication_seconds(
          {1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.25, 0.5, 1}) {}

AcdMetrics::AcdMetrics()
    : routing_decision_seconds(kDecisionBuckets),
      published_(std::make_shared<QueueTable>()),
      queues_json_(std::make_shared<const std::string>("{\"queues\": []}")),
      rpcs_(RpcMethods()),
      session_requests_({"open", "enqueue_call", "call_event", "list_calls", "set_agent_state",
                         "ping", "unset"}) {}

CountsByCode::CountsByCode(std::vector<std::string> names)
    : names_(std::move(names)), counts_(new std::atomic<uint64_t>[names_.size() * kCodes]) {
  for (size_t i = 0; i < names_.size() * kCodes; ++i) counts_[i].store(0);
}

void CountsByCode::Count(int name, int code) {
  if (name < 0 || name >= static_cast<int>(names_.size()) || code < 0 || code >= kCodes) return;
  counts_[name * kCodes + code].fetch_add(1, std::memory_order_relaxed);
}

void AcdMetrics::SetQueues(const routing::CompiledPolicy& policy) {
  absl::flat_hash_map<std::string, std::shared_ptr<QueueSeries>> old;
  for (auto& q : engine_queues_) old[q->name] = q;
  QueueTable table;
  for (const routing::CompiledQueue& queue : policy.queues) {
    std::shared_ptr<QueueSeries> series;
    if (auto it = old.find(queue.name);
        it != old.end() && it->second->channel == routing::ChannelName(queue.channel)) {
      series = it->second;
    } else {
      series = std::make_shared<QueueSeries>(queue);
    }
    // The policy's values change only here, before the table is published again.
    series->figures.set_threshold(queue.service_level.threshold);
    series->service_level_threshold_seconds.Set(
        absl::ToDoubleSeconds(queue.service_level.threshold));
    series->service_level_target.Set(queue.service_level.target);
    series->service_level_alert.Set(queue.service_level.alert);
    series->oldest_wait_alert_seconds.Set(absl::ToDoubleSeconds(queue.alerts.oldest_wait));
    series->calls_waiting_alert.Set(queue.alerts.calls_waiting);
    table.push_back(series);
  }
  engine_queues_ = table;
  auto published = std::make_shared<const QueueTable>(std::move(table));
  absl::MutexLock lock(&mu_);
  published_ = std::move(published);
}

void AcdMetrics::PublishQueuesJson(std::string json) {
  auto published = std::make_shared<const std::string>(std::move(json));
  absl::MutexLock lock(&mu_);
  queues_json_ = std::move(published);
}

std::shared_ptr<const std::string> AcdMetrics::queues_json() const {
  absl::MutexLock lock(&mu_);
  return queues_json_;
}

void AcdMetrics::RefreshWindows(absl::Time now) {
  for (auto& q : engine_queues_) {
    for (int w = 0; w < kWindowCount; ++w) {
      QueueFigures::Window figures = q->figures.Over(kWindows[w], now);
      const double nan = std::nan("");
      q->windows[w].service_level.Set(figures.service_level.value_or(nan));
      q->windows[w].asa_seconds.Set(figures.asa_seconds.value_or(nan));
      q->windows[w].aht_seconds.Set(figures.aht_seconds.value_or(nan));
      q->windows[w].abandon_rate.Set(figures.abandon_rate.value_or(nan));
    }
  }
}

const std::vector<std::string>& AcdMetrics::RpcMethods() {
  static const std::vector<std::string> methods = {
      "/acd.v1.SwitchService/EnqueueCall",    "/acd.v1.SwitchService/ReportCallEvent",
      "/acd.v1.SwitchService/StreamCommands", "/acd.v1.SwitchService/ListCalls",
      "/acd.v1.AgentService/Login",           "/acd.v1.AgentService/SetAgentState",
      "/acd.v1.AgentService/Logout",          "/acd.v1.AdminService/ListQueues",
      "/acd.v1.AdminService/ListAgents",      "/acd.v1.AdminService/GetCall",
      "/acd.v1.AdminService/GetPolicy",       "/acd.v1.AdminService/SetPolicy",
      "/acd.v1.AdminService/WatchQueues",     "/acd.v1.AdminService/WhatIf",
  };
  return methods;
}

int AcdMetrics::RpcMethodIndex(absl::string_view full_name) {
  const auto& methods = RpcMethods();
  auto it = std::find(methods.begin(), methods.end(), full_name);
  return it == methods.end() ? -1 : static_cast<int>(it - methods.begin());
}

std::vector<prometheus::MetricFamily> AcdMetrics::Collect() const {
  std::shared_ptr<const QueueTable> queues;
  {
    absl::MutexLock lock(&mu_);
    queues = published_;
  }
  using prometheus::MetricType;
  auto waiting = Family("acd_queue_calls_waiting", "Calls waiting in the queue now.", MetricType::Gauge);
  auto callbacks_waiting = Family("acd_queue_callbacks_waiting",
                                  "Of the calls waiting, callbacks keeping their place.",
                                  MetricType::Gauge);
  auto oldest = Family("acd_queue_oldest_wait_seconds", "Longest current wait in the queue.",
                       MetricType::Gauge);
  auto ewt = Family("acd_queue_ewt_seconds", "Expected wait for a caller arriving now.",
                    MetricType::Gauge);
  auto staffed = Family("acd_queue_staffed_agents",
                        "Members of the queue logged in and not not_ready.", MetricType::Gauge);
  auto agents = Family("acd_agents", "Members of the queue by state.", MetricType::Gauge);
  auto calls = Family("acd_calls_total", "Calls leaving the queue's line, by outcome.",
                      MetricType::Counter);
  auto wait = Family("acd_wait_seconds", "Wait of calls leaving the line, answered or abandoned.",
                     MetricType::Histogram);
  auto answered_wait = Family("acd_answered_wait_seconds", "Wait of answered calls.",
                              MetricType::Histogram);
  auto handle = Family("acd_handle_seconds", "Talk time of ended calls, holds included.",
                       MetricType::Histogram);
  auto hold = Family("acd_hold_seconds", "Length of ended holds.", MetricType::Histogram);
  auto overruns = Family("acd_hold_overruns_total",
                         "Holds that ran past what the caller was told or the queue's maximum.",
                         MetricType::Counter);
  auto transfers = Family("acd_transfers_total", "Transfers out of the queue, blind or warm.",
                          MetricType::Counter);
  auto prompts = Family("acd_prompts_total", "Prompts sent to callers, by kind.",
                        MetricType::Counter);
  auto callbacks = Family("acd_callbacks_total", "Callbacks by outcome.", MetricType::Counter);
  auto sl = Family("acd_service_level_ratio",
                   "Answered within the threshold / (answered + abandoned after it), over the window.",
                   MetricType::Gauge);
  auto asa = Family("acd_asa_seconds", "Average speed of answer over the window.", MetricType::Gauge);
  auto aht = Family("acd_aht_seconds", "Average handle time (talk + wrap-up) over the window.",
                    MetricType::Gauge);
  auto abandon = Family("acd_abandon_ratio", "Abandoned / (answered + abandoned) over the window.",
                        MetricType::Gauge);
  auto sl_target = Family("acd_service_level_target_ratio", "The policy's service-level target.",
                          MetricType::Gauge);
  auto sl_alert = Family("acd_service_level_alert_ratio",
                         "The policy's service level below which the board turns red.",
                         MetricType::Gauge);
  auto sl_threshold = Family("acd_service_level_threshold_seconds",
                             "The policy's service-level answer threshold.", MetricType::Gauge);
  auto oldest_alert = Family("acd_oldest_wait_alert_seconds",
                             "The policy's oldest-wait alert value (0: none).", MetricType::Gauge);
  auto waiting_alert = Family("acd_calls_waiting_alert",
                              "The policy's calls-waiting alert value (0: none).", MetricType::Gauge);

  for (const auto& qp : *queues) {
    const QueueSeries& q = *qp;
    const prometheus::ClientMetric::Label label{"queue", q.name};
    AddGauge(waiting, {label}, q.calls_waiting.Get());
    AddGauge(callbacks_waiting, {label}, q.callbacks_waiting.Get());
    AddGauge(oldest, {label}, q.oldest_wait_seconds.Get());
    AddGauge(ewt, {label}, q.ewt_seconds.Get());
    AddGauge(staffed, {label}, q.staffed_agents.Get());
    for (int s = 1; s < routing::kAgentStateCount; ++s) {  // logged_out members do not exist
      AddGauge(agents,
               {label, {"state", std::string(routing::AgentStateName(
                                     static_cast<routing::AgentState>(s)))}},
               q.agents_by_state[s].Get());
    }
    for (int o = 0; o < kOutcomeCount; ++o) {
      AddCounter(calls, {label, {"outcome", kOutcomeNames[o]}}, q.calls[o].Get());
    }
    Add(wait, {label}).histogram = q.wait.Read();
    Add(answered_wait, {label}).histogram = q.answered_wait.Read();
    Add(handle, {label}).histogram = q.handle.Read();
    Add(hold, {label}).histogram = q.hold.Read();
    AddCounter(overruns, {label, {"reason", "expected"}}, q.hold_overruns[0].Get());
    AddCounter(overruns, {label, {"reason", "max"}}, q.hold_overruns[1].Get());
    for (int k = 0; k < routing::kTransferKindCount; ++k) {
      AddCounter(transfers,
                 {label, {"kind", std::string(routing::TransferKindName(
                                      static_cast<routing::TransferKind>(k)))}},
                 q.transfers[k].Get());
    }
    for (int k = 1; k < routing::kPromptKindCount; ++k) {  // every kind but kNone
      AddCounter(prompts,
                 {label, {"kind", std::string(routing::PromptKindName(
                                      static_cast<routing::PromptKind>(k)))}},
                 q.prompts[k].Get());
    }
    for (int c = 0; c < kCallbackOutcomeCount; ++c) {
      AddCounter(callbacks, {label, {"outcome", kCallbackOutcomeNames[c]}}, q.callbacks[c].Get());
    }
    for (int w = 0; w < kWindowCount; ++w) {
      const prometheus::ClientMetric::Label window{"window", kWindowNames[w]};
      AddGauge(sl, {label, window}, q.windows[w].service_level.Get());
      AddGauge(asa, {label, window}, q.windows[w].asa_seconds.Get());
      AddGauge(aht, {label, window}, q.windows[w].aht_seconds.Get());
      AddGauge(abandon, {label, window}, q.windows[w].abandon_rate.Get());
    }
    AddGauge(sl_target, {label}, q.service_level_target.Get());
    AddGauge(sl_alert, {label}, q.service_level_alert.Get());
    AddGauge(sl_threshold, {label}, q.service_level_threshold_seconds.Get());
    AddGauge(oldest_alert, {label}, q.oldest_wait_alert_seconds.Get());
    AddGauge(waiting_alert, {label}, q.calls_waiting_alert.Get());
  }

  std::vector<prometheus::MetricFamily> out;
  for (auto* f : {&waiting, &callbacks_waiting, &oldest, &ewt, &staffed, &agents, &calls, &wait,
                  &answered_wait, &handle, &hold, &overruns, &transfers, &prompts, &callbacks, &sl,
                  &asa, &aht, &abandon, &sl_target, &sl_alert, &sl_threshold, &oldest_alert,
                  &waiting_alert}) {
    out.push_back(std::move(*f));
  }
  auto decision = Family("acd_routing_decision_seconds",
                         "One routing decision: a call arriving, a call event or timers falling due, in the engine's core.",
                         MetricType::Histogram);
  Add(decision, {}).histogram = routing_decision_seconds.Read();
  out.push_back(std::move(decision));
  auto events = Family("acd_engine_events_total", "Routing decisions the engine's core made.",
                       MetricType::Counter);
  AddCounter(events, {}, engine_events.Get());
  out.push_back(std::move(events));
  auto depth = Family("acd_engine_queue_depth", "Tasks waiting for the engine thread.",
                      MetricType::Gauge);
  AddGauge(depth, {}, static_cast<double>(std::max<int64_t>(0, engine_queue_depth.load())));
  out.push_back(std::move(depth));
  // OK is always there so a rate() has a series from the start; other codes once they occur.
  auto by_code = [&out](const char* name, const char* help, const char* label,
                        const CountsByCode& counts) {
    static const std::array<const char*, CountsByCode::kCodes> kCodes = {"OK",
                                                                         "CANCELLED",
                                                                         "UNKNOWN",
                                                                         "INVALID_ARGUMENT",
                                                                         "DEADLINE_EXCEEDED",
                                                                         "NOT_FOUND",
                                                                         "ALREADY_EXISTS",
                                                                         "PERMISSION_DENIED",
                                                                         "RESOURCE_EXHAUSTED",
                                                                         "FAILED_PRECONDITION",
                                                                         "ABORTED",
                                                                         "OUT_OF_RANGE",
                                                                         "UNIMPLEMENTED",
                                                                         "INTERNAL",
                                                                         "UNAVAILABLE",
                                                                         "DATA_LOSS",
                                                                         "UNAUTHENTICATED"};
    auto family = Family(name, help, MetricType::Counter);
    for (size_t m = 0; m < counts.names().size(); ++m) {
      for (int c = 0; c < CountsByCode::kCodes; ++c) {
        const uint64_t n = counts.Get(static_cast<int>(m), c);
        if (n == 0 && c != 0) continue;
        AddCounter(family, {{label, counts.names()[m]}, {"code", kCodes[c]}},
                   static_cast<double>(n));
      }
    }
    out.push_back(std::move(family));
  };
  by_code("acd_grpc_requests_total", "gRPC requests finished, by method and code.", "method",
          rpcs_);
  by_code("acd_session_requests_total",
          "Requests answered on switch sessions (SwitchService.Session), by kind and code.", "kind",
          session_requests_);
  auto sessions = Family("acd_switch_sessions", "Switch sessions open.", MetricType::Gauge);
  AddGauge(sessions, {}, static_cast<double>(std::max<int64_t>(0, sessions_open.load())));
  out.push_back(std::move(sessions));
  // A family of one series per value of `label`.
  auto by_label = [&out](const char* name, const char* help, MetricType type, const char* label,
                         std::initializer_list<std::pair<const char*, double>> values) {
    auto family = Family(name, help, type);
    for (const auto& [value, figure] : values) {
      if (type == MetricType::Counter) {
        AddCounter(family, {{label, value}}, figure);
      } else {
        AddGauge(family, {{label, value}}, figure);
      }
    }
    out.push_back(std::move(family));
  };
  // A family of one unlabelled series.
  auto one = [&out](const char* name, const char* help, MetricType type, double value) {
    auto family = Family(name, help, type);
    if (type == MetricType::Counter) {
      AddCounter(family, {}, value);
    } else {
      AddGauge(family, {}, value);
    }
    out.push_back(std::move(family));
  };
  if (journal.enabled.load(std::memory_order_relaxed)) {
    auto histogram = [&out](const char* name, const char* help, const RelaxedHistogram& h) {
      auto family = Family(name, help, MetricType::Histogram);
      Add(family, {}).histogram = h.Read();
      out.push_back(std::move(family));
    };
    one("acd_journal_records_total", "Journal records written.", MetricType::Counter,
        journal.records.Get());
    one("acd_journal_bytes_total", "Journal bytes written.", MetricType::Counter,
        journal.bytes.Get());
    one("acd_journal_errors_total", "Journal writes that failed (each retry counts).",
        MetricType::Counter, journal.errors.Get());
    one("acd_journal_writable",
        "1 while journal writes succeed; 0 while they fail and acdd refuses state changes.",
        MetricType::Gauge, journal.writable.Get());
    histogram("acd_journal_sync_seconds",
              "One group commit: writing a batch of records (and fdatasync with "
              "--journal_sync=fsync).",
              journal.sync_seconds);
    histogram("acd_journal_batch_records",
              "Records per write: per group commit, and per copy into the segment's window.",
              journal.batch_records);
    one("acd_recovery_seconds", "How long the last start took to recover its state from the data dir.",
        MetricType::Gauge, journal.recovery_seconds.Get());
    one("acd_recovery_records", "Journal records the last start replayed.", MetricType::Gauge,
        journal.recovered_records.Get());
    histogram("acd_snapshot_seconds",
              "From the start of a snapshot to its publication (written, synced, renamed).",
              journal.snapshot_seconds);
    one("acd_snapshot_bytes", "Size of the last snapshot published.", MetricType::Gauge,
        journal.snapshot_bytes.Get());
    one("acd_snapshot_sequence", "The journal record the last published snapshot ends at.",
        MetricType::Gauge, journal.snapshot_sequence.Get());
    one("acd_snapshot_timestamp_seconds",
        "When the last snapshot was published (Unix time); 0: none since acdd started.",
        MetricType::Gauge, journal.snapshot_timestamp_seconds.Get());
    one("acd_snapshot_copy_behind_records",
        "Durable journal records the snapshot taker's copy found waiting at its last pass (it "
        "follows in the background, at normal priority for 10 s after an overdue pass).",
        MetricType::Gauge, journal.snapshot_copy_behind.Get());
    by_label("acd_snapshots_total", "Snapshots attempted, by result.", MetricType::Counter,
             "result", {{"published", journal.snapshots_taken.Get()},
                        {"failed", journal.snapshots_failed.Get()}});
    one("acd_journal_retention_removed_bytes_total",
        "Bytes of journal segments and old snapshots removed by retention.", MetricType::Counter,
        journal.retention_removed_bytes.Get());
  }
  if (ha.enabled.load(std::memory_order_relaxed)) {
    by_label("acd_ha_role", "1 for the role this replica has now: leader or standby.",
             MetricType::Gauge, "role",
             {{"leader", ha.leader.Get()}, {"standby", 1 - ha.leader.Get()}});
    one("acd_ha_epoch",
        "The epoch this replica leads with (the etcd leader key's revision); 0 "
        "as a standby.",
        MetricType::Gauge, ha.epoch.Get());
    one("acd_ha_standby_in_sync",
        "Leader: 1 while a standby is in sync (every acknowledgement waits for its journal too).",
        MetricType::Gauge, ha.in_sync.Get());
    one("acd_ha_replication_lag_records",
        "Leader: records journaled that the standby has not made durable. Standby: records the "
        "leader sent that it has not made durable.",
        MetricType::Gauge, ha.lag_records.Get());
    {
      auto family = Family("acd_ha_replication_seconds",
                           "Leader, while a standby is counted: from a journal record's append to "
                           "the standby's word that it is durable there (the price of each "
                           "acknowledgement's second copy).",
                           MetricType::Histogram);
      Add(family, {}).histogram = ha.replication_seconds.Read();
      out.push_back(std::move(family));
    }
    one("acd_ha_failovers_total", "Times this replica took over as the leader.",
        MetricType::Counter, ha.failovers.Get());
    one("acd_ha_standby_out_of_sync_total",
        "Leader: times it marked its standby out of sync in etcd and went on alone.",
        MetricType::Counter, ha.out_of_sync.Get());
    one("acd_ha_replicated_records_total", "Standby: journal records taken from the leader.",
        MetricType::Counter, ha.replicated_records.Get());
  }
  {
    auto family = Family("acd_log_lines_suppressed_total",
                         "Log lines left out by the log limiter (a condition repeated more than "
                         "10 times a minute), by topic.",
                         MetricType::Counter);
    absl::MutexLock lock(&mu_);
    for (const auto& [topic, lines] : suppressed_log_lines_) {
      AddCounter(family, {{"topic", topic}}, static_cast<double>(lines));
    }
    out.push_back(std::move(family));
  }
  for (auto& f : ProcessFamilies()) out.push_back(std::move(f));
  return out;
}

void AcdMetrics::CountSuppressedLogLines(absl::string_view topic, uint64_t lines) {
  absl::MutexLock lock(&mu_);
  suppressed_log_lines_[topic] += lines;
}

}  // namespace acd::metrics
