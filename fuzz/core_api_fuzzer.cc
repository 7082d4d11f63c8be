// A byte string read as a run of API requests through acdd's deterministic core on a fake clock,
// as switches, agent desktops, operators and the shell send them: calls entering, every call
// event, logins, agent states and logouts, policies set (one of a few fixed ones, as proto or
// YAML, or a SIGHUP's file text; each taken live, made ready first as acdd's other threads do, or
// as a replay reads it), time passing and the wake-ups the core asks for, command streams
// writing and reconnecting, drains and restarts, retries of earlier requests, and reads. Each
// state-changing request is a journal input handed over by ApplyInput, as the engine does. After
// every step:
//  - the core's and the router's invariants hold (Core::CheckInvariants);
//  - no input is answered DATA_LOSS (recovery would stop at its record);
//  - a SetPolicy taken live answers the diff from the policy it replaced, though its diff was made
//    first (as on acdd's gRPC thread), maybe from a policy no longer in force.
// At the end, when the first byte asks: the journaled inputs replayed into a new core give the
// very same state (Core::Dump) and tell the very same history (reports/: the queue_log and call
// records the core's HistorySink feeds make of it, all the way), and a core restored from a
// snapshot of it gives the same state too.
//
// Input: byte 0 picks the policy the core starts on, its limits and the end checks; then steps,
// each an opcode byte and its argument bytes (Driver::Step), at most kMaxSteps. Names come from
// small fixed sets (16 calls, 8 agents, 2 switches, replay_center.h's queues and skills) so that
// requests keep meeting the calls and agents earlier ones made.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "acd/journal/v1/journal.pb.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "acd/v1/acd.pb.h"
#include "daemon/commands.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/policy_request.h"
#include "daemon/text_diff.h"
#include "fuzz/fuzz_support.h"
#include "reports/call_records.h"
#include "reports/interval_report.h"
#include "reports/queue_log.h"
#include "routing/policy_text.h"
#include "routing/policy_yaml.h"
#include "tests/daemon/replay_center.h"

