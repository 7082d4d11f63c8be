#include "daemon/ha/leadership.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/log.h"

namespace acd::daemon::ha {
namespace {

std::string Prefix(const std::string& cluster) { return absl::StrCat("/acd/", cluster, "/"); }

// "<id> <address>" → {id, address}.
std::pair<std::string, std::string> ParseLeaderValue(const std::string& value) {
  std::pair<std::string, std::string> parts = absl::StrSplit(value, absl::MaxSplits(' ', 1));
  return parts;
}

}  // namespace

std::string LeaderKey(const std::string& cluster) { return Prefix(cluster) + "leader"; }
std::string SyncKey(const std::string& cluster, const std::string& replica_id) {
  return Prefix(cluster) + "sync/" + replica_id;
}
std::string InitializedKey(const std::string& cluster) { return Prefix(cluster) + "initialized"; }

Leadership::Leadership(LeadershipOptions options, EtcdClient* etcd, LeadershipEvents events,
                       const BootClock* clock)
    : options_(std::move(options)),
      etcd_(etcd),
      events_(std::move(events)),
      clock_(clock != nullptr ? clock : &default_clock_),
      prefix_(Prefix(options_.cluster)) {}

Leadership::~Leadership() { Stop(/*resign=*/false); }

void Leadership::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Leadership::Stop(bool resign) {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (!thread_.joinable()) return;
  thread_.join();
  // The thread's fields are this thread's now.
  fence_.Shut();
  if (resign && lease_ != 0) {
    // Revoking the lease deletes the leader key at once: a standby takes over without waiting
    // for the TTL.
    if (absl::Status s = etcd_->Revoke(lease_); !s.ok()) {
      Log(absl::StrCat("leadership: could not revoke the lease on stopping (", s.message(),
                       "); it expires by itself within ", absl::FormatDuration(granted_ttl_)));
    }
    lease_ = 0;
  }
  absl::MutexLock lock(&mu_);
  state_.role = Role::kStandby;
  state_.epoch = 0;
  state_.lease = lease_;
}

LeadershipState Leadership::state() const {
  absl::MutexLock lock(&mu_);
  LeadershipState state = state_;
  state.fence_remaining = fence_.Remaining(clock_->Now());
  return state;
}

void Leadership::Run() {
  for (;;) {
    const absl::Duration wait = Tick();
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), wait)) return;
  }
}

absl::Duration Leadership::Tick() {
  const absl::Duration now = clock_->Now();
  if (lease_ == 0) {
    absl::StatusOr<EtcdLease> lease = etcd_->Grant(options_.lease_ttl);
    Record(lease.status());
    if (!lease.ok()) return options_.poll_every;
    lease_ = lease->id;
    granted_ttl_ = lease->ttl;
    lease_alive_ = false;
    next_renewal_ = now;
    if (granted_ttl_ > options_.lease_ttl) {
      Log(absl::StrCat("leadership: etcd granted a lease of ", absl::FormatDuration(granted_ttl_),
                       " for the ", absl::FormatDuration(options_.lease_ttl),
                       " asked (etcd's minimum TTL is 1.5 election timeouts, rounded up to whole "
                       "seconds); a failover takes about one TTL"));
    }
    absl::MutexLock lock(&mu_);
    state_.lease = lease_;
    state_.granted_ttl = granted_ttl_;
  }
  if (now >= next_renewal_) Renew(now);
  Role role;
  {
    absl::MutexLock lock(&mu_);
    role = state_.role;
  }
  if (role == Role::kLeader) {
    // As often as the lease is renewed: a lost key is seen within a quarter of the TTL, and the
    // fence, not this check, keeps a deposed leader from acknowledging.
    if (now >= next_key_check_) {
      CheckOwnKey();
      next_key_check_ = now + std::max(options_.poll_every, granted_ttl_ / 4);
    }
  } else if (lease_alive_ && clock_->Now() < renewed_at_ + granted_ttl_ - options_.fence_margin) {
    LookForLeader();
  }
  return options_.poll_every;
}

