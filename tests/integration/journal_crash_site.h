// Site plays the switch "sw1" and its agents' desktops against acdd for journal_crash_test: load
// that runs across kill -9 and restarts, every command sequence watched, and what acdd acknowledged
// kept in its SwitchLedger (journal_crash_ledger.h) for the checks after each restart.
//   Site site(seed);
//   site.Connect(acdd); site.LogInAgents(); site.Resume();
//   acdd.Stop(SIGKILL); site.Freeze(); site.Connect(restarted); /* checks */ site.Resume();
#ifndef ACD_TESTS_INTEGRATION_JOURNAL_CRASH_SITE_H_
#define ACD_TESTS_INTEGRATION_JOURNAL_CRASH_SITE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/integration/acdd_process.h"
#include "tests/integration/journal_crash_ledger.h"

namespace acd::testing {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

constexpr const char* kQueues[] = {"sales", "billing"};  // deploy/policy.example.yaml, built in
constexpr double kArrivalsPerSecond = 400;
constexpr int kAgents = 40;
constexpr int kOneCallerInThisManyHangsUp = 8;
constexpr auto kAgentChangeEvery = 60ms;

// A unary RPC in flight on the callback API; its completion deletes it.
template <typename Request, typename Response>
struct InFlight {
  grpc::ClientContext context;
  Request request;
  Response response;
};

// The switch "sw1" and the desktops of its agents. Calls arrive open-loop at a fixed rate into two
// queues; every offer on the command stream is accepted, the call talks a while and ends, and the
// agent ends wrap-up at once; some callers hang up while waiting; a supervisor keeps sending agents
// on breaks, back to ready, out and in again. It keeps what acdd acknowledged of all that (its
// SwitchLedger, which checks a restarted acdd against it), and watches every command sequence.
// Freeze() stops it (after a kill), Resume() starts it again on the new process.
class Site : public SwitchLedger {
 public:
  explicit Site(uint64_t seed) : rng_(seed) {
    arrivals_ = std::thread([this] { RunArrivals(); });
    scheduler_ = std::thread([this] { RunSchedule(); });
  }
  ~Site() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      frozen_ = true;
    }
    cv_.notify_all();
    arrivals_.join();
    scheduler_.join();
    stream_.reset();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, 20s, [&] { return in_flight_ == 0; });
  }

  // REQUIRES: frozen. Talks to `acdd` from now on.
  void Connect(const AcddProcess& acdd) {
    std::lock_guard<std::mutex> lock(mu_);
    links_.push_back(std::make_unique<Link>(acdd.grpc_address()));
    link_ = links_.back().get();
    const grpc::Status read = acdd_clock_.Follow(*link_->admin);
    ASSERT_TRUE(read.ok()) << "reading acdd's clock: " << read.error_message();
  }

  // REQUIRES: frozen. Every agent serves both queues, at different proficiencies.
  void LogInAgents() {
    for (int i = 0; i < kAgents; ++i) {
      acd::v1::LoginRequest login;
      login.set_agent_id(absl::StrCat("agent-", i));
      for (int q = 0; q < 2; ++q) {
        acd::v1::AgentSkill* skill = login.add_skills();
        skill->set_skill(kQueues[q]);
        skill->set_proficiency(2 + (i + q) % 4);
      }
      login.set_ready(true);
      acd::v1::AgentInfo info;
      grpc::Status s =
          Sync([&](grpc::ClientContext* c) { return link_->agents->Login(c, login, &info); });
      ASSERT_TRUE(s.ok()) << s.error_message();
      agents_[login.agent_id()] = AgentRecord{.login = login, .logged_in = true, .ready = true};
    }
  }

  // Calls flow again: the command stream reconnects, calls acdd holds connected end in a while,
  // agents it holds in wrap-up end it.
  void Resume() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      frozen_ = false;
      resumed_at_ = Steady::now();
      for (const std::string& id : resync_connected_) {
        ScheduleLocked(Talk(), [this, id] { End(id); });
      }
      for (const std::string& agent : resync_wrapping_up_) {
        ScheduleLocked(0ms, [this, agent] { EndWrapUp(agent); });
      }
      resync_connected_.clear();
      resync_wrapping_up_.clear();
      ScheduleLocked(kAgentChangeEvery, [this] { ChangeAnAgent(); });
      ++streams_;
      stream_fresh_sequence_ = 0;
    }
    cv_.notify_all();
    stream_ = std::make_unique<CommandStream>(this, link_);
  }

  // Stops sending and waits until every request sent has its reply or its failure.
  void Freeze() {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!frozen_) loaded_ += Steady::now() - resumed_at_;
      frozen_ = true;
      due_ = {};
      cv_.notify_all();
      EXPECT_TRUE(cv_.wait_for(lock, 20s, [&] { return in_flight_ == 0; }))
          << in_flight_ << " requests never came back";
    }
    stream_.reset();
  }

  // Since the last check: the reconnected stream gave every offer outstanding at the restart, and
  // no offer failed to reach the switch (acdd withdraws one unanswered for its offer timeout).
  void ExpectPendingOffersRedelivered() {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_TRUE(awaiting_offer_.empty())
        << "offers outstanding at the restart never came on the new stream:"
        << Describe(std::vector<std::string>(awaiting_offer_.begin(), awaiting_offer_.end()));
    EXPECT_EQ(no_answer_cancels_, 0) << "offers that never reached the switch timed out";
    awaiting_offer_.clear();
    no_answer_cancels_ = 0;
  }

  // Since the last check: no sequence came with a command other than the one it first came with
  // (the stream's `resent` aside), on any stream of any acdd process; on each stream, commands not
  // marked resent came in increasing sequence; no offer was of a call the switch never had.
  void ExpectNoCommandSequenceReused() {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_TRUE(sequence_problems_.empty()) << Describe(sequence_problems_);
    EXPECT_TRUE(phantom_offers_.empty())
        << "offers of calls the switch never had:" << Describe(phantom_offers_);
    sequence_problems_.clear();
    phantom_offers_.clear();
  }

  // EnqueueCalls sent per second of load (not counting the pauses for restarts and checks).
  double ArrivalsPerSecond() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ArrivalsPerSecondLocked();
  }
  std::string Figures() const {
    std::lock_guard<std::mutex> lock(mu_);
    int acked = 0, ended = 0, abandoned = 0, waiting = 0;
    for (const auto& [id, c] : calls_) {
      acked += c.acked_us != 0;
      ended += c.acked == acd::v1::CALL_STATE_ENDED;
      abandoned += c.acked == acd::v1::CALL_STATE_ABANDONED;
      waiting += c.acked == acd::v1::CALL_STATE_WAITING;
    }
    return absl::StrCat(
        arrivals_sent_, " EnqueueCalls in ", std::chrono::duration<double>(loaded_).count(),
        " s of load (", ArrivalsPerSecondLocked(), "/s), ", acked, " acknowledged (",
        retried_arrivals_, " after a retry), ", retried_events_, " call events retried, ", ended,
        " ended, ", abandoned, " abandoned, ", waiting, " waiting; ", agent_changes_acked_,
        " agent changes acknowledged (", agent_changes_refused_, " refused); ", commands_,
        " commands on ", streams_, " streams, ", repeated_sequences_, " delivered again (", resent_,
        " marked resent, ", offers_owed_, " offers owed after a restart); checked ", checked_calls_,
        " calls, ", checked_agents_, " agents, ", waiting_across_kills_,
        " callers waiting across a kill");
  }

 private:
  // One command stream of the switch, read on its own thread until it ends.
  class CommandStream {
   public:
    CommandStream(Site* site, Link* link) {
      acd::v1::StreamCommandsRequest request;
      request.set_switch_id(kSwitch);
      reader_ = link->sw->StreamCommands(&context_, request);
      thread_ = std::thread([this, site] {
        acd::v1::Command command;
        while (reader_->Read(&command)) site->OnCommand(command);
        (void)reader_->Finish();
      });
    }
    ~CommandStream() {
      context_.TryCancel();
      thread_.join();
    }

   private:
    grpc::ClientContext context_;
    std::unique_ptr<grpc::ClientReader<acd::v1::Command>> reader_;
    std::thread thread_;
  };

  struct Due {
    Steady::time_point at;
    uint64_t order;
    std::function<void()> action;
    bool operator>(const Due& other) const {
      return std::tie(at, order) > std::tie(other.at, other.order);
    }
  };

  double ArrivalsPerSecondLocked() const {
    return arrivals_sent_ / std::chrono::duration<double>(loaded_).count();
  }
  // REQUIRES: mu_ held (the random numbers). How long a connected call talks.
  std::chrono::milliseconds Talk() { return std::chrono::milliseconds(50 + rng_() % 150); }

  // REQUIRES: mu_ held. Runs `action` on the scheduler thread after `delay`, unless frozen first.
  void ScheduleLocked(std::chrono::milliseconds delay, std::function<void()> action) {
    if (frozen_) return;
    due_.push(Due{Steady::now() + delay, next_order_++, std::move(action)});
    cv_.notify_all();
  }

  // Sends one request on the current link unless frozen (then returns false); `done` runs under
  // mu_ with its status, request and response. `start(link, rpc, callback)` starts it.
  template <typename Request, typename Response, typename Start, typename Done>
  bool Send(Request request, Start start, Done done) {
    Link* link;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (frozen_) return false;
      link = link_;
      ++in_flight_;
    }
    auto* rpc = new InFlight<Request, Response>;
    rpc->request = std::move(request);
    rpc->context.set_deadline(std::chrono::system_clock::now() + 5s);
    start(*link, rpc, [this, rpc, done](grpc::Status status) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        done(status, rpc->request, rpc->response);
        --in_flight_;
        cv_.notify_all();  // under mu_: once in_flight_ is 0 the site may go
      }
      delete rpc;
    });
    return true;
  }

  bool Report(acd::v1::CallEvent event,
              std::function<void(const grpc::Status&, const acd::v1::CallEventResponse&)> done) {
    event.set_switch_id(kSwitch);
    return Send<acd::v1::CallEvent, acd::v1::CallEventResponse>(
        std::move(event),
        [](Link& link, auto* rpc, auto callback) {
          link.sw->async()->ReportCallEvent(&rpc->context, &rpc->request, &rpc->response,
                                            std::move(callback));
        },
        [done](const grpc::Status& s, const acd::v1::CallEvent&,
               const acd::v1::CallEventResponse& r) { done(s, r); });
  }

  void RunArrivals() {
    const auto interval = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / kArrivalsPerSecond));
    auto next = Steady::now();
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      if (frozen_) {
        cv_.wait(lock, [&] { return done_ || !frozen_; });
        next = Steady::now();  // open-loop from here: no burst to catch up on the pause
        continue;
      }
      lock.unlock();
      std::this_thread::sleep_until(next);
      next += interval;
      lock.lock();
      if (frozen_ || done_) continue;
      const std::string id = absl::StrCat("call-", next_call_);
      const std::string queue = kQueues[next_call_ % 2];
      const bool hangs_up = rng_() % kOneCallerInThisManyHangsUp == 0;
      const auto patience = std::chrono::milliseconds(200 + rng_() % 1300);
      ++next_call_;
      calls_[id] = CallRecord{.queue = queue, .sent_us = acdd_clock_.NowMicros()};
      lock.unlock();
      const bool sent = Send<acd::v1::EnqueueCallRequest, acd::v1::EnqueueCallResponse>(
          ArrivalOf(id, queue),
          [](Link& link, auto* rpc, auto callback) {
            link.sw->async()->EnqueueCall(&rpc->context, &rpc->request, &rpc->response,
                                          std::move(callback));
          },
          [this, id, hangs_up, patience](const grpc::Status& s, const acd::v1::EnqueueCallRequest&,
                                         const acd::v1::EnqueueCallResponse& response) {
            CallRecord& c = calls_[id];
            if (s.ok()) {
              c.acked_us = acdd_clock_.NowMicros();
              Advance(c, DispositionState(response));
              if (hangs_up) ScheduleLocked(patience, [this, id] { HangUp(id); });
            } else if (!ReplyLost(s)) {
              c.gone = true;
              ADD_FAILURE() << "EnqueueCall " << id << " refused: " << s.error_message();
            }
          });
      lock.lock();
      if (sent) {
        ++arrivals_sent_;
      } else {
        calls_.erase(id);
      }
    }
  }

  void RunSchedule() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      if (frozen_ || due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      if (due_.top().at > Steady::now()) {
        cv_.wait_until(lock, due_.top().at);
        continue;
      }
      std::function<void()> action = due_.top().action;
      due_.pop();
      lock.unlock();
      action();
      lock.lock();
    }
  }

  // Stream thread.
  void OnCommand(const acd::v1::Command& command) {
    std::lock_guard<std::mutex> lock(mu_);
    ++commands_;
    resent_ += command.resent();
    acd::v1::Command plain = command;
    plain.clear_resent();
    auto [first, fresh] = commands_by_sequence_.try_emplace(command.sequence(), plain);
    if (!fresh) {
      ++repeated_sequences_;
      if (!google::protobuf::util::MessageDifferencer::Equals(first->second, plain)) {
        sequence_problems_.push_back(absl::StrCat("sequence ", command.sequence(), " was first ",
                                                  first->second.ShortDebugString(), ", then ",
                                                  command.ShortDebugString()));
      }
    }
    if (!command.resent()) {
      if (command.sequence() <= stream_fresh_sequence_) {
        sequence_problems_.push_back(absl::StrCat("on stream ", streams_, ", sequence ",
                                                  command.sequence(), " came after ",
                                                  stream_fresh_sequence_));
      }
      stream_fresh_sequence_ = command.sequence();
    }
    if (command.has_cancel_offer()) {
      awaiting_offer_.erase(command.cancel_offer().call_id());
      if (command.cancel_offer().reason() == "no_answer") ++no_answer_cancels_;
    }
    if (!command.has_offer_call()) return;
    awaiting_offer_.erase(command.offer_call().call_id());
    const acd::v1::OfferCall& offer = command.offer_call();
    auto call = calls_.find(offer.call_id());
    if (call == calls_.end()) {
      phantom_offers_.push_back(command.ShortDebugString());
      return;
    }
    if (Progress(call->second.acked) >= 2) return;  // a late copy of an offer already answered
    // The agent's phone rings a while before they pick up: offers are outstanding when acdd dies.
    const auto ringing = std::chrono::milliseconds(20 + rng_() % 250);
    ScheduleLocked(ringing, [this, id = offer.call_id(), agent = offer.agent_id(),
                             sequence = command.sequence()] { Accept(id, agent, sequence); });
  }

  void Accept(const std::string& id, const std::string& agent, uint64_t sequence) {
    acd::v1::CallEvent event;
    event.set_call_id(id);
    event.set_agent_id(agent);
    event.set_offer_sequence(sequence);
    event.mutable_offer_accepted();
    {
      std::lock_guard<std::mutex> lock(mu_);
      CallRecord& c = calls_[id];
      if (c.hung_up) return;  // the caller hung up while it rang
      c.accepting = true;
    }
    Report(event, [this, id, agent, sequence](const grpc::Status& s,
                                              const acd::v1::CallEventResponse& r) {
      CallRecord& c = calls_[id];
      c.accepting = false;
      if (s.ok()) {
        Advance(c, r.state());
        if (r.state() != acd::v1::CALL_STATE_CONNECTED || Progress(c.acked) >= 3) return;
        c.agent = agent;
        ScheduleLocked(Talk(), [this, id] { End(id); });
      } else if (ReplyLost(s)) {
        c.accept_unanswered = true;
        c.accepting_agent = agent;
        c.accepted_sequence = sequence;
      }  // else refused: the offer was withdrawn meanwhile (the caller hung up, the agent left)
    });
  }

  void End(const std::string& id) {
    std::string agent;
    {
      std::lock_guard<std::mutex> lock(mu_);
      agent = calls_[id].agent;
    }
    acd::v1::CallEvent event;
    event.set_call_id(id);
    event.set_agent_id(agent);
    event.mutable_call_ended();
    Report(event, [this, id, agent](const grpc::Status& s, const acd::v1::CallEventResponse& r) {
      CallRecord& c = calls_[id];
      if (s.ok()) {
        Advance(c, r.state());
        ScheduleLocked(0ms, [this, agent] { EndWrapUp(agent); });
      } else if (ReplyLost(s)) {
        c.end_unanswered = true;
      } else {
        ADD_FAILURE() << "call_ended for " << id << " (connected to " << agent
                      << ") refused: " << s.error_message();
      }
    });
  }

  void HangUp(const std::string& id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      CallRecord& c = calls_[id];
      // Already with an agent, or the agent is picking up (an offer_accepted in flight).
      if (Progress(c.acked) != 1 || c.accepting) return;
      c.hung_up = true;
    }
    acd::v1::CallEvent event;
    event.set_call_id(id);
    event.mutable_caller_abandoned();
    Report(event, [this, id](const grpc::Status& s, const acd::v1::CallEventResponse& r) {
      CallRecord& c = calls_[id];
      if (s.ok()) {
        Advance(c, r.state());
      } else if (ReplyLost(s)) {
        c.abandon_unanswered = true;
      }  // else refused: an agent took the call meanwhile
    });
  }

  void EndWrapUp(const std::string& agent) {
    acd::v1::SetAgentStateRequest request;
    request.set_agent_id(agent);
    request.mutable_end_wrap_up();
    SetAgentState(std::move(request), [](const grpc::Status&) {});
  }

  bool SetAgentState(acd::v1::SetAgentStateRequest request,
                     std::function<void(const grpc::Status&)> done) {
    return Send<acd::v1::SetAgentStateRequest, acd::v1::AgentInfo>(
        std::move(request),
        [](Link& link, auto* rpc, auto callback) {
          link.agents->async()->SetAgentState(&rpc->context, &rpc->request, &rpc->response,
                                              std::move(callback));
        },
        [done](const grpc::Status& s, const auto&, const auto&) { done(s); });
  }

  // The supervisor: one agent goes on a break, back to ready, out, or in again.
  void ChangeAnAgent() {
    static constexpr const char* kReasons[] = {"break", "lunch", "training", "coaching"};
    enum class Change { kLogin, kReady, kNotReady, kLogout } change;
    std::string agent, reason;
    acd::v1::LoginRequest login;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ScheduleLocked(kAgentChangeEvery, [this] { ChangeAnAgent(); });
      auto it = std::next(agents_.begin(), static_cast<long>(rng_() % agents_.size()));
      AgentRecord& a = it->second;
      if (a.changing) return;
      agent = it->first;
      const uint64_t dice = rng_() % 100;
      if (!a.logged_in) {
        change = Change::kLogin;
        login = a.login;
      } else if (a.ready) {
        change = dice < 75 ? Change::kNotReady : Change::kLogout;
      } else {
        change = dice < 80 ? Change::kReady : Change::kLogout;
      }
      reason = kReasons[rng_() % 4];
      a.changing = true;
    }
    // Under mu_: what acdd's answer means for the site's record of the agent.
    auto done = [this, agent, change, reason](const grpc::Status& s) {
      AgentRecord& a = agents_[agent];
      a.changing = false;
      if (!s.ok()) {
        if (ReplyLost(s)) {
          a.unanswered = true;
        } else {
          ++agent_changes_refused_;  // e.g. logging out with a call in progress
        }
        return;
      }
      ++agent_changes_acked_;
      if (change == Change::kLogout) {
        a.logged_in = false;
        return;
      }
      a.logged_in = true;
      a.ready = change != Change::kNotReady;
      a.reason = a.ready ? "" : reason;
    };
    bool sent;
    if (change == Change::kLogin) {
      sent = Send<acd::v1::LoginRequest, acd::v1::AgentInfo>(
          login,
          [](Link& link, auto* rpc, auto callback) {
            link.agents->async()->Login(&rpc->context, &rpc->request, &rpc->response,
                                        std::move(callback));
          },
          [done](const grpc::Status& s, const auto&, const auto&) { done(s); });
    } else if (change == Change::kLogout) {
      acd::v1::LogoutRequest request;
      request.set_agent_id(agent);
      sent = Send<acd::v1::LogoutRequest, acd::v1::LogoutResponse>(
          request,
          [](Link& link, auto* rpc, auto callback) {
            link.agents->async()->Logout(&rpc->context, &rpc->request, &rpc->response,
                                         std::move(callback));
          },
          [done](const grpc::Status& s, const auto&, const auto&) { done(s); });
    } else {
      acd::v1::SetAgentStateRequest request;
      request.set_agent_id(agent);
      if (change == Change::kReady) {
        request.mutable_ready();
      } else {
        request.mutable_not_ready()->set_reason(reason);
      }
      sent = SetAgentState(std::move(request), done);
    }
    if (!sent) {
      std::lock_guard<std::mutex> lock(mu_);
      agents_[agent].changing = false;
    }
  }

  std::condition_variable cv_;  // frozen_, in_flight_ and due_ changed
  std::mt19937_64 rng_;
  bool frozen_ = true;
  bool done_ = false;
  std::vector<std::unique_ptr<Link>> links_;  // every process's, kept while replies may come back
  int in_flight_ = 0;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  uint64_t next_order_ = 0;
  std::unique_ptr<CommandStream> stream_;
  // Every command seen, by sequence (resent cleared), and what looked wrong about them.
  std::map<uint64_t, acd::v1::Command> commands_by_sequence_;
  uint64_t stream_fresh_sequence_ = 0;  // the last one not marked resent on the current stream
  std::vector<std::string> sequence_problems_, phantom_offers_;
  int no_answer_cancels_ = 0;
  // Figures for the report.
  uint64_t next_call_ = 0, arrivals_sent_ = 0;
  uint64_t commands_ = 0, resent_ = 0, repeated_sequences_ = 0, streams_ = 0;
  uint64_t agent_changes_acked_ = 0, agent_changes_refused_ = 0;
  Steady::time_point resumed_at_;
  Steady::duration loaded_{};
  std::thread arrivals_, scheduler_;
};

}  // namespace acd::testing

#endif  // ACD_TESTS_INTEGRATION_JOURNAL_CRASH_SITE_H_
