// acdctl: the operator's command line for a running acdd (AdminService over gRPC): live queues
// and agents, one call's story, the routing policy (show, validate, diff, apply) and a refreshing
// queue view; and, offline, a data dir's journal.
//   acdctl queues
//   acdctl --server 10.0.0.5:50051 agents --queue sales
//   acdctl policy validate center.yaml && acdctl policy apply center.yaml
//   acdctl journal verify /var/lib/acd
//   acdctl --server acd.example:50051 --tls_ca ca.pem --token_file ops.token queues
//   acdctl token pbx-east switch switch_id=pbx-east-1    # a new token and its tokens-file line
//   acdctl --server 10.0.0.1:50051,10.0.0.2:50051 ha status   # an HA pair: who leads, the lag
// Exit status: 0 done, 1 the server or the policy said no (`acdctl: NOT_FOUND: ...` on stderr),
// 2 the command line is wrong (usage on stderr).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "acd/ha/v1/replication.grpc.pb.h"
#include "acd/v1/acd.grpc.pb.h"
#include "daemon/access/client_access.h"
#include "daemon/access/leader_channel.h"
#include "daemon/access/tokens.h"
#include "daemon/journal/journal_tool.h"
#include "grpcpp/grpcpp.h"
#include "reports/report_tool.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051",
          "HOST:PORT of acdd's gRPC API; HOST:PORT,HOST:PORT for the replicas of an HA pair (the "
          "leader is found and asked)");
ABSL_FLAG(double, timeout_seconds, 5, "how long one request may take");
ABSL_FLAG(std::string, queue, "", "agents: only members of this queue");
ABSL_FLAG(double, interval, 1, "watch: seconds between snapshots (at least 0.2)");
ABSL_FLAG(int, count, 0, "watch: stop after this many snapshots; 0 runs until interrupted");
ABSL_FLAG(std::string, from, "",
          "journal print: start at this record's sequence (1); report: from this time (RFC 3339 "
          "or a UTC day; default: the history's start)");
ABSL_FLAG(std::string, to, "", "report: up to this time (default: the history's end)");
ABSL_FLAG(int, interval_minutes, 15, "report intervals: 15, 30 or 60");
ABSL_FLAG(double, short_abandon_seconds, 5,
          "report intervals: a caller who hangs up within this is a short abandon");

namespace {

constexpr char kUsage[] =
    R"(acdctl: operate a running acdd.

usage: acdctl [--server HOST:PORT[,HOST:PORT]] [--timeout_seconds S] [--token_file F] [--tls_ca F]
              [--tls_cert F --tls_key F] COMMAND