void Leadership::Renew(absl::Duration now) {
  const absl::Duration sent = clock_->Now();
  absl::StatusOr<absl::Duration> ttl =
      etcd_->KeepAliveOnce(lease_, std::max(granted_ttl_ / 4, options_.poll_every));
  Record(ttl.status());
  if (!ttl.ok()) {
    next_renewal_ = now + options_.poll_every;  // again soon, on the next member
    return;
  }
  if (*ttl <= absl::ZeroDuration()) {
    lease_ = 0;
    lease_alive_ = false;
    Role role;
    {
      absl::MutexLock lock(&mu_);
      role = state_.role;
    }
    if (role == Role::kLeader) StepDown(absl::UnavailableError("the leader's etcd lease expired"));
    return;
  }
  renewed_at_ = sent;
  lease_alive_ = true;
  next_renewal_ = sent + granted_ttl_ / 4;
  absl::MutexLock lock(&mu_);
  if (state_.role == Role::kLeader) fence_.ExtendTo(sent + granted_ttl_ - options_.fence_margin);
}

void Leadership::LookForLeader() {
  // A standby looks every poll: from the member's own copy, which costs etcd no raft round. A
  // stale answer only delays a campaign by a poll, or starts one whose guarded transaction fails.
  absl::StatusOr<etcdserverpb::RangeResponse> leader =
      etcd_->Range(LeaderKey(options_.cluster), /*prefix=*/false, /*serializable=*/true);
  Record(leader.status());
  if (!leader.ok()) return;
  if (leader->kvs_size() == 0) {
    Campaign();
    return;
  }
  const mvccpb::KeyValue& key = leader->kvs(0);
  const auto [id, address] = ParseLeaderValue(key.value());
  if (key.lease() == lease_) {
    // Our own campaign won though its answer was lost (a timeout as etcd committed it): the key
    // is on our lease, so no one else can lead until we do.
    if (events_.campaigning) events_.campaigning();
    Lead(key.create_revision(), "a campaign whose answer was lost");
    return;
  }
  if (id == options_.replica_id) {
    // A key of this replica's earlier life (before a restart), on a lease that is no longer
    // renewed: it goes within its TTL, and no one leads meanwhile.
    Follow("", "");
    return;
  }
  Follow(id, address);
}

void Leadership::Follow(const std::string& id, const std::string& address) {
  {
    absl::MutexLock lock(&mu_);
    state_.leader_id = id;
    state_.leader_address = address;
  }
  if (followed_once_ && followed_ == address) return;
  followed_once_ = true;
  followed_ = address;
  if (events_.follow) events_.follow(address);
}

void Leadership::Campaign() {
  const std::string me = SyncKey(options_.cluster, options_.replica_id);
  absl::StatusOr<etcdserverpb::RangeResponse> syncs = etcd_->Range(prefix_ + "sync/", true);
  Record(syncs.status());
  if (!syncs.ok()) return;
  absl::StatusOr<etcdserverpb::RangeResponse> initialized =
      etcd_->Range(InitializedKey(options_.cluster));
  Record(initialized.status());
  if (!initialized.ok()) return;
  std::string own;
  bool has_own = false;
  std::vector<std::string> others;
  for (const mvccpb::KeyValue& kv : syncs->kvs()) {
    if (kv.key() == me) {
      has_own = true;
      own = kv.value();
    } else {
      others.push_back(kv.key());
    }
  }
  const bool founding = !has_own && initialized->kvs_size() == 0;
  if (!founding && own == kInSync && options_.holds_history && !options_.holds_history()) {
    if (!followed_once_ || !followed_.empty()) {
      Log(absl::StrCat("leadership: no replica leads cluster '", options_.cluster,
                       "', and this one may not: its sync key says in sync but its journal is "
                       "empty (its data dir was emptied?); a replica that holds the journal must "
                       "start"));
    }
    Follow("", "");
    return;
  }
  if (!founding && own != kInSync) {
    // Not in sync (or new to a cluster that exists): only a leader can catch this replica up.
    if (!followed_once_ || !followed_.empty()) {
      Log(absl::StrCat(
          "leadership: no replica leads cluster '", options_.cluster,
          "', and this one may not: ", has_own ? "it is out of sync" : "it has never been in sync",
          "; an in-sync replica must start"));
    }
    Follow("", "");
    return;
  }
  const std::string leader_key = LeaderKey(options_.cluster);
  etcdserverpb::TxnRequest txn;
  *txn.add_compare() = CreateRevisionIs(leader_key, 0);
  if (founding) {
    *txn.add_compare() = CreateRevisionIs(InitializedKey(options_.cluster), 0);
    *txn.add_compare() = CreateRevisionIs(me, 0);
  } else {
    *txn.add_compare() = ValueIs(me, kInSync);
  }
  *txn.add_success() =
      PutOp(leader_key, absl::StrCat(options_.replica_id, " ", options_.address), lease_);
  if (founding) {
    *txn.add_success() = PutOp(InitializedKey(options_.cluster), options_.replica_id);
    *txn.add_success() = PutOp(me, kInSync);
  }
  // Everyone else is behind the new epoch until this leader has caught them up.
  for (const std::string& other : others) *txn.add_success() = PutOp(other, kOutOfSync);
  *txn.add_failure() = RangeOp(leader_key);
  if (events_.campaigning) events_.campaigning();
  followed_once_ = false;  // whoever leads after this, the follow event says so again
  absl::StatusOr<etcdserverpb::TxnResponse> result = etcd_->Txn(txn);
  Record(result.status());
  if (!result.ok()) return;
  if (!result->succeeded()) return;  // someone else won, or our sync key changed: look again
  Lead(result->header().revision(),
       absl::StrCat(founding ? "a new cluster; " : "", others.size(),
                    " other replica(s) marked out of sync until caught up"));
}

