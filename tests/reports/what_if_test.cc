// The what-if on a recorded journal (reports/recorded_traffic.h, routing/sim/what_if.h), on a case
// Erlang C computes: one queue, Poisson arrivals (a mean of 120 s apart), exponential talks (180 s
// on average), callers who never hang up, agents who answer at once, no wrap-up. That is 1.5
// erlangs of work for the two agents who serve sales, recorded over 500 hours through the real
// core into a real journal. A third agent is logged in all along with too little sales
// proficiency for the recorded policy; the candidate lowers the bar so that they serve sales too.
// Erlang C: the mean wait is 231 s with two agents and 28.4 s with three.
#include "routing/sim/what_if.h"

#include <cmath>
#include <iostream>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"
#include "reports/recorded_traffic.h"
#include "routing/policy_text.h"
#include "tests/daemon/journal_test_support.h"

namespace acd::reports {
namespace {

using daemon::JournalInput;

constexpr double kMeanArrivalGapSeconds = 120;
constexpr double kMeanTalkSeconds = 180;
constexpr double kRecordedHours = 500;

std::string Policy(int min_sales_proficiency) {
  return absl::StrCat(R"(
name: what-if-test
skills: [{name: sales}, {name: billing}]
agent_rules: {max_missed_offers: 0, reject_delay_seconds: 0, no_answer_delay_seconds: 0}
queues:
  - name: sales
    skills: [{skill: sales, min_proficiency: )",
                      min_sales_proficiency, R"(}]
    offer_timeout_seconds: 30
    wrap_up_seconds: 0
  - name: billing
    skills: [{skill: billing, min_proficiency: 1}]
    wrap_up_seconds: 0
)");
}

std::shared_ptr<const routing::CompiledPolicy> Compile(const std::string& yaml) {
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> policy =
      routing::CompilePolicyText(yaml, "what_if_test");
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : nullptr;
}

// Erlang C's mean wait: `c` agents, `a` erlangs offered, talks of `talk` seconds on average.
double ErlangCMeanWait(int c, double a, double talk) {
  double term = 1, sum = 0;
  for (int k = 0; k < c; ++k) {
    sum += term;
    term *= a / (k + 1);
  }
  const double waiting = term * c / (c - a);  // a^c / c! * c / (c - a)
  const double p_wait = waiting / (sum + waiting);
  return p_wait / (c / talk - a / talk);
}

// Drives a core as switches and desktops would, journaling every input into `dir` before the
// core takes it: the agents log in, calls arrive, each offer is answered at once, each talk ends.
class Recorder {
 public:
  explicit Recorder(const std::string& dir)
      : writer_(daemon::testing::OpenJournal(dir, &metrics_)) {}

  void Play() {
    ASSERT_NE(writer_, nullptr);
    JournalInput created = daemon::InputAt(now_);
    *created.mutable_created()->mutable_policy() = Compile(Policy(2))->source;
    created.mutable_created()->set_policy_source("recorded.yaml");
    *created.mutable_created()->mutable_settings() = daemon::SettingsOf({});
    writer_->Append(created.SerializeAsString());
    absl::StatusOr<std::unique_ptr<daemon::Core>> core = daemon::CreateCore(created, nullptr);
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = *std::move(core);
    for (auto [agent, proficiency] : {std::pair{"a1", 3}, {"a2", 3}, {"a3", 1}}) {
      JournalInput login = daemon::InputAt(now_);
      login.mutable_login()->set_agent_id(agent);
      login.mutable_login()->set_ready(true);
      acd::v1::AgentSkill* sales = login.mutable_login()->add_skills();
      sales->set_skill("sales");
      sales->set_proficiency(proficiency);
      if (proficiency == 1) {
        acd::v1::AgentSkill* billing = login.mutable_login()->add_skills();
        billing->set_skill("billing");
        billing->set_proficiency(3);
      }
      Apply(login);
    }
    std::exponential_distribution<double> gap(1 / kMeanArrivalGapSeconds);
    const absl::Time end = start_ + absl::Hours(kRecordedHours);
    absl::Time next_arrival = now_ + absl::Seconds(gap(random_));
    int calls = 0;
    while (next_arrival < end || !ends_.empty()) {
      absl::Time next = next_arrival < end ? next_arrival : absl::InfiniteFuture();
      if (!ends_.empty()) next = std::min(next, ends_.top().first);
      if (std::optional<absl::Time> wake = core_->NextWakeup(); wake && *wake < next) {
        now_ = std::max(now_, *wake);
        JournalInput passed = daemon::InputAt(now_);
        passed.mutable_time_passed();
        Apply(passed);
        continue;
      }
      now_ = next;
      if (!ends_.empty() && ends_.top().first == next) {
        JournalInput ended = Event(ends_.top().second);
        ended.mutable_call_event()->mutable_call_ended();
        ends_.pop();
        Apply(ended);
        continue;
      }
      JournalInput enqueue = daemon::InputAt(now_);
      enqueue.mutable_enqueue_call()->set_switch_id("sw");
      enqueue.mutable_enqueue_call()->set_call_id(absl::StrCat("call-", ++calls));
      enqueue.mutable_enqueue_call()->set_queue("sales");
      Apply(enqueue);
      next_arrival = now_ + absl::Seconds(gap(random_));
    }
  }

 private:
  JournalInput Event(const std::string& call_id) {
    JournalInput input = daemon::InputAt(now_);
    input.mutable_call_event()->set_switch_id("sw");
    input.mutable_call_event()->set_call_id(call_id);
    return input;
  }
  // Journals `input`, applies it, and answers every offer it made at once.
  void Apply(const JournalInput& input) {
    writer_->Append(input.SerializeAsString());
    (void)daemon::ApplyInput(*core_, input);
    (void)core_->TakeNotices();
    for (const daemon::OutgoingCommand& out : core_->TakeCommands()) {
      if (!out.command->has_offer_call()) continue;
      JournalInput accepted = Event(out.command->offer_call().call_id());
      accepted.mutable_call_event()->set_agent_id(out.command->offer_call().agent_id());
      accepted.mutable_call_event()->set_offer_sequence(out.command->sequence());
      accepted.mutable_call_event()->mutable_offer_accepted();
      ends_.push({now_ + absl::Seconds(
                             std::exponential_distribution<double>(1 / kMeanTalkSeconds)(random_)),
                  out.command->offer_call().call_id()});
      Apply(accepted);
    }
  }

  metrics::JournalSeries metrics_;
  std::unique_ptr<daemon::journal::FileJournal> writer_;
  std::unique_ptr<daemon::Core> core_;
  const absl::Time start_ = absl::FromUnixSeconds(1'800'000'000);
  absl::Time now_ = start_;
  std::mt19937_64 random_{7};
  using End = std::pair<absl::Time, std::string>;
  std::priority_queue<End, std::vector<End>, std::greater<End>> ends_;
};

class WhatIfTest : public ::testing::Test {
 protected:
  // One recording for every test.
  static void SetUpTestSuite() {
    daemon::testing::ScratchDir dir("what_if_test");
    {
      // Gone before the journal is read: its writer writes what is still buffered as it goes (a
      // recording read while the journal thread was behind lacked its last answers).
      Recorder recorder(dir.path());
      recorder.Play();
    }
    absl::StatusOr<RecordedTraffic> recorded = RecordTraffic(dir.path(), {});
    ASSERT_TRUE(recorded.ok()) << recorded.status();
    recorded_ = new RecordedTraffic(*std::move(recorded));
  }
  static void TearDownTestSuite() { delete recorded_; }
  void SetUp() override { ASSERT_NE(recorded_, nullptr) << "the recording failed"; }
  static const routing::sim::WhatIfFigures& Sales(
      const std::vector<routing::sim::WhatIfFigures>& figures) {
    for (const routing::sim::WhatIfFigures& f : figures) {
      if (f.queue == "sales") return f;
    }
    ADD_FAILURE() << "no figures for sales";
    static const routing::sim::WhatIfFigures kNone;
    return kNone;
  }

  static inline RecordedTraffic* recorded_ = nullptr;
};

TEST_F(WhatIfTest, TheRecordingIsTheErlangCQueueItWasMadeToBe) {
  const routing::sim::WhatIfFigures& sales = Sales(recorded_->recorded);
  const double expected_calls = kRecordedHours * 3600 / kMeanArrivalGapSeconds;  // 15,000
  EXPECT_NEAR(static_cast<double>(sales.offered), expected_calls, 4 * std::sqrt(expected_calls));
  EXPECT_EQ(sales.answered, sales.offered);
  EXPECT_EQ(recorded_->trace.calls.size(), sales.offered);
  EXPECT_EQ(recorded_->policy_source, "recorded.yaml");
  const double erlang_c =
      ErlangCMeanWait(2, kMeanTalkSeconds / kMeanArrivalGapSeconds, kMeanTalkSeconds);
  EXPECT_NEAR(erlang_c, 231.4, 0.5);
  EXPECT_NEAR(*sales.asa_seconds(), erlang_c, 0.2 * erlang_c);
}

TEST_F(WhatIfTest, ReplayedUnderTheRecordedPolicyItGivesTheRecordedFigures) {
  absl::StatusOr<std::vector<routing::sim::WhatIfFigures>> replay =
      routing::sim::ReplayTrace(recorded_->trace, recorded_->policy, 1);
  ASSERT_TRUE(replay.ok()) << replay.status();
  const routing::sim::WhatIfFigures& recorded = Sales(recorded_->recorded);
  const routing::sim::WhatIfFigures& replayed = Sales(*replay);
  EXPECT_EQ(replayed.offered, recorded.offered);
  EXPECT_EQ(replayed.answered, recorded.answered);
  EXPECT_NEAR(*replayed.asa_seconds(), *recorded.asa_seconds(), 0.01 * *recorded.asa_seconds());
  EXPECT_NEAR(*replayed.occupancy(), *recorded.occupancy(), 0.01);
}

TEST_F(WhatIfTest, OneMoreAgentInTheQueuesSkillsCutsTheWaitAsErlangCSays) {
  absl::StatusOr<std::vector<routing::sim::WhatIfFigures>> candidate =
      routing::sim::ReplayTrace(recorded_->trace, Compile(Policy(1)), 1);
  ASSERT_TRUE(candidate.ok()) << candidate.status();
  const double a = kMeanTalkSeconds / kMeanArrivalGapSeconds;
  const double two = ErlangCMeanWait(2, a, kMeanTalkSeconds);
  const double three = ErlangCMeanWait(3, a, kMeanTalkSeconds);
  EXPECT_NEAR(three, 28.4, 0.1);
  const double recorded_asa = *Sales(recorded_->recorded).asa_seconds();
  const double candidate_asa = *Sales(*candidate).asa_seconds();
  std::cout << "ASA recorded " << recorded_asa << " s (Erlang C, 2 agents: " << two
            << " s); candidate " << candidate_asa << " s (3 agents: " << three << " s)\n";
  EXPECT_LT(candidate_asa, recorded_asa);
  EXPECT_NEAR(candidate_asa, three, 0.2 * three);
  // The size of the change: the ratio of the waits, as Erlang C has it (8.1 times shorter).
  EXPECT_NEAR(recorded_asa / candidate_asa, two / three, 0.15 * two / three);
}

}  // namespace
}  // namespace acd::reports
