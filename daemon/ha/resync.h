// ResyncFromLeader makes a standby's data dir start where its leader's stands, when the leader
// cannot continue the standby's journal (it no longer keeps the records the standby lacks): it
// downloads the leader's newest snapshot (acd.ha.v1.Replication/GetSnapshot) and leaves it alone
// in the data dir, so that the next start recovers from it and follows the leader's journal after
// it. What the data dir held is set aside in <data_dir>/set-aside-<unix seconds>/, never removed:
// it is the operator's to look at or remove. A crash half-way leaves either the old data dir or
// an empty one (which follows, and resyncs, again), never a mix.
//   absl::StatusOr<uint64_t> at = ResyncFromLeader("10.0.0.1:50051", credentials, dir,
//   absl::Now());
#ifndef ACD_DAEMON_HA_RESYNC_H_
#define ACD_DAEMON_HA_RESYNC_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/credentials.h"

namespace acd::daemon::ha {

// Returns the record the snapshot ends at. `credentials` null: plain gRPC.
absl::StatusOr<uint64_t> ResyncFromLeader(const std::string& leader_address,
                                          std::shared_ptr<grpc::ChannelCredentials> credentials,
                                          const std::string& data_dir, absl::Time now);

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_RESYNC_H_
