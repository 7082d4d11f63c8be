// The expected wait a caller hears and a switch reads: QL-m for a queue whose agents serve only it,
// FluidWait (routing/fluid_wait.h) where they also serve other queues.
//
// Measured with acdsim's multi-skill scenarios (routing/sim/README.md): crediting each queue with
// every member's whole capacity made the estimate optimistic by 20-40% of the mean wait on the
// queues whose agents mostly work elsewhere, and no better than Asterisk's moving average.
//
// The cost on the engine thread is bounded whatever the center's size. A queue's Competition (the
// queues in play and the pools over them) is rebuilt only after agents changed pools, from the
// pools serving each queue. Each estimate then lists at most kMaxListed callers ahead over all
// lines (the rest are counted, in O(log n) per line) and walks at most kMaxVisits pool-line
// visits (kMaxSteps steps) one by one; past those FluidWait finishes in closed form. Where the
// pools in play are so many that fewer than kMinSteps steps fit, nobody is listed and all of it
// is closed form. Measured in routing_bench (bench/README.md): BM_CallJoinsLine_nested.
#include <algorithm>

#include "absl/container/inlined_vector.h"
#include "routing/fluid_wait.h"
#include "routing/router.h"

namespace acd::routing {
namespace {

constexpr size_t kMaxListed = 96;
constexpr size_t kMinListedPerLine = 16;
constexpr int kMaxVisits = 256;
constexpr int kMaxSteps = 64;
constexpr int kMinSteps = 16;

template <typename Container>
bool Contains(const Container& c, QueueId q) {
  return std::find(c.begin(), c.end(), q) != c.end();
}

}  // namespace

void Router::ForEachPoolOf(const Agent& agent,
                           absl::FunctionRef<void(AgentPoolKey, int servers)> f) const {
  for (int c = 0; c < kChannelCount; ++c) {
    if (agent.capacity[c] == 0) continue;
    AgentPoolKey key{.channel = static_cast<Channel>(c), .language_mask = agent.language_mask};
    for (QueueId q : agent.queues) {
      if (static_cast<int>(policy_->queues[q].channel) == c) key.queues.push_back(q);
    }
    if (!key.queues.empty()) f(std::move(key), static_cast<int>(agent.capacity[c]));
  }
}

void Router::CountPools(const Agent& agent, int sign) {
  ForEachPoolOf(agent, [&](AgentPoolKey key, int servers) {
    ++pools_version_;
    auto [it, created] = pools_.try_emplace(std::move(key), 0);
    if (created) {
      for (QueueId q : it->first.queues) pools_by_queue_[q].push_back(&*it);
    }
    it->second += sign * servers;
    if (it->second != 0) return;
    for (QueueId q : it->first.queues) std::erase(pools_by_queue_[q], &*it);
    pools_.erase(it);
  });
}

const Router::Competition& Router::CompetitionOf(QueueId queue) const {
  if (competition_.size() != policy_->queues.size())
    competition_.assign(policy_->queues.size(), {});
  Competition& c = competition_[queue];
  if (c.pools_version == pools_version_) return c;
  c = Competition{.pools_version = pools_version_, .queues = {queue}};
  // Breadth first: the queues served by a pool that serves a queue already in play, each round in
  // QueueId order (never in the order the pools were made in, which a restored router does not
  // share).
  absl::InlinedVector<QueueId, 16> reached;
  for (size_t i = 0; i < c.queues.size() && c.queues.size() < kCompetingQueues; ++i) {
    reached.clear();
    for (const auto* pool : pools_by_queue_[c.queues[i]]) {
      for (QueueId q : pool->first.queues) {
        if (!Contains(c.queues, q) && !Contains(reached, q)) reached.push_back(q);
      }
    }
    std::sort(reached.begin(), reached.end());
    for (QueueId q : reached) {
      if (c.queues.size() < kCompetingQueues) c.queues.push_back(q);
    }
  }
  for (const auto* pool : pools_by_queue_[queue]) c.shared |= pool->first.queues.size() > 1;
  // Every pool serving a queue in play, merged with those that serve the same of them in the same
  // languages; in a canonical order, whatever order the pools were made in.
  for (size_t i = 0; i < c.queues.size(); ++i) {
    for (const auto* pool : pools_by_queue_[c.queues[i]]) {
      const AgentPoolKey& key = pool->first;
      uint32_t mask = 0;
      for (size_t j = 0; j < c.queues.size(); ++j) {
        if (Contains(key.queues, c.queues[j])) mask |= uint32_t{1} << j;
      }
      if ((mask & ((uint32_t{1} << i) - 1)) != 0) continue;  // met at an earlier queue in play
      auto merged = std::find_if(c.pools.begin(), c.pools.end(), [&](const Competition::Pool& p) {
        return p.queues_mask == mask && p.language_mask == key.language_mask;
      });
      if (merged == c.pools.end()) {
        c.pools.push_back({mask, key.language_mask, pool->second});
      } else {
        merged->servers += pool->second;
      }
    }
  }
  std::sort(c.pools.begin(), c.pools.end(),
            [](const Competition::Pool& a, const Competition::Pool& b) {
              return std::pair(a.queues_mask, a.language_mask) <
                     std::pair(b.queues_mask, b.language_mask);
            });
  return c;
}

std::optional<absl::Duration> Router::ExpectedWait(CallSlot slot, int position) const {
  const Call& call = calls_[slot];
  return ExpectedWait({.queue = call.queue,
                       .language_bit = call.language_bit,
                       .key = call.key,
                       .position = position});
}

std::optional<absl::Duration> Router::ExpectedWaitForNewCall(QueueId queue) const {
  // Ranked as a plain call joining now: the queue's own priority, behind everyone there.
  Call probe;
  probe.queue = queue;
  probe.arrived = now_;
  probe.entered_queue = now_;
  probe.seq = next_call_seq_;
  return ExpectedWait({.queue = queue,
                       .key = KeyFor(probe, kNoSlot),
                       .position = static_cast<int>(waiting_[queue].size()) + 1});
}

std::optional<absl::Duration> Router::ExpectedWait(const EstimatedCaller& caller) const {
  // QL-m is exact where every pool serving the queue serves only it.
  if (CompetitionOf(caller.queue).shared) {
    if (std::optional<absl::Duration> wait = FluidEstimate(caller)) return wait;
  }
  return QlmWait(caller);
}

std::optional<absl::Duration> Router::QlmWait(const EstimatedCaller& caller) const {
  const QueueWaitEstimator& estimator = stats_[caller.queue].wait;
  QueueWaitEstimator::Line line{.ahead = std::max(0, caller.position - 1),
                                .servers = servers_[caller.queue],
                                .wrap_up = policy_->queues[caller.queue].wrap_up};
  // The head of the line's wait is the estimator's last resort, needed only until a caller here
  // has reached an agent.
  if (!estimator.last_served_wait()) {
    if (std::optional<absl::Time> oldest = waiting_[caller.queue].OldestEntry()) {
      line.head_wait = now_ - *oldest;
    }
  }
  return estimator.Estimate(line, now_);
}

// Builds the caller's FluidWait from its queue's Competition: a line per language partition of the
// queues in play, with the callers ranked ahead of the caller on each, and the pools at their
// learned rates. nullopt when no pool serving the caller has a learned handle time yet (QL-m's
// fallbacks then apply).
std::optional<absl::Duration> Router::FluidEstimate(const EstimatedCaller& caller) const {
  const Competition& competition = CompetitionOf(caller.queue);
  struct LineOf {
    int queue_index;  // in competition.queues
    int language_bit;
    const WaitingCalls::Partition* partition;
  };
  // The caller's own partition is line 0, present even when nobody waits in it yet.
  absl::InlinedVector<LineOf, 16> lines = {{0, caller.language_bit, nullptr}};
  for (size_t i = 0; i < competition.queues.size(); ++i) {
    waiting_[competition.queues[i]].ForEachPartition(
        [&](int bit, const WaitingCalls::Partition& partition) {
          if (i == 0 && bit == caller.language_bit) {
            lines[0].partition = &partition;
          } else if (!partition.empty()) {
            lines.push_back({static_cast<int>(i), bit, &partition});
          }
        });
  }

  FluidWait model;
  model.lines.resize(lines.size());
  model.pools.reserve(competition.pools.size());
  model.caller_abandon_rate = stats_[caller.queue].wait.abandonment_rate_per_second();
  // Pools free their servers' calls at 1 / handle: the handle time of the queues they serve,
  // weighted by how many of each queue's calls ended lately.
  absl::InlinedVector<double, kCompetingQueues> weight(competition.queues.size()),
      handle(competition.queues.size());
  for (size_t i = 0; i < competition.queues.size(); ++i) {
    const QueueId q = competition.queues[i];
    const QueueWaitEstimator& learned = stats_[q].wait;
    weight[i] = learned.recent_calls_ended(now_);
    handle[i] = learned.mean_talk_seconds() + absl::ToDoubleSeconds(policy_->queues[q].wrap_up);
  }
  int visits = 0;
  bool caller_served = false;
  for (const Competition::Pool& pool : competition.pools) {
    FluidPool fluid;
    for (size_t l = 0; l < lines.size(); ++l) {
      const int bit = lines[l].language_bit;
      if (((pool.queues_mask >> lines[l].queue_index) & 1) != 0 &&
          (bit < 0 || ((pool.language_mask >> bit) & 1) != 0)) {
        fluid.lines.push_back(static_cast<int>(l));
      }
    }
    if (fluid.lines.empty()) continue;
    double weight_sum = 0, handle_sum = 0;
    for (size_t i = 0; i < competition.queues.size(); ++i) {
      if (((pool.queues_mask >> i) & 1) == 0 || weight[i] <= 0) continue;
      weight_sum += weight[i];
      handle_sum += weight[i] * handle[i];
    }
    if (handle_sum <= 0) continue;
    fluid.frees_per_second = pool.servers * weight_sum / handle_sum;
    visits += static_cast<int>(fluid.lines.size());
    caller_served |= fluid.lines.front() == 0;
    model.pools.push_back(std::move(fluid));
  }
  if (!caller_served) return std::nullopt;

  const double now_s = absl::ToDoubleSeconds(now_ - origin_);
  const double caller_score =
      -caller.key.rank_desc + policy_->queues[caller.queue].aging_per_second * now_s;
  // Callers are listed only for the steps the walk can afford; with too many pools for
  // kMinSteps, all of it is closed form and the callers ahead are only counted.
  const int steps = std::min(kMaxSteps, kMaxVisits / std::max(1, visits));
  const size_t listed_per_line =
      steps < kMinSteps ? 0 : std::max(kMinListedPerLine, kMaxListed / lines.size());
  for (size_t l = 0; l < lines.size(); ++l) {
    const QueueId queue = competition.queues[lines[l].queue_index];
    FluidLine& fluid = model.lines[l];
    fluid.abandon_rate = stats_[queue].wait.abandonment_rate_per_second();
    const WaitingCalls::Partition* partition = lines[l].partition;
    if (partition == nullptr) continue;
    const double aging = policy_->queues[queue].aging_per_second;
    // Ahead: on the caller's queue, before it in the line; elsewhere, ranked better now, or as
    // well and earlier (Router::TryServeAgent's order).
    WaitingKey bound = caller.key;
    if (queue != caller.queue) bound.rank_desc = aging * now_s - caller_score;
    const size_t ahead = partition->CountBefore(bound);
    const size_t listed = std::min(ahead, listed_per_line);
    fluid.ahead.reserve(listed);
    for (auto it = partition->begin(); fluid.ahead.size() < listed; ++it) {
      fluid.ahead.push_back({-it->rank_desc + aging * now_s, it->arrived_us, it->seq});
    }
    fluid.more_ahead = static_cast<int64_t>(ahead - listed);
  }

  std::optional<double> seconds =
      ExpectedFluidWait(model, 0, {.max_steps = steps < kMinSteps ? 0 : steps});
  if (!seconds) return std::nullopt;
  return absl::Seconds(*seconds);
}

}  // namespace acd::routing
