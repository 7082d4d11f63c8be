// SwitchLedger is what the simulated switch "sw1" knows acdd acknowledged (its calls, its agents'
// changes) and, after acdd is killed and restarted, checks the new process against it, retries what
// the kill left unanswered and reads back what stayed unknown. The Site (journal_crash_site.h) that
// drives the load derives from it and writes the record, under mu_, as replies come back.
//   class Site : public SwitchLedger { ... };
//   site.ExpectEveryAcknowledgedCallIsKnown();  // frozen, connected to the restarted acdd
//   site.RetryUnansweredArrivals();
#ifndef ACD_TESTS_INTEGRATION_JOURNAL_CRASH_LEDGER_H_
#define ACD_TESTS_INTEGRATION_JOURNAL_CRASH_LEDGER_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "acd/v1/acd.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace acd::testing {

using namespace std::chrono_literals;
using acd::v1::CallState;

constexpr char kSwitch[] = "sw1";
// How far an arrival may stray from the moments the site sent and was answered, in acdd's clock
// as the site follows it (AcddClock): scheduling, and the reading's own round trip.
constexpr int64_t kClockSlackMicros = 10'000;

inline int64_t MicrosOf(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1'000'000 + t.nanos() / 1000;
}

// acdd's clock as the site follows it. acdd stamps arrivals with the wall clock read when the
// process started plus steady time since, so when the wall clock steps while it runs (NTP, or a
// virtual machine resumed: this test once saw 10 ms), acdd and the wall clock disagree until its
// next start. The site therefore never compares acdd's times with its own wall clock: it reads
// acdd's clock once per process (ListQueues' `at`, taken as halfway between request and reply)
// and follows it with the steady clock. Any thread may read it.
//   clock.Follow(*link->admin);            // after each start of acdd
//   record.sent_us = clock.NowMicros();
class AcddClock {
 public:
  // Takes the reading with the shortest round trip of a few (the first RPC on a new channel
  // waits for its connection too), once two readings 20 ms apart advance together with the
  // steady clock: after a restart acdd's time stands at its journal's last until its clock
  // passes that (Engine::Now), which happens when the wall clock stepped back.
  grpc::Status Follow(acd::v1::AdminService::Stub& admin) {
    struct Reading {
      int64_t offset_us, at_us, midpoint_us, round_trip_us;
    };
    std::vector<Reading> readings;
    for (int tries = 0; tries < 250; ++tries) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 10s);
      acd::v1::ListQueuesResponse table;
      const int64_t asked = SteadyMicros();
      grpc::Status status = admin.ListQueues(&context, acd::v1::ListQueuesRequest(), &table);
      const int64_t answered = SteadyMicros();
      if (!status.ok()) return status;
      const int64_t midpoint = (asked + answered) / 2;
      readings.push_back(
          {MicrosOf(table.at()) - midpoint, MicrosOf(table.at()), midpoint, answered - asked});
      if (readings.size() >= 3) {
        const Reading& a = readings[readings.size() - 2];
        const Reading& b = readings.back();
        if (std::abs((b.at_us - a.at_us) - (b.midpoint_us - a.midpoint_us)) < 2'000) break;
      }
      std::this_thread::sleep_for(20ms);
    }
    const Reading& best = *std::min_element(
        readings.end() - 2, readings.end(),
        [](const Reading& a, const Reading& b) { return a.round_trip_us < b.round_trip_us; });
    offset_us_ = best.offset_us;
    return grpc::Status::OK;
  }
  int64_t NowMicros() const { return SteadyMicros() + offset_us_; }

 private:
  static int64_t SteadyMicros() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  static int64_t WallMicros() {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::atomic<int64_t> offset_us_{WallMicros() - SteadyMicros()};  // until the first Follow
};

// The kill took the reply: the request may or may not have acted.
inline bool ReplyLost(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::INTERNAL: return true;
    default: return false;
  }
}

inline std::string StateName(CallState state) { return acd::v1::CallState_Name(state); }