namespace acd::fuzz {
namespace {

using daemon::ApplyInput;
using daemon::Core;
using daemon::CoreOptions;
using daemon::InputAt;
using daemon::JournalInput;
using daemon::testing::kPolicyFile;
using daemon::testing::kQueues;
using daemon::testing::kReplayPolicy;
using daemon::testing::kSkills;

constexpr int kMaxSteps = 64;
// Requests that read or write a policy's YAML (a SetPolicy live, which answers with a diff; a
// SIGHUP; GetPolicy; a dry run) cost a hundred times a call event: at most this many per input, so
// that inputs stay fast whatever their opcodes. Later ones are left out.
constexpr int kMaxPolicyRequests = 1;
// ACD_FUZZ_VERBOSE=1 prints each input and its answer: how to read what a found input does.
const bool kVerbose = std::getenv("ACD_FUZZ_VERBOSE") != nullptr;
constexpr int kRecent = 8;  // inputs kept to send again as retries
const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

const char* const kCalls[] = {"c0", "c1", "c2",  "c3",  "c4",  "c5",  "c6",  "c7",
                              "c8", "c9", "c10", "c11", "c12", "c13", "c14", "c15"};
const char* const kAgents[] = {"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"};
const char* const kSwitches[] = {"sw1", "sw2"};
// Queue names a request may give: the policy's, then ones no policy has.
const char* const kQueueNames[] = {kQueues[0], kQueues[1], kQueues[2], kQueues[3],
                                   "nosuch",   "",         kQueues[0], kQueues[1]};
const std::string kLong(300, 'x');  // past every bound on a reason, a number or an id

// The policies a request may name, as protos and as YAML: 0 the replay center's; 1 its queues
// with other rules; 2 without the chat queue and Spanish (refused while live calls use them);
// 3 broken (always refused).
struct FixedPolicies {
  std::vector<v1::Policy> protos;
  std::vector<std::string> yaml;
  std::vector<std::shared_ptr<const routing::CompiledPolicy>> compiled;  // but the broken one
};

const FixedPolicies& Policies() {
  static const FixedPolicies* const policies = [] {
    auto compiled = routing::CompilePolicyText(kReplayPolicy, "replay_center.h");
    if (!compiled.ok()) Fail("the replay center's policy: ", compiled.status().message());
    const v1::Policy& base = (*compiled)->source;
    v1::Policy other = base;
    other.set_name("fuzz other rules");
    other.set_random_seed(7);
    other.mutable_agent_rules()->set_max_missed_offers(0);
    other.mutable_agent_rules()->set_reject_delay_seconds(0);
    for (v1::Queue& q : *other.mutable_queues()) {
      q.set_offer_timeout_seconds(q.offer_timeout_seconds() + 3.3333333);
      q.set_wrap_up_seconds(0);
      q.set_strategy(q.name() == "sales" ? v1::STRATEGY_FEWEST_CALLS
                                         : v1::STRATEGY_MOST_PROFICIENT);
      for (v1::EscalationStep& step : *q.mutable_escalation()) {
        step.set_after_seconds(step.after_seconds() / 2);
      }
    }
    v1::Policy narrower = base;
    narrower.set_name("fuzz without chat and es");
    narrower.mutable_queues()->RemoveLast();
    narrower.clear_languages();
    narrower.add_languages("en");
    v1::Policy broken = base;
    broken.mutable_queues(0)->set_offer_timeout_seconds(-1);
    auto* out = new FixedPolicies;
    out->protos = {base, other, narrower, broken};
    for (const v1::Policy& p : out->protos) out->yaml.push_back(routing::PolicyToYaml(p));
    for (int i = 0; i < 3; ++i) out->compiled.push_back(*routing::CompilePolicy(out->protos[i]));
    return out;
  }();
  return *policies;
}

// What a SIGHUP may find in the policy file: the fixed policies' YAML (0-3), then two texts that
// do not read (4-5); each with what acdd's main thread makes of it before the engine takes it.
struct PolicyFileText {
  std::string yaml;
  absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>> compiled;
};
const std::vector<PolicyFileText>& PolicyFileTexts() {
  static const auto* const texts = [] {
    auto* out = new std::vector<PolicyFileText>;
    std::vector<std::string> yaml = Policies().yaml;
    yaml.push_back("name: [unclosed");
    yaml.push_back("name: caf\xE9\n");
    for (std::string& text : yaml) {
      auto compiled = routing::CompilePolicyText(text, kPolicyFile);
      if (compiled.ok()) (*compiled)->yaml();
      out->push_back({std::move(text), std::move(compiled)});
    }
    return out;
  }();
  return *texts;
}

// Bits [from, from + count) of `b`.
int Bits(uint8_t b, int from, int count) { return (b >> from) & ((1 << count) - 1); }

// The end checks byte 0 asks for (bits 4-6): each on a quarter of the inputs, as together they
// cost twice the run they check.
constexpr int kReplay = 1;
constexpr int kSnapshot = 2;
int EndChecks(uint8_t setup) { return Bits(setup, 4, 3) <= 3 ? Bits(setup, 4, 3) : 0; }

// Plays the shell and the switches around one core: stamps each input with the fake clock's time,
// applies it, takes the commands it made (learning what rings where and what each switch has not
// yet been shown) and checks the invariants.
class Driver {
 public:
  explicit Driver(uint8_t setup) : keep_journal_(EndChecks(setup) & kReplay) {
    // What CreateCore makes of the created record, with the policy compiled once per process;
    // the replay check makes its core from the record itself.
    const int policy = Bits(setup, 0, 2) % 3;
    const CoreOptions options = OptionsFor(Bits(setup, 2, 2));
    core_ = std::make_unique<Core>(Policies().compiled[policy], "fuzz", options, nullptr, now_);
    core_->set_history_sink(&history_.sinks);
    if (keep_journal_) {
      JournalInput created = InputAt(now_);
      *created.mutable_created()->mutable_policy() = Policies().protos[policy];
      created.mutable_created()->set_policy_source("fuzz");
      *created.mutable_created()->mutable_settings() = daemon::SettingsOf(options);
      journal_.push_back(std::move(created));
    }
  }

