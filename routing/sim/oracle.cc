// The Monte Carlo runs of oracle.h.
#include "routing/sim/oracle.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <utility>

namespace acd::routing::sim {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();

struct Waiting {
  const OracleCaller* caller;
  double leaves_at;  // hangs up then, unless answered before
  bool gone = false;
};

// One run: the caller's wait, or nullopt when no agent ever takes them.
std::optional<double> OneRun(const OracleInput& input, std::vector<Waiting>& waiting,
                             std::mt19937_64& random) {
  // When each agent is next free, earliest first.
  std::priority_queue<std::pair<double, size_t>, std::vector<std::pair<double, size_t>>,
                      std::greater<>>
      free_at;
  for (size_t a = 0; a < input.agents.size(); ++a) {
    const OracleAgent& agent = input.agents[a];
    const double t = agent.talk != nullptr
                         ? SampleRest(*agent.talk, agent.talk_so_far, random) + agent.wrap_up_after
                         : agent.free_in;
    free_at.emplace(t, a);
  }
  for (Waiting& w : waiting) {
    w.gone = false;
    w.leaves_at = w.caller->patience != nullptr
                      ? SampleRest(*w.caller->patience, w.caller->waited, random)
                      : kNever;
  }
  const OracleCaller& me = input.caller;
  while (!free_at.empty()) {
    const auto [t, a] = free_at.top();
    free_at.pop();
    const std::vector<QueueId>& queues = input.agents[a].queues;
    const uint64_t languages = input.agents[a].languages;
    auto speaks = [&](const OracleCaller& c) {
      return c.language < 0 || ((languages >> c.language) & 1) != 0;
    };
    // The best caller still there among the agent's queues: the caller competes on score too.
    Waiting* best = nullptr;
    double best_score = 0;
    bool me_best = false;
    if (speaks(me) && std::find(queues.begin(), queues.end(), me.queue) != queues.end()) {
      me_best = true;
      best_score = me.priority + me.aging * t;
    }
    for (Waiting& w : waiting) {
      if (w.gone || w.leaves_at <= t) continue;
      const OracleCaller& c = *w.caller;
      if (!speaks(c) || std::find(queues.begin(), queues.end(), c.queue) == queues.end()) {
        continue;
      }
      const double score = c.priority + c.aging * (c.waited + t);
      const bool better =
          (!me_best && best == nullptr) || score > best_score ||
          (score == best_score && (me_best ? c.order < me.order : c.order < best->caller->order));
      if (better) {
        best = &w;
        best_score = score;
        me_best = false;
      }
    }
    if (me_best) return t;
    if (best == nullptr) continue;  // nobody for this agent: it stays free
    best->gone = true;
    free_at.emplace(t + Sample(*best->caller->talk, random) + best->caller->wrap_up, a);
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> OracleWait(const OracleInput& input, int runs, std::mt19937_64& random) {
  std::vector<Waiting> waiting;
  waiting.reserve(input.ahead.size());
  for (const OracleCaller& c : input.ahead) waiting.push_back({&c, kNever});
  double answered_sum = 0, all_sum = 0;
  int answered = 0, all = 0;
  for (int r = 0; r < runs; ++r) {
    std::optional<double> wait = OneRun(input, waiting, random);
    if (!wait) continue;
    ++all;
    all_sum += *wait;
    const double patience =
        input.caller.patience != nullptr ? Sample(*input.caller.patience, random) : kNever;
    if (*wait < patience) {
      ++answered;
      answered_sum += *wait;
    }
  }
  if (answered > 0) return answered_sum / answered;
  if (all > 0) return all_sum / all;
  return std::nullopt;
}

}  // namespace acd::routing::sim
