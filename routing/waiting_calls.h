// WaitingCalls holds one queue's waiting calls, best first, kept apart by language so that an
// agent only ever looks at calls in languages it speaks (a pile of Spanish callers never slows an
// English agent's choice). Within a partition the order never changes with time:
// rank = priority - aging * arrival, so the score at time t is rank + aging * t.
// Every question asked of a line per event costs O(log n) or less whatever its length: a call's
// place (each partition is an order-statistics tree), the oldest arrival and the longest time in
// this queue (kept per subtree as the tree changes), and the callbacks among the calls (a count).
//   WaitingCalls calls;
//   calls.Insert(key, language_bit, /*callback=*/false);  // -1: the call needs no language
//   calls.ForEachServable(agent_languages, [](const auto& partition) { ... });
//   int place = calls.Position(key);                        // 1-based, all languages together
#ifndef ACD_ROUTING_WAITING_CALLS_H_
#define ACD_ROUTING_WAITING_CALLS_H_

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>

#include "absl/time/time.h"
#include "routing/types.h"

namespace acd::routing {

struct WaitingKey {
  double rank_desc;  // -rank: the best call sorts first
  int64_t arrived_us;
  uint64_t seq;      // first in, first out among equals; unique, so the fields below never order
  CallSlot slot;
  int64_t entered_us;  // when the call entered this queue (its stint's start)
  friend auto operator<=>(const WaitingKey&, const WaitingKey&) = default;
};

// What a subtree of a line holds: how many calls, and the earliest arrival and queue entry.
struct LineSummary {
  size_t calls = 0;
  int64_t oldest_arrived_us = 0;
  int64_t oldest_entered_us = 0;
};

// The node update of a line's tree (GNU pb_ds): keeps each node's LineSummary of its subtree as
// the tree is rebalanced, and answers a key's rank from the subtree sizes.
template <class NodeCItr, class NodeItr, class CmpFn, class Alloc>
class LineNodeUpdate {
 public:
  using metadata_type = LineSummary;

  // pb_ds calls this bottom-up on every node whose subtree changed.
  void operator()(NodeItr node, NodeCItr end) {
    LineSummary summary{1, (*node)->arrived_us, (*node)->entered_us};
    for (NodeItr child : {node.get_l_child(), node.get_r_child()}) {
      if (child == end) continue;
      const LineSummary& below = child.get_metadata();
      summary.calls += below.calls;
      summary.oldest_arrived_us = std::min(summary.oldest_arrived_us, below.oldest_arrived_us);
      summary.oldest_entered_us = std::min(summary.oldest_entered_us, below.oldest_entered_us);
    }
    const_cast<LineSummary&>(node.get_metadata()) = summary;
  }

  // How many keys sort before `key`.
  size_t CountBefore(const WaitingKey& key) const {
    size_t before = 0;
    NodeCItr node = node_begin();
    const NodeCItr end = node_end();
    while (node != end) {
      const NodeCItr left = node.get_l_child();
      const size_t left_calls = left == end ? 0 : left.get_metadata().calls;
      if (key < **node) {
        node = left;
      } else if (**node < key) {
        before += left_calls + 1;
        node = node.get_r_child();
      } else {
        return before + left_calls;
      }
    }
    return before;
  }

  // The whole tree's summary, or nullptr when it is empty.
  const LineSummary* Summary() const {
    const NodeCItr root = node_begin();
    return root == node_end() ? nullptr : &root.get_metadata();
  }

  virtual NodeCItr node_begin() const = 0;
  virtual NodeCItr node_end() const = 0;
  virtual ~LineNodeUpdate() = default;
};

class WaitingCalls {
 public:
  using Partition = __gnu_pbds::tree<WaitingKey, __gnu_pbds::null_type, std::less<WaitingKey>,
                                     __gnu_pbds::rb_tree_tag, LineNodeUpdate>;