  void Step(Bytes& in, int step) {
    const uint8_t op = in.Next();
    const uint8_t a = in.Next();
    JournalInput input = InputAt(now_);
    switch (op % 24) {
      case 0:
      case 1:
      case 2: Enqueue(a, in.Next(), *input.mutable_enqueue_call()); break;
      case 3:
      case 4:
      case 5:
      case 6:
      case 7:
      case 8: CallEvent(a, in, *input.mutable_call_event()); break;
      case 9:
      case 10: Login(a, in.Next(), *input.mutable_login()); break;
      case 11: AgentState(a, *input.mutable_set_agent_state()); break;
      case 12: input.mutable_logout()->set_agent_id(kAgents[a % 8]); break;
      case 13: {
        if (!PolicyRequestLeft()) return;
        SetPolicy(a, *input.mutable_set_policy());
        if (!Bits(a, 6, 1)) break;  // as a replay has it: the core reads the request itself
        // As acdd takes it live: read and checked first (gRPC's thread); one with problems is
        // answered there and never reaches the core. Its diff is made there too, from the policy
        // acdd last published: the one in force, or (bit 7) one a reload replaced meanwhile.
        absl::StatusOr<daemon::PolicyRequestPrepared> prepared = Prepared(input.set_policy());
        if (!prepared.ok() || !prepared->problems.empty()) return;
        const std::shared_ptr<const routing::CompiledPolicy> running =
            core_->router().shared_policy();
        daemon::DiffFrom(Bits(a, 7, 1) ? Policies().compiled[Bits(a, 0, 2) % 3] : running,
                         *prepared);
        v1::SetPolicyResponse answer;
        const bool validate_only = input.set_policy().validate_only();
        Apply(std::move(input), step, &*prepared, &answer);
        // Whichever diff the core answers, it is the one from the policy it replaced.
        if ((answer.applied() || (validate_only && answer.problems().empty())) &&
            answer.diff() != daemon::UnifiedDiff(running->yaml(), prepared->compiled->yaml(),
                                                 "running", "new")) {
          Fail("step ", step,
               ": SetPolicy answered a diff from another policy than the one in "
               "force:\n",
               answer.diff());
        }
        return;
      }
      case 14: {  // SIGHUP: the policy file's bytes, whatever they are
        if (!PolicyRequestLeft()) return;
        const int text = Bits(a, 2, 1) ? 4 + Bits(a, 3, 1) : Bits(a, 0, 2);
        input.mutable_policy_text()->set_yaml(PolicyFileTexts()[text].yaml);
        input.mutable_policy_text()->set_source(kPolicyFile);
        if (!Bits(a, 4, 1)) break;  // as a replay has it: the core compiles the text itself
        // As acdd takes it live: compiled on its main thread first.
        Apply(std::move(input), step, nullptr, nullptr, &PolicyFileTexts()[text].compiled);
        return;
      }
      case 15:
      case 16:
        if (!PassTime(a)) return;
        input = InputAt(now_);
        input.mutable_time_passed();
        break;
      case 17:
      case 18: {
        std::optional<absl::Time> wakeup = core_->NextWakeup();
        if (!wakeup || *wakeup == absl::InfiniteFuture()) return;
        // The engine stamps inputs in whole microseconds, never before the wake-up it asked for.
        absl::Time at = daemon::WholeMicros(*wakeup);
        if (at < *wakeup) at += absl::Microseconds(1);
        now_ = std::max(now_, at);
        input = InputAt(now_);
        input.mutable_time_passed();
        break;
      }
      case 19:
        if (!CommandWritten(a, *input.mutable_command_written())) return;
        break;
      case 20: input.mutable_switch_reconnected()->set_switch_id(kSwitches[a % 2]); break;
      case 21:
        if (Bits(a, 0, 1)) {
          input.mutable_drain_begun();
        } else {
          Start(a, *input.mutable_started());
        }
        break;
      case 22:
        if (recent_.empty()) return;
        input = recent_[a % recent_.size()];  // a retry: the same request, later
        if ((input.has_set_policy() || input.has_policy_text()) && !PolicyRequestLeft()) return;
        input.set_time_unix_micros(absl::ToUnixMicros(now_));
        break;
      case 23:
        Read(a);
        Check(step, nullptr);
        return;
    }
    Apply(std::move(input), step);
  }

  // The end checks: the journal replayed into a new core, and a snapshot restored, give the
  // very same state.
  void Finish(uint8_t setup) {
    if (EndChecks(setup) == 0) return;
    const std::string dump = core_->Dump(Core::DumpStyle::kWire);
    if (keep_journal_) {
      absl::StatusOr<std::unique_ptr<Core>> replayed =
          daemon::CreateCore(journal_.front(), nullptr);
      if (!replayed.ok()) Fail("the journal's created record: ", replayed.status().message());
      History retold;
      (*replayed)->set_history_sink(&retold.sinks);
      for (size_t i = 1; i < journal_.size(); ++i) {
        (void)ApplyInput(**replayed, journal_[i], Ready(journal_[i]));
        (void)(*replayed)->TakeCommands();
        (void)(*replayed)->TakeNotices();
      }
      SameState(dump, **replayed, "replayed");
      if (history_.text != retold.text) {
        Fail("the journal replayed tells another history:\n",
             daemon::UnifiedDiff(history_.text, retold.text, "original", "replayed"));
      }
      (void)history_.intervals.Csv(now_);
    }
    if (EndChecks(setup) & kSnapshot) {
      std::vector<journal::v1::SnapshotPart> parts;
      absl::Status saved = core_->SaveSnapshot([&](const journal::v1::SnapshotPart& part) {
        parts.push_back(part);
        return absl::OkStatus();
      });
      if (!saved.ok()) Fail("a snapshot of a live core: ", saved.message());
      size_t next = 0;
      absl::StatusOr<std::unique_ptr<Core>> restored = Core::RestoreSnapshot(
          [&](journal::v1::SnapshotPart* part) -> absl::StatusOr<bool> {
            if (next == parts.size()) return false;
            *part = parts[next++];
            return true;
          },
          nullptr);
      if (!restored.ok())
        Fail("a core's own snapshot does not restore: ", restored.status().message());
      if (absl::Status s = (*restored)->CheckInvariants(); !s.ok()) {
        Fail("the core restored from a snapshot: ", s.message());
      }
      SameState(dump, **restored, "restored from a snapshot");
    }
  }

