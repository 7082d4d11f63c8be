// StateWriter and StateReader turn the router's state into a compact binary archive and back
// (router_snapshot.cc). One listing of a struct's fields serves both directions:
//   template <typename Archive, typename Key> void Fields(Archive& ar, Key& k) { ar(k.a, k.b); }
//   StateWriter w;  w(value);                 std::string bytes = w.Take();
//   StateReader r(bytes);  r(value);          if (!r.Finish().ok()) ...  // truncated, malformed
// Encoding: unsigned integers and enums as LEB128 varints, signed ones zigzagged first, doubles
// as their IEEE bits (8 bytes, little-endian), strings and vectors as a varint count then the
// items, absl::Time and absl::Duration as whole seconds (zigzag) and quarter-nanosecond ticks
// (infinities as a tick count of kInfiniteTicks). The reader checks every length against the bytes
// left, so malformed input is an error, never a crash or an allocation larger than the input
// times the size of one item; after the first error it reads defaults and reports that error.
// An enum read needs `uint64_t EnumCount(E)` (found by ADL): values at or above it are errors.
#ifndef ACD_ROUTING_STATE_ARCHIVE_H_
#define ACD_ROUTING_STATE_ARCHIVE_H_

#include <array>
#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "routing/slot_table.h"

namespace acd::routing {

namespace archive_internal {
inline constexpr uint64_t kTicksPerSecond = 4'000'000'000;  // absl::Duration's resolution
inline constexpr uint64_t kInfiniteTicks = kTicksPerSecond;
inline absl::Duration Tick() { return absl::Nanoseconds(1) / 4; }
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
}  // namespace archive_internal

class StateWriter {
 public:
  static constexpr bool kLoading = false;

  template <typename... T>
  void operator()(const T&... values) {
    (Write(values), ...);
  }
  void Fixed32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Fixed64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  std::string Take() { return std::move(out_); }

 private:
  void Write(bool v) { Varint(v ? 1 : 0); }
  void Write(double v) { Fixed64(std::bit_cast<uint64_t>(v)); }
  void Write(const std::string& s) {
    Varint(s.size());
    out_.append(s);
  }
  void Write(absl::Duration d) {
    using namespace archive_internal;
    if (d == absl::InfiniteDuration() || d == -absl::InfiniteDuration()) {
      Varint(ZigZag(d > absl::ZeroDuration() ? 1 : -1));
      Varint(kInfiniteTicks);
      return;
    }
    absl::Duration rem;
    int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &rem);
    if (rem < absl::ZeroDuration()) {
      --seconds;
      rem += absl::Seconds(1);
    }
    Varint(ZigZag(seconds));
    Varint(static_cast<uint64_t>(absl::IDivDuration(rem, Tick(), &rem)));
  }
  void Write(absl::Time t) { Write(t - absl::UnixEpoch()); }
  template <typename T>
  void Write(const T& v) {
    if constexpr (std::is_enum_v<T>) {
      Varint(static_cast<uint64_t>(v));
    } else if constexpr (std::is_unsigned_v<T>) {
      Varint(v);
    } else if constexpr (std::is_signed_v<T> && std::is_integral_v<T>) {
      Varint(archive_internal::ZigZag(v));
    } else {
      Fields(*this, v);  // a struct: its listing, found by ADL
    }
  }
  template <typename T>
  void Write(const std::optional<T>& v) {
    Write(v.has_value());
    if (v) Write(*v);
  }
  template <typename A, typename B>
  void Write(const std::pair<A, B>& v) {
    Write(v.first);
    Write(v.second);
  }
  template <typename T, size_t N>
  void Write(const std::array<T, N>& v) {
    for (const T& item : v) Write(item);
  }
  template <typename T>
  void Write(const std::vector<T>& v) {
    Varint(v.size());
    for (const auto& item : v) Write(static_cast<const T&>(item));
  }
  template <typename T, size_t kChunk>
  void Write(const SlotTable<T, kChunk>& v) {
    Varint(v.size());
    for (size_t i = 0; i < v.size(); ++i) Write(v[i]);
  }

  std::string out_;
};

class StateReader {
 public:
  static constexpr bool kLoading = true;

  explicit StateReader(absl::string_view bytes) : in_(bytes) {}

