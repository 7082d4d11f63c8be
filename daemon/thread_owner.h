// ThreadOwner names the one thread allowed to use an object that takes no locks, and checks it,
// in the spirit of envoy's Dispatcher::isThreadSafe(). The owner is the constructing thread until
// BindToCurrentThread() hands the object over (the engine thread does so when it starts).
//   ThreadOwner owner_;
//   void Core::EnqueueCall(...) { owner_.Check("Core::EnqueueCall"); ... }
#ifndef ACD_DAEMON_THREAD_OWNER_H_
#define ACD_DAEMON_THREAD_OWNER_H_

#include <atomic>
#include <thread>

namespace acd::daemon {

class ThreadOwner {
 public:
  ThreadOwner() : owner_(std::this_thread::get_id()) {}
  ThreadOwner(const ThreadOwner&) = delete;
  ThreadOwner& operator=(const ThreadOwner&) = delete;

  // From now on only the calling thread may use the object.
  void BindToCurrentThread() {
    owner_.store(std::this_thread::get_id(), std::memory_order_release);
  }
  bool IsCurrent() const {
    return owner_.load(std::memory_order_acquire) == std::this_thread::get_id();
  }
  // Crashes, naming `method`, when called from any thread but the owner: a caller that did not go
  // through Engine::Post. That is a bug in acdd, never bad input, so it is not survivable.
  void Check(const char* method) const {
    if (!IsCurrent()) Crash(method);
  }

 private:
  [[noreturn]] static void Crash(const char* method);

  std::atomic<std::thread::id> owner_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_THREAD_OWNER_H_