 private:
  bool PolicyRequestLeft() { return policy_requests_left_-- > 0; }

  // A replay's policy request or text made ready as the live run's were (the same fixed ones):
  // reading them again took about 5% of the harness's instructions (callgrind), and a live input
  // without them (bits 4 and 6 of a policy step) already drives the core's own reading.
  static daemon::InputReplies Ready(const JournalInput& input) {
    daemon::InputReplies ready;
    if (input.has_set_policy()) {
      const absl::StatusOr<daemon::PolicyRequestPrepared>& prepared = Prepared(input.set_policy());
      if (prepared.ok()) ready.set_policy_prepared = &*prepared;
    }
    if (input.has_policy_text()) {
      for (const PolicyFileText& text : PolicyFileTexts()) {
        if (text.yaml == input.policy_text().yaml()) ready.policy_text_compiled = &text.compiled;
      }
    }
    return ready;
  }

  // `request` (made by SetPolicy(a, ...)) read and checked as acdd's gRPC thread does. Requests
  // come from a few fixed ones, so each is prepared once per process: the reading itself is the
  // policy_text harness's to fuzz, and here it took 6-7% of an input's time (perf).
  static const absl::StatusOr<daemon::PolicyRequestPrepared>& Prepared(
      const v1::SetPolicyRequest& request) {
    static auto* const prepared =
        new std::map<std::string, absl::StatusOr<daemon::PolicyRequestPrepared>>;
    const std::string key = request.SerializeAsString();
    auto it = prepared->find(key);
    if (it == prepared->end()) {
      it = prepared->emplace(key, daemon::PreparePolicyRequest(request)).first;
    }
    return it->second;
  }

  static CoreOptions OptionsFor(int variant) {
    CoreOptions options = daemon::testing::kOptions;
    if (variant == 1)
      options = {.call_retention = absl::Seconds(20), .max_finished_calls = 2, .max_outbox = 3};
    if (variant == 2) options = CoreOptions{};
    return options;
  }

  // `answer`: a SetPolicy's reply, when it is read (a replay's is not). `prepared`, `compiled`:
  // a SetPolicy's request or a SIGHUP's text made ready off the engine thread, as acdd does live.
  void Apply(
      JournalInput input, int step, const daemon::PolicyRequestPrepared* prepared = nullptr,
      v1::SetPolicyResponse* answer = nullptr,
      const absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>>* compiled = nullptr) {
    std::vector<v1::Command> reconnect;
    const absl::Status status = ApplyInput(*core_, input,
                                           {.set_policy = answer,
                                            .set_policy_prepared = prepared,
                                            .policy_text_compiled = compiled,
                                            .reconnect = &reconnect});
    if (kVerbose) {
      std::fprintf(stderr, "step %d: %s -> %s\n", step, input.ShortDebugString().c_str(),
                   status.ToString().c_str());
    }
    if (status.code() == absl::StatusCode::kDataLoss) {
      Fail("step ", step,
           ": a live input answered DATA_LOSS (recovery would stop at it): ", status.message(),
           "\n", input.ShortDebugString());
    }
    if (input.has_enqueue_call() && status.ok()) {
      switch_of_.emplace(input.enqueue_call().call_id(), input.enqueue_call().switch_id());
    }
    if (input.has_switch_reconnected()) {
      // The new stream is handed these first; the switch will report them written.
      std::deque<uint64_t>& unwritten = unwritten_[input.switch_reconnected().switch_id()];
      unwritten.clear();
      for (const v1::Command& c : reconnect) unwritten.push_back(c.sequence());
    }
    for (daemon::OutgoingCommand& c : core_->TakeCommands()) {
      unwritten_[c.switch_id].push_back(c.command->sequence());
      if (const std::string* call_id = daemon::ReservedCallId(*c.command)) {
        offers_[*call_id] = c.command->sequence();
      }
    }
    (void)core_->TakeNotices();
    Check(step, &input);
    if (!input.has_time_passed() && !input.has_command_written()) {
      if (recent_.size() == kRecent) recent_.pop_front();
      recent_.push_back(input);
    }
    if (keep_journal_) journal_.push_back(std::move(input));
  }

