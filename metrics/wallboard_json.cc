#include "metrics/wallboard_json.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "routing/json_text.h"
#include "routing/types.h"

namespace acd::metrics {
namespace {

using routing::AppendJsonString;

void AppendJsonNumber(std::string* out, double value) { out->append(routing::JsonNumber(value)); }

}  // namespace

std::string WallboardJson(const routing::CompiledPolicy& policy, const AcdMetrics& metrics,
                          absl::Time now) {
  std::string out = "{\"at\": ";
  AppendJsonString(&out, absl::FormatTime("%Y-%m-%d%ET%H:%M:%E3SZ", now, absl::UTCTimeZone()));
  out.append(", \"policy\": ");
  AppendJsonString(&out, policy.source.name());
  out.append(", \"queues\": [");
  bool first = true;
  for (const routing::CompiledQueue& queue : policy.queues) {
    const QueueSeries* q = metrics.queue(queue.id);
    if (q == nullptr) continue;
    if (!first) out.append(", ");
    first = false;
    out.append("{\"queue\": ");
    AppendJsonString(&out, q->name);
    out.append(", \"channel\": ");
    AppendJsonString(&out, q->channel);
    auto field = [&](absl::string_view name, double value) {
      absl::StrAppend(&out, ", \"", name, "\": ");
      AppendJsonNumber(&out, value);
    };
    field("calls_waiting", q->calls_waiting.Get());
    field("callbacks_waiting", q->callbacks_waiting.Get());
    field("oldest_wait_seconds", q->oldest_wait_seconds.Get());
    field("ewt_seconds", q->ewt_seconds.Get());
    field("staffed_agents", q->staffed_agents.Get());
    field("service_level_15m", q->windows[0].service_level.Get());
    field("service_level_1h", q->windows[1].service_level.Get());
    field("asa_seconds_15m", q->windows[0].asa_seconds.Get());
    field("aht_seconds_15m", q->windows[0].aht_seconds.Get());
    field("abandon_ratio_15m", q->windows[0].abandon_rate.Get());
    absl::StrAppend(&out, ", \"answered_total\": ",
                    q->calls[static_cast<int>(Outcome::kAnswered)].Get());
    absl::StrAppend(&out, ", \"abandoned_total\": ",
                    q->calls[static_cast<int>(Outcome::kAbandoned)].Get());
    field("service_level_target", q->service_level_target.Get());
    field("service_level_alert", q->service_level_alert.Get());
    field("service_level_threshold_seconds", q->service_level_threshold_seconds.Get());
    field("oldest_wait_alert_seconds", q->oldest_wait_alert_seconds.Get());
    field("calls_waiting_alert", q->calls_waiting_alert.Get());
    out.append(", \"agents\": {");
    bool first_state = true;
    for (int s = 1; s < routing::kAgentStateCount; ++s) {
      if (!first_state) out.append(", ");
      first_state = false;
      AppendJsonString(&out, routing::AgentStateName(static_cast<routing::AgentState>(s)));
      absl::StrAppend(&out, ": ", static_cast<int64_t>(q->agents_by_state[s].Get()));
    }
    out.append("}}");
  }
  out.append("]}");
  return out;
}

}  // namespace acd::metrics
