// The role × method matrix and token checks; see access.h.
#include "daemon/access/access.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "routing/quote.h"

namespace acd::daemon {
namespace {

constexpr unsigned Bit(Role role) { return 1u << static_cast<unsigned>(role); }
constexpr unsigned kSwitch = Bit(Role::kSwitch);
constexpr unsigned kAgent = Bit(Role::kAgent);
constexpr unsigned kSupervisor = Bit(Role::kSupervisor);

// Who besides admin may call each method. A method not here is admin's alone (SetPolicy,
// reflection, anything added later until it is placed here).
struct MethodRoles {
  absl::string_view method;
  unsigned roles;
};
constexpr MethodRoles kMatrix[] = {
    {"/acd.v1.SwitchService/EnqueueCall", kSwitch},
    {"/acd.v1.SwitchService/ReportCallEvent", kSwitch},
    {"/acd.v1.SwitchService/StreamCommands", kSwitch},
    {"/acd.v1.SwitchService/ListCalls", kSwitch},
    {"/acd.v1.SwitchService/Session", kSwitch},
    {"/acd.v1.AgentService/Login", kAgent},
    {"/acd.v1.AgentService/SetAgentState", kAgent | kSupervisor},  // supervisor: not_ready only
    {"/acd.v1.AgentService/Logout", kAgent | kSupervisor},
    {"/acd.v1.AdminService/ListQueues", kSupervisor},
    {"/acd.v1.AdminService/ListAgents", kSupervisor},
    {"/acd.v1.AdminService/GetCall", kSwitch | kAgent | kSupervisor},
    {"/acd.v1.AdminService/GetPolicy", kSupervisor},
    {"/acd.v1.AdminService/WatchQueues", kSupervisor},
    {"/acd.v1.AdminService/WhatIf", kSupervisor},
    {"/acd.ha.v1.Replicas/GetStatus", kSupervisor},
    // /acd.ha.v1.Replication/Follow is admin's alone: a standby follows with an admin token.
};

constexpr unsigned kHttpRoles = Bit(Role::kMonitor) | kSupervisor | Bit(Role::kAdmin);

bool ReadFile(const std::string& path, std::string* text) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return in.good() || in.eof();
}

absl::StatusOr<TokenTable> ReadTokens(const std::string& path) {
  std::string text;
  if (!ReadFile(path, &text)) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read the tokens file ", path));
  }
  return TokenTable::Parse(text, path);
}

// The credentials after `scheme` ("Bearer", "Basic"; the scheme is case-insensitive), or empty.
absl::string_view Credentials(absl::string_view authorization, absl::string_view scheme) {
  authorization = absl::StripAsciiWhitespace(authorization);
  if (authorization.size() <= scheme.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, scheme.size()), scheme) ||
      authorization[scheme.size()] != ' ') {
    return {};
  }
  return absl::StripAsciiWhitespace(authorization.substr(scheme.size() + 1));
}

}  // namespace

bool RoleMayCall(Role role, absl::string_view method) {
  if (role == Role::kAdmin) return true;
  for (const MethodRoles& entry : kMatrix) {
    if (entry.method == method) return (entry.roles & Bit(role)) != 0;
  }
  return false;
}

bool IsOpenMethod(absl::string_view method) {
  return absl::StartsWith(method, "/grpc.health.v1.Health/");
}

Caller Caller::Open() {
  static const Principal* const kEveryone = new Principal{.name = "", .role = Role::kAdmin};
  return Caller(nullptr, kEveryone);
}

std::string Caller::Describe() const {
  if (table_ == nullptr) return "no token (--auth_tokens not set)";
  return absl::StrCat("token ", routing::Quote(principal_->name), " (", RoleName(role()), ")");
}

absl::Status Caller::Refuse(absl::string_view method, absl::string_view why) const {
  return absl::PermissionDeniedError(absl::StrCat(Describe(), " may not call ", method, ": ", why));
}

absl::Status Caller::MayCall(absl::string_view method) const {
  if (RoleMayCall(role(), method)) return absl::OkStatus();
  return Refuse(method, absl::StrCat("role '", RoleName(role()), "' does not include it"));
}

