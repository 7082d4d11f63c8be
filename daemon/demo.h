// Demo plays a switch and its agents inside acdd (`acdd --demo`) so that a new user sees queues
// move on the wallboard, in /metrics and in acdctl without wiring a telephony switch. On the
// active policy it logs in a few agents per queue and sends Poisson call arrivals sized to keep
// them busy; agents take offers after a short ring, talk, sometimes hold, and callers with little
// patience hang up or accept a callback. Everything runs on the engine thread through the same
// Engine calls the gRPC handlers use; it never runs unless asked for.
//   Demo demo(&engine, /*seed=*/1);
//   demo.Start();
#ifndef ACD_DAEMON_DEMO_H_
#define ACD_DAEMON_DEMO_H_

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "asio/steady_timer.hpp"
#include "daemon/engine.h"

namespace acd::daemon {

class Demo {
 public:
  Demo(Engine* engine, uint64_t seed);
  ~Demo();  // stops the traffic first
  Demo(const Demo&) = delete;
  Demo& operator=(const Demo&) = delete;
  // Logs the demo agents in and starts the arrivals (posts to the engine thread).
  void Start();
  // Stops the traffic: every pending demo timer is cancelled (posts to the engine thread and waits
  // at most 5 s), so the engine can stop. Call before draining; not from the engine thread.
  void Stop();

 private:
  struct DemoQueue {
    std::string name;
    double arrivals_per_second = 0;
  };
  // A data dir recovered the calls an earlier run left: as a restarted switch would, it ends them.
  void EndCallsOfAnEarlierRun();
  void LogInAgents();
  void NextArrival(size_t queue);
  void Arrive(size_t queue);
  void OnCommand(const acd::v1::Command& command);
  void TakeOffer(const std::string& call_id, const std::string& agent_id, uint64_t sequence,
                 bool callback);
  void Talk(const std::string& call_id, const std::string& agent_id);
  grpc::Status Event(const std::string& call_id, const std::string& agent_id,
                     const std::function<void(acd::v1::CallEvent*)>& set);
  acd::v1::CallState StateOf(const std::string& call_id);
  // Runs `what` on the engine thread after `delay`, unless acdd is draining by then.
  void After(std::chrono::milliseconds delay, std::function<void()> what);
  std::chrono::milliseconds Exponential(double mean_seconds);
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(random_); }

  Engine* engine_;
  std::mt19937_64 random_;
  std::vector<DemoQueue> queues_;
  const std::string run_;  // in every call id of this run
  uint64_t next_call_ = 0;
  bool stopped_ = false;
  absl::flat_hash_set<asio::steady_timer*> timers_;  // pending, for Stop
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_DEMO_H_