  // Returns false if the key was already there.
  bool Insert(const WaitingKey& key, int language_bit, bool callback) {
    if (!PartitionFor(language_bit).insert(key).second) return false;
    ++size_;
    callbacks_ += callback;
    return true;
  }
  // Returns false if the key was not there.
  bool Erase(const WaitingKey& key, int language_bit, bool callback) {
    for (auto& [bit, partition] : partitions_) {
      if (bit == language_bit) {
        if (partition->erase(key) == 0) return false;
        --size_;
        callbacks_ -= callback;
        return true;
      }
    }
    return false;
  }
  // Whether `key` waits in the partition of `language_bit` (Router::CheckInvariants).
  bool Contains(const WaitingKey& key, int language_bit) const {
    for (const auto& [bit, partition] : partitions_) {
      if (bit == language_bit) return partition->find(key) != partition->end();
    }
    return false;
  }
  // A waiting caller took a callback: they keep their place, counted among the callbacks.
  void CallbackAccepted() { ++callbacks_; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int callbacks() const { return callbacks_; }

  // Calls `f(partition)` for the partitions an agent speaking `language_mask` can serve.
  template <typename F>
  void ForEachServable(uint64_t language_mask, F&& f) const {
    for (const auto& [bit, partition] : partitions_) {
      if (partition->empty()) continue;
      if (bit < 0 || ((language_mask >> bit) & 1) != 0) f(*partition);
    }
  }
  // Calls `f(language_bit, partition)` for every partition, in their order.
  template <typename F>
  void ForEachPartition(F&& f) const {
    for (const auto& [bit, partition] : partitions_) f(bit, *partition);
  }
  // 1-based place of `key` among every waiting call of the queue, all languages together.
  int Position(const WaitingKey& key) const {
    size_t before = 0;
    for (const auto& [bit, partition] : partitions_) before += partition->CountBefore(key);
    return static_cast<int>(before) + 1;
  }
  // The partitions' order (the order languages first joined the line); -1 for a language with
  // no partition yet.
  int PartitionIndex(int language_bit) const {
    for (size_t i = 0; i < partitions_.size(); ++i) {
      if (partitions_[i].first == language_bit) return static_cast<int>(i);
    }
    return -1;
  }
  // For snapshots (router_snapshot.cc): the partitions' languages in order, and opening an empty
  // partition at the end (a restored line keeps its order).
  std::vector<int> PartitionLanguages() const {
    std::vector<int> bits;
    for (const auto& [bit, partition] : partitions_) bits.push_back(bit);
    return bits;
  }
  void OpenPartition(int language_bit) { PartitionFor(language_bit); }
  // The earliest original arrival, and the earliest entry into this queue, of its waiting calls.
  std::optional<absl::Time> OldestArrival() const { return Oldest(&LineSummary::oldest_arrived_us); }
  std::optional<absl::Time> OldestEntry() const { return Oldest(&LineSummary::oldest_entered_us); }

 private:
  Partition& PartitionFor(int language_bit) {
    for (auto& [bit, partition] : partitions_) {
      if (bit == language_bit) return *partition;
    }
    return *partitions_.emplace_back(language_bit, std::make_unique<Partition>()).second;
  }
  std::optional<absl::Time> Oldest(int64_t LineSummary::*field) const {
    std::optional<int64_t> oldest;
    for (const auto& [bit, partition] : partitions_) {
      if (const LineSummary* summary = partition->Summary()) {
        oldest = std::min(oldest.value_or(summary->*field), summary->*field);
      }
    }
    if (!oldest) return std::nullopt;
    return absl::FromUnixMicros(*oldest);
  }

  // Few: one per language in use, and -1. Held by pointer: pb_ds trees cannot move, and a new
  // language must never copy the long lines already there.
  std::vector<std::pair<int, std::unique_ptr<Partition>>> partitions_;
  size_t size_ = 0;
  int callbacks_ = 0;
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_WAITING_CALLS_H_
