// How acd's clients reach the replica that serves when they are given several: `--server a,b`
// names both replicas of an HA pair, and a client talks to whichever leads. Each address is asked
// acd.ha.v1.Replicas/GetStatus in turn: the leader is taken at once; a standby names the leader
// it follows, which is taken next; an acdd that does not know the question (a lone acdd) serves.
// One address is taken as it is, unasked.
//   absl::StatusOr<LeaderChannel> leader = OpenLeaderChannel("10.0.0.1:50051,10.0.0.2:50051",
//                                                            access, absl::Seconds(5));
//   auto stub = acd::v1::AdminService::NewStub(leader->channel);
#ifndef ACD_DAEMON_ACCESS_LEADER_CHANNEL_H_
#define ACD_DAEMON_ACCESS_LEADER_CHANNEL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "daemon/access/client_access.h"
#include "grpcpp/channel.h"

namespace acd::daemon {

struct LeaderChannel {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
};

// "a, b" into its addresses; INVALID_ARGUMENT when one is empty.
absl::StatusOr<std::vector<std::string>> SplitServers(absl::string_view servers);

// The channel to the replica that serves among `servers` (comma-separated), each asked within
// `timeout`. UNAVAILABLE, saying what each address answered, when none serves.
absl::StatusOr<LeaderChannel> OpenLeaderChannel(absl::string_view servers,
                                                const ClientAccess& access, absl::Duration timeout,
                                                const grpc::ChannelArguments& arguments = {});

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ACCESS_LEADER_CHANNEL_H_
