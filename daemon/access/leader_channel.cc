#include "daemon/access/leader_channel.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "acd/ha/v1/replication.grpc.pb.h"
#include "grpcpp/client_context.h"

namespace acd::daemon {

absl::StatusOr<std::vector<std::string>> SplitServers(absl::string_view servers) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(servers, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--server '", servers, "': an empty address (HOST:PORT,HOST:PORT)"));
    }
    out.emplace_back(part);
  }
  return out;
}

absl::StatusOr<LeaderChannel> OpenLeaderChannel(absl::string_view servers,
                                                const ClientAccess& access, absl::Duration timeout,
                                                const grpc::ChannelArguments& arguments) {
  absl::StatusOr<std::vector<std::string>> addresses = SplitServers(servers);
  if (!addresses.ok()) return addresses.status();
  auto open = [&](const std::string& address) -> absl::StatusOr<LeaderChannel> {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        OpenChannel(address, access, arguments);
    if (!channel.ok()) return channel.status();
    return LeaderChannel{address, *std::move(channel)};
  };
  if (addresses->size() == 1) return open(addresses->front());

  std::vector<std::string> answers;
  std::vector<std::string> to_ask = *addresses;
  for (size_t i = 0; i < to_ask.size() && i < addresses->size() + 2; ++i) {
    absl::StatusOr<LeaderChannel> candidate = open(to_ask[i]);
    if (!candidate.ok()) return candidate.status();
    auto stub = acd::ha::v1::Replicas::NewStub(candidate->channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    acd::ha::v1::ReplicaStatus status;
    const grpc::Status asked = stub->GetStatus(&context, acd::ha::v1::GetStatusRequest(), &status);
    if (asked.ok() && status.role() == "leader") return candidate;
    if (asked.ok()) {
      answers.push_back(
          absl::StrCat(to_ask[i], ": a standby",
                       status.leader_address().empty()
                           ? " (no leader known)"
                           : absl::StrCat(" of the leader at ", status.leader_address())));
      const std::string& hint = status.leader_address();
      if (!hint.empty() && std::find(to_ask.begin(), to_ask.end(), hint) == to_ask.end()) {
        to_ask.insert(to_ask.begin() + static_cast<std::ptrdiff_t>(i) + 1, hint);
      }
      continue;
    }
    if (asked.error_code() == grpc::StatusCode::UNAVAILABLE ||
        asked.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      answers.push_back(absl::StrCat(to_ask[i], ": ", asked.error_message()));
      continue;
    }
    // Not an HA replica (a lone acdd), or one that does not let this caller ask: it serves, and
    // the call itself says whether this caller may make it.
    return candidate;
  }
  return absl::UnavailableError(
      absl::StrCat("no acdd serves among ", servers, ": ", absl::StrJoin(answers, "; ")));
}

}  // namespace acd::daemon
