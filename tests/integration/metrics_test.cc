// Whole-process tests of what acdd exports: a scripted scenario with known waits, answers and
// abandons against the real daemon, then its /metrics scrape and /api/queues compared with
// figures computed by hand; plus the wallboard page being served.
#include <cmath>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/acdd_process.h"
#include "tests/integration/center.h"
#include "tests/integration/http_get.h"

namespace acd::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string MetricsPolicy() {
  return std::string(ACD_SOURCE_DIR) + "/tests/integration/testdata/metrics.yaml";
}

// One sample of a Prometheus text exposition.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (brace != std::string::npos && brace < space) {
      s.name = line.substr(0, brace);
      const size_t close = line.rfind('}');
      for (absl::string_view pair :
           absl::StrSplit(line.substr(brace + 1, close - brace - 1), "\",", absl::SkipEmpty())) {
        const size_t eq = pair.find('=');
        std::string value(pair.substr(eq + 1));
        value.erase(std::remove(value.begin(), value.end(), '"'), value.end());
        s.labels[std::string(pair.substr(0, eq))] = value;
      }
    } else {
      s.name = line.substr(0, space);
    }
    if (!absl::SimpleAtod(line.substr(space + 1), &s.value)) continue;
    samples.push_back(std::move(s));
  }
  return samples;
}

// The value of the one sample of `name` carrying all of `labels` (an `le` compared as a number),
// or NaN when there is none.
double Find(const std::vector<Sample>& samples, const std::string& name,
            const std::map<std::string, std::string>& labels) {
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [key, want] : labels) {
      auto it = s.labels.find(key);
      if (it == s.labels.end()) { match = false; break; }
      if (key == "le") {
        double a = 0, b = 0;
        match = absl::SimpleAtod(it->second, &a) && absl::SimpleAtod(want, &b) && a == b;
      } else {
        match = it->second == want;
      }
      if (!match) break;
    }
    if (match) return s.value;
  }
  return std::nan("");
}

// Seconds between the first history entries `from` and `to` of a call, by the daemon's clock.
double SecondsBetween(const acd::v1::CallInfo& call, const std::string& from, const std::string& to) {
  std::optional<double> a, b;
  for (const acd::v1::CallHistoryEntry& e : call.history()) {
    const double t = e.at().seconds() + e.at().nanos() / 1e9;
    if (!a && e.what() == from) a = t;
    if (!b && e.what() == to) b = t;
  }
  EXPECT_TRUE(a && b) << call.DebugString();
  return a && b ? *b - *a : std::nan("");
}

