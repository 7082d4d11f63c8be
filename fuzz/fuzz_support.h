// What the harnesses share: Fail, for a property every input must keep, and Bytes, the input read
// front to back. A broken property aborts with its message, which libFuzzer (or replay_main.cc)
// reports as a crash with the input that did it; minimize that input, fix the cause and add the
// input to fuzz/corpus/<harness>/ as found-<what>.
//   Bytes in(data, size);
//   const uint8_t flags = in.Next();
//   if (!compiled.ok()) Fail("a policy that validates does not compile: ", compiled.status());
#ifndef ACD_FUZZ_FUZZ_SUPPORT_H_
#define ACD_FUZZ_FUZZ_SUPPORT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace acd::fuzz {

template <typename... Parts>
[[noreturn]] void Fail(const Parts&... what) {
  const std::string message = absl::StrCat(what...);
  std::fprintf(stderr, "fuzz property broken: %s\n", message.c_str());
  std::abort();
}

// The input's bytes, taken front to back; past the end every byte reads 0 and every run is empty,
// so that any input, however short, decodes to something.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : at_(data), end_(data + size) {}
  bool empty() const { return at_ == end_; }
  uint8_t Next() { return at_ == end_ ? 0 : *at_++; }
  // The next `n` bytes, or as many as are left.
  absl::string_view Take(size_t n) {
    n = std::min<size_t>(n, static_cast<size_t>(end_ - at_));
    const absl::string_view out(reinterpret_cast<const char*>(at_), n);
    at_ += n;
    return out;
  }
  absl::string_view Rest() { return Take(static_cast<size_t>(end_ - at_)); }

 private:
  const uint8_t* at_;
  const uint8_t* end_;
};

}  // namespace acd::fuzz

#endif  // ACD_FUZZ_FUZZ_SUPPORT_H_
