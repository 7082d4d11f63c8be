// Replica runs one acdd of an HA pair around its engine: it takes part in the leadership through
// etcd (leadership.h); as a standby it follows the leader's journal into the engine (follower.h:
// each batch is appended as it is and applied to the core, and what the journal makes durable is
// reported back); as the leader it serves its journal to the standby (replication_source.h), and
// decides whether the standby counts for output commit.
//
// A standby counts once it has made durable every record the leader had (then its sync key is
// marked in_sync in etcd, and from that moment the leader acknowledges a record only once both
// journals hold it). A counted standby that leaves a record the leader holds durable undurable
// for longer than `sync_timeout` is marked out_of_sync in etcd (a write guarded by the leader's
// key) before the leader goes on alone; while etcd cannot be written the leader waits, and its
// fence shuts. Only an in_sync replica may campaign, so a takeover never loses an acknowledged
// record. One standby counts at a time (a pair has one).
//
// What the replica cannot do in place it asks `restart` for: a leader that stepped down, and a
// standby whose journal must first be cut (a deposed leader's unacknowledged tail), start again
// as a standby from their journal (acdd re-executes itself).
//   Replica replica(options, &engine, &role, &engine.metrics().ha, hooks);
//   builder.RegisterService(replica.replication());
//   builder.RegisterService(replica.status_service());
//   replica.Start();  // after engine.Start() with EngineOptions::standby
//   ... replica.Stop();
#ifndef ACD_DAEMON_HA_REPLICA_H_
#define ACD_DAEMON_HA_REPLICA_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "acd/ha/v1/replication.grpc.pb.h"
#include "daemon/engine.h"
#include "daemon/ha/etcd_client.h"
#include "daemon/ha/follower.h"
#include "daemon/ha/leadership.h"
#include "daemon/ha/record_feed.h"
#include "daemon/ha/replication_source.h"
#include "daemon/serving_role.h"
#include "metrics/acd_metrics.h"

namespace acd::daemon::ha {

struct ReplicaOptions {
  LeadershipOptions leadership;
  EtcdClientOptions etcd;
  std::string data_dir;  // the engine's
  // A counted standby that leaves a record the leader holds durable undurable this long is
  // marked out of sync, and the leader goes on alone.
  absl::Duration sync_timeout = absl::Milliseconds(500);
  // How the standby reaches the leader (null: plain gRPC).
  std::shared_ptr<grpc::ChannelCredentials> follow_credentials;
  // The leader's most recent records kept in memory for its standby.
  size_t feed_bytes = 64 << 20;
};

struct ReplicaHooks {
  // Start again as a standby from the journal, cut after record `cut_after` first when set.
  std::function<void(std::optional<uint64_t> cut_after, const std::string& why)> restart;
  // This replica leads now (true), or not yet / no longer (false): health, logs.
  std::function<void(bool leading)> leading;
  // The replica cannot go on (why): acdd exits.
  std::function<void(const absl::Status& why)> fatal;
};

class Replica {
 public:
  // `engine`, `role` and `metrics` outlive the replica.
  Replica(ReplicaOptions options, Engine* engine, ServingRole* role, metrics::HaSeries* metrics,
          ReplicaHooks hooks);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // The services to register with acdd's gRPC server before it starts.
  grpc::Service* replication() { return &source_; }
  grpc::Service* status_service() { return &status_; }

  // After engine->Start(): joins the leadership.
  void Start();
  // Leaves it (a leader resigns, so the standby takes over at once). Before the server shuts down.
  void Stop();

  acd::ha::v1::ReplicaStatus Status() const;

 private:
  class StatusService final : public acd::ha::v1::Replicas::Service {
   public:
    explicit StatusService(const Replica* replica) : replica_(replica) {}
    grpc::Status GetStatus(grpc::ServerContext*, const acd::ha::v1::GetStatusRequest*,
                           acd::ha::v1::ReplicaStatus* response) override {
      *response = replica_->Status();
      return grpc::Status::OK;
    }

   private:
    const Replica* const replica_;
  };
  // A standby that follows this leader, as the leader sees it.
  struct Standby {
    bool connected = false;
    uint64_t durable = 0;
    bool counted = false;       // the engine's output commit waits for it
    bool in_sync = false;       // marked in_sync in etcd
    uint64_t caught_up_at = 0;  // once durable through this, it may be marked in_sync
    // The oldest record the leader held durable that the standby had not, and since when: a
    // sample retired once the standby passes it.
    uint64_t awaited = 0;
    absl::Duration awaited_since;
  };

  // Leadership events (its thread).
  void OnCampaigning();
  void OnLead(int64_t epoch);
  void OnFollow(const std::string& leader_address);
  void OnSteppedDown(const absl::Status& why);
  // Standby: follows `leader_address`, from where the journal (or the last follower) ended.
  void StartFollowing(const std::string& leader_address) ABSL_EXCLUSIVE_LOCKS_REQUIRED(follow_mu_);
  void StopFollowing() ABSL_EXCLUSIVE_LOCKS_REQUIRED(follow_mu_);
  // Replication source events (stream threads).
  void OnAcked(const std::string& replica_id, uint64_t durable);
  void OnGone(const std::string& replica_id);
  // The monitor's thread: every few ms, the standbys' sync state (leader), the lag (both).
  void Monitor();
  void CheckStandbys(int64_t epoch);
  // Marks `id` in etcd; false when it could not (etcd unreachable, or no longer the leader).
  bool Mark(int64_t epoch, const std::string& id, const char* value);
  absl::Duration Now() const;

  const ReplicaOptions options_;
  Engine* const engine_;
  ServingRole* const role_;
  metrics::HaSeries* const metrics_;
  const ReplicaHooks hooks_;
  EtcdClient etcd_;
  RecordFeed feed_;
  std::atomic<int64_t> epoch_{0};  // while leading (the engine promoted)
  // The counted standby's newest durable word, and whether a task taking it to the engine waits.
  std::atomic<uint64_t> acked_for_engine_{0};
  std::atomic<bool> acked_task_pending_{false};
  ReplicationSource source_;
  StatusService status_{this};
  std::unique_ptr<Leadership> leadership_;

  // The standby's follower: made and stopped on the leadership's thread, told what is durable on
  // the journal's (which holds it meanwhile, not follow_mu_).
  mutable absl::Mutex follow_mu_;
  std::shared_ptr<Follower> follower_ ABSL_GUARDED_BY(follow_mu_);
  std::string followed_ ABSL_GUARDED_BY(follow_mu_);
  uint64_t resume_sequence_ ABSL_GUARDED_BY(follow_mu_) = 0;
  uint64_t resume_epoch_ ABSL_GUARDED_BY(follow_mu_) = 0;

  // What the status and the log say (apart from follow_mu_, which a follower's Stop holds while
  // the follower's thread may still report).
  mutable absl::Mutex status_mu_;
  std::string not_following_ ABSL_GUARDED_BY(status_mu_);    // why, when it does not follow
  std::string last_broken_ ABSL_GUARDED_BY(status_mu_);      // not logged twice in a row
  std::string last_mark_error_ ABSL_GUARDED_BY(status_mu_);  // likewise

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Standby> standbys_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread monitor_;
};

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_REPLICA_H_