TEST(Metrics, ExportedFiguresEqualTheHandComputedOnesAfterAScriptedScenario) {
  AcddProcess acdd({"--policy", MetricsPolicy()});
  Center center(acdd);
  CommandReader commands(center.sw.get(), "sw1");

  // c1 and c2 wait; an agent comes 0.3 s later and takes c1 (answered within the 1 s threshold).
  center.Enqueue("c1", "sales");
  center.Enqueue("c2", "sales");
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(center.Login("agent", "sales").ok());
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("c1", "agent", Accept).ok());
  // c2 gives up after 1.5 s (abandoned after the threshold: it counts against service level).
  std::this_thread::sleep_for(1200ms);
  ASSERT_TRUE(center.Event("c2", "", Abandon).ok());
  // c3 arrives and waits 3 s for the agent (answered, not within the threshold).
  center.Enqueue("c3", "sales");
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(center.Event("c1", "agent", End).ok());
  ASSERT_TRUE(commands.Next());
  ASSERT_TRUE(center.Event("c3", "agent", Accept).ok());
  ASSERT_TRUE(center.Event("c3", "agent", End).ok());
  std::this_thread::sleep_for(1500ms);  // the queue gauges refresh once a second

  // The waits as the daemon saw them (the sleeps above aim them at 0.3, 1.5 and 3 s).
  const double w1 = SecondsBetween(center.GetCall("c1"), "enqueued", "connected");
  const double w2 = SecondsBetween(center.GetCall("c2"), "enqueued", "abandoned");
  const double w3 = SecondsBetween(center.GetCall("c3"), "enqueued", "connected");
  const int within = (w1 <= 1) + (w3 <= 1);
  const int late_abandons = w2 > 1;
  auto in_bucket = [](double le, std::initializer_list<double> waits) {
    int n = 0;
    for (double w : waits) n += w <= le;
    return n;
  };

  std::optional<HttpResponse> scrape = HttpGet(acdd.http_address(), "/metrics");
  ASSERT_TRUE(scrape);
  ASSERT_EQ(scrape->status, 200);
  EXPECT_THAT(scrape->headers, HasSubstr("text/plain; version=0.0.4"));
  const std::vector<Sample> m = ParseExposition(scrape->body);
  const std::map<std::string, std::string> sales = {{"queue", "sales"}};

  // By hand: answered c1 and c3, abandoned c2; threshold 1 s. With the planned waits (0.3, 1.5,
  // 3.0 s) service level is 1 / (2 + 1), ASA 1.65 s, abandon ratio 1/3.
  EXPECT_EQ(Find(m, "acd_calls_total", {{"queue", "sales"}, {"outcome", "answered"}}), 2);
  EXPECT_EQ(Find(m, "acd_calls_total", {{"queue", "sales"}, {"outcome", "abandoned"}}), 1);
  EXPECT_EQ(Find(m, "acd_calls_total", {{"queue", "sales"}, {"outcome", "fallback"}}), 0);
  // Service level = answered within the threshold / (answered + abandoned after it).
  const double service_level = static_cast<double>(within) / (2 + late_abandons);
  EXPECT_NEAR(Find(m, "acd_service_level_ratio", {{"queue", "sales"}, {"window", "15m"}}),
              service_level, 1e-9);
  EXPECT_NEAR(Find(m, "acd_service_level_ratio", {{"queue", "sales"}, {"window", "1h"}}),
              service_level, 1e-9);
  EXPECT_NEAR(Find(m, "acd_abandon_ratio", {{"queue", "sales"}, {"window", "15m"}}), 1.0 / 3, 1e-9);
  EXPECT_NEAR(Find(m, "acd_asa_seconds", {{"queue", "sales"}, {"window", "15m"}}), (w1 + w3) / 2,
              0.002);
  // Every wait that left the line, in the histogram's buckets.
  for (double le : {1.0, 2.0, 5.0, 10.0}) {
    EXPECT_EQ(Find(m, "acd_wait_seconds_bucket", {{"queue", "sales"}, {"le", absl::StrCat(le)}}),
              in_bucket(le, {w1, w2, w3}))
        << "le=" << le << " waits " << w1 << " " << w2 << " " << w3;
  }
  EXPECT_EQ(Find(m, "acd_wait_seconds_count", sales), 3);
  EXPECT_NEAR(Find(m, "acd_wait_seconds_sum", sales), w1 + w2 + w3, 0.003);
  EXPECT_EQ(Find(m, "acd_answered_wait_seconds_count", sales), 2);
  EXPECT_EQ(Find(m, "acd_handle_seconds_count", sales), 2);
  // The policy's values for boards that colour themselves.
  EXPECT_EQ(Find(m, "acd_service_level_target_ratio", sales), 0.8);
  EXPECT_EQ(Find(m, "acd_service_level_alert_ratio", sales), 0.6);
  EXPECT_EQ(Find(m, "acd_service_level_threshold_seconds", sales), 1);
  EXPECT_EQ(Find(m, "acd_oldest_wait_alert_seconds", sales), 60);
  // Live figures: nobody waits; the agent is ready again.
  EXPECT_EQ(Find(m, "acd_queue_calls_waiting", sales), 0);
  EXPECT_EQ(Find(m, "acd_agents", {{"queue", "sales"}, {"state", "ready"}}), 1);
  EXPECT_EQ(Find(m, "acd_queue_staffed_agents", sales), 1);
  // The support queue exists with nothing in it: no SL yet, rather than a made-up one.
  EXPECT_TRUE(std::isnan(Find(m, "acd_service_level_ratio", {{"queue", "support"}})));
  EXPECT_EQ(Find(m, "acd_calls_total", {{"queue", "support"}, {"outcome", "answered"}}), 0);
  // Engine and RPC figures moved.
  EXPECT_GE(Find(m, "acd_engine_events_total", {}), 8);
  EXPECT_GE(Find(m, "acd_routing_decision_seconds_count", {}), 8);
  EXPECT_EQ(Find(m, "acd_grpc_requests_total",
                 {{"method", "/acd.v1.SwitchService/EnqueueCall"}, {"code", "OK"}}),
            3);
  EXPECT_GT(Find(m, "process_resident_memory_bytes", {}), 0);
  // No call or agent ids in any label.
  EXPECT_THAT(scrape->body, ::testing::Not(HasSubstr("\"c1\"")));
  EXPECT_THAT(scrape->body, ::testing::Not(HasSubstr("\"agent\"")));

  std::optional<HttpResponse> json = HttpGet(acdd.http_address(), "/api/queues");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 200);
  EXPECT_THAT(json->body, HasSubstr("\"queue\": \"sales\""));
  EXPECT_THAT(json->body,
              HasSubstr(absl::StrCat("\"service_level_15m\": ", absl::StrFormat("%.6g", service_level))));
  EXPECT_THAT(json->body, HasSubstr("\"answered_total\": 2"));
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

TEST(Metrics, TheWallboardPageIsServedFromTheBinaryAndUnknownPathsAre404) {
  AcddProcess acdd({"--policy", MetricsPolicy()});
  std::optional<HttpResponse> page = HttpGet(acdd.http_address(), "/wallboard");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_THAT(page->headers, HasSubstr("text/html"));
  EXPECT_THAT(page->body, HasSubstr("/api/queues"));
  EXPECT_THAT(page->body, ::testing::Not(HasSubstr("http://"))) << "nothing from a CDN";
  EXPECT_THAT(page->body, ::testing::Not(HasSubstr("https://")));
  std::optional<HttpResponse> missing = HttpGet(acdd.http_address(), "/metrics/extra");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(acdd.Stop(SIGTERM), 0);
}

}  // namespace
}  // namespace acd::testing
