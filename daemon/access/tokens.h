// The tokens acdd accepts (--auth_tokens FILE): whose each one is, its role, and the ids it is
// bound to. The file holds only SHA-256 hashes of the tokens; a presented token is hashed and
// looked up, so a copy of the file lets no one in.
//   # name     role        hash                 binding
//   pbx-east   switch      sha256:9f86d081...   switch_id=pbx-east-1,pbx-east-2
//   desk-1001  agent       sha256:60303ae2...   agent_id=1001
//   anna       supervisor  sha256:fd61a03a...
//   ops        admin       sha256:a4e624d6...
//   prometheus monitor     sha256:0b14d501...
//   absl::StatusOr<TokenTable> table = TokenTable::Parse(text, "/etc/acd/tokens");
//   if (const Principal* who = table->Find(presented)) ...
// `acdctl token NAME ROLE [BINDING]` makes a token (NewToken) and its line (TokenLine).
#ifndef ACD_DAEMON_ACCESS_TOKENS_H_
#define ACD_DAEMON_ACCESS_TOKENS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace acd::daemon {

// What a token may do (the role × method matrix is in access.h).
enum class Role { kSwitch, kAgent, kSupervisor, kAdmin, kMonitor };
absl::string_view RoleName(Role role);

// The owner of a token, as its line in the tokens file says.
struct Principal {
  std::string name;  // the line's NAME: what audit lines and refusals say (never the token)
  Role role = Role::kAdmin;
  // switch: the switch_ids it may act for; empty: any. agent: exactly its own agent_id.
  std::vector<std::string> switch_ids;
  std::string agent_id;
  std::string digest;  // the token's raw SHA-256

  bool operator==(const Principal&) const = default;
};

class TokenTable {
 public:
  // Every problem of `text` (read from `source`) names its line; one bad line refuses the file.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text, absl::string_view source);

  // The owner of `token`, or null for a token the file does not hold.
  const Principal* Find(absl::string_view token) const;
  // The owner named `name`, or null (Basic auth gives the name and the token).
  const Principal* FindByName(absl::string_view name) const;
  size_t size() const { return by_hash_.size(); }

 private:
  // Keyed by the raw 32-byte digest.
  absl::flat_hash_map<std::string, std::shared_ptr<const Principal>> by_hash_;
  absl::flat_hash_map<std::string, const Principal*> by_name_;
};

// "sha256:" and the lowercase hex SHA-256 of `token`: how the tokens file stores it.
std::string TokenHash(absl::string_view token);
// A fresh token: "acd_" and 43 characters of base64url from 32 random bytes (OpenSSL's RAND).
absl::StatusOr<std::string> NewToken();
// The tokens-file line for `token`; `binding` is "", "switch_id=A,B" or "agent_id=X". Checks
// what Parse would (name, role, binding) and says what is wrong.
absl::StatusOr<std::string> TokenLine(absl::string_view name, absl::string_view role,
                                      absl::string_view binding, absl::string_view token);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ACCESS_TOKENS_H_