  // After `input` (null: a read).
  void Check(int step, const JournalInput* input) {
    if (absl::Status s = core_->CheckInvariants(); !s.ok()) {
      Fail("step ", step, " (", input != nullptr ? input->ShortDebugString() : "a read", "): ",
           s.message());
    }
  }

  // `copy` is in the state whose wire dump is `original`; else the failure shows the text dumps'
  // difference (empty if only the wire bytes differ).
  void SameState(const std::string& original, const Core& copy, const char* how) const {
    if (original != copy.Dump(Core::DumpStyle::kWire)) {
      Fail("a core ", how, " differs from the original:\n",
           daemon::UnifiedDiff(core_->Dump(), copy.Dump(), "original", how));
    }
  }

  // a: call, switch, queue. b: priority, tier, language, preferred agent, a required skill.
  void Enqueue(uint8_t a, uint8_t b, v1::EnqueueCallRequest& request) {
    static const int kPriorities[] = {0, 10, 500, 1001};
    static const char* const kLanguages[] = {"", "en", "es", "fr"};
    request.set_call_id(kCalls[Bits(a, 0, 4)]);
    request.set_switch_id(kSwitches[Bits(a, 4, 1)]);
    request.set_queue(kQueueNames[Bits(a, 5, 3)]);
    request.set_priority(kPriorities[Bits(b, 0, 2)]);
    if (Bits(b, 2, 1)) request.set_tier("gold");
    request.set_language(kLanguages[Bits(b, 3, 2)]);
    if (Bits(b, 5, 1)) request.set_preferred_agent(kAgents[Bits(b, 6, 2)]);
    if (Bits(b, 7, 1)) {
      v1::SkillRequirement* skill = request.add_required_skills();
      skill->set_skill(kSkills[Bits(a, 0, 2)]);
      skill->set_min_proficiency(2);
    }
    (*request.mutable_attributes())["account"] = "ACME-42";
  }

  // An event about call a[0..3]. a[4..5]: whose (the agent the call rings or is with, the one
  // consulting, none, or b's); a[6..7]: the offer sequence (none, the offer's, a stale one, b's).
  // The byte after b picks the event, and the one after that a transfer's target.
  void CallEvent(uint8_t a, Bytes& in, v1::CallEvent& event) {
    const uint8_t b = in.Next();
    const std::string call = kCalls[Bits(a, 0, 4)];
    const std::optional<routing::CallView> view = core_->router().FindCall(call);
    event.set_call_id(call);
    // Mostly the call's own switch; a call never enqueued is said to be the first switch's.
    const bool other_switch = Bits(b, 7, 1) && Bits(b, 6, 1);
    event.set_switch_id(kSwitches[other_switch]);
    if (const auto record = switch_of_.find(call); record != switch_of_.end() && !other_switch) {
      event.set_switch_id(record->second);
    }
    std::string agent = kAgents[Bits(b, 0, 3)];
    switch (Bits(a, 4, 2)) {
      case 0:
        if (view && !view->agent_id.empty()) agent = view->agent_id;
        break;
      case 1:
        if (view && !view->consulting_agent.empty()) agent = view->consulting_agent;
        break;
      case 2: agent = ""; break;
      default: break;
    }
    event.set_agent_id(agent);
    const auto offer = offers_.find(call);
    const uint64_t sequence = offer == offers_.end() ? 0 : offer->second;
    switch (Bits(a, 6, 2)) {
      case 0: break;
      case 1: event.set_offer_sequence(sequence); break;
      case 2: event.set_offer_sequence(sequence + 1); break;
      case 3: event.set_offer_sequence(Bits(b, 3, 4)); break;
    }
    static const double kHoldSeconds[] = {0, 10, 12.3456789, 90, -1, 1e18, 1e300, 0.0000001};
    static const char* const kHoldIds[] = {"", "h1", "h2", "h3"};
    const int kind = in.Next() % 14;
    switch (kind) {
      case 0: event.mutable_offer_accepted(); break;
      case 1: event.mutable_offer_rejected()->set_reason(Bits(b, 3, 1) ? "busy" : ""); break;
      case 2: event.mutable_offer_no_answer(); break;
      case 3: event.mutable_caller_abandoned(); break;
      case 4: event.mutable_call_ended(); break;
      case 5: event.mutable_answered(); break;
      case 6: {
        v1::HoldStarted* hold = event.mutable_hold_started();
        hold->set_hold_id(kHoldIds[Bits(b, 3, 2)]);
        hold->set_expected_seconds(kHoldSeconds[Bits(b, 5, 3)]);
        hold->set_reason("checking_account");
        hold->set_caller_consented(Bits(b, 4, 1));
        break;
      }
      case 7: event.mutable_hold_ended()->set_hold_id(kHoldIds[Bits(b, 3, 2)]); break;
      case 8:
      case 9: {
        v1::TransferRequested* transfer = kind == 8 ? event.mutable_transfer_requested()
                                                    : event.mutable_consult_transfer_requested();
        const int target = in.Next();
        if (Bits(target, 3, 1)) {
          transfer->set_agent_id(kAgents[Bits(target, 0, 3)]);
        } else {
          transfer->set_queue(kQueueNames[Bits(target, 0, 3)]);
        }
        transfer->set_reason(Bits(target, 4, 1) ? "invoice dispute" : "");
        transfer->set_notes(Bits(target, 5, 1) ? "billed twice" : Bits(target, 6, 1) ? kLong : "");
        break;
      }
      case 10: event.mutable_consult_cancelled(); break;
      case 11:
        event.mutable_callback_accepted()->set_number(Bits(b, 3, 1) ? "+15550100" : "");
        break;
      case 12: event.mutable_callback_not_reached()->set_reason("no_answer"); break;
      case 13: break;  // no event set: refused
    }
  }