// WAITING and OFFERED come and go by acdd's own doing (offers made, withdrawn); the rest only
// move forward.
inline int Progress(CallState state) {
  switch (state) {
    case acd::v1::CALL_STATE_WAITING:
    case acd::v1::CALL_STATE_OFFERED: return 1;
    case acd::v1::CALL_STATE_CONNECTED: return 2;
    case acd::v1::CALL_STATE_ENDED:
    case acd::v1::CALL_STATE_ABANDONED: return 3;
    default: return 0;
  }
}

// The first few of `problems`, and how many there are, for a failure message.
inline std::string Describe(const std::vector<std::string>& problems) {
  std::string out;
  for (size_t i = 0; i < problems.size() && i < 12; ++i) absl::StrAppend(&out, "\n  ", problems[i]);
  if (problems.size() > 12) absl::StrAppend(&out, "\n  ... and ", problems.size() - 12, " more");
  return out;
}

// The channel and stubs to one acdd process (each restart listens on a new port).
struct Link {
  explicit Link(const std::string& address) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);  // ListCalls with thousands of callers in line
    channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    sw = acd::v1::SwitchService::NewStub(channel);
    agents = acd::v1::AgentService::NewStub(channel);
    admin = acd::v1::AdminService::NewStub(channel);
  }
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<acd::v1::SwitchService::Stub> sw;
  std::unique_ptr<acd::v1::AgentService::Stub> agents;
  std::unique_ptr<acd::v1::AdminService::Stub> admin;
};

template <typename Call>
grpc::Status Sync(Call call) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  return call(&context);
}

// What the site knows of one call. Only what acdd acknowledged (an OK reply) counts as fact.
struct CallRecord {
  std::string queue;
  int64_t sent_us = 0;   // EnqueueCall first sent
  int64_t acked_us = 0;  // its OK reply; 0: none
  // acdd does not have it: EnqueueCall was refused, or acdd lost it (reported once).
  bool gone = false;
  // How far acdd acknowledged the call: WAITING or OFFERED (EnqueueCall), CONNECTED
  // (offer_accepted), ENDED (call_ended) or ABANDONED (caller_abandoned); UNSPECIFIED: nothing.
  CallState acked = acd::v1::CALL_STATE_UNSPECIFIED;
  std::string agent;  // who took it, once CONNECTED
  // Events whose reply the kill took: they may or may not have happened.
  bool accept_unanswered = false, end_unanswered = false, abandon_unanswered = false;
  // What the switch itself did: an offer_accepted is in flight (the agent picked up), or the
  // caller hung up. They exclude each other, as on a real switch: a caller who hung up cannot be
  // answered, and once the agent picked up, the caller hanging up is the end of the call (acdd ends
  // a connected call on caller_abandoned, after which the site's call_ended would be refused).
  bool accepting = false, hung_up = false;
  std::string accepting_agent;     // of the unanswered offer_accepted
  uint64_t accepted_sequence = 0;  // the offer it answered
};

// The states a call may be found in after a restart, given what acdd acknowledged before.
inline std::set<CallState> StatesItMayBeIn(const CallRecord& c) {
  switch (c.acked) {
    case acd::v1::CALL_STATE_ENDED: return {acd::v1::CALL_STATE_ENDED};
    case acd::v1::CALL_STATE_ABANDONED: return {acd::v1::CALL_STATE_ABANDONED};
    case acd::v1::CALL_STATE_CONNECTED:
      if (c.end_unanswered) return {acd::v1::CALL_STATE_CONNECTED, acd::v1::CALL_STATE_ENDED};
      return {acd::v1::CALL_STATE_CONNECTED};
    default: {  // waiting, offered, or nothing acknowledged yet
      std::set<CallState> may = {acd::v1::CALL_STATE_WAITING, acd::v1::CALL_STATE_OFFERED};
      if (c.accept_unanswered) may.insert(acd::v1::CALL_STATE_CONNECTED);
      if (c.abandon_unanswered) may.insert(acd::v1::CALL_STATE_ABANDONED);
      return may;
    }
  }
}

// What the site knows of one agent, as last acknowledged.
struct AgentRecord {
  acd::v1::LoginRequest login;
  bool logged_in = false;
  bool ready = false;
  std::string reason;       // of not_ready
  bool changing = false;    // a change is in flight
  bool unanswered = false;  // the kill took a change's reply: unknown until the resync
};

