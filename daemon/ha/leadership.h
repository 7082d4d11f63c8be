// Leadership decides, through etcd, which acdd replica of a cluster leads, and keeps the leader's
// fence (daemon/ha/fence.h). It runs on a thread of its own, since every etcd call blocks.
//
// Keys, under /acd/<cluster>/:
//   leader        "<replica id> <address>", on the leader's lease. Its create_revision is the
//                 leader's epoch, which every journal record it writes carries.
//   sync/<id>     "in_sync" or "out_of_sync": whether replica <id> holds every record the leader
//                 has acknowledged. Only the leader writes these (guarded by its key), besides
//                 the first leader of a new cluster, which writes its own.
//   initialized   written by a new cluster's first leader, so that a replica started later on an
//                 empty data dir never founds a second history.
// A replica campaigns when there is no leader key, with one transaction that wins only if the key
// is still absent and its own sync key says in_sync (or, for a new cluster, only if no
// `initialized` and no sync key of its own exist). The winner's transaction also marks every
// other known replica out_of_sync: each is behind the new epoch until the new leader has caught it
// up. So an out-of-sync replica never leads, and a leader that lost its key can never again mark
// anyone (its writes are guarded by its key's create_revision).
//
// Every replica keeps a lease alive (one renewal each TTL/4): a standby's is ready for its
// campaign, a leader's holds its key. A leader whose renewal finds the lease gone, or whose key is
// gone or another's, steps down; one that cannot reach etcd does not step down (no one else can be
// elected without etcd either) but its fence runs out, so it stops acknowledging within its lease.
//   Leadership leadership(options, &etcd, events);
//   leadership.Start();
//   ... if (leadership.fence().Open(boot.Now())) acknowledge();
//   leadership.Stop(/*resign=*/true);
#ifndef ACD_DAEMON_HA_LEADERSHIP_H_
#define ACD_DAEMON_HA_LEADERSHIP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "daemon/ha/etcd_client.h"
#include "daemon/ha/fence.h"

namespace acd::daemon::ha {

struct LeadershipOptions {
  std::string cluster = "acd";                  // the key prefix is /acd/<cluster>/
  std::string replica_id;                       // unique within the cluster, stable across restarts
  std::string address;                          // where clients reach this replica (host:port)
  absl::Duration lease_ttl = absl::Seconds(1);  // asked for; etcd may grant longer
  // The fence closes this long before the lease can expire, for clock-rate differences between
  // hosts and the time an acknowledgement takes to leave once allowed.
  absl::Duration fence_margin = absl::Milliseconds(200);
  // How often a standby looks for the leader key, and a leader checks its own.
  absl::Duration poll_every = absl::Milliseconds(50);
  // Whether this replica's journal holds any record (null: it does). One that holds none may
  // found a new cluster but never take over an existing one, whatever its sync key says (a data
  // dir emptied while its key said in_sync).
  std::function<bool()> holds_history;
};

enum class Role { kStandby, kLeader };

// Called on the leadership's thread.
struct LeadershipEvents {
  // This replica is about to try to lead (or finds it already does): before this returns, it
  // must stop taking records from the leader it followed, so that nothing of the old epoch is
  // acknowledged once it may lead.
  std::function<void()> campaigning;
  // This replica now leads, with `epoch`; the fence is open.
  std::function<void(int64_t epoch)> lead;
  // Another replica leads (its address), or none does (empty); called when that changes.
  std::function<void(const std::string& leader_address)> follow;
  // This replica no longer leads: the fence is already shut. `why` says what happened.
  std::function<void(const absl::Status& why)> stepped_down;
};

// What `acdctl ha status` and the metrics show.
struct LeadershipState {
  Role role = Role::kStandby;
  int64_t epoch = 0;           // while leading
  std::string leader_address;  // who leads, as last seen (empty: nobody, or not known)
  std::string leader_id;
  int64_t lease = 0;                     // this replica's lease (0: none now)
  absl::Duration granted_ttl;            // of this replica's lease
  absl::Duration fence_remaining;        // while leading
  absl::Status etcd = absl::OkStatus();  // the last etcd call's outcome
  std::string etcd_endpoint;             // the member calls go to
};

// The key names, for tests and acdctl.
std::string LeaderKey(const std::string& cluster);
std::string SyncKey(const std::string& cluster, const std::string& replica_id);
std::string InitializedKey(const std::string& cluster);
inline constexpr char kInSync[] = "in_sync";
inline constexpr char kOutOfSync[] = "out_of_sync";

class Leadership {
 public:
  // `etcd` and `clock` (null: the real BootClock) must outlive this.
  Leadership(LeadershipOptions options, EtcdClient* etcd, LeadershipEvents events,
             const BootClock* clock = nullptr);
  ~Leadership();
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;

  void Start();
  // Stops the thread. With `resign`, a leader first shuts its fence and revokes its lease, so a
  // standby can take over at once instead of after the lease's TTL.
  void Stop(bool resign);

  const Fence& fence() const { return fence_; }
  const BootClock& clock() const { return *clock_; }
  LeadershipState state() const;

  // The leader's thread-safe guarded write: puts `key` only while this replica's key still holds
  // `epoch`. False when it does not (this replica no longer leads).
  absl::StatusOr<bool> PutIfLeader(int64_t epoch, const std::string& key, const std::string& value);

 private:
  void Run();
  // One pass of the loop; returns how long to wait before the next.
  absl::Duration Tick();
  void Renew(absl::Duration now);
  void Campaign();
  // Takes up leadership with `epoch` (the leader key's create_revision); `how` is for the log.
  void Lead(int64_t epoch, absl::string_view how);
  void CheckOwnKey();
  void LookForLeader();
  // Another replica (or none: empty) leads; reports it through `follow` when that changed.
  void Follow(const std::string& id, const std::string& address);
  void StepDown(const absl::Status& why);
  void Record(const absl::Status& etcd_outcome);

  const LeadershipOptions options_;
  EtcdClient* const etcd_;
  const LeadershipEvents events_;
  const BootClock default_clock_;
  const BootClock* const clock_;
  const std::string prefix_;
  Fence fence_;

  // The leadership thread's own.
  int64_t lease_ = 0;
  absl::Duration granted_ttl_;
  absl::Duration next_renewal_;
  absl::Duration renewed_at_;  // when the last renewal that found the lease alive was sent
  absl::Duration next_key_check_;  // a leader's next look at its own key
  bool lease_alive_ = false;
  std::string followed_;  // the leader address last reported through `follow`
  bool followed_once_ = false;

  mutable absl::Mutex mu_;
  LeadershipState state_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_LEADERSHIP_H_