  // a: agent, ready, narrowed to a queue, capacities, an unknown skill. b: skills, proficiency,
  // languages.
  void Login(uint8_t a, uint8_t b, v1::LoginRequest& login) {
    static const int kProficiencies[] = {1, 3, 5, 0};
    login.set_agent_id(kAgents[Bits(a, 0, 3)]);
    login.set_ready(Bits(a, 3, 1));
    if (Bits(a, 4, 1)) login.add_queues(kQueueNames[Bits(b, 0, 3)]);
    switch (Bits(a, 5, 2)) {
      case 0: break;
      case 1:
        login.add_capacity()->set_channel(v1::CHANNEL_VOICE);
        login.mutable_capacity(0)->set_max(1);
        login.add_capacity()->set_channel(v1::CHANNEL_CHAT);
        login.mutable_capacity(1)->set_max(2);
        break;
      case 2:
        login.add_capacity()->set_channel(v1::CHANNEL_CHAT);
        login.mutable_capacity(0)->set_max(3);
        break;
      case 3:
        login.add_capacity()->set_channel(v1::CHANNEL_CHAT);
        login.mutable_capacity(0)->set_max(9);  // past the policy's maximum: refused
        break;
    }
    for (int s = 0; s < 4; ++s) {
      if (!Bits(b, s, 1)) continue;
      v1::AgentSkill* skill = login.add_skills();
      skill->set_skill(kSkills[s]);
      skill->set_proficiency(kProficiencies[Bits(b, 4, 2)]);
    }
    if (Bits(a, 7, 1)) login.add_skills()->set_skill("juggling");
    switch (Bits(b, 6, 2)) {
      case 0: break;
      case 1: login.add_languages("en"); break;
      case 2:
        login.add_languages("en");
        login.add_languages("es");
        break;
      case 3: login.add_languages("xx"); break;
    }
  }

  void AgentState(uint8_t a, v1::SetAgentStateRequest& request) {
    request.set_agent_id(kAgents[Bits(a, 0, 3)]);
    static const std::string kReasons[] = {"break", "", kLong, "training"};
    switch (Bits(a, 3, 2)) {
      case 0: request.mutable_ready(); break;
      case 1: request.mutable_not_ready()->set_reason(kReasons[Bits(a, 5, 2)]); break;
      case 2: request.mutable_end_wrap_up(); break;
      case 3: break;  // no change named: refused
    }
  }

  // a: which policy, as YAML or proto, a dry run or not, or no policy at all.
  void SetPolicy(uint8_t a, v1::SetPolicyRequest& request) {
    if (Bits(a, 4, 1)) return;  // names no policy: refused
    if (Bits(a, 2, 1)) {
      request.set_yaml(Policies().yaml[Bits(a, 0, 2)]);
    } else {
      *request.mutable_policy() = Policies().protos[Bits(a, 0, 2)];
    }
    // A dry run changes nothing and the engine journals none; the core must agree.
    request.set_validate_only(Bits(a, 3, 1) && Bits(a, 5, 1));
  }