class SwitchLedger {
 public:
  // What acdd lists live for the switch now (ListCalls). The site never has 10,000 calls live
  // (it sends about 6,000 in all), so the list is one page, read at one instant: the positions in
  // it are one line's, as ExpectWaitingCallsKeepArrivalAndOrder needs.
  acd::v1::ListCallsResponse LiveCalls(grpc::Status* status) {
    acd::v1::ListCallsRequest request;
    request.set_switch_id(kSwitch);
    request.set_page_size(10'000);
    acd::v1::ListCallsResponse response;
    *status =
        Sync([&](grpc::ClientContext* c) { return link_->sw->ListCalls(c, request, &response); });
    EXPECT_EQ(response.next_page_token(), "") << "more than one page of calls";
    return response;
  }

  // Every call acdd acknowledged is known to it, in a state that what it acknowledged allows, with
  // the arrival time it had and, when connected, the agent that took it.
  void ExpectEveryAcknowledgedCallIsKnown() {
    const std::map<std::string, CallRecord> calls = CallsNow();
    std::vector<std::string> ids;
    for (const auto& [id, call] : calls) {
      if (!call.gone) ids.push_back(id);
    }
    const auto found = GetCalls(ids);
    std::vector<std::string> lost_ids, lost, wrong_state, moved_arrival, other_agent;
    for (const std::string& id : ids) {
      const CallRecord& c = calls.at(id);
      const auto& [status, info] = found.at(id);
      const bool acknowledged = c.acked != acd::v1::CALL_STATE_UNSPECIFIED;
      if (!status.ok()) {
        if (status.error_code() == grpc::StatusCode::NOT_FOUND && !acknowledged) continue;
        lost_ids.push_back(id);
        lost.push_back(
            absl::StrCat(id, " (acknowledged ", StateName(c.acked), "): ", status.error_message()));
        continue;
      }
      if (!StatesItMayBeIn(c).contains(info.state())) {
        wrong_state.push_back(absl::StrCat(id, " acknowledged ", StateName(c.acked), Unanswered(c),
                                           ", now ", StateName(info.state())));
      }
      const int64_t arrived = MicrosOf(info.arrived());
      if (c.acked_us != 0 &&
          (arrived < c.sent_us - kClockSlackMicros || arrived > c.acked_us + kClockSlackMicros)) {
        moved_arrival.push_back(absl::StrCat(id, " arrived ", arrived, " us, but was sent at ",
                                             c.sent_us, " and acknowledged at ", c.acked_us));
      }
      if (c.acked == acd::v1::CALL_STATE_CONNECTED &&
          info.state() == acd::v1::CALL_STATE_CONNECTED && info.agent_id() != c.agent) {
        other_agent.push_back(
            absl::StrCat(id, " was taken by ", c.agent, ", now with '", info.agent_id(), "'"));
      }
    }
    checked_calls_ += ids.size();
    EXPECT_TRUE(lost.empty()) << lost.size() << " acknowledged calls are gone after the restart:"
                              << Describe(lost);
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : lost_ids) calls_[id].gone = true;  // reported once
    EXPECT_TRUE(wrong_state.empty())
        << wrong_state.size()
        << " calls are in a state nothing acknowledged led to:" << Describe(wrong_state);
    EXPECT_TRUE(moved_arrival.empty()) << "arrival times changed:" << Describe(moved_arrival);
    EXPECT_TRUE(other_agent.empty()) << "connected calls changed agent:" << Describe(other_agent);
  }