  queues                            each queue: channel, calls waiting, oldest wait, agents by state
  agents [--queue Q]                each agent: state (and not-ready reason), queues, calls handled
  call CALL_ID                      one call: queue, state, position, agent, priority, history
  policy show                       the running policy's YAML, where it came from and when applied
  policy validate FILE              "valid" and the diff against the running one, or every problem
  policy diff FILE                  only the diff against the running policy
  policy apply FILE                 apply FILE: prints the diff and "applied", or why not
  policy whatif [--from T] [--to T] FILE
                                    acdd's retained history over [T, T) replayed under the
                                    running policy and under FILE: per queue, recorded, replayed
                                    and candidate SL, ASA, abandon, longest wait, occupancy
  watch [--interval S] [--count N]  the queues table per snapshot, every S seconds (1),
                                    N times (0: until interrupted)
  ha status                         each replica of an HA pair (all --server addresses): role,
                                    epoch, journal, etcd; the leader's standbys: in sync, lag
  journal verify DIR                check a data dir's journal (offline): frames, sequences,
                                    inputs; what a start of acdd would cut
  journal print [--from N] DIR      its records as JSON lines (sequence, epoch, time, input)
  journal stats DIR                 records and bytes by kind of input, time covered
  report queue-log|calls|intervals [--from T] [--to T] DIR
                                    a data dir's history (offline) over [T, T): Asterisk
                                    queue_log lines, call records (JSON lines), or per-queue
                                    interval figures as CSV (--interval_minutes 15|30|60,
                                    --short_abandon_seconds S); T is RFC 3339 or a UTC day
  token NAME ROLE [BINDING]         a new random token (line 1; give it to its owner only) and
                                    its line for acdd's --auth_tokens file (line 2). ROLE: switch,
                                    agent, supervisor, admin or monitor; BINDING: switch_id=A,B
                                    (a switch's own ids) or agent_id=X (an agent's, required)

--server defaults to 127.0.0.1:50051, --timeout_seconds to 5; with several addresses (an HA
pair), commands go to the one that leads. An acdd with tokens needs
--token_file (the token's file); one with TLS needs --tls_ca (the CA that signed its certificate),
and with mutual TLS --tls_cert and --tls_key too.
Exit status: 0 done; 1 acdd refused or failed (acdctl: CODE: message), or the policy is invalid;
2 the command line is wrong.
)";

// A usage error ends the process here: the problem, the usage, exit status 2.
[[noreturn]] void UsageError(const std::string& message) {
  std::cerr << "acdctl: " << message << "\n\n" << kUsage;
  std::exit(2);
}

int Fail(const std::string& message) {
  std::cerr << "acdctl: " << message << "\n";
  return 1;
}

int FailRpc(const grpc::Status& status) {
  return Fail(
      absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
                   ": ", status.error_message()));
}

// Subcommand flags are ordinary absl flags, so absl would take them anywhere on the line and
// exit 1 on a bad one. Look at the flags first to answer the way the rest of the command line is
// answered (exit 2 with the usage) and to know which were given. Returns the names given.
std::set<std::string> CheckFlags(int argc, char** argv) {
  std::set<std::string> given;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') continue;
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    absl::string_view body = absl::StripPrefix(absl::StripPrefix(arg, "-"), "-");
    const size_t eq = body.find('=');
    const absl::string_view name = body.substr(0, eq);
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>() && eq == absl::string_view::npos)
        continue;
    }
    if (flag == nullptr) UsageError(absl::StrCat("unknown flag ", arg));
    given.insert(std::string(name));
    if (flag->IsOfType<bool>() && eq == absl::string_view::npos) continue;
    std::string value;
    if (eq != absl::string_view::npos) {
      value = std::string(body.substr(eq + 1));
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      UsageError(absl::StrCat("flag --", name, " needs a value"));
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) UsageError(absl::StrCat("--", name, ": ", error));
  }
  return given;
}

// "AGENT_STATE_NOT_READY" -> "not_ready".
std::string EnumWord(const std::string& name, absl::string_view prefix) {
  return absl::AsciiStrToLower(absl::StripPrefix(name, prefix));
}

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string FormatWhen(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%E3S %Z", ToTime(t), absl::LocalTimeZone());
}