  // a: how long, and whether the core is woken (a time_passed input) or the next input catches
  // it up. False when no input is to be made.
  bool PassTime(uint8_t a) {
    static const double kSeconds[] = {
        0,  0.000001, 0.5, 1,   2,   3,   5,   7.3333333, 8,    10,  15, 20, 25, 30, 40,   45,
        60, 90,       120, 150, 180, 240, 300, 600,       0.25, 1.5, 4,  6,  12, 35, 1800, 3600};
    now_ += absl::Microseconds(static_cast<int64_t>(kSeconds[Bits(a, 0, 5)] * 1e6));
    return Bits(a, 5, 1) == 0;
  }

  // a: which switch, and what it reports written: its oldest command not reported yet, another
  // one, or a number it never got.
  bool CommandWritten(uint8_t a, journal::v1::CommandWritten& written) {
    const std::string switch_id = kSwitches[Bits(a, 0, 1)];
    std::deque<uint64_t>& unwritten = unwritten_[switch_id];
    written.set_switch_id(switch_id);
    const int mode = Bits(a, 1, 2);
    if (mode == 3 || unwritten.empty()) {
      written.set_sequence(Bits(a, 3, 5));
      return true;
    }
    const size_t at = mode == 0 ? 0 : Bits(a, 3, 5) % unwritten.size();
    written.set_sequence(unwritten[at]);
    unwritten.erase(unwritten.begin() + static_cast<std::ptrdiff_t>(at));
    return true;
  }

  // acdd started again on this state: other limits, and now and then a changed startup policy.
  void Start(uint8_t a, journal::v1::Started& started) {
    *started.mutable_settings() = daemon::SettingsOf(OptionsFor(Bits(a, 1, 2)));
    const v1::Policy& policy = Policies().protos[Bits(a, 3, 2)];
    *started.mutable_startup_policy() = policy;
    started.set_startup_policy_source(kPolicyFile);
    started.set_apply_startup_policy(Bits(a, 5, 1));
    unwritten_.clear();  // a new acdd: the switches reconnect
  }