  // Callers waiting before the kill keep their arrival time and their order in line; every line
  // is still in arrival order (all calls have the same priority and queues age them alike).
  void ExpectWaitingCallsKeepArrivalAndOrder(const acd::v1::ListCallsResponse& before,
                                             const acd::v1::ListCallsResponse& after) {
    std::map<std::string, const acd::v1::CallInfo*> was;
    for (const acd::v1::CallInfo& info : before.calls()) was[info.call_id()] = &info;
    std::vector<std::string> moved_arrival, out_of_order;
    std::map<std::string, std::vector<const acd::v1::CallInfo*>> lines;  // by queue, WAITING only
    for (const acd::v1::CallInfo& info : after.calls()) {
      auto it = was.find(info.call_id());
      if (it != was.end() && MicrosOf(it->second->arrived()) != MicrosOf(info.arrived())) {
        moved_arrival.push_back(
            absl::StrCat(info.call_id(), " arrived ", MicrosOf(it->second->arrived()),
                         " us before the kill, ", MicrosOf(info.arrived()), " after"));
      }
      if (info.state() == acd::v1::CALL_STATE_WAITING) lines[info.queue()].push_back(&info);
    }
    size_t kept_their_place = 0;
    for (auto& [queue, line] : lines) {
      std::sort(line.begin(), line.end(),
                [](const acd::v1::CallInfo* a, const acd::v1::CallInfo* b) {
                  return a->position() < b->position();
                });
      const acd::v1::CallInfo* previous = nullptr;         // in line after the restart
      const acd::v1::CallInfo* previous_before = nullptr;  // the same, as it was before the kill
      for (const acd::v1::CallInfo* info : line) {
        if (previous != nullptr && (info->position() <= previous->position() ||
                                    MicrosOf(info->arrived()) < MicrosOf(previous->arrived()))) {
          out_of_order.push_back(absl::StrCat(
              queue, ": ", info->call_id(), " (position ", info->position(), ", arrived ",
              MicrosOf(info->arrived()), ") after ", previous->call_id(), " (position ",
              previous->position(), ", arrived ", MicrosOf(previous->arrived()), ")"));
        }
        previous = info;
        auto it = was.find(info->call_id());
        if (it == was.end() || it->second->state() != acd::v1::CALL_STATE_WAITING) continue;
        ++kept_their_place;
        if (previous_before != nullptr && it->second->position() <= previous_before->position()) {
          out_of_order.push_back(
              absl::StrCat(queue, ": ", info->call_id(), " was at ", it->second->position(),
                           " behind ", previous_before->call_id(), " at ",
                           previous_before->position(), "; the restart swapped them"));
        }
        previous_before = it->second;
      }
    }
    waiting_across_kills_ += kept_their_place;
    EXPECT_TRUE(moved_arrival.empty())
        << "arrival times changed across the restart:" << Describe(moved_arrival);
    EXPECT_TRUE(out_of_order.empty())
        << "lines out of order after the restart:" << Describe(out_of_order);
  }

  // ListCalls lists every call the site knows live, none it knows over, and none it never sent.
  void ExpectListCallsAgreesWithTheSite(const acd::v1::ListCallsResponse& listed) {
    const std::map<std::string, CallRecord> calls = CallsNow();
    std::map<std::string, CallState> live;
    for (const acd::v1::CallInfo& info : listed.calls()) live[info.call_id()] = info.state();
    std::vector<std::string> problems;
    for (const auto& [id, state] : live) {
      auto it = calls.find(id);
      if (it == calls.end() || it->second.gone) {
        problems.push_back(
            absl::StrCat(id, " is listed ", StateName(state), " but the switch never had it"));
      } else if (!StatesItMayBeIn(it->second).contains(state)) {
        problems.push_back(absl::StrCat(id, " is listed ", StateName(state), ", acknowledged ",
                                        StateName(it->second.acked), Unanswered(it->second)));
      }
    }
    for (const auto& [id, c] : calls) {
      if (c.gone || live.contains(id)) continue;
      const std::set<CallState> may = StatesItMayBeIn(c);
      const bool may_be_over = c.acked == acd::v1::CALL_STATE_UNSPECIFIED ||
                               may.contains(acd::v1::CALL_STATE_ENDED) ||
                               may.contains(acd::v1::CALL_STATE_ABANDONED);
      if (!may_be_over) {
        problems.push_back(
            absl::StrCat(id, " acknowledged ", StateName(c.acked), " is not listed"));
      }
    }
    EXPECT_TRUE(problems.empty()) << "ListCalls disagrees with the switch's own record:"
                                  << Describe(problems);
  }

