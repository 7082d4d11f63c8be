// Follower is the standby's side of acd.ha.v1.Replication: on a thread of its own it opens Follow
// on the leader, says where its journal ends, checks every record that comes (its CRC, sequences
// rising by one from its own last, epochs never falling) and hands each batch to `records`, which
// appends it to the standby's journal as it is (FileJournal::WriteFramed) and applies it.
// Durable() reports what the standby's journal has made durable; a batch that `records` wrote
// durably itself is reported at once, from the follower's thread. When the stream breaks it
// connects again (to the address last given) from the last record it handed over.
// Why a thread of its own and gRPC's synchronous API: a version on the callback API (a
// ClientBidiReactor that checked and wrote each batch on gRPC's thread and reported from the
// thread that learned of it) was measured side by side (bench/ha_load.py --compare_bin, session,
// 300 calls/s, 4 rounds): pair p99 ÷ lone 1.44 against 1.45, the same CPU on the standby, and
// gRPC's two callback threads woke 11,000 times a second instead of 6,000, more than the
// follower's thread had saved (3,000). gRPC 1.51 runs every streaming reaction on another thread.
//   Follower follower({.replica_id = "acd-2"}, scan.last_sequence, scan.epoch, events);
//   follower.Start("10.0.0.1:50051");
//   journal events: durable = [&](uint64_t seq) { follower.Durable(seq); };
#ifndef ACD_DAEMON_HA_FOLLOWER_H_
#define ACD_DAEMON_HA_FOLLOWER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "acd/ha/v1/replication.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace acd::daemon::ha {

struct FollowerOptions {
  std::string replica_id;
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // null: plain
  absl::Duration reconnect_every = absl::Milliseconds(100);
};

// Called on the follower's thread.
struct FollowerEvents {
  // Records first..last, checked, framed as in a segment file (handed over, not copied); `epoch`
  // is the last one's.
  // Returns `last` when they are durable already (the follower reports it), else 0.
  std::function<uint64_t(std::string records, uint64_t first, uint64_t last, uint64_t epoch)>
      records;
  // The leader says this journal goes on past the last record both share: it must be cut after
  // record `after` (why) before following again. The follower stops.
  std::function<void(uint64_t after, const std::string& why)> cut;
  // The leader says this journal cannot continue its own (why): the follower stops.
  std::function<void(const std::string& why)> resync;
  // A stream ended, or could not open (why); the follower tries again.
  std::function<void(const absl::Status& why)> broken;
};

class Follower {
 public:
  Follower(FollowerOptions options, uint64_t last_sequence, uint64_t last_epoch,
           FollowerEvents events);
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  void Start(const std::string& leader_address);
  void Stop();
  // Any thread: the standby's journal is durable through `sequence`.
  void Durable(uint64_t sequence);
  // The last record handed over, and its epoch.
  uint64_t last_sequence() const;
  uint64_t last_epoch() const;

 private:
  void Run();
  // One stream, until it ends; false when the follower is to stop (resync or Stop).
  bool FollowOnce();
  // Checks the records of `batch` against what came before; an error says what is wrong.
  absl::Status Check(const acd::ha::v1::FollowResponse& batch, uint64_t* epoch) const;

  const FollowerOptions options_;
  const FollowerEvents events_;
  std::string leader_address_;

  mutable absl::Mutex mu_;
  uint64_t last_sequence_ ABSL_GUARDED_BY(mu_);
  uint64_t last_epoch_ ABSL_GUARDED_BY(mu_);
  // The highest epoch of a leader that sent records: a lower one is a deposed leader's.
  uint64_t highest_leader_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The stream's writing side, apart from mu_ (see Durable).
  absl::Mutex write_mu_;
  uint64_t durable_ ABSL_GUARDED_BY(write_mu_) = 0;
  grpc::ClientReaderWriter<acd::ha::v1::FollowRequest, acd::ha::v1::FollowResponse>* stream_
      ABSL_GUARDED_BY(write_mu_) = nullptr;
  std::thread thread_;
};

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_FOLLOWER_H_
