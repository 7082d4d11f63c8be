// Traffic makes random but mostly valid inputs for a daemon::Core, as switches, agent desktops
// and operators send them (calls, call events, logins, agent states, written commands, reconnects,
// retries, policies, drains and restarts), with time moving on between them, for the center of
// replay_center.h. It reads the core only to choose (a call's state, the next wakeup) and learns
// from each input's Effect what is offered to whom, which calls were offered a callback and which
// commands a switch has read; Count() tells how often each input was taken and command made.
//   Traffic traffic(/*seed=*/1);
//   std::unique_ptr<Core> core = *CreateCore(traffic.Created(), nullptr);
//   JournalInput input = traffic.Next(*core); traffic.Learn(input, Apply(*core, input));
#ifndef ACD_TESTS_DAEMON_RANDOM_CORE_TRAFFIC_H_
#define ACD_TESTS_DAEMON_RANDOM_CORE_TRAFFIC_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "acd/journal/v1/journal.pb.h"
#include "acd/v1/acd.pb.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "gtest/gtest.h"
#include "routing/policy_text.h"
#include "routing/policy_yaml.h"
#include "tests/daemon/core_fixture.h"
#include "tests/daemon/replay_center.h"

namespace acd::daemon::testing {

// What one input made a core do: its answer and the commands it made.
struct Effect {
  absl::Status status;
  acd::v1::EnqueueCallResponse enqueue_call;
  acd::v1::CallEventResponse call_event;
  acd::v1::AgentInfo agent;
  acd::v1::SetPolicyResponse set_policy;
  std::vector<acd::v1::Command> reconnect;
  std::vector<OutgoingCommand> commands;
};

// Hands `input` to `core` as the engine does (ApplyInput, then the commands taken).
inline Effect Apply(Core& core, const JournalInput& input) {
  Effect effect;
  effect.status = ApplyInput(core, input,
                             {.enqueue_call = &effect.enqueue_call,
                              .call_event = &effect.call_event,
                              .agent = &effect.agent,
                              .set_policy = &effect.set_policy,
                              .reconnect = &effect.reconnect});
  effect.commands = core.TakeCommands();
  (void)core.TakeNotices();  // lines for the log, no state
  return effect;
}

// The name of the field a oneof case sets, e.g. "offer_call" or "hold_started".
inline std::string CaseName(const google::protobuf::Message& message, int field_number) {
  const google::protobuf::FieldDescriptor* field =
      message.GetDescriptor()->FindFieldByNumber(field_number);
  return field == nullptr ? "none" : field->name();
}

// The input's kind; a call event by its event.
inline std::string KindOf(const JournalInput& input) {
  if (input.has_call_event()) return CaseName(input.call_event(), input.call_event().event_case());
  return CaseName(input, input.input_case());
}

// Random, mostly valid traffic for a core, as switches, agent desktops and operators would send
// it, with time moving on between inputs. It chooses each input against what the core shows
// (reads only: a call's state, the next wakeup) and learns from the answers and commands what is
// offered to whom, which calls were offered a callback and which commands a switch has read.
class Traffic {
 public:
  explicit Traffic(uint64_t seed) : random_(seed), now_(kStart) {
    absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> policy =
        routing::CompilePolicyText(kReplayPolicy, kPolicyFile);
    if (!policy.ok()) {
      ADD_FAILURE() << policy.status();
      return;
    }
    base_policy_ = (*policy)->source;
  }

  // The first record of a new data dir, as Engine::Recover writes it.
  JournalInput Created() const {
    JournalInput input = InputAt(now_);
    acd::journal::v1::Created* created = input.mutable_created();
    *created->mutable_policy() = base_policy_;
    created->set_policy_source(kPolicyFile);
    *created->mutable_settings() = SettingsOf(kOptions);
    return input;
  }

  // The record acdd appends when it starts on a recovered data dir, with the same flags and
  // policy file.
  JournalInput Restarted() {
    now_ += absl::Seconds(3);  // acdd was down a moment
    JournalInput input = InputAt(now_);
    Start(input, /*changed=*/false);
    return input;
  }