  // Agents are as their last acknowledged change left them: logged out ones stay out, not_ready
  // ones keep their reason, ready ones are not not_ready; one whose call was connected is busy.
  void ExpectAcknowledgedAgentChangesHold() {
    acd::v1::ListAgentsResponse listed;
    grpc::Status s = Sync([&](grpc::ClientContext* c) {
      return link_->admin->ListAgents(c, acd::v1::ListAgentsRequest(), &listed);
    });
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::map<std::string, const acd::v1::AgentInfo*> now;
    for (const acd::v1::AgentInfo& info : listed.agents()) now[info.agent_id()] = &info;
    std::map<std::string, AgentRecord> agents;
    std::map<std::string, std::string> holding;  // agent -> the call acdd connected it to
    {
      std::lock_guard<std::mutex> lock(mu_);
      agents = agents_;
      for (const auto& [id, c] : calls_) {
        if (c.acked == acd::v1::CALL_STATE_CONNECTED && !c.end_unanswered) holding[c.agent] = id;
      }
    }
    std::vector<std::string> problems;
    for (const auto& [id, a] : agents) {
      if (a.unanswered) continue;
      auto it = now.find(id);
      const acd::v1::AgentInfo* info = it == now.end() ? nullptr : it->second;
      const bool present = info != nullptr && info->state() != acd::v1::AGENT_STATE_LOGGED_OUT;
      if (!a.logged_in) {
        if (present) problems.push_back(absl::StrCat(id, " logged out, but is ", Show(*info)));
        continue;
      }
      if (!present) {
        problems.push_back(absl::StrCat(id, " is logged in, but acdd does not know them"));
        continue;
      }
      ++checked_agents_;
      if (a.ready && info->state() == acd::v1::AGENT_STATE_NOT_READY) {
        problems.push_back(absl::StrCat(id, " was made ready, but is ", Show(*info)));
      } else if (!a.ready && (info->state() == acd::v1::AGENT_STATE_READY ||
                              info->not_ready_reason() != a.reason)) {
        problems.push_back(
            absl::StrCat(id, " went not_ready(", a.reason, "), but is ", Show(*info)));
      }
      auto call = holding.find(id);
      if (call != holding.end() && info->state() != acd::v1::AGENT_STATE_BUSY) {
        problems.push_back(
            absl::StrCat(id, " holds connected call ", call->second, ", but is ", Show(*info)));
      }
    }
    EXPECT_TRUE(problems.empty()) << "acknowledged agent changes did not hold:"
                                  << Describe(problems);
  }

