// Reading the tokens file, hashing and making tokens; see tokens.h.
#include "daemon/access/tokens.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "routing/quote.h"
#include "routing/request_limits.h"

namespace acd::daemon {
namespace {

constexpr absl::string_view kHashPrefix = "sha256:";
constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxSwitchBindings = 64;

std::string Digest(absl::string_view token) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

absl::StatusOr<Role> ParseRole(absl::string_view text) {
  for (Role role : {Role::kSwitch, Role::kAgent, Role::kSupervisor, Role::kAdmin, Role::kMonitor}) {
    if (text == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "role ", routing::Quote(text), " is not one of switch, agent, supervisor, admin, monitor"));
}

absl::Status CheckName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a name is 1 to ", kMaxNameBytes, " bytes"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '@') {
      return absl::InvalidArgumentError(
          absl::StrCat("name ", routing::Quote(name),
                       ": only letters, digits and - _ . @ (it shows in audit lines)"));
    }
  }
  return absl::OkStatus();
}

// "switch_id=A,B" or "agent_id=X" onto `principal`, as its role allows.
absl::Status ParseBinding(absl::string_view binding, Principal* principal) {
  const bool is_switch = principal->role == Role::kSwitch;
  const bool is_agent = principal->role == Role::kAgent;
  if (binding.empty()) {
    if (is_agent) {
      return absl::InvalidArgumentError(
          "an agent token is bound to its agent: add agent_id=ID (a desktop changes only its "
          "own agent)");
    }
    return absl::OkStatus();
  }
  absl::string_view ids = binding;
  if (absl::ConsumePrefix(&ids, "switch_id=")) {
    if (!is_switch) {
      return absl::InvalidArgumentError(
          absl::StrCat("switch_id= binds a switch token; this one is ", RoleName(principal->role)));
    }
    for (absl::string_view id : absl::StrSplit(ids, ',')) {
      if (absl::Status s = routing::CheckId(id, "switch_id"); !s.ok()) return s;
      principal->switch_ids.emplace_back(id);
    }
    if (principal->switch_ids.size() > kMaxSwitchBindings) {
      return absl::InvalidArgumentError(
          absl::StrCat("at most ", kMaxSwitchBindings, " switch_ids on one token"));
    }
    return absl::OkStatus();
  }
  if (absl::ConsumePrefix(&ids, "agent_id=")) {
    if (!is_agent) {
      return absl::InvalidArgumentError(
          absl::StrCat("agent_id= binds an agent token; this one is ", RoleName(principal->role)));
    }
    if (absl::StrContains(ids, ',')) {
      return absl::InvalidArgumentError("an agent token is bound to exactly one agent_id");
    }
    if (absl::Status s = routing::CheckId(ids, "agent_id"); !s.ok()) return s;
    principal->agent_id = std::string(ids);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("binding ", routing::Quote(binding),
                                                 " is neither switch_id=A,B nor agent_id=X"));
}

// One line's owner, its digest in `digest`.
absl::StatusOr<Principal> ParseLine(const std::vector<absl::string_view>& fields,
                                    std::string* digest) {
  if (fields.size() < 3 || fields.size() > 4) {
    return absl::InvalidArgumentError(
        "a line is NAME ROLE sha256:HEX [switch_id=A,B | agent_id=X]");
  }
  Principal principal;
  if (absl::Status s = CheckName(fields[0]); !s.ok()) return s;
  principal.name = std::string(fields[0]);
  absl::StatusOr<Role> role = ParseRole(fields[1]);
  if (!role.ok()) return role.status();
  principal.role = *role;
  absl::string_view hex = fields[2];
  std::string bytes;
  if (!absl::ConsumePrefix(&hex, kHashPrefix) || hex.size() != 2 * SHA256_DIGEST_LENGTH ||
      !std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); })) {
    return absl::InvalidArgumentError(
        "the token's hash is sha256: and 64 hex digits (acdctl token makes the line); the file "
        "never holds a token itself");
  }
  *digest = absl::HexStringToBytes(absl::AsciiStrToLower(hex));
  if (absl::Status s = ParseBinding(fields.size() == 4 ? fields[3] : "", &principal); !s.ok()) {
    return s;
  }
  return principal;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kSwitch:
      return "switch";
    case Role::kAgent:
      return "agent";
    case Role::kSupervisor:
      return "supervisor";
    case Role::kAdmin:
      return "admin";
    case Role::kMonitor:
      return "monitor";
  }
  return "unknown";
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text, absl::string_view source) {
  TokenTable table;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    std::string digest;
    absl::StatusOr<Principal> principal = ParseLine(fields, &digest);
    auto refuse = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", number, ": ", why));
    };
    if (!principal.ok()) return refuse(principal.status().message());
    if (table.by_name_.contains(principal->name)) {
      return refuse(absl::StrCat("the name ", routing::Quote(principal->name),
                                 " is used twice (names tell tokens apart in audit lines)"));
    }
    if (table.by_hash_.contains(digest)) {
      return refuse("this token's hash is on an earlier line too (one token, one owner)");
    }
    principal->digest = digest;
    auto owner = std::make_shared<const Principal>(*std::move(principal));
    table.by_name_[owner->name] = owner.get();
    table.by_hash_[digest] = std::move(owner);
  }
  return table;
}

const Principal* TokenTable::Find(absl::string_view token) const {
  auto it = by_hash_.find(Digest(token));
  return it == by_hash_.end() ? nullptr : it->second.get();
}

const Principal* TokenTable::FindByName(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::string TokenHash(absl::string_view token) {
  return absl::StrCat(kHashPrefix, absl::BytesToHexString(Digest(token)));
}

absl::StatusOr<std::string> NewToken() {
  unsigned char random[32];
  if (RAND_bytes(random, sizeof(random)) != 1) {
    return absl::InternalError("OpenSSL's RAND_bytes could not make random bytes");
  }
  return absl::StrCat(
      "acd_", absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(random), 32)));
}

absl::StatusOr<std::string> TokenLine(absl::string_view name, absl::string_view role,
                                      absl::string_view binding, absl::string_view token) {
  std::string line = absl::StrCat(name, " ", role, " ", TokenHash(token));
  if (!binding.empty()) absl::StrAppend(&line, " ", binding);
  std::vector<absl::string_view> fields =
      absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  std::string digest;
  if (absl::StatusOr<Principal> checked = ParseLine(fields, &digest); !checked.ok()) {
    return checked.status();
  }
  return line;
}

}  // namespace acd::daemon