  JournalInput Next(Core& core) {
    JournalInput input = InputAt(PassTime(core));
    if (Chance(5)) Look(core);
    if (draining_ && --drain_left_ <= 0) {
      Start(input, /*changed=*/Chance(40));
      return input;
    }
    const int kind = Pick(1000);
    if (kind < 110) {
      input.mutable_time_passed();
    } else if (kind < 200) {
      Enqueue(input);
    } else if (kind < 280 && !(ringing_.empty() && dialling_.empty())) {
      Answer(input);
    } else if (kind < 660) {
      // When no call has anything to report, a caller waiting alone may hang up.
      if (!CallEvent(core, input) && !AbandonWaiting(input)) {
        if (Chance(50)) {
          Enqueue(input);
        } else {
          input.mutable_time_passed();
        }
      }
    } else if (kind < 720) {
      Login(input);
    } else if (kind < 800) {
      SetAgentState(input);
    } else if (kind < 815) {
      input.mutable_logout()->set_agent_id(SomeAgent());
    } else if (kind < 930) {
      CommandWritten(input);
    } else if (kind < 950) {
      Reconnect(input);
    } else if (kind < 980 && !recent_.empty()) {
      // A retry: an earlier request sent again, exactly.
      const int64_t at = input.time_unix_micros();
      input = recent_[Pick(static_cast<int>(recent_.size()))];
      input.set_time_unix_micros(at);
    } else if (kind < 988) {
      SetPolicy(input);
    } else if (kind < 992) {
      PolicyText(input);
    } else if (kind < 996 && !draining_) {
      // Shutdown begins; acdd comes back on the same data dir a few inputs later.
      input.mutable_drain_begun();
      draining_ = true;
      drain_left_ = 3 + Pick(30);
    } else if (kind < 997) {
      Start(input, /*changed=*/Chance(40));  // a restart after a crash: no drain before it
    } else {
      input.mutable_time_passed();
    }
    return input;
  }

  void Learn(const JournalInput& input, const Effect& effect) {
    ++tally_[absl::StrCat("input ", KindOf(input))];
    if (effect.status.ok()) ++tally_[absl::StrCat("ok ", KindOf(input))];
    if (input.has_enqueue_call() || input.has_call_event() || input.has_login() ||
        input.has_set_agent_state() || input.has_logout()) {
      if (recent_.size() < 64) {
        recent_.push_back(input);
      } else {
        recent_[Pick(64)] = input;
      }
    }
    if (input.has_enqueue_call() && effect.status.ok()) {
      const std::string& call = input.enqueue_call().call_id();
      enqueued_[call] = input.enqueue_call();
      if (std::find(live_.begin(), live_.end(), call) == live_.end()) live_.push_back(call);
    }
    if (input.has_call_event() && effect.status.ok()) {
      const acd::v1::CallEvent& event = input.call_event();
      if (event.has_hold_started()) current_hold_[event.call_id()] = event.hold_started().hold_id();
      const std::string& call = event.call_id();
      const bool ringing = ringing_.erase(call) > 0;
      dialling_.erase(call);
      if (event.has_offer_accepted() || event.has_answered()) {
        auto offer = offers_.find(call);
        if (offer != offers_.end()) connected_sequence_[call] = offer->second.second;
        if (ringing && callback_started_.contains(call)) dialling_.insert(call);
      }
    }
    if (input.has_login() && effect.status.ok()) logins_[input.login().agent_id()] = input.login();
    if (input.has_logout() && effect.status.ok()) logins_.erase(input.logout().agent_id());
    if (input.has_switch_reconnected()) {
      const std::string& switch_id = input.switch_reconnected().switch_id();
      away_.erase(switch_id);
      std::erase_if(to_write_, [&](const auto& w) { return w.first == switch_id; });
      for (const acd::v1::Command& c : effect.reconnect) {
        to_write_.emplace_back(switch_id, c.sequence());
        ++tally_["resent on reconnect"];
      }
    }
    for (const OutgoingCommand& out : effect.commands) {
      const acd::v1::Command& c = *out.command;
      ++tally_[absl::StrCat("command ", CaseName(c, c.command_case()))];
      if (c.has_offer_call()) {
        offers_[c.offer_call().call_id()] = {c.offer_call().agent_id(), c.sequence()};
        ringing_.insert(c.offer_call().call_id());
        callback_started_.erase(c.offer_call().call_id());
      } else if (c.has_start_callback()) {
        offers_[c.start_callback().call_id()] = {c.start_callback().agent_id(), c.sequence()};
        ringing_.insert(c.start_callback().call_id());
        callback_started_.insert(c.start_callback().call_id());
      } else if (c.has_cancel_offer()) {
        ringing_.erase(c.cancel_offer().call_id());
      } else if (c.has_play_prompt() &&
                 c.play_prompt().kind() == acd::v1::PlayPrompt::KIND_CALLBACK_OFFER) {
        callback_offered_.insert(c.play_prompt().call_id());
      }
      // A switch whose stream is away reads nothing until it reconnects.
      if (!away_.contains(out.switch_id)) to_write_.emplace_back(out.switch_id, c.sequence());
    }
    // A shell so far behind leaves the oldest unreported: they stay unwritten in the outbox, and
    // a reconnect gives them again.
    while (to_write_.size() > 60) to_write_.erase(to_write_.begin());
    // Now and then the stream of sw2 or sw3 goes (no input: the engine just stops writing to it).
    if (Pick(200) == 0) {
      const std::string switch_id = kSwitches[1 + Pick(2)];
      away_.insert(switch_id);
      std::erase_if(to_write_, [&](const auto& w) { return w.first == switch_id; });
    }
  }

