// ReplicationSource serves acd.ha.v1.Replication on the leader: each standby that opens Follow
// gets the leader's journal records after the last one it holds, framed as in the segment files,
// first from those files (as far back as they go) and then from the RecordFeed as each record is
// appended; what the standby reports durable goes to `acked`. A standby whose journal goes on past
// the last record it shares with the leader's (a deposed leader's tail, never acknowledged) is told
// where to cut it; one the leader cannot match at all (it lacks records the leader no longer
// keeps) is told to resync from a snapshot, which GetSnapshot sends it. Journals match up to a
// record when both hold it with the same epoch: an epoch has one writer, and a standby only ever
// appends what it was sent.
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

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
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

  // `feed` (not owned) outlives this; `epoch` says the leader's current epoch (0: it does not
  // lead, and refuses every stream).
  ReplicationSource(ReplicationSourceOptions options, RecordFeed* feed,
                    std::function<uint64_t()> epoch, Acked acked, Gone gone = nullptr);

  grpc::Status Follow(grpc::ServerContext* context,
                      grpc::ServerReaderWriter<acd::ha::v1::FollowResponse,
                                               acd::ha::v1::FollowRequest>* stream) override;
  // The newest snapshot in the data dir, in chunks of at most max_batch_bytes. A snapshot that
  // retention removes meanwhile is still sent whole (its file is open).
  grpc::Status GetSnapshot(grpc::ServerContext* context,
                           const acd::ha::v1::GetSnapshotRequest* request,
                           grpc::ServerWriter<acd::ha::v1::SnapshotChunk>* writer) override;
  // Ends every stream (they return UNAVAILABLE) and refuses new ones.
  void Stop();

 private:
  // Whether the standby's journal, ending at `last_sequence` of `last_epoch`, continues the
  // leader's: nothing when it does, else the cut or the resync it is told.
  // An error when the leader cannot read its own journal.
  absl::StatusOr<std::optional<acd::ha::v1::FollowResponse>> Mismatch(uint64_t last_sequence,
                                                                      uint64_t last_epoch) const;
  // The epoch of the leader's record `sequence`, if it has it.
  absl::StatusOr<std::optional<uint64_t>> EpochAt(uint64_t sequence) const;
  // One stream, after Follow() has registered it for Stop().
  grpc::Status Serve(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<acd::ha::v1::FollowResponse, acd::ha::v1::FollowRequest>* stream);
  bool stopping() const;
  // The first record the leader still has (0: none).
  absl::StatusOr<uint64_t> FirstKept() const;
  // Records from `from` on read from the segment files, at most about `max_bytes` (at least one).
  absl::StatusOr<RecordFeed::Taken> ReadFiles(uint64_t from, size_t max_bytes) const;

  const ReplicationSourceOptions options_;
  RecordFeed* const feed_;
  const std::function<uint64_t()> epoch_;
  const Acked acked_;
  const Gone gone_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<grpc::ServerContext*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_REPLICATION_SOURCE_H_
