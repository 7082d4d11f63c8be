// ReplicationSource serves acd.ha.v1.Replication on the leader: each standby that opens Follow
// gets the leader's journal records after the last one it holds, framed as in the segment files,
// first from those files (as far back as they go) and then from the RecordFeed as each record is
// appended; what the standby reports durable goes to `acked`. A standby whose journal does not
// continue the leader's (a record the leader lacks, or another epoch at the same sequence: a
// deposed leader's tail), or that lacks records the leader no longer has, is told to resync.
//
// It is a synchronous gRPC service: one of the server's threads per standby (there are one or
// two), which blocks on the feed and on the stream, never on the engine.
//   ReplicationSource source({.data_dir = dir}, &feed, [&] { return epoch.load(); },
//                            [&](const std::string& id, uint64_t durable) { ... });
//   builder.RegisterService(&source);
//   ... source.Stop();  // before the server shuts down
#ifndef ACD_DAEMON_HA_REPLICATION_SOURCE_H_
#define ACD_DAEMON_HA_REPLICATION_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "acd/ha/v1/replication.grpc.pb.h"
#include "daemon/ha/record_feed.h"

namespace acd::daemon::ha {

struct ReplicationSourceOptions {
  std::string data_dir;  // the leader's journal, for records older than the feed keeps
  size_t max_batch_bytes = 1 << 20;
};

class ReplicationSource final : public acd::ha::v1::Replication::Service {
 public:
  // Called on the stream's thread.
  using Acked = std::function<void(const std::string& replica_id, uint64_t durable_sequence)>;
  using Gone = std::function<void(const std::string& replica_id)>;

  // `feed` (not owned) outlives this; `epoch` says the leader's current epoch.
  ReplicationSource(ReplicationSourceOptions options, RecordFeed* feed,
                    std::function<uint64_t()> epoch, Acked acked, Gone gone = nullptr);

  grpc::Status Follow(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<acd::ha::v1::FollowResponse,
                                               acd::ha::v1::FollowRequest>* stream) override;
  // Ends every stream (they return UNAVAILABLE) and refuses new ones.
  void Stop();

 private:
  // Why the standby's journal, ending at `last_sequence` of `last_epoch`, cannot continue from
  // the leader's; nothing when it can.
  std::optional<std::string> Mismatch(uint64_t last_sequence, uint64_t last_epoch) const;
  // Records from `from` on read from the segment files, at most about max_batch_bytes.
  absl::StatusOr<RecordFeed::Taken> ReadFiles(uint64_t from) const;

  const ReplicationSourceOptions options_;
  RecordFeed* const feed_;
  const std::function<uint64_t()> epoch_;
  const Acked acked_;
  const Gone gone_;
  std::atomic<bool> stopping_{false};
};

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_REPLICATION_SOURCE_H_
