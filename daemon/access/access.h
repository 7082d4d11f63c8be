// Who may call what. Access holds the tokens acdd accepts (re-read on SIGHUP) and the role ×
// method matrix; the gRPC services, the gRPC listener's gate (AccessGate) and the HTTP listener
// all ask it.
//   Access access;                                    // open: no tokens, everyone is admin
//   absl::Status s = access.Load("/etc/acd/tokens");   // tokens from now on
//   absl::StatusOr<Caller> caller = access.Admit(authorization, "/acd.v1.AdminService/SetPolicy");
//   if (caller.ok()) s = caller->MayActForSwitch(request.switch_id(), method);
//
// The matrix (health checks are open; a method not listed is for admin only):
//   switch      SwitchService, for the switch_ids its token is bound to (any when unbound);
//               GetCall of its switches' calls
//   agent       AgentService for its own agent_id; GetCall without callback number or attributes
//   supervisor  AdminService's reads (ListQueues, ListAgents, GetCall, GetPolicy, WatchQueues,
//               WhatIf);
//               forcing any agent not ready (SetAgentState not_ready) or logged out (Logout)
//   admin       everything: SetPolicy and server reflection too
//   monitor     the HTTP listener's reads only (/metrics, /wallboard, /api/queues): Prometheus
// Refusals: no token or an unknown one, UNAUTHENTICATED; a method the role may not call or an id
// it is not bound to, PERMISSION_DENIED naming the token's name, its role and the method.
#ifndef ACD_DAEMON_ACCESS_ACCESS_H_
#define ACD_DAEMON_ACCESS_ACCESS_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "daemon/access/tokens.h"

namespace acd::daemon {

// Whom a call comes from, once admitted to a method.
class Caller {
 public:
  // Without tokens (acdd on loopback, no --auth_tokens) every caller is this one: admin.
  static Caller Open();
  Caller(std::shared_ptr<const TokenTable> table, const Principal* principal)
      : table_(std::move(table)), principal_(principal) {}

  Role role() const { return principal_->role; }
  const Principal& principal() const { return *principal_; }
  // Null for Open(); else the tokens it was admitted by.
  const TokenTable* table() const { return table_.get(); }
  // For audit lines: "token 'anna' (supervisor)", or "no token (--auth_tokens not set)".
  std::string Describe() const;
  // PERMISSION_DENIED unless the caller's role may call `method` (a stream that carries several
  // methods' requests, such as a switch's session, asks per request).
  absl::Status MayCall(absl::string_view method) const;
  // PERMISSION_DENIED unless the caller may act for `switch_id` (a bound switch token).
  absl::Status MayActForSwitch(absl::string_view switch_id, absl::string_view method) const;
  // PERMISSION_DENIED unless the caller may act on `agent_id`: an agent token only on its own.
  absl::Status MayActForAgent(absl::string_view agent_id, absl::string_view method) const;
  // Callback numbers and call attributes: for switch, supervisor and admin, not an agent's desk.
  bool SeesCallerDetails() const;
  // Changes to agents made by a supervisor or admin token are audited. Without tokens nobody can
  // tell a desk from a supervisor, and every desk's change would be a line: none are.
  bool ForcesAgents() const { return table_ != nullptr && role() != Role::kAgent; }

 private:
  absl::Status Refuse(absl::string_view method, absl::string_view why) const;

  std::shared_ptr<const TokenTable> table_;  // keeps principal_ alive across a SIGHUP
  const Principal* principal_;
};

// May `role` call `method` (a gRPC method's full name, "/package.Service/Method")?
bool RoleMayCall(Role role, absl::string_view method);
// Health checks: open to anyone, token or not.
bool IsOpenMethod(absl::string_view method);

class Access {
 public:
  // Open until Load: no tokens are asked for.
  Access() = default;

  // Reads the tokens file at `path`; from now on every call needs a token from it. An error
  // (unreadable, a bad line) names the file and line; the tokens in force stay.
  absl::Status Load(const std::string& path);
  // Re-reads the file Load read (SIGHUP): a removed token stops working for the next call. On an
  // error the tokens in force stay. OK and nothing done when open.
  absl::Status Reload();
  bool open() const;
  size_t tokens() const;

  // The caller of `method` with gRPC metadata `authorization` ("Bearer TOKEN"; empty when the
  // call has none), or why not (UNAUTHENTICATED, PERMISSION_DENIED).
  absl::StatusOr<Caller> Admit(absl::string_view authorization, absl::string_view method) const;
  // The HTTP listener's: `authorization` is the Authorization header ("Bearer TOKEN" or "Basic
  // base64(NAME:TOKEN)"); monitor, supervisor and admin may read. Returns 200, 401 or 403.
  int AdmitHttp(absl::string_view authorization) const;
  // Does `caller`'s token still stand as it was admitted (same name, role, bindings), after a
  // Reload? A stream asks it to outlive a removed token no longer than the next SIGHUP.
  bool StillAdmits(const Caller& caller) const;

 private:
  std::shared_ptr<const TokenTable> table() const;

  mutable absl::Mutex mu_;
  std::string path_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const TokenTable> table_ ABSL_GUARDED_BY(mu_);  // null: open
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ACCESS_ACCESS_H_
