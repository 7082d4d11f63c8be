#include "daemon/ha/replica.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "daemon/ha/resync.h"
#include "daemon/log.h"

namespace acd::daemon::ha {

using acd::ha::v1::ReplicaStatus;

Replica::Replica(ReplicaOptions options, Engine* engine, ServingRole* role,
                 metrics::HaSeries* metrics, ReplicaHooks hooks)
    : options_(std::move(options)),
      engine_(engine),
      role_(role),
      metrics_(metrics),
      hooks_(std::move(hooks)),
      etcd_(options_.etcd),
      feed_(options_.feed_bytes),
      source_(
          {.data_dir = options_.data_dir}, &feed_,
          [this] { return static_cast<uint64_t>(epoch_.load(std::memory_order_acquire)); },
          [this](const std::string& id, uint64_t durable) { OnAcked(id, durable); },
          [this](const std::string& id) { OnGone(id); }) {
  metrics_->enabled.store(true, std::memory_order_relaxed);
  LeadershipEvents events;
  events.campaigning = [this] { OnCampaigning(); };
  events.lead = [this](int64_t epoch) { OnLead(epoch); };
  events.follow = [this](const std::string& address) { OnFollow(address); };
  events.stepped_down = [this](const absl::Status& why) { OnSteppedDown(why); };
  LeadershipOptions leadership = options_.leadership;
  leadership.holds_history = [this] { return engine_->local_durable() > 0; };
  leadership_ = std::make_unique<Leadership>(std::move(leadership), &etcd_, std::move(events));
  // What the standby's journal makes durable goes to the leader it follows (journal thread).
  engine_->SetDurableHook([this](uint64_t sequence) {
    std::shared_ptr<Follower> follower;
    {
      absl::MutexLock lock(&follow_mu_);
      follower = follower_;
    }
    // Outside follow_mu_: the report may wait for a leader that does not read, and the
    // leadership's thread must still be able to stop following (which ends that wait) to take
    // over.
    if (follower != nullptr) follower->Durable(sequence);
  });
}

Replica::~Replica() { Stop(); }

void Replica::Start() {
  // Where the engine's journal ends: where following starts.
  std::promise<std::pair<uint64_t, uint64_t>> end;
  engine_->Post([&] { end.set_value({engine_->last_sequence(), engine_->journal_epoch()}); });
  const auto [sequence, epoch] = end.get_future().get();
  {
    absl::MutexLock lock(&follow_mu_);
    resume_sequence_ = sequence;
    resume_epoch_ = epoch;
  }
  {
    absl::MutexLock lock(&status_mu_);
    not_following_ = "no leader is known yet";
  }
  leadership_->Start();
  monitor_ = std::thread([this] { Monitor(); });
}

void Replica::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (monitor_.joinable()) monitor_.join();
  {
    absl::MutexLock lock(&follow_mu_);
    StopFollowing();
  }
  leadership_->Stop(/*resign=*/true);
  source_.Stop();
  feed_.Close();
}

absl::Duration Replica::Now() const { return leadership_->clock().Now(); }

// ---------------------------------------------------------------------------------------------
// Leadership.

void Replica::OnCampaigning() {
  absl::MutexLock lock(&follow_mu_);
  StopFollowing();
}

void Replica::OnLead(int64_t epoch) {
  {
    absl::MutexLock lock(&follow_mu_);
    StopFollowing();
  }
  // After every record the follower handed over: the engine runs its tasks in order.
  engine_->Post([this, epoch] {
    Engine::Leading leading;
    leading.epoch = static_cast<uint64_t>(epoch);
    leading.fence_open = [this] { return leadership_->fence().Open(leadership_->clock().Now()); };
    leading.tap = [this](absl::string_view framed, uint64_t sequence) {
      feed_.Add(framed, sequence);
    };
    if (absl::Status promoted = engine_->Promote(std::move(leading)); !promoted.ok()) {
      hooks_.fatal(promoted);
      return;
    }
    epoch_.store(epoch, std::memory_order_release);
    metrics_->leader.Set(1);
    metrics_->epoch.Set(static_cast<double>(epoch));
    metrics_->failovers.Add(1);
    role_->Serve();
    if (hooks_.leading) hooks_.leading(true);
  });
}

void Replica::OnFollow(const std::string& leader_address) {
  role_->Redirect(leader_address);
  absl::MutexLock lock(&follow_mu_);
  if (leader_address.empty()) {
    StopFollowing();
    absl::MutexLock status(&status_mu_);
    not_following_ = "no replica leads";
    return;
  }
  if (follower_ != nullptr && followed_ == leader_address) return;
  StopFollowing();
  StartFollowing(leader_address);
}

void Replica::OnSteppedDown(const absl::Status& why) {
  role_->Redirect("");
  if (hooks_.leading) hooks_.leading(false);
  hooks_.restart(std::nullopt, absl::StrCat("stepped down: ", why.message()));
}