void Leadership::Lead(int64_t epoch, absl::string_view how) {
  // The key is on our lease, which was alive when last renewed; etcd keeps it at least a TTL
  // after that renewal.
  fence_.ExtendTo(renewed_at_ + granted_ttl_ - options_.fence_margin);
  Log(absl::StrCat("leadership: leading cluster '", options_.cluster, "' with epoch ", epoch, " (",
                   how, ")"));
  // Told before state() says so: whoever reads the role sees a leader that has been told.
  if (events_.lead) events_.lead(epoch);
  followed_once_ = false;
  absl::MutexLock lock(&mu_);
  state_.role = Role::kLeader;
  state_.epoch = epoch;
  state_.leader_id = options_.replica_id;
  state_.leader_address = options_.address;
}

void Leadership::CheckOwnKey() {
  int64_t epoch;
  {
    absl::MutexLock lock(&mu_);
    epoch = state_.epoch;
  }
  absl::StatusOr<etcdserverpb::RangeResponse> leader = etcd_->Range(LeaderKey(options_.cluster));
  Record(leader.status());
  if (!leader.ok()) return;  // etcd unreachable: the fence decides
  if (leader->kvs_size() == 0) {
    StepDown(absl::UnavailableError("the leader key is gone (the lease expired or was revoked)"));
  } else if (leader->kvs(0).create_revision() != epoch) {
    StepDown(absl::UnavailableError(
        absl::StrCat("another replica leads: ", ParseLeaderValue(leader->kvs(0).value()).first,
                     " (epoch ", leader->kvs(0).create_revision(), ")")));
  }
}

void Leadership::StepDown(const absl::Status& why) {
  fence_.Shut();
  {
    absl::MutexLock lock(&mu_);
    state_.role = Role::kStandby;
    state_.epoch = 0;
    state_.leader_id.clear();
    state_.leader_address.clear();
  }
  followed_once_ = false;
  Log(absl::StrCat("leadership: stepped down: ", why.message()));
  if (events_.stepped_down) events_.stepped_down(why);
}

absl::StatusOr<bool> Leadership::PutIfLeader(int64_t epoch, const std::string& key,
                                             const std::string& value) {
  etcdserverpb::TxnRequest txn;
  *txn.add_compare() = CreateRevisionIs(LeaderKey(options_.cluster), epoch);
  *txn.add_success() = PutOp(key, value);
  absl::StatusOr<etcdserverpb::TxnResponse> result = etcd_->Txn(txn);
  if (!result.ok()) return result.status();
  return result->succeeded();
}

void Leadership::Record(const absl::Status& etcd_outcome) {
  absl::MutexLock lock(&mu_);
  state_.lease = lease_;
  state_.etcd = etcd_outcome;
  state_.etcd_endpoint = etcd_->current_endpoint();
}

}  // namespace acd::daemon::ha
