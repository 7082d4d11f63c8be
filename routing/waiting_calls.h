// WaitingCalls holds one queue's waiting calls, best first, kept apart by language so that an
// agent only ever looks at calls in languages it speaks (a pile of Spanish callers never slows an
// English agent's choice). Within a partition the order never changes with time:
// rank = priority - aging * arrival, so the score at time t is rank + aging * t.
//   WaitingCalls calls;
//   calls.Insert(key, language_bit);            // -1: the call needs no particular language
//   calls.ForEachServable(agent_languages, [](const auto& partition) { ... });
#ifndef ACD_ROUTING_WAITING_CALLS_H_
#define ACD_ROUTING_WAITING_CALLS_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "routing/types.h"

namespace acd::routing {

struct WaitingKey {
  double rank_desc;  // -rank: the best call sorts first
  int64_t arrived_us;
  uint64_t seq;      // first in, first out among equals
  CallSlot slot;
  friend auto operator<=>(const WaitingKey&, const WaitingKey&) = default;
};

class WaitingCalls {
 public:
  using Partition = absl::btree_set<WaitingKey>;

  // Returns false if the key was already there.
  bool Insert(const WaitingKey& key, int language_bit) {
    ++size_;
    return PartitionFor(language_bit).insert(key).second;
  }
  // Returns false if the key was not there.
  bool Erase(const WaitingKey& key, int language_bit) {
    for (auto& [bit, partition] : partitions_) {
      if (bit == language_bit) {
        if (partition.erase(key) == 0) return false;
        --size_;
        return true;
      }
    }
    return false;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // Calls `f(partition)` for the partitions an agent speaking `language_mask` can serve.
  template <typename F>
  void ForEachServable(uint64_t language_mask, F&& f) const {
    for (const auto& [bit, partition] : partitions_) {
      if (partition.empty()) continue;
      if (bit < 0 || ((language_mask >> bit) & 1) != 0) f(partition);
    }
  }
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [bit, partition] : partitions_) {
      for (const WaitingKey& key : partition) f(key);
    }
  }
  // 1-based place of `key` among every waiting call of the queue, all languages together.
  // Counts from the key to the back, which is cheap for the newest arrivals.
  int Position(const WaitingKey& key) const {
    size_t behind = 0;
    for (const auto& [bit, partition] : partitions_) {
      for (auto it = partition.lower_bound(key); it != partition.end(); ++it) ++behind;
    }
    return static_cast<int>(size_ - behind) + 1;
  }

 private:
  Partition& PartitionFor(int language_bit) {
    for (auto& [bit, partition] : partitions_) {
      if (bit == language_bit) return partition;
    }
    return partitions_.emplace_back(language_bit, Partition{}).second;
  }

  std::vector<std::pair<int, Partition>> partitions_;  // few: one per language in use, and -1
  size_t size_ = 0;
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_WAITING_CALLS_H_