void Replica::StartFollowing(const std::string& leader_address) {
  FollowerEvents events;
  events.records = [this](std::string records, uint64_t first, uint64_t last,
                          uint64_t epoch) -> uint64_t {
    // Written here, applied on the engine thread: the journal (and so the acknowledgement to the
    // leader) does not wait for the engine to apply the batches before it (engine.h).
    return engine_->WriteReplicated(std::move(records), first, last, epoch) ? last : 0;
  };
  events.cut = [this](uint64_t after, const std::string& why) {
    hooks_.restart(after, absl::StrCat("the leader says this journal must be cut after record ",
                                       after, ": ", why));
  };
  events.resync = [this, leader_address](const std::string& why) {
    Log(absl::StrCat("the leader at ", leader_address, " cannot continue this journal (", why,
                     "): starting again from its snapshot"));
    {
      absl::MutexLock status(&status_mu_);
      not_following_ = absl::StrCat("resyncing from the leader's snapshot: ", why);
    }
    absl::StatusOr<uint64_t> at = ResyncFromLeader(leader_address, options_.follow_credentials,
                                                   options_.data_dir, absl::Now());
    if (!at.ok()) {
      // Started again, this replica follows and is told to resync again: not in a tight loop.
      Log(absl::StrCat("resync from the leader's snapshot failed: ", at.status().message(),
                       "; trying again in 5 s"));
      absl::SleepFor(absl::Seconds(5));
      hooks_.restart(std::nullopt, "a resync to try again");
      return;
    }
    hooks_.restart(std::nullopt,
                   absl::StrCat("resynced: the leader's snapshot at record ", *at,
                                " replaces this data dir (its old files are set aside)"));
  };
  events.broken = [this](const absl::Status& why) {
    absl::MutexLock status(&status_mu_);
    if (last_broken_ == why.message()) return;
    last_broken_ = std::string(why.message());
    Log(absl::StrCat("following: ", why.message(), " (trying again)"));
  };
  follower_ =
      std::make_shared<Follower>(FollowerOptions{.replica_id = options_.leadership.replica_id,
                                                 .credentials = options_.follow_credentials},
                                 resume_sequence_, resume_epoch_, std::move(events));
  follower_->Start(leader_address);
  follower_->Durable(engine_->local_durable());
  followed_ = leader_address;
  {
    absl::MutexLock status(&status_mu_);
    not_following_.clear();
    last_broken_.clear();
  }
  Log(absl::StrCat("standby: following the leader at ", leader_address, " from record ",
                   resume_sequence_ + 1));
}

void Replica::StopFollowing() {
  if (follower_ == nullptr) return;
  follower_->Stop();
  resume_sequence_ = follower_->last_sequence();
  resume_epoch_ = follower_->last_epoch();
  follower_.reset();
  followed_.clear();
}

// ---------------------------------------------------------------------------------------------
// The leader's standbys.

void Replica::OnAcked(const std::string& replica_id, uint64_t durable) {
  bool counted;
  {
    absl::MutexLock lock(&mu_);
    Standby& standby = standbys_[replica_id];
    standby.connected = true;
    standby.durable = std::max(standby.durable, durable);
    counted = standby.counted;
  }
  if (!counted) return;
  // One task on the engine thread at a time carries the newest word: acknowledgements that come
  // while it waits add no task of their own.
  uint64_t seen = acked_for_engine_.load(std::memory_order_relaxed);
  while (seen < durable &&
         !acked_for_engine_.compare_exchange_weak(seen, durable, std::memory_order_relaxed)) {
  }
  if (acked_task_pending_.exchange(true, std::memory_order_acq_rel)) return;
  engine_->Post([this] {
    acked_task_pending_.store(false, std::memory_order_release);
    engine_->OnReplicaDurable(acked_for_engine_.load(std::memory_order_acquire));
  });
}

void Replica::OnGone(const std::string& replica_id) {
  absl::MutexLock lock(&mu_);
  standbys_[replica_id].connected = false;
}

void Replica::Monitor() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(10))) return;
    }
    const int64_t epoch = epoch_.load(std::memory_order_acquire);
    if (epoch != 0) {
      CheckStandbys(epoch);
      continue;
    }
    uint64_t handed = 0;
    {
      absl::MutexLock lock(&follow_mu_);
      handed = follower_ != nullptr ? follower_->last_sequence() : resume_sequence_;
    }
    const uint64_t durable = engine_->local_durable();
    metrics_->lag_records.Set(handed > durable ? static_cast<double>(handed - durable) : 0);
  }
}

