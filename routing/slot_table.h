// SlotTable is the router's table of calls or of agents, indexed by slot. Indexing is O(1);
// growing allocates one more fixed chunk (about 32 KB of records) and never moves an element, so
// a center that grows never stalls the engine copying every record (as a vector's doubling would
// at 100,000 calls) and never holds more than one chunk of spare room, so that a router of a few
// calls (a test's, a fuzzer's) costs a few pages, not a megabyte.
//   SlotTable<RoutedCall> calls;
//   CallSlot slot = calls.size();
//   calls.emplace_back();          // a fresh, default value at `slot`
//   calls[slot].id = "c1";
#ifndef ACD_ROUTING_SLOT_TABLE_H_
#define ACD_ROUTING_SLOT_TABLE_H_

#include <algorithm>
#include <bit>
#include <cstddef>
#include <memory>
#include <vector>

namespace acd::routing {

template <typename T, size_t kChunk = std::max<size_t>(8, std::bit_floor(32768 / sizeof(T)))>
class SlotTable {
  static_assert(std::has_single_bit(kChunk), "a chunk of a power of two: slots split by shifts");

 public:
  T& operator[](size_t slot) { return chunks_[slot / kChunk][slot % kChunk]; }
  const T& operator[](size_t slot) const { return chunks_[slot / kChunk][slot % kChunk]; }
  size_t size() const { return size_; }
  // Adds a default value at slot size().
  T& emplace_back() {
    if (size_ % kChunk == 0) chunks_.push_back(std::make_unique<T[]>(kChunk));
    return (*this)[size_++];
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;  // every chunk full but the last
  size_t size_ = 0;
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_SLOT_TABLE_H_