// A wait as a person reads it on a wallboard: "42s", "3m07s", "1h05m".
std::string FormatWait(double seconds) {
  const int64_t s = static_cast<int64_t>(seconds);
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

// Columns padded to their widest cell; numeric columns right-aligned, the last column unpadded.
class Table {
 public:
  Table(std::vector<std::string> header, std::vector<bool> right_aligned)
      : right_(std::move(right_aligned)) {
    rows_.push_back(std::move(header));
    right_.resize(rows_[0].size(), false);
  }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out, absl::string_view indent = "") const {
    std::vector<size_t> width(rows_[0].size(), 0);
    for (const auto& row : rows_) {
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    for (const auto& row : rows_) {
      std::string line(indent);
      for (size_t c = 0; c < row.size(); ++c) {
        if (c > 0) line += "  ";
        const std::string pad(width[c] - row[c].size(), ' ');
        const bool last = c + 1 == row.size();
        line += right_[c] ? pad + row[c] : (last ? row[c] : row[c] + pad);
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

void PrintQueues(const acd::v1::ListQueuesResponse& response, std::ostream& out) {
  // The states an agent can be in while logged in, in the order a supervisor scans them; any
  // state a newer acdd reports is added after them.
  std::vector<std::string> states = {"ready", "reserved", "busy", "wrap_up", "not_ready"};
  for (const acd::v1::QueueInfo& q : response.queues()) {
    for (const auto& [state, n] : q.agents_by_state()) {
      if (std::find(states.begin(), states.end(), state) == states.end()) states.push_back(state);
    }
  }
  std::vector<std::string> header = {"QUEUE", "CHANNEL", "WAITING", "OLDEST", "EWT"};
  std::vector<bool> right = {false, false, true, true, true};
  for (const std::string& s : states) {
    header.push_back(absl::AsciiStrToUpper(s));
    right.push_back(true);
  }
  Table table(std::move(header), std::move(right));
  for (const acd::v1::QueueInfo& q : response.queues()) {
    std::vector<std::string> row = {
        q.queue(), EnumWord(acd::v1::Channel_Name(q.channel()), "CHANNEL_"),
        absl::StrCat(q.calls_waiting()),
        q.calls_waiting() > 0 ? FormatWait(q.oldest_wait_seconds()) : "-",
        q.expected_wait_seconds() >= 0 ? FormatWait(q.expected_wait_seconds()) : "-"};
    for (const std::string& s : states) {
      auto it = q.agents_by_state().find(s);
      row.push_back(absl::StrCat(it == q.agents_by_state().end() ? 0 : it->second));
    }
    table.Add(std::move(row));
  }
  table.Print(out);
}

class Client {
 public:
  explicit Client(std::shared_ptr<grpc::Channel> channel)
      : admin_(acd::v1::AdminService::NewStub(std::move(channel))) {}

  int Queues() {
    acd::v1::ListQueuesResponse response;
    grpc::Status s = admin_->ListQueues(Context().get(), acd::v1::ListQueuesRequest(), &response);
    if (!s.ok()) return FailRpc(s);
    PrintQueues(response, std::cout);
    return 0;
  }

  int Agents(const std::string& queue) {
    acd::v1::ListAgentsRequest request;
    request.set_queue(queue);
    acd::v1::ListAgentsResponse response;
    grpc::Status s = admin_->ListAgents(Context().get(), request, &response);
    if (!s.ok()) return FailRpc(s);
    Table table({"AGENT", "STATE", "QUEUES", "HANDLED"}, {false, false, false, true});
    for (const acd::v1::AgentInfo& a : response.agents()) {
      std::string state = EnumWord(acd::v1::AgentState_Name(a.state()), "AGENT_STATE_");
      if (!a.not_ready_reason().empty()) absl::StrAppend(&state, " (", a.not_ready_reason(), ")");
      table.Add({a.agent_id(), state, a.queues().empty() ? "-" : absl::StrJoin(a.queues(), ","),
                 absl::StrCat(a.calls_handled())});
    }
    if (response.agents().empty()) {
      std::cout << (queue.empty() ? "no agents logged in\n"
                                  : absl::StrCat("no agents logged in for queue '", queue, "'\n"));
      return 0;
    }
    table.Print(std::cout);
    return 0;
  }

  int Call(const std::string& call_id) {
    acd::v1::GetCallRequest request;
    request.set_call_id(call_id);
    acd::v1::CallInfo call;
    grpc::Status s = admin_->GetCall(Context().get(), request, &call);
    if (!s.ok()) return FailRpc(s);
    const std::string state = EnumWord(acd::v1::CallState_Name(call.state()), "CALL_STATE_");
    Table facts({"call", call.call_id()}, {});
    facts.Add({"switch", call.switch_id()});
    facts.Add({"queue", call.queue()});
    facts.Add({"state", state});
    facts.Add({"position", call.position() > 0 ? absl::StrCat(call.position()) : "-"});
    if (call.expected_wait_seconds() >= 0) {
      facts.Add({"expected wait", FormatWait(call.expected_wait_seconds())});
    }
    facts.Add({"agent", call.agent_id().empty() ? "-" : call.agent_id()});
    if (!call.consulting_agent().empty()) {
      facts.Add({"warm transfer from", call.consulting_agent()});
    }
    facts.Add({"priority", absl::StrCat(call.priority())});
    if (call.callback()) {
      facts.Add({"callback", absl::StrCat(call.callback_attempts(), " attempt(s) made")});
    }
    if (call.hold_count() > 0) {
      facts.Add({"holds", absl::StrCat(call.hold_count(), ", ", FormatWait(call.hold_seconds()),
                                       call.on_hold() ? " (on hold now)" : "")});
    }
    if (call.context().transfers() > 0) {
      facts.Add({"transfers", absl::StrCat(call.context().transfers(), " via ",
                                           absl::StrJoin(call.context().previous_agents(), ", "))});
    }
    facts.Add({"prompts played", absl::StrCat(call.prompts_played())});
    facts.Add({"arrived", FormatWhen(call.arrived())});
    facts.Print(std::cout);
    std::cout << "history:\n";
    const absl::Time arrived = ToTime(call.arrived());
    Table history({"TIME", "SINCE ARRIVAL", "WHAT", "DETAIL"}, {false, true, false, false});
    for (const acd::v1::CallHistoryEntry& e : call.history()) {
      const absl::Time at = ToTime(e.at());
      history.Add({absl::FormatTime("%H:%M:%E3S", at, absl::LocalTimeZone()),
                   absl::StrFormat("+%.3fs", absl::ToDoubleSeconds(at - arrived)), e.what(),
                   e.detail()});
    }
    history.Print(std::cout, "  ");
    return 0;
  }

  int PolicyShow() {
    acd::v1::PolicyInfo policy;
    grpc::Status s = admin_->GetPolicy(Context().get(), acd::v1::GetPolicyRequest(), &policy);
    if (!s.ok()) return FailRpc(s);
    // As YAML comments, so `acdctl policy show > policy.yaml` gives a file acdd can load.
    std::cout << "# source: " << policy.source() << "\n"
              << "# applied: " << FormatWhen(policy.applied_at()) << "\n"
              << policy.yaml();
    if (!policy.yaml().empty() && policy.yaml().back() != '\n') std::cout << "\n";
    return 0;
  }

  // The policy file's text; false after saying why it could not be read.
  static bool ReadPolicyFile(const std::string& path, std::string* yaml) {
    std::ifstream in(path);
    if (!in) {
      Fail(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
      return false;
    }
    std::stringstream text;
    text << in.rdbuf();
    *yaml = text.str();
    return true;
  }

  enum class PolicyAction { kValidate, kDiff, kApply };

  int Policy(PolicyAction action, const std::string& path) {
    std::string yaml;
    if (!ReadPolicyFile(path, &yaml)) return 1;

    // Every action checks first: that gives the problems one by one, with their lines, to print
    // against the operator's file name.
    acd::v1::SetPolicyRequest request;
    request.set_yaml(yaml);
    request.set_validate_only(true);
    acd::v1::SetPolicyResponse checked;
    grpc::Status s = admin_->SetPolicy(Context().get(), request, &checked);
    if (!s.ok()) return FailRpc(s);
    if (!checked.problems().empty()) {
      // For validate the problems are the answer; otherwise they say why there is none.
      std::ostream& out = action == PolicyAction::kValidate ? std::cout : std::cerr;
      for (const acd::v1::PolicyProblem& p : checked.problems()) {
        out << path << ":";
        if (p.line() > 0) out << p.line() << ":" << p.column() << ":";
        out << " ";
        if (!p.path().empty()) out << p.path() << ": ";
        out << p.message() << "\n";
      }
      out << path << ": " << checked.problems_size()
          << (checked.problems_size() == 1 ? " problem" : " problems")
          << (action == PolicyAction::kApply ? "; nothing applied\n" : "\n");
      return 1;
    }
    switch (action) {
      case PolicyAction::kValidate:
        std::cout << "valid\n";
        std::cout << (checked.diff().empty() ? "no changes from the running policy\n"
                                             : checked.diff());
        return 0;
      case PolicyAction::kDiff:
        std::cout << checked.diff();
        return 0;
      case PolicyAction::kApply:
        break;
    }
    request.set_validate_only(false);
    acd::v1::SetPolicyResponse applied;
    s = admin_->SetPolicy(Context().get(), request, &applied);
    if (!s.ok()) return FailRpc(s);
    if (!applied.applied()) return Fail("acdd did not apply the policy and gave no reason");
    std::cout << (applied.diff().empty() ? "no changes from the running policy\n" : applied.diff())
              << "applied\n";
    return 0;
  }

  // The what-if of `path` against acdd's retained history over [from, to).
  int WhatIf(const std::string& path, absl::Time from, absl::Time to) {
    std::string yaml;
    if (!ReadPolicyFile(path, &yaml)) return 1;
    acd::v1::WhatIfRequest request;
    request.set_policy_yaml(yaml);
    request.set_policy_name(path);
    auto set = [](absl::Time t, google::protobuf::Timestamp* out) {
      const int64_t nanos = absl::ToUnixNanos(t);
      out->set_seconds(nanos / 1'000'000'000);
      out->set_nanos(static_cast<int32_t>(nanos % 1'000'000'000));
    };
    if (from != absl::InfinitePast()) set(from, request.mutable_from());
    if (to != absl::InfiniteFuture()) set(to, request.mutable_to());
    acd::v1::WhatIfResponse response;
    // A replay of days takes a while: no deadline beyond the one asked for, if any.
    std::unique_ptr<grpc::ClientContext> context = Context();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::hours(1));
    grpc::Status s = admin_->WhatIf(context.get(), request, &response);
    if (!s.ok()) return FailRpc(s);
    for (const std::string& note : response.notes()) std::cerr << "acdctl: " << note << "\n";
    std::cout << response.table();
    return 0;
  }

  int Watch(double interval_seconds, int count) {
    grpc::ClientContext context;  // no deadline: a wallboard runs for as long as it is wanted
    acd::v1::WatchQueuesRequest request;
    request.set_interval_seconds(interval_seconds);
    std::unique_ptr<grpc::ClientReader<acd::v1::ListQueuesResponse>> reader =
        admin_->WatchQueues(&context, request);
    const bool terminal = isatty(STDOUT_FILENO);
    acd::v1::ListQueuesResponse snapshot;
    int seen = 0;
    while ((count == 0 || seen < count) && reader->Read(&snapshot)) {
      ++seen;
      if (terminal) {
        std::cout << "\033[H\033[2J";  // redraw in place, like watch(1)
      } else if (seen > 1) {
        std::cout << "\n";
      }
      std::cout << FormatWhen(snapshot.at()) << "\n";
      PrintQueues(snapshot, std::cout);
      std::cout.flush();
    }
    if (count > 0 && seen == count) {
      context.TryCancel();
      reader->Finish();
      return 0;
    }
    grpc::Status s = reader->Finish();
    if (!s.ok()) return FailRpc(s);
    std::cerr << "acdctl: acdd closed the stream (shutting down?)\n";
    return 0;
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(
                              static_cast<int64_t>(absl::GetFlag(FLAGS_timeout_seconds) * 1000)));
    return context;
  }

  std::unique_ptr<acd::v1::AdminService::Stub> admin_;
};

// `acdctl ha status`: what each replica says of itself, and the leader of its standbys.
int HaStatus(const std::string& servers, absl::Duration timeout) {
  absl::StatusOr<std::vector<std::string>> addresses = acd::daemon::SplitServers(servers);
  if (!addresses.ok()) UsageError(std::string(addresses.status().message()));
  Table replicas({"ADDRESS", "REPLICA", "ROLE", "EPOCH", "LEADER", "JOURNAL", "DURABLE", "ETCD"},
                 {false, false, false, true, false, true, true, false});
  std::vector<acd::ha::v1::ReplicaStatus> leaders;
  std::vector<std::string> notes;  // why a replica did not answer
  int answered = 0;
  for (const std::string& address : *addresses) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        acd::daemon::OpenChannel(address, acd::daemon::ClientAccessFromFlags());
    if (!channel.ok()) UsageError(std::string(channel.status().message()));
    auto stub = acd::ha::v1::Replicas::NewStub(*channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    acd::ha::v1::ReplicaStatus status;
    grpc::Status s = stub->GetStatus(&context, acd::ha::v1::GetStatusRequest(), &status);
    if (!s.ok()) {
      const bool lone = s.error_code() == grpc::StatusCode::UNIMPLEMENTED;
      replicas.Add({address, "-", lone ? "lone" : "unreachable", "-", "-", "-", "-", "-"});
      notes.push_back(absl::StrCat(
          address, ": ",
          lone ? "not a replica of an HA pair (a lone acdd)"
               : absl::StrCat(
                     absl::StatusCodeToString(static_cast<absl::StatusCode>(s.error_code())), ": ",
                     s.error_message())));
      continue;
    }
    ++answered;
    std::string etcd = status.etcd_endpoint();
    if (!status.etcd_error().empty()) absl::StrAppend(&etcd, " (", status.etcd_error(), ")");
    std::string role = status.role();
    if (status.role() == "leader") {
      absl::StrAppend(&role, absl::StrFormat(" (fence %.2fs)", status.fence_remaining_seconds()));
      leaders.push_back(status);
    } else if (!status.following().empty()) {
      absl::StrAppend(&role, " (", status.following(), ")");
    }
    replicas.Add({address, status.replica_id(), role,
                  status.epoch() > 0 ? absl::StrCat(status.epoch()) : "-",
                  status.leader_id().empty()
                      ? "-"
                      : absl::StrCat(status.leader_id(), " ", status.leader_address()),
                  absl::StrCat(status.last_sequence()), absl::StrCat(status.durable_sequence()),
                  etcd.empty() ? "-" : etcd});
  }
  replicas.Print(std::cout);
  for (const std::string& note : notes) std::cout << note << "\n";
  for (const acd::ha::v1::ReplicaStatus& leader : leaders) {
    std::cout << "\nstandbys of " << leader.replica_id() << ":\n";
    if (leader.standbys().empty()) {
      std::cout << "  none has followed it yet\n";
      continue;
    }
    Table standbys({"REPLICA", "CONNECTED", "IN SYNC", "COUNTED", "DURABLE", "LAG"},
                   {false, false, false, false, true, true});
    for (const acd::ha::v1::StandbyStatus& standby : leader.standbys()) {
      standbys.Add({standby.replica_id(), standby.connected() ? "yes" : "no",
                    standby.in_sync() ? "yes" : "no", standby.counted() ? "yes" : "no",
                    absl::StrCat(standby.durable_sequence()), absl::StrCat(standby.lag_records())});
    }
    standbys.Print(std::cout, "  ");
  }
  if (answered == 0) return Fail("no replica answered");
  return 0;
}

// Exactly `n` positional arguments after the command words, or a usage error.
void ExpectArgs(const std::vector<std::string>& args, size_t n, const std::string& command,
                const std::string& what) {
  if (args.size() < n) UsageError(absl::StrCat(command, ": missing ", what));
  if (args.size() > n) UsageError(absl::StrCat(command, ": unexpected argument '", args[n], "'"));
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  const std::set<std::string> given = CheckFlags(argc, argv);
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(positional.begin() + 1, positional.end());
  if (args.empty()) UsageError("no command");

  const std::string command = args[0];
  args.erase(args.begin());
  const std::set<std::string> commands = {"queues",  "agents", "call", "policy", "watch",
                                          "journal", "token",  "ha",   "report"};
  if (!commands.contains(command)) UsageError(absl::StrCat("unknown command '", command, "'"));
  // A subcommand flag on another command is a mistake worth saying, not ignoring.
  const std::map<std::string, std::set<std::string>> owners = {
      {"queue", {"agents"}},
      {"interval", {"watch"}},
      {"count", {"watch"}},
      {"from", {"journal", "report", "policy"}},
      {"to", {"report", "policy"}},
      {"interval_minutes", {"report"}},
      {"short_abandon_seconds", {"report"}}};
  for (const auto& [flag, owning_commands] : owners) {
    if (given.contains(flag) && !owning_commands.contains(command)) {
      UsageError(absl::StrCat("--", flag, " is for '", absl::StrJoin(owning_commands, "' or '"),
                              "', not '", command, "'"));
    }
  }
  if (!(absl::GetFlag(FLAGS_timeout_seconds) > 0)) UsageError("--timeout_seconds must be > 0");

  if (command == "journal") {
    if (args.empty()) UsageError("journal: missing verify, print or stats");
    const std::string action = args[0];
    args.erase(args.begin());
    if (action != "print" && given.contains("from")) UsageError("--from is for 'journal print'");
    ExpectArgs(args, 1, "journal " + action, "DIR");
    if (action == "verify") return acd::daemon::journal::VerifyJournal(args[0], std::cout);
    if (action == "print") {
      uint64_t from = 1;
      if (given.contains("from") && !absl::SimpleAtoi(absl::GetFlag(FLAGS_from), &from)) {
        UsageError(
            absl::StrCat("--from: '", absl::GetFlag(FLAGS_from), "' is not a record's sequence"));
      }
      return acd::daemon::journal::PrintJournal(args[0], from, std::cout);
    }
    if (action == "stats") return acd::daemon::journal::JournalStats(args[0], std::cout);
    UsageError(absl::StrCat("journal: unknown action '", action, "'"));
  }

  if (command == "report") {
    if (args.empty()) UsageError("report: missing queue-log, calls or intervals");
    acd::reports::ReportRequest request{.kind = args[0]};
    args.erase(args.begin());
    if (request.kind != "queue-log" && request.kind != "calls" && request.kind != "intervals") {
      UsageError(absl::StrCat("report: unknown report '", request.kind, "'"));
    }
    if (request.kind != "intervals" &&
        (given.contains("interval_minutes") || given.contains("short_abandon_seconds"))) {
      UsageError("--interval_minutes and --short_abandon_seconds are for 'report intervals'");
    }
    ExpectArgs(args, 1, "report " + request.kind, "DIR");
    request.data_dir = args[0];
    for (auto [flag, value, into] : {std::tuple{"from", absl::GetFlag(FLAGS_from), &request.from},
                                     std::tuple{"to", absl::GetFlag(FLAGS_to), &request.to}}) {
      if (!given.contains(flag)) continue;
      absl::StatusOr<absl::Time> t = acd::reports::ParseReportTime(value);
      if (!t.ok()) UsageError(absl::StrCat("--", flag, ": ", t.status().message()));
      *into = *t;
    }
    if (request.from >= request.to) UsageError("--from must be before --to");
    const int minutes = absl::GetFlag(FLAGS_interval_minutes);
    if (minutes != 15 && minutes != 30 && minutes != 60) {
      UsageError("--interval_minutes must be 15, 30 or 60");
    }
    request.interval = absl::Minutes(minutes);
    const double short_abandon = absl::GetFlag(FLAGS_short_abandon_seconds);
    if (!(short_abandon >= 0)) UsageError("--short_abandon_seconds must be >= 0");
    request.short_abandon = absl::Seconds(short_abandon);
    return acd::reports::WriteReport(request, std::cout, std::cerr);
  }

  if (command == "token") {
    if (args.size() < 2) UsageError("token: missing NAME ROLE");
    if (args.size() > 3) UsageError(absl::StrCat("token: unexpected argument '", args[3], "'"));
    absl::StatusOr<std::string> token = acd::daemon::NewToken();
    absl::StatusOr<std::string> line =
        token.ok()
            ? acd::daemon::TokenLine(args[0], args[1], args.size() == 3 ? args[2] : "", *token)
            : token.status();
    if (!line.ok()) {
      std::cerr << "acdctl: token: " << line.status().message() << "\n";
      return 1;
    }
    std::cout << *token << "\n" << *line << "\n";
    return 0;
  }

  const absl::Duration timeout = absl::Seconds(absl::GetFlag(FLAGS_timeout_seconds));
  if (command == "ha") {
    if (args.empty() || args[0] != "status") UsageError("ha: missing status");
    args.erase(args.begin());
    ExpectArgs(args, 0, "ha status", "");
    return HaStatus(absl::GetFlag(FLAGS_server), timeout);
  }
  absl::StatusOr<acd::daemon::LeaderChannel> leader = acd::daemon::OpenLeaderChannel(
      absl::GetFlag(FLAGS_server), acd::daemon::ClientAccessFromFlags(), timeout);
  if (!leader.ok()) {
    if (leader.status().code() == absl::StatusCode::kUnavailable) {
      return Fail(std::string(leader.status().message()));
    }
    UsageError(std::string(leader.status().message()));
  }
  Client client(std::move(leader->channel));
  if (command == "queues") {
    ExpectArgs(args, 0, command, "");
    return client.Queues();
  }
  if (command == "agents") {
    ExpectArgs(args, 0, command, "");
    return client.Agents(absl::GetFlag(FLAGS_queue));
  }
  if (command == "call") {
    ExpectArgs(args, 1, command, "CALL_ID");
    return client.Call(args[0]);
  }
  if (command == "policy") {
    if (args.empty()) UsageError("policy: missing show, validate, diff, apply or whatif");
    const std::string action = args[0];
    args.erase(args.begin());
    if (action == "show") {
      ExpectArgs(args, 0, "policy show", "");
      return client.PolicyShow();
    }
    if (action == "whatif") {
      ExpectArgs(args, 1, "policy whatif", "FILE");
      absl::Time from = absl::InfinitePast(), to = absl::InfiniteFuture();
      for (auto [flag, value, into] : {std::tuple{"from", absl::GetFlag(FLAGS_from), &from},
                                       std::tuple{"to", absl::GetFlag(FLAGS_to), &to}}) {
        if (!given.contains(flag)) continue;
        absl::StatusOr<absl::Time> t = acd::reports::ParseReportTime(value);
        if (!t.ok()) UsageError(absl::StrCat("--", flag, ": ", t.status().message()));
        *into = *t;
      }
      return client.WhatIf(args[0], from, to);
    }
    if (given.contains("from") || given.contains("to")) {
      UsageError("--from and --to are for 'policy whatif', not 'policy " + action + "'");
    }
    const std::map<std::string, Client::PolicyAction> actions = {
        {"validate", Client::PolicyAction::kValidate},
        {"diff", Client::PolicyAction::kDiff},
        {"apply", Client::PolicyAction::kApply}};
    auto it = actions.find(action);
    if (it == actions.end()) UsageError(absl::StrCat("policy: unknown action '", action, "'"));
    ExpectArgs(args, 1, "policy " + action, "FILE");
    return client.Policy(it->second, args[0]);
  }
  if (command == "watch") {
    ExpectArgs(args, 0, command, "");
    const double interval = absl::GetFlag(FLAGS_interval);
    const int count = absl::GetFlag(FLAGS_count);
    if (!(interval >= 0.2)) UsageError("--interval must be at least 0.2 seconds");
    if (count < 0) UsageError("--count must be >= 0");
    return client.Watch(interval, count);
  }
  std::abort();  // can't happen: `commands` lists every command handled above
}