absl::Status Caller::MayActForSwitch(absl::string_view switch_id, absl::string_view method) const {
  const std::vector<std::string>& bound = principal_->switch_ids;
  if (role() != Role::kSwitch || bound.empty()) return absl::OkStatus();
  for (const std::string& id : bound) {
    if (id == switch_id) return absl::OkStatus();
  }
  std::vector<std::string> quoted;
  for (const std::string& id : bound) quoted.push_back(routing::Quote(id));
  return Refuse(method, absl::StrCat("it is bound to switch_id ", absl::StrJoin(quoted, ", "),
                                     ", not ", routing::Quote(switch_id)));
}

absl::Status Caller::MayActForAgent(absl::string_view agent_id, absl::string_view method) const {
  if (role() != Role::kAgent || agent_id == principal_->agent_id) return absl::OkStatus();
  return Refuse(method,
                absl::StrCat("it is bound to agent_id ", routing::Quote(principal_->agent_id),
                             ", not ", routing::Quote(agent_id)));
}

bool Caller::SeesCallerDetails() const {
  return role() == Role::kSwitch || role() == Role::kSupervisor || role() == Role::kAdmin;
}

absl::Status Access::Load(const std::string& path) {
  absl::StatusOr<TokenTable> table = ReadTokens(path);
  if (!table.ok()) return table.status();
  auto shared = std::make_shared<const TokenTable>(*std::move(table));
  absl::MutexLock lock(&mu_);
  path_ = path;
  table_ = std::move(shared);
  return absl::OkStatus();
}

absl::Status Access::Reload() {
  std::string path;
  {
    absl::MutexLock lock(&mu_);
    if (table_ == nullptr) return absl::OkStatus();
    path = path_;
  }
  return Load(path);
}

bool Access::open() const { return table() == nullptr; }

size_t Access::tokens() const {
  std::shared_ptr<const TokenTable> current = table();
  return current == nullptr ? 0 : current->size();
}

std::shared_ptr<const TokenTable> Access::table() const {
  absl::MutexLock lock(&mu_);
  return table_;
}

absl::StatusOr<Caller> Access::Admit(absl::string_view authorization,
                                     absl::string_view method) const {
  std::shared_ptr<const TokenTable> current = table();
  if (current == nullptr) return Caller::Open();
  const absl::string_view token = Credentials(authorization, "Bearer");
  if (token.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat(method,
                     " needs a token: send the metadata 'authorization: Bearer TOKEN' (acdctl and "
                     "acdload: --token_file)"));
  }
  const Principal* principal = current->Find(token);
  if (principal == nullptr) {
    return absl::UnauthenticatedError(
        "the token is not one acdd accepts (unknown, or removed from the --auth_tokens file)");
  }
  Caller caller(std::move(current), principal);
  if (absl::Status may = caller.MayCall(method); !may.ok()) return may;
  return caller;
}

bool Access::StillAdmits(const Caller& caller) const {
  std::shared_ptr<const TokenTable> current = table();
  if (current == nullptr || caller.table() == current.get()) return true;
  const Principal* now = current->FindByName(caller.principal().name);
  return now != nullptr && *now == caller.principal();
}

int Access::AdmitHttp(absl::string_view authorization) const {
  std::shared_ptr<const TokenTable> current = table();
  if (current == nullptr) return 200;
  const Principal* principal = nullptr;
  if (absl::string_view token = Credentials(authorization, "Bearer"); !token.empty()) {
    principal = current->Find(token);
  } else if (absl::string_view basic = Credentials(authorization, "Basic"); !basic.empty()) {
    std::string pair;
    if (absl::Base64Unescape(basic, &pair)) {
      const size_t colon = pair.find(':');
      if (colon != std::string::npos) {
        const Principal* owner = current->Find(absl::string_view(pair).substr(colon + 1));
        if (owner != nullptr && owner->name == absl::string_view(pair).substr(0, colon)) {
          principal = owner;
        }
      }
    }
  }
  if (principal == nullptr) return 401;
  return (kHttpRoles & Bit(principal->role)) != 0 ? 200 : 403;
}

}  // namespace acd::daemon
