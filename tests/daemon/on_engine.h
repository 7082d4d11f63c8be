// OnEngine runs a function on a real Engine's thread and hands back what it returns, and
// Eventually polls until something another thread does has happened, for tests that drive an
// engine running on its own thread.
//   size_t n = OnEngine(engine, [&] { return engine.last_sequence(); });
//   ASSERT_TRUE(Eventually([&] { return engine.local_durable() >= n; }));
#ifndef ACD_TESTS_DAEMON_ON_ENGINE_H_
#define ACD_TESTS_DAEMON_ON_ENGINE_H_

#include <future>
#include <type_traits>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "daemon/engine.h"

namespace acd::daemon::testing {

// Runs `f` on `engine`'s thread and returns what it returns.
template <typename F>
auto OnEngine(Engine& engine, F f) -> decltype(f()) {
  using Result = decltype(f());
  std::promise<Result> done;
  engine.Post([&] {
    if constexpr (std::is_void_v<Result>) {
      f();
      done.set_value();
    } else {
      done.set_value(f());
    }
  });
  return done.get_future().get();
}

// Polls `ready` on the caller's thread until it holds (true), or `patience` has passed (its last
// answer).
template <typename F>
bool Eventually(F ready, absl::Duration patience = absl::Seconds(10)) {
  const absl::Time deadline = absl::Now() + patience;
  while (!ready()) {
    if (absl::Now() > deadline) return ready();
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

}  // namespace acd::daemon::testing

#endif  // ACD_TESTS_DAEMON_ON_ENGINE_H_