  // How often each input was given and taken ("input X", "ok X") and each command made.
  int Count(const std::string& what) const {
    auto it = tally_.find(what);
    return it == tally_.end() ? 0 : it->second;
  }
  std::string Summary() const {
    std::string out;
    for (const auto& [what, n] : tally_) absl::StrAppend(&out, what, ": ", n, "\n");
    return out;
  }

 private:
  int Pick(int n) { return static_cast<int>(random_() % static_cast<uint64_t>(n)); }
  bool Chance(int percent) { return Pick(100) < percent; }
  int64_t Between(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(random_() % static_cast<uint64_t>(high - low + 1));
  }
  std::string AnyAgent() { return absl::StrCat("a", Pick(kAgents)); }
  // Mostly an agent who is logged in.
  std::string SomeAgent() {
    if (logins_.empty() || Chance(15)) return AnyAgent();
    return std::next(logins_.begin(), Pick(static_cast<int>(logins_.size())))->first;
  }
  std::string SomeSwitch() {
    const int r = Pick(10);
    return kSwitches[r < 6 ? 0 : r < 9 ? 1 : 2];
  }

  // Moves the clock on by a random step: mostly seconds, now and then minutes, so that offers
  // time out, escalations fire and finished calls outlive their retention. Whole microseconds,
  // as the engine gives its core.
  absl::Time PassTime(Core& core) {
    const int r = Pick(1000);
    int64_t micros = 0;
    if (r < 100) {
      micros = 0;  // inputs at the very same microsecond
    } else if (r < 750) {
      micros = Between(1, 600'000);
    } else if (r < 890) {
      micros = Between(600'000, 4'000'000);
    } else if (r < 950) {
      // To the core's next wakeup, as the engine's timer would: rounded up to a microsecond,
      // or now and then down (a timer that fires a hair early runs nothing yet).
      if (std::optional<absl::Time> next = core.NextWakeup(); next && *next > now_) {
        const absl::Time whole = WholeMicros(*next);
        now_ = whole < *next && Chance(80) ? whole + absl::Microseconds(1) : whole;
      }
    } else if (r < 990) {
      micros = Between(4'000'000, 40'000'000);
    } else if (r < 998) {
      micros = Between(40'000'000, 180'000'000);
    } else {
      micros = Between(180'000'000, 600'000'000);  // a quiet spell: finished calls expire
    }
    now_ += absl::Microseconds(micros);
    return now_;
  }

  void Enqueue(JournalInput& input) {
    if (!enqueued_.empty() && Chance(4)) {
      // The same call id again: a retry, or (from another switch or for another queue) a clash.
      acd::v1::EnqueueCallRequest again =
          std::next(enqueued_.begin(), Pick(static_cast<int>(enqueued_.size())))->second;
      if (Chance(30)) again.set_queue(kQueues[Pick(4)]);
      if (Chance(20)) again.set_switch_id(SomeSwitch());
      *input.mutable_enqueue_call() = again;
      return;
    }
    const int q = Pick(100);
    const std::string queue = q < 35 ? "sales" : q < 58 ? "support" : q < 78 ? "billing"
                              : q < 96 ? "chat" : "no-such-queue";
    acd::v1::EnqueueCallRequest request =
        SimulatedCenter::EnqueueRequest(absl::StrCat("c", next_call_++), queue, SomeSwitch());
    (*request.mutable_attributes())["account"] = absl::StrCat("ACME-", Pick(1000));
    if (Chance(50)) (*request.mutable_attributes())["intent"] = Chance(50) ? "upgrade" : "refund";
    if (queue == "chat" && Chance(50)) request.set_channel(acd::v1::CHANNEL_CHAT);
    if (queue != "chat" && Chance(3)) request.set_channel(acd::v1::CHANNEL_CHAT);  // refused
    if (Chance(30)) request.set_priority(10 * Pick(4));
    if (Chance(15)) request.set_tier("gold");
    if (Chance(40)) request.set_language(Chance(60) ? "en" : "es");
    if (Chance(10)) request.set_preferred_agent(AnyAgent());
    if (Chance(5)) {
      acd::v1::SkillRequirement* skill = request.add_required_skills();
      skill->set_skill(kSkills[Pick(4)]);
      skill->set_min_proficiency(1 + Pick(3));
    }
    *input.mutable_enqueue_call() = std::move(request);
  }

  // An event about one of the calls acd holds, chosen by where the call stands; false when there
  // is none to report about.
  bool CallEvent(Core& core, JournalInput& input) {
    acd::v1::CallInfo info;
    for (int tries = 0;; ++tries) {
      if (live_.empty()) return false;
      size_t at = static_cast<size_t>(Pick(static_cast<int>(live_.size())));
      if (!ringing_.empty() && Chance(50)) {
        // Often a call whose agent's phone rings: offers time out if nobody answers them.
        const std::string& ringing =
            *std::next(ringing_.begin(), Pick(static_cast<int>(ringing_.size())));
        auto it = std::find(live_.begin(), live_.end(), ringing);
        if (it != live_.end()) at = static_cast<size_t>(it - live_.begin());
      }
      acd::v1::GetCallRequest request;
      request.set_call_id(live_[at]);
      info.Clear();
      const absl::Status found = core.GetCall(request, &info, now_);
      const bool over = !found.ok() || info.state() == acd::v1::CALL_STATE_ENDED ||
                        info.state() == acd::v1::CALL_STATE_ABANDONED ||
                        info.state() == acd::v1::CALL_STATE_FALLBACK ||
                        info.state() == acd::v1::CALL_STATE_CALLBACK_FAILED;
      if (over) {
        live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(at));
        if (found.ok() && Chance(25)) break;  // a late event about a call that has left
        continue;
      }
      // A caller waiting alone has little to report; look for a call with an agent first.
      const bool idle = info.state() == acd::v1::CALL_STATE_WAITING &&
                        info.consulting_agent().empty() &&
                        !callback_offered_.contains(info.call_id());
      if (!idle) break;
      if (tries >= 6) return false;
    }
    acd::v1::CallEvent& event = *input.mutable_call_event();
    event.set_switch_id(Chance(98) ? info.switch_id() : SomeSwitch());
    event.set_call_id(info.call_id());
    const std::string& call = info.call_id();
    auto offer = offers_.find(call);
    auto offer_sequence = [&] {
      if (offer == offers_.end() || Chance(35)) return uint64_t{0};
      return Chance(95) ? offer->second.second : offer->second.second + 1;  // now and then stale
    };
    auto connected_sequence = [&] {
      auto it = connected_sequence_.find(call);
      return it == connected_sequence_.end() || Chance(50) ? uint64_t{0} : it->second;
    };
    const std::string on_the_line =
        info.consulting_agent().empty() ? info.agent_id() : info.consulting_agent();
    const int r = Pick(100);

    if (!info.consulting_agent().empty() && Chance(45)) {
      // The agent still with the caller during a warm transfer.
      event.set_agent_id(info.consulting_agent());
      if (r < 40) {
        event.mutable_consult_cancelled();
      } else if (r < 70) {
        ToggleHold(info, event);
      } else if (r < 90) {
        event.mutable_call_ended();
      } else {
        event.mutable_caller_abandoned();
      }
      return true;
    }
    switch (info.state()) {
      case acd::v1::CALL_STATE_OFFERED: {
        const std::string ringing =
            offer != offers_.end() ? offer->second.first : info.agent_id();
        event.set_agent_id(Chance(95) ? ringing : AnyAgent());
        event.set_offer_sequence(offer_sequence());
        if (r < 50 || (info.callback() && r < 75)) {
          Accept(&event);
        } else if (r < 60) {
          event.mutable_answered();
        } else if (r < 75) {
          Reject(&event);
        } else if (r < 88) {
          event.mutable_offer_no_answer();
        } else if (r < 95) {
          Abandon(&event);
        } else {
          ToggleHold(info, event);  // refused: nobody is with the caller yet
        }
        break;
      }
      case acd::v1::CALL_STATE_CONNECTED: {
        event.set_agent_id(Chance(95) ? on_the_line : AnyAgent());
        if (info.callback() && r < 60) {
          event.mutable_callback_not_reached()->set_reason(Chance(50) ? "no_answer" : "busy");
        } else if (r < 30) {
          if (Chance(80)) event.set_offer_sequence(connected_sequence());
          End(&event);
        } else if (r < 55) {
          ToggleHold(info, event);
        } else if (r < 64) {
          Transfer(event, /*warm=*/false);
        } else if (r < 82) {
          Transfer(event, /*warm=*/true);
        } else if (r < 86) {
          event.set_offer_sequence(connected_sequence());
          event.mutable_answered();
        } else if (r < 90) {
          Abandon(&event);  // the caller hangs up on the agent: the call ends
        } else if (r < 95) {
          event.set_offer_sequence(offer_sequence());
          Accept(&event);  // a late retry of the accept
        } else {
          event.mutable_callback_accepted();  // refused: the caller is with an agent
        }
        break;
      }
      case acd::v1::CALL_STATE_WAITING: {
        if (callback_offered_.contains(call) && !info.callback() && r < 60) {
          event.mutable_callback_accepted()->set_number(Chance(50) ? "" : "+15550100");
        } else if (r < 40) {
          Abandon(&event);
        } else if (r < 70) {
          event.mutable_callback_accepted();  // often refused: no callback was offered
        } else if (r < 85) {
          event.set_agent_id(AnyAgent());
          Accept(&event);  // refused: nobody was offered the call
        } else {
          event.set_agent_id(AnyAgent());
          End(&event);
        }
        break;
      }
      default: {  // a callback waiting for its next attempt, or a call already gone
        event.set_agent_id(Chance(50) ? info.agent_id() : AnyAgent());
        if (r < 30) {
          Abandon(&event);
        } else if (r < 60) {
          event.mutable_callback_not_reached()->set_reason("no_answer");
        } else if (r < 80) {
          End(&event);
        } else {
          Accept(&event);
        }
        break;
      }
    }
    return true;
  }

  // What the engine asks the core without journaling it: reads for the admin API, a resyncing
  // switch and the figures, and a dry run of a policy. None may change the state a replay
  // rebuilds (the recovered core is never asked).
  void Look(Core& core) {
    acd::v1::ListQueuesResponse queues;
    EXPECT_TRUE(core.ListQueues(&queues, now_).ok());
    acd::v1::ListAgentsResponse agents;
    EXPECT_TRUE(core.ListAgents(acd::v1::ListAgentsRequest(), &agents).ok());
    acd::v1::ListCallsRequest calls_of;
    calls_of.set_switch_id(SomeSwitch());
    acd::v1::ListCallsResponse calls;
    EXPECT_TRUE(core.ListCalls(calls_of, &calls, now_).ok());
    acd::v1::PolicyInfo policy;
    EXPECT_TRUE(core.GetPolicy(&policy).ok());
    acd::v1::SetPolicyRequest dry_run;
    *dry_run.mutable_policy() = Variant();
    dry_run.set_validate_only(true);
    acd::v1::SetPolicyResponse verdict;
    (void)core.SetPolicy(dry_run, &verdict, now_);
  }

  // An agent answers a ringing offer (or a callback's start): mostly takes it. Or an agent who
  // took a callback reports that the customer could not be reached.
  void Answer(JournalInput& input) {
    const bool dial = !dialling_.empty() && (ringing_.empty() || Chance(40));
    const std::set<std::string>& calls = dial ? dialling_ : ringing_;
    const std::string call = *std::next(calls.begin(), Pick(static_cast<int>(calls.size())));
    const auto& [agent, sequence] = offers_.at(call);
    acd::v1::CallEvent& event = *input.mutable_call_event();
    event.set_switch_id(enqueued_[call].switch_id());
    event.set_call_id(call);
    event.set_agent_id(agent);
    if (dial) {
      event.mutable_callback_not_reached()->set_reason(Chance(50) ? "no_answer" : "voicemail");
      return;
    }
    event.set_offer_sequence(Chance(70) ? sequence : 0);
    const int r = Pick(100);
    if (r < 70) {
      Accept(&event);
    } else if (r < 80) {
      event.mutable_answered();
    } else if (r < 90) {
      Reject(&event);
    } else {
      event.mutable_offer_no_answer();
    }
  }

  // Now and then a caller waiting alone hangs up; false when the traffic chose not to.
  bool AbandonWaiting(JournalInput& input) {
    if (live_.empty() || !Chance(25)) return false;
    acd::v1::CallEvent& event = *input.mutable_call_event();
    const std::string& call = live_[Pick(static_cast<int>(live_.size()))];
    event.set_switch_id(enqueued_[call].switch_id());
    event.set_call_id(call);
    Abandon(&event);
    return true;
  }

  // Starts a hold when the caller is not on hold, ends it when they are; sometimes with a hold id
  // (a new one, or one used before), sometimes without.
  void ToggleHold(const acd::v1::CallInfo& info, acd::v1::CallEvent& event) {
    const auto current = current_hold_.find(info.call_id());
    if (info.on_hold() && Chance(85)) {
      acd::v1::HoldEnded* ended = event.mutable_hold_ended();
      const int r = Pick(100);
      if (r < 60 && current != current_hold_.end()) {
        ended->set_hold_id(current->second);
      } else if (r < 90) {
        ended->set_hold_id("");
      } else {
        ended->set_hold_id(absl::StrCat("h", Pick(next_hold_ + 1)));
      }
      return;
    }
    const int r = Pick(100);
    const std::string id = r < 60   ? absl::StrCat("h", next_hold_++)
                           : r < 90 ? ""
                                    : absl::StrCat("h", Pick(next_hold_ + 1));
    static constexpr double kExpected[] = {0, 10, 12.3456789, 90};
    Hold(kExpected[Pick(4)], id)(&event);
    if (Chance(20)) event.mutable_hold_started()->set_caller_consented(false);
  }

  void Transfer(acd::v1::CallEvent& event, bool warm) {
    const int r = Pick(100);
    const std::string queue = r < 85 ? kQueues[Pick(4)] : r < 95 ? "" : "no-such-queue";
    TransferTo(queue, warm, Chance(50) ? "invoice dispute" : "",
               Chance(50) ? "billed twice" : "")(&event);
    if (queue.empty()) {
      acd::v1::TransferRequested* t = warm ? event.mutable_consult_transfer_requested()
                                           : event.mutable_transfer_requested();
      t->set_agent_id(AnyAgent());
    }
  }

  void Login(JournalInput& input) {
    const std::string agent = AnyAgent();
    auto known = logins_.find(agent);
    if (known != logins_.end() && Chance(40)) {
      *input.mutable_login() = known->second;  // a retry of the same login
      return;
    }
    acd::v1::LoginRequest& login = *input.mutable_login();
    login.set_agent_id(agent);
    bool chat = false;
    for (const char* skill : kSkills) {
      if (!Chance(45)) continue;
      acd::v1::AgentSkill* s = login.add_skills();
      s->set_skill(skill);
      s->set_proficiency(1 + Pick(5));
      chat = chat || std::string(skill) == "chat";
    }
    if (login.skills().empty() || Chance(2)) {
      acd::v1::AgentSkill* s = login.add_skills();
      s->set_skill(Chance(95) ? kSkills[Pick(4)] : "juggling");  // an unknown skill: refused
      s->set_proficiency(1 + Pick(5));
    }
    if (Chance(70)) login.add_languages("en");
    if (Chance(40)) login.add_languages("es");
    if (chat && Chance(60)) {
      acd::v1::ChannelCapacity* voice = login.add_capacity();
      voice->set_channel(acd::v1::CHANNEL_VOICE);
      voice->set_max(1);
      acd::v1::ChannelCapacity* chats = login.add_capacity();
      chats->set_channel(acd::v1::CHANNEL_CHAT);
      chats->set_max(1 + Pick(3));
    }
    if (Chance(10)) login.add_queues(kQueues[Pick(4)]);
    login.set_ready(Chance(85));
  }

  void SetAgentState(JournalInput& input) {
    acd::v1::SetAgentStateRequest& request = *input.mutable_set_agent_state();
    request.set_agent_id(SomeAgent());
    const int r = Pick(100);
    if (r < 60) {
      request.mutable_ready();
    } else if (r < 75) {
      request.mutable_not_ready()->set_reason(Chance(50) ? "break" : "training");
    } else if (r < 97) {
      request.mutable_end_wrap_up();
    }  // else: no change named, refused
  }

  // A command of a connected switch reached its stream: mostly the oldest one not reported yet.
  void CommandWritten(JournalInput& input) {
    acd::journal::v1::CommandWritten& written = *input.mutable_command_written();
    if (to_write_.empty() || Chance(3)) {
      written.set_switch_id(SomeSwitch());
      written.set_sequence(1 + Pick(500));  // unknown or long gone: nothing changes
      return;
    }
    const int size = static_cast<int>(to_write_.size());
    const size_t at = Chance(85) ? 0 : static_cast<size_t>(Pick(size));
    written.set_switch_id(to_write_[at].first);
    written.set_sequence(to_write_[at].second);
    to_write_.erase(to_write_.begin() + static_cast<std::ptrdiff_t>(at));
  }

  void Reconnect(JournalInput& input) {
    input.mutable_switch_reconnected()->set_switch_id(
        !away_.empty() && Chance(70) ? *away_.begin() : SomeSwitch());
  }

  // The policy with other numbers (timeouts, wrap-up, escalation times, prompt spacing, strategy
  // seed): valid, with the same queues, so a live center can take it. Now and then one without
  // the chat queue (refused while chats are live) or a broken one (always refused).
  acd::v1::Policy Variant() {
    acd::v1::Policy policy = base_policy_;
    policy.set_name(absl::StrCat("journal-replay v", ++variants_));
    policy.set_random_seed(random_());
    policy.mutable_agent_rules()->set_max_missed_offers(Pick(4));
    static constexpr double kScales[] = {0.5, 1, 1.37, 2};
    const double scale = kScales[Pick(4)];
    for (acd::v1::Queue& queue : *policy.mutable_queues()) {
      static constexpr double kTimeouts[] = {6, 7.3333333, 12, 20};
      queue.set_offer_timeout_seconds(kTimeouts[Pick(4)]);
      queue.set_wrap_up_seconds(Pick(3) * 3);
      for (acd::v1::EscalationStep& step : *queue.mutable_escalation()) {
        step.set_after_seconds(step.after_seconds() * scale);
      }
      if (queue.has_prompts()) {
        queue.mutable_prompts()->set_update_interval_seconds(Chance(50) ? 30 : 45);
      }
    }
    const int r = Pick(100);
    if (r < 8) {
      policy.mutable_queues()->RemoveLast();  // chat
    } else if (r < 16) {
      policy.mutable_queues(0)->set_offer_timeout_seconds(-1);
    }
    return policy;
  }

  void SetPolicy(JournalInput& input) {
    acd::v1::SetPolicyRequest& request = *input.mutable_set_policy();
    if (Chance(70)) {
      *request.mutable_policy() = Variant();
    } else {
      request.set_yaml(Chance(90) ? routing::PolicyToYaml(Variant()) : "queues: [");
    }
  }

  void PolicyText(JournalInput& input) {
    input.mutable_policy_text()->set_yaml(Chance(85) ? routing::PolicyToYaml(Variant())
                                                     : "name: [unclosed");
    input.mutable_policy_text()->set_source(kPolicyFile);
  }

  // acdd starting on the recovered state; when `changed`, with other limits, and now and then a
  // policy file that changed while it was down.
  void Start(JournalInput& input, bool changed) {
    acd::journal::v1::Started& started = *input.mutable_started();
    CoreOptions options = kOptions;
    if (changed) {
      options.call_retention = absl::Seconds(Between(30, 600));
      options.max_finished_calls = static_cast<size_t>(Between(5, 200));
      options.max_outbox = static_cast<size_t>(Between(5, 100));
    }
    *started.mutable_settings() = SettingsOf(options);
    const bool new_policy = changed && Chance(70);
    *started.mutable_startup_policy() = new_policy ? Variant() : base_policy_;
    started.set_startup_policy_source(kPolicyFile);
    started.set_apply_startup_policy(new_policy);
    draining_ = false;
    away_ = {"sw2", "sw3"};  // switches reconnect to the new acdd one by one
    to_write_.clear();
  }

  std::mt19937_64 random_;
  absl::Time now_;
  acd::v1::Policy base_policy_;
  int variants_ = 0;
  uint64_t next_call_ = 0;
  int next_hold_ = 0;
  bool draining_ = false;
  int drain_left_ = 0;

  std::vector<std::string> live_;  // calls acd may still hold, in the order they came
  std::map<std::string, acd::v1::EnqueueCallRequest> enqueued_;
  std::map<std::string, std::pair<std::string, uint64_t>> offers_;  // call -> (agent, sequence)
  std::map<std::string, uint64_t> connected_sequence_;               // call -> offer accepted
  std::map<std::string, std::string> current_hold_;                  // call -> hold id
  std::set<std::string> ringing_;  // calls offered (or a callback started) but not answered
  std::set<std::string> callback_offered_;
  std::set<std::string> callback_started_;  // calls whose last offer was a callback's start
  std::set<std::string> dialling_;          // callbacks an agent took, customer not reached yet
  std::map<std::string, acd::v1::LoginRequest> logins_;
  std::vector<JournalInput> recent_;  // requests to send again as retries
  std::vector<std::pair<std::string, uint64_t>> to_write_;  // (switch, sequence) not reported
  std::set<std::string> away_;                              // switches whose stream is gone
  std::map<std::string, int> tally_;
};

}  // namespace acd::daemon::testing

#endif  // ACD_TESTS_DAEMON_RANDOM_CORE_TRAFFIC_H_