  template <typename... T>
  void operator()(T&... values) {
    (Read(values), ...);
  }
  uint32_t Fixed32() {
    if (!Need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 4;
    return v;
  }
  uint64_t Fixed64() {
    if (!Need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return v;
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!Need(1)) return 0;
      const uint8_t byte = static_cast<uint8_t>(in_[pos_++]);
      if (shift == 63 && byte > 1) break;
      v |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return v;
    }
    Fail("a varint runs past 64 bits");
    return 0;
  }
  // A count of items that each take at least one byte: never more than the bytes left.
  size_t Count() {
    const uint64_t n = Varint();
    if (n > in_.size() - pos_) {
      Fail(absl::StrCat("a count of ", n, " exceeds the ", in_.size() - pos_, " bytes left"));
      return 0;
    }
    return static_cast<size_t>(n);
  }
  // Records the first error; every later read yields defaults.
  void Fail(absl::string_view what) {
    if (status_.ok()) {
      status_ = absl::DataLossError(absl::StrCat("router snapshot: ", what, " (at byte ", pos_,
                                                 " of ", in_.size(), ")"));
    }
    pos_ = in_.size();
  }
  bool ok() const { return status_.ok(); }
  // The first error, or an error if bytes are left over.
  absl::Status Finish() {
    if (status_.ok() && pos_ != in_.size()) Fail("trailing bytes after the state");
    return status_;
  }

 private:
  bool Need(size_t n) {
    if (in_.size() - pos_ >= n) return true;
    Fail("truncated");
    return false;
  }

  void Read(bool& v) {
    const uint64_t raw = Varint();
    if (raw > 1) Fail("a flag is neither 0 nor 1");
    v = raw == 1;
  }
  void Read(double& v) { v = std::bit_cast<double>(Fixed64()); }
  void Read(std::string& s) {
    const size_t n = Count();
    s.assign(in_.data() + pos_, n);
    pos_ += n;
  }
  void Read(absl::Duration& d) {
    using namespace archive_internal;
    const int64_t seconds = UnZigZag(Varint());
    const uint64_t ticks = Varint();
    if (ticks == kInfiniteTicks && (seconds == 1 || seconds == -1)) {
      d = seconds > 0 ? absl::InfiniteDuration() : -absl::InfiniteDuration();
    } else if (ticks >= kTicksPerSecond) {
      Fail("a duration's fraction of a second is out of range");
      d = absl::ZeroDuration();
    } else {
      d = absl::Seconds(seconds) + Tick() * static_cast<int64_t>(ticks);
    }
  }
  void Read(absl::Time& t) {
    absl::Duration d;
    Read(d);
    t = absl::UnixEpoch() + d;
  }
  template <typename T>
  void Read(T& v) {
    if constexpr (std::is_enum_v<T>) {
      const uint64_t raw = Varint();
      if (raw >= EnumCount(T{})) Fail(absl::StrCat("enum value ", raw, " out of range"));
      v = raw >= EnumCount(T{}) ? T{} : static_cast<T>(raw);
    } else if constexpr (std::is_unsigned_v<T>) {
      const uint64_t raw = Varint();
      if (raw > std::numeric_limits<T>::max()) Fail("an unsigned value out of range");
      v = static_cast<T>(raw);
    } else if constexpr (std::is_signed_v<T> && std::is_integral_v<T>) {
      const int64_t raw = archive_internal::UnZigZag(Varint());
      if (raw < std::numeric_limits<T>::min() || raw > std::numeric_limits<T>::max()) {
        Fail("a signed value out of range");
      }
      v = static_cast<T>(raw);
    } else {
      Fields(*this, v);
    }
  }
  template <typename T>
  void Read(std::optional<T>& v) {
    bool has = false;
    Read(has);
    v.reset();
    if (has) Read(v.emplace());
  }
  template <typename A, typename B>
  void Read(std::pair<A, B>& v) {
    Read(v.first);
    Read(v.second);
  }
  template <typename T, size_t N>
  void Read(std::array<T, N>& v) {
    for (T& item : v) Read(item);
  }
  template <typename T>
  void Read(std::vector<T>& v) {
    v.clear();
    v.resize(Count());
    for (size_t i = 0; i < v.size(); ++i) {
      T item{};
      Read(item);
      v[i] = std::move(item);
    }
  }
  template <typename T, size_t kChunk>
  void Read(SlotTable<T, kChunk>& v) {
    const size_t n = Count();
    if (v.size() != 0) Fail("restoring into a table that is not empty");
    for (size_t i = 0; i < n && ok(); ++i) Read(v.emplace_back());
  }

  absl::string_view in_;
  size_t pos_ = 0;
  absl::Status status_;
};

}  // namespace acd::routing

#endif  // ACD_ROUTING_STATE_ARCHIVE_H_