  // What the engine asks without journaling: the admin API's reads, a switch's resync, a dry run.
  void Read(uint8_t a) {
    switch (Bits(a, 0, 3)) {
      case 0: {
        v1::ListQueuesResponse queues;
        (void)core_->ListQueues(&queues, now_);
        break;
      }
      case 1: {
        // Every agent, then (a queue named) those of one queue: exactly the members among them,
        // in the same order; a queue no policy has is NOT_FOUND.
        v1::ListAgentsResponse all;
        (void)core_->ListAgents(v1::ListAgentsRequest(), &all);
        // The login each listed agent made is kept (what-if replays read it), and no other.
        for (const char* agent_id : kAgents) {
          const std::optional<v1::LoginRequest> login = core_->LoginOf(agent_id);
          const bool listed = absl::c_any_of(all.agents(), [&](const v1::AgentInfo& agent) {
            return agent.agent_id() == agent_id;
          });
          if (login.has_value() != listed || (login && login->agent_id() != agent_id)) {
            Fail("agent ", agent_id, (listed ? " is" : " is not"),
                 " listed, but its kept login is ", login ? login->ShortDebugString() : "none");
          }
        }
        v1::ListAgentsRequest request;
        request.set_queue(kQueueNames[Bits(a, 3, 3)]);
        if (request.queue().empty()) break;
        v1::ListAgentsResponse members;
        const absl::Status listed = core_->ListAgents(request, &members);
        if (!core_->router().policy().FindQueue(request.queue())) {
          if (listed.code() != absl::StatusCode::kNotFound) {
            Fail("ListAgents of queue ", request.queue(),
                 ", which does not exist: ", listed.ToString());
          }
          break;
        }
        std::vector<std::string> expected;
        for (const v1::AgentInfo& agent : all.agents()) {
          if (absl::c_linear_search(agent.queues(), request.queue())) {
            expected.push_back(agent.agent_id());
          }
        }
        std::vector<std::string> got;
        for (const v1::AgentInfo& agent : members.agents()) got.push_back(agent.agent_id());
        if (!listed.ok() || got != expected) {
          Fail("ListAgents of queue ", request.queue(), " listed ", absl::StrJoin(got, ","), " (",
               listed.ToString(), "), its members being ", absl::StrJoin(expected, ","));
        }
        break;
      }
      case 2:
      case 3: {
        v1::GetCallRequest request;
        request.set_call_id(kCalls[Bits(a, 3, 4)]);
        v1::CallInfo info;
        (void)core_->GetCall(request, &info, now_);
        // A waiting call's expected wait is the same asked either way; any other call has none.
        const routing::Router& router = core_->router();
        const std::optional<routing::CallView> view = router.FindCall(request.call_id());
        const std::optional<absl::Duration> expected = router.ExpectedWaitOf(request.call_id());
        const bool waiting = view && view->state == routing::CallState::kWaiting;
        if (expected != (waiting ? view->expected_wait : std::nullopt)) {
          Fail("call ", request.call_id(), "'s expected wait is ",
               expected ? absl::FormatDuration(*expected) : "none", " alone, ",
               view && view->expected_wait ? absl::FormatDuration(*view->expected_wait) : "none",
               " in its view");
        }
        break;
      }
      case 4: {
        // A page of 1 to 3 calls or the default one, from the start or after c5, c10 or c15.
        v1::ListCallsRequest request;
        request.set_switch_id(kSwitches[Bits(a, 3, 1)]);
        request.set_page_size(Bits(a, 4, 2));
        if (Bits(a, 6, 2) != 0) request.set_page_token(kCalls[5 * Bits(a, 6, 2)]);
        v1::ListCallsResponse page;
        (void)core_->ListCalls(request, &page, now_);
        const int most = request.page_size() == 0 ? Core::kDefaultCallsPage : request.page_size();
        if (page.calls_size() > most) {
          Fail("ListCalls gave ", page.calls_size(), " calls for ", most);
        }
        std::string after = request.page_token();
        for (const v1::CallInfo& call : page.calls()) {
          if (!after.empty() && call.call_id() <= after) {
            Fail("ListCalls listed ", call.call_id(), " after ", after);
          }
          after = call.call_id();
        }
        if (!page.next_page_token().empty() && page.next_page_token() != after) {
          Fail("ListCalls' next page starts after ", page.next_page_token(), ", not ", after);
        }
        // The page is the first calls of the whole list (one page: at most 16 calls) after the
        // token, with a token exactly when more follow. The invariants check that list itself.
        v1::ListCallsRequest whole_request;
        whole_request.set_switch_id(request.switch_id());
        v1::ListCallsResponse whole;
        (void)core_->ListCalls(whole_request, &whole, now_);
        std::vector<std::string> following;
        for (const v1::CallInfo& call : whole.calls()) {
          if (request.page_token().empty() || call.call_id() > request.page_token()) {
            following.push_back(call.call_id());
          }
        }
        const size_t listed = page.calls_size();
        for (size_t i = 0; i < listed && i < following.size(); ++i) {
          if (page.calls(i).call_id() != following[i]) {
            Fail("ListCalls' page lists ", page.calls(i).call_id(), " where ", following[i],
                 " comes");
          }
        }
        if (listed > following.size() ||
            page.next_page_token().empty() != (listed == following.size())) {
          Fail("ListCalls gave ", listed, " of the ", following.size(),
               " calls after the token, next page token '", page.next_page_token(), "'");
        }
        break;
      }
      case 5: {
        if (!PolicyRequestLeft()) return;
        v1::PolicyInfo policy;
        (void)core_->GetPolicy(&policy);
        break;
      }
      default: {
        if (!PolicyRequestLeft()) return;
        v1::SetPolicyRequest dry_run;
        *dry_run.mutable_policy() = Policies().protos[Bits(a, 3, 2)];
        dry_run.set_validate_only(true);
        v1::SetPolicyResponse verdict;
        (void)core_->SetPolicy(dry_run, &verdict, now_);
        break;
      }
    }
  }

  // The reporting feeds the core tells (reports/), their lines kept in `text`.
  struct History {
    std::string text;
    reports::QueueLog queue_log{
        [this](const std::string& line) { absl::StrAppend(&text, line, "\n"); }};
    reports::CallRecords records{
        [this](const std::string& line) { absl::StrAppend(&text, line, "\n"); }};
    reports::IntervalReport intervals{{}, [](const std::string&) { return reports::QueueRules{}; }};
    daemon::HistorySinks sinks{{&queue_log, &records, &intervals}};
  };

  absl::Time now_ = kStart;
  int policy_requests_left_ = kMaxPolicyRequests;
  History history_;
  std::unique_ptr<Core> core_;
  const bool keep_journal_;
  std::vector<JournalInput> journal_;
  std::deque<JournalInput> recent_;
  std::map<std::string, uint64_t> offers_;                 // call -> its latest offer's sequence
  std::map<std::string, std::deque<uint64_t>> unwritten_;  // switch -> commands not reported
  std::map<std::string, std::string> switch_of_;           // call -> the switch that enqueued it
};

}  // namespace
}  // namespace acd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  acd::fuzz::Bytes in(data, size);
  const uint8_t setup = in.Next();
  acd::fuzz::Driver driver(setup);
  for (int step = 0; step < acd::fuzz::kMaxSteps && !in.empty(); ++step) driver.Step(in, step);
  driver.Finish(setup);
  return 0;
}