  // A switch retries what the kill left unanswered; EnqueueCall is safe to retry, so a retry is
  // answered whether the first one reached the journal or not.
  void RetryUnansweredArrivals() {
    std::vector<std::pair<std::string, std::string>> unanswered;  // call, queue
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, c] : calls_) {
        if (!c.gone && c.acked_us == 0) unanswered.emplace_back(id, c.queue);
      }
    }
    std::vector<std::string> refused;
    for (const auto& [id, queue] : unanswered) {
      acd::v1::EnqueueCallResponse response;
      grpc::Status s = Sync([&](grpc::ClientContext* c) {
        return link_->sw->EnqueueCall(c, ArrivalOf(id, queue), &response);
      });
      std::lock_guard<std::mutex> lock(mu_);
      CallRecord& c = calls_[id];
      if (!s.ok()) {
        refused.push_back(
            absl::StrCat(id, ": ", s.error_message(), " (code ", s.error_code(), ")"));
        c.gone = true;
        continue;
      }
      c.acked_us = acdd_clock_.NowMicros();
      Advance(c, DispositionState(response));
    }
    retried_arrivals_ += unanswered.size();
    EXPECT_TRUE(refused.empty()) << "retried EnqueueCalls were refused:" << Describe(refused);
  }

  // The switch also retries the call events the kill left unanswered, and acdd answers each as it
  // answered the first (its retry ledger came back with the journal), or acts on it now if the
  // first never reached the journal: an end ends the call; an offer taken is connected, a hang-up
  // abandons it, unless what the switch itself did meanwhile (an agent took the call, or left
  // while it rang) rules that out.
  void RetryUnansweredCallEvents() {
    std::vector<std::pair<std::string, acd::v1::CallEvent>> retries;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, c] : calls_) {
        if (c.gone) continue;
        acd::v1::CallEvent event;
        event.set_switch_id(kSwitch);
        event.set_call_id(id);
        if (c.end_unanswered) {
          event.set_agent_id(c.agent);
          event.mutable_call_ended();
        } else if (c.accept_unanswered) {
          event.set_agent_id(c.accepting_agent);
          event.set_offer_sequence(c.accepted_sequence);
          event.mutable_offer_accepted();
        } else if (c.abandon_unanswered) {
          event.mutable_caller_abandoned();
        } else {
          continue;
        }
        retries.emplace_back(id, event);
      }
    }
    std::vector<std::string> problems;
    for (const auto& [id, event] : retries) {
      acd::v1::CallEventResponse response;
      grpc::Status s = Sync(
          [&](grpc::ClientContext* c) { return link_->sw->ReportCallEvent(c, event, &response); });
      acd::v1::CallInfo info;
      acd::v1::GetCallRequest request;
      request.set_call_id(id);
      grpc::Status found =
          Sync([&](grpc::ClientContext* c) { return link_->admin->GetCall(c, request, &info); });
      if (!found.ok()) {
        problems.push_back(absl::StrCat(id, ": GetCall: ", found.error_message()));
        continue;
      }
      bool as_first;
      if (event.has_call_ended()) {
        as_first = s.ok() && response.state() == acd::v1::CALL_STATE_ENDED;
      } else if (event.has_offer_accepted()) {  // refused only if it never took the call
        as_first = s.ok() ? response.state() == acd::v1::CALL_STATE_CONNECTED
                          : !(info.state() == acd::v1::CALL_STATE_CONNECTED &&
                              info.agent_id() == event.agent_id());
      } else {  // the hang-up: refused only if an agent took the call first
        as_first = s.ok() ? response.state() == acd::v1::CALL_STATE_ABANDONED
                          : info.state() == acd::v1::CALL_STATE_CONNECTED ||
                                info.state() == acd::v1::CALL_STATE_ENDED;
      }
      if (!as_first) {
        problems.push_back(absl::StrCat("retried ", event.ShortDebugString(), ": answered '",
                                        s.error_message(), "' ", StateName(response.state()),
                                        "; the call is ", StateName(info.state()), " with '",
                                        info.agent_id(), "'"));
      }
    }
    retried_events_ += retries.size();
    EXPECT_TRUE(problems.empty()) << "retried call events were not answered as the first:"
                                  << Describe(problems);
  }

  // What the kill left unknown, the site reads back from acdd (as a switch resyncs after a
  // reconnect): calls' states and agents', so that calls connected get ended and wrap-ups end.
  void ResyncAfterRestart() {
    std::vector<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [id, c] : calls_) {
        if (!c.gone && Progress(c.acked) < 3) ids.push_back(id);
      }
    }
    const auto found = GetCalls(ids);
    acd::v1::ListAgentsResponse listed;
    grpc::Status s = Sync([&](grpc::ClientContext* c) {
      return link_->admin->ListAgents(c, acd::v1::ListAgentsRequest(), &listed);
    });
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& id : ids) {
      const auto& [status, info] = found.at(id);
      CallRecord& c = calls_[id];
      c.accept_unanswered = c.end_unanswered = c.abandon_unanswered = false;
      if (!status.ok()) continue;  // reported by the checks
      c.acked = info.state();
      c.agent = info.agent_id();
      if (c.acked == acd::v1::CALL_STATE_CONNECTED) resync_connected_.push_back(id);
      // Owed by the reconnected stream: the offer again (or its withdrawal).
      if (c.acked == acd::v1::CALL_STATE_OFFERED) awaiting_offer_.insert(id);
      offers_owed_ += c.acked == acd::v1::CALL_STATE_OFFERED;
    }
    for (auto& [id, a] : agents_) {
      a.changing = a.unanswered = false;
      a.logged_in = false;
    }
    for (const acd::v1::AgentInfo& info : listed.agents()) {
      AgentRecord& a = agents_[info.agent_id()];
      a.logged_in = info.state() != acd::v1::AGENT_STATE_LOGGED_OUT;
      a.ready = info.not_ready_reason().empty() || info.not_ready_reason() == "offer_cooldown";
      a.reason = a.ready ? "" : info.not_ready_reason();
      if (info.state() == acd::v1::AGENT_STATE_WRAP_UP) {
        resync_wrapping_up_.push_back(info.agent_id());
      }
    }
  }

 protected:
  SwitchLedger() = default;

  // The EnqueueCall the switch sends for call `id`, and sends again when the kill took the reply.
  static acd::v1::EnqueueCallRequest ArrivalOf(const std::string& id, const std::string& queue) {
    acd::v1::EnqueueCallRequest request;
    request.set_switch_id(kSwitch);
    request.set_call_id(id);
    request.set_queue(queue);
    (*request.mutable_attributes())["account"] = absl::StrCat("ACME-", id);
    // What the IVR heard, for the agent's screen: records the size of real ones, so that the
    // journal runs through several (1 MB) segments and kills fall near a segment's start too.
    std::string notes;
    while (notes.size() < 600) absl::StrAppend(&notes, "caller ", id, " asked about an invoice; ");
    (*request.mutable_attributes())["ivr_notes"] = notes;
    return request;
  }
  static CallState DispositionState(const acd::v1::EnqueueCallResponse& response) {
    return response.disposition() == acd::v1::EnqueueCallResponse::DISPOSITION_OFFERED
               ? acd::v1::CALL_STATE_OFFERED
               : acd::v1::CALL_STATE_WAITING;
  }
  static void Advance(CallRecord& c, CallState state) {
    if (Progress(state) >= Progress(c.acked)) c.acked = state;
  }

  // Shared with the Site, which writes the record as replies come back; all under mu_, which
  // guards the Site's own state too.
  mutable std::mutex mu_;
  Link* link_ = nullptr;
  AcddClock acdd_clock_;  // for sent_us and acked_us
  std::map<std::string, CallRecord> calls_;
  std::map<std::string, AgentRecord> agents_;
  std::vector<std::string> resync_connected_, resync_wrapping_up_;  // for Resume()
  std::set<std::string> awaiting_offer_;  // calls whose offer the reconnected stream owes
  // Figures for the report.
  uint64_t retried_arrivals_ = 0, retried_events_ = 0;
  uint64_t checked_calls_ = 0, checked_agents_ = 0, waiting_across_kills_ = 0, offers_owed_ = 0;

 private:
  static std::string Unanswered(const CallRecord& c) {
    std::string out;
    if (c.acked_us == 0) out += ", EnqueueCall unanswered";
    if (c.accept_unanswered) out += ", offer_accepted unanswered";
    if (c.end_unanswered) out += ", call_ended unanswered";
    if (c.abandon_unanswered) out += ", caller_abandoned unanswered";
    return out;
  }
  static std::string Show(const acd::v1::AgentInfo& info) {
    return absl::StrCat(acd::v1::AgentState_Name(info.state()),
                        info.not_ready_reason().empty() ? "" : "(" + info.not_ready_reason() + ")");
  }

  std::map<std::string, CallRecord> CallsNow() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

  // GetCall for each of `ids`, a window of them in flight at once.
  std::map<std::string, std::pair<grpc::Status, acd::v1::CallInfo>> GetCalls(
      const std::vector<std::string>& ids) {
    struct Lookup {
      grpc::ClientContext context;
      acd::v1::GetCallRequest request;
      acd::v1::CallInfo info;
    };
    std::mutex m;
    std::condition_variable cv;
    size_t outstanding = 0;
    std::map<std::string, std::pair<grpc::Status, acd::v1::CallInfo>> out;
    std::vector<std::unique_ptr<Lookup>> lookups(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return outstanding < 64; });
        ++outstanding;
      }
      lookups[i] = std::make_unique<Lookup>();
      Lookup* lookup = lookups[i].get();
      lookup->request.set_call_id(ids[i]);
      lookup->context.set_deadline(std::chrono::system_clock::now() + 10s);
      link_->admin->async()->GetCall(&lookup->context, &lookup->request, &lookup->info,
                                     [&, lookup, id = ids[i]](grpc::Status status) {
                                       std::lock_guard<std::mutex> lock(m);
                                       out[id] = {status, lookup->info};
                                       --outstanding;
                                       cv.notify_all();
                                     });
    }
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [&] { return outstanding == 0; });
    return out;
  }
};

}  // namespace acd::testing

#endif  // ACD_TESTS_INTEGRATION_JOURNAL_CRASH_LEDGER_H_
