// OnEngine runs a function on a real Engine's thread and hands back what it returns, for tests
// that drive an engine running on its own thread.
//   size_t n = OnEngine(engine, [&] { return engine.last_sequence(); });
#ifndef ACD_TESTS_DAEMON_ON_ENGINE_H_
#define ACD_TESTS_DAEMON_ON_ENGINE_H_

#include <future>
#include <type_traits>

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

}  // namespace acd::daemon::testing

#endif  // ACD_TESTS_DAEMON_ON_ENGINE_H_