void Replica::CheckStandbys(int64_t epoch) {
  const uint64_t local = engine_->local_durable();
  const absl::Duration now = Now();
  std::string count, in_sync, out_of_sync;
  uint64_t lag = 0;
  {
    absl::MutexLock lock(&mu_);
    bool any_counted = false;
    for (const auto& [id, standby] : standbys_) any_counted |= standby.counted;
    for (auto& [id, standby] : standbys_) {
      if (standby.counted) {
        lag = local > standby.durable ? local - standby.durable : 0;
        if (standby.durable >= standby.awaited) {
          // It has the record it was waited for: wait for what the leader holds now.
          standby.awaited = local;
          standby.awaited_since = now;
        } else if (now - standby.awaited_since > options_.sync_timeout) {
          out_of_sync = id;
          continue;
        }
        if (!standby.in_sync && standby.durable >= standby.caught_up_at) in_sync = id;
      } else if (!any_counted && count.empty() && standby.connected && standby.durable >= local) {
        count = id;
        standby.counted = true;
        standby.caught_up_at = UINT64_MAX;  // until the engine says where it starts counting
        standby.awaited = local;
        standby.awaited_since = now;
      }
    }
  }
  metrics_->lag_records.Set(static_cast<double>(lag));
  if (!count.empty()) {
    engine_->Post([this, count] {
      absl::MutexLock lock(&mu_);
      Standby& standby = standbys_[count];
      if (!standby.counted) return;  // marked out of sync meanwhile
      standby.caught_up_at = engine_->CountReplica(true, standby.durable);
    });
  }
  if (!in_sync.empty() && Mark(epoch, in_sync, kInSync)) {
    {
      absl::MutexLock lock(&mu_);
      standbys_[in_sync].in_sync = true;
    }
    metrics_->in_sync.Set(1);
    Log(absl::StrCat("standby ", in_sync,
                     " is in sync: every acknowledgement waits for its "
                     "journal too, and it may take over"));
  }
  if (!out_of_sync.empty() && Mark(epoch, out_of_sync, kOutOfSync)) {
    uint64_t durable;
    {
      absl::MutexLock lock(&mu_);
      Standby& standby = standbys_[out_of_sync];
      standby.counted = false;
      standby.in_sync = false;
      durable = standby.durable;
    }
    engine_->Post([this] { engine_->CountReplica(false); });
    metrics_->in_sync.Set(0);
    metrics_->out_of_sync.Add(1);
    Log(absl::StrCat("standby ", out_of_sync, " has not made record ", durable + 1,
                     " durable within ", absl::FormatDuration(options_.sync_timeout),
                     ": marked out of sync; acd goes on alone until it catches up"));
  }
}

bool Replica::Mark(int64_t epoch, const std::string& id, const char* value) {
  absl::StatusOr<bool> marked =
      leadership_->PutIfLeader(epoch, SyncKey(options_.leadership.cluster, id), value);
  if (marked.ok()) return *marked;
  absl::MutexLock status(&status_mu_);
  const std::string line = absl::StrCat("cannot mark standby ", id, " ", value,
                                        " in etcd: ", marked.status().message(), " (trying again)");
  if (line != last_mark_error_) Log(line);
  last_mark_error_ = line;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Status.

ReplicaStatus Replica::Status() const {
  const LeadershipState state = leadership_->state();
  ReplicaStatus out;
  out.set_replica_id(options_.leadership.replica_id);
  out.set_cluster(options_.leadership.cluster);
  const int64_t epoch = epoch_.load(std::memory_order_acquire);
  out.set_role(epoch != 0 ? "leader" : "standby");
  out.set_epoch(static_cast<uint64_t>(epoch != 0 ? epoch : 0));
  out.set_leader_id(state.leader_id);
  out.set_leader_address(state.leader_address);
  out.set_durable_sequence(engine_->local_durable());
  out.set_etcd_endpoint(state.etcd_endpoint);
  if (!state.etcd.ok()) out.set_etcd_error(std::string(state.etcd.message()));
  {
    absl::MutexLock lock(&follow_mu_);
    out.set_last_sequence(epoch != 0             ? feed_.last()
                          : follower_ != nullptr ? follower_->last_sequence()
                                                 : resume_sequence_);
  }
  if (epoch != 0) {
    out.set_fence_remaining_seconds(
        absl::ToDoubleSeconds(leadership_->fence().Remaining(leadership_->clock().Now())));
    const uint64_t local = engine_->local_durable();
    absl::MutexLock lock(&mu_);
    for (const auto& [id, standby] : standbys_) {
      acd::ha::v1::StandbyStatus* row = out.add_standbys();
      row->set_replica_id(id);
      row->set_connected(standby.connected);
      row->set_in_sync(standby.in_sync);
      row->set_counted(standby.counted);
      row->set_durable_sequence(standby.durable);
      row->set_lag_records(local > standby.durable ? local - standby.durable : 0);
    }
  } else {
    absl::MutexLock status(&status_mu_);
    out.set_following(not_following_);
  }
  return out;
}

}  // namespace acd::daemon::ha
