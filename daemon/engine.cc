#include "daemon/engine.h"

#include <pthread.h>

#include <algorithm>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "daemon/commands.h"
#include "daemon/grpc_status.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/log.h"
#include "daemon/recovery.h"
#include "google/protobuf/util/message_differencer.h"

namespace acd::daemon {
namespace {

// Time moves on this often even when no input comes: finished calls leave the book on time.
constexpr std::chrono::seconds kTickEvery(5);

// Why a stream ends when a SIGHUP took its caller's token away.
constexpr char kTokenRemoved[] = "the token of this stream is no longer in the --auth_tokens file";

// Why a leader refuses state changes while its fence is shut.
constexpr char kFenced[] =
    "this acdd leads but cannot confirm it with etcd in time (etcd unreachable, or acdd was "
    "paused): it acknowledges nothing until it can; reads still answer";
constexpr char kStandby[] = "this acdd is a standby: it takes the leader's records only";

const Clock* ClockOrOwn(const Clock* clock, std::unique_ptr<RealClock>* own) {
  if (clock != nullptr) return clock;
  *own = std::make_unique<RealClock>();
  return own->get();
}

}  // namespace

Engine::Engine(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
               EngineOptions options, const Clock* clock)
    : clock_(ClockOrOwn(clock, &own_clock_)),
      startup_policy_(std::move(policy)),
      startup_policy_source_(std::move(policy_source)),
      work_(asio::make_work_guard(io_)),
      options_(std::move(options)),
      wakeup_(io_),
      tick_(io_),
      figures_timer_(io_) {}

Engine::~Engine() {
  Stop();
  snapshots_.reset();  // a snapshot still being written is given up
  journal_.reset();    // writes what is buffered
}

absl::Status Engine::Start() {
  std::promise<absl::Status> recovered;
  thread_ = std::thread([this, &recovered] {
    pthread_setname_np(pthread_self(), "acd-engine");  // as `top -H` and perf show it
    absl::Status status = Recover();
    if (status.ok()) PublishPolicy();
    recovered.set_value(status);
    io_.run();
  });
  absl::Status status = recovered.get_future().get();
  if (!status.ok()) {
    Stop();
    return status;
  }
  Post([this] {
    if (!standby_) Tick();  // a standby's time moves with the leader's records
    RefreshFigures();
  });
  return absl::OkStatus();
}

void Engine::Stop() {
  if (!thread_.joinable()) return;
  Post([this] {
    stopping_ = true;  // handlers already queued must not re-arm
    wakeup_.cancel();
    tick_.cancel();
    figures_timer_.cancel();
    if (fence_timer_) fence_timer_->cancel();
    for (auto& [stream, watch] : watches_) watch.timer->cancel();
    work_.reset();
  });
  thread_.join();
}

void Engine::Post(std::function<void()> task) {
  metrics_.engine_queue_depth.fetch_add(1, std::memory_order_relaxed);
  asio::post(io_, [this, task = std::move(task)] {
    metrics_.engine_queue_depth.fetch_sub(1, std::memory_order_relaxed);
    task();
  });
}

// ---------------------------------------------------------------------------------------------
// Recovery and the journal.

absl::Status Engine::Recover() {
  const auto started = std::chrono::steady_clock::now();
  const JournalOptions& options = options_.journal;
  standby_ = options_.standby;
  if (standby_ && options.data_dir.empty()) {
    return absl::InvalidArgumentError("a standby needs a data dir for the leader's journal");
  }
  if (options.data_dir.empty()) {
    core_ = std::make_unique<Core>(startup_policy_, startup_policy_source_, options_.core,
                                   &observer_, Now());
    Log("no --data_dir: calls, agents and callbacks live in memory only; a restart loses them");
    return absl::OkStatus();
  }
  metrics_.journal.enabled.store(true, std::memory_order_relaxed);
  if (absl::Status s = journal::PrepareDataDir(options.data_dir); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("--data_dir ", options.data_dir,
                                               " cannot be written: ", s.message()));
  }
  absl::StatusOr<Recovered> recovered = RecoverCore(options.data_dir, options.recover, &observer_, options.stop_before);
  if (!recovered.ok()) {
    return absl::Status(recovered.status().code(),
                        absl::StrCat("recovering from --data_dir ", options.data_dir, ": ",
                                     recovered.status().message()));
  }
  core_ = std::move(recovered->core);
  file_policy_ = recovered->file_policy;
  time_floor_ = recovered->last_time;
  for (const std::string& note : recovered->notes) Log(note);
  if (const absl::Time clock = WholeMicros(clock_->Now()); clock < time_floor_) {
    Log(absl::StrCat("the clock reads ", absl::FormatTime(clock), ", ",
                     absl::FormatDuration(time_floor_ - clock), " before the journal's last record: "
                     "acdd's time stands still (no offer rings out, no prompt, no escalation) until "
                     "the clock passes it. Check the clock (NTP) before taking calls."));
  }
  const uint64_t replayed = recovered->replayed;
  const journal::JournalScan* scan = &recovered->scan;
  for (const std::string& note : scan->notes) Log(note);
  for (const std::string& path : recovered->damaged_snapshots) {
    absl::StatusOr<std::string> aside = journal::SetAsideSnapshot(path);
    if (!aside.ok()) return aside.status();
    Log(absl::StrCat("journal: snapshot ", path, " set aside as ", *aside,
                     " (acdd no longer reads it; look at it or remove it)"));
  }
  if (absl::Status s = journal::CutJournal(*scan); !s.ok()) return s;
  if (absl::Status s = journal::RemoveUnfinishedSnapshots(options.data_dir); !s.ok()) return s;
  if (absl::Status s = OpenJournal(*scan); !s.ok()) return s;

  const bool fresh = core_ == nullptr;
  if (!standby_) JournalStart();
  if (fresh) {
    Log(absl::StrCat("--data_dir ", options.data_dir,
                     standby_ ? ": no journal yet; it will be the leader's" : ": a new journal"));
  } else {
    const routing::Router& router = core_->router();
    const std::string from =
        recovered->snapshot_sequence == 0
            ? std::string(" (the whole journal)")
            : absl::StrCat(" after the snapshot at record ", recovered->snapshot_sequence, " (",
                           recovered->snapshot_bytes, " bytes, loaded in ",
                           absl::FormatDuration(recovered->snapshot_load), ")");
    Log(absl::StrCat("recovered from --data_dir ", options.data_dir, ": ", replayed,
                     " records in ",
                     absl::FormatDuration(absl::FromChrono(std::chrono::steady_clock::now() - started)),
                     from,
                     "; policy '", router.policy().source.name(), "', ",
                     router.calls_waiting(), " calls waiting, ",
                     router.agent_count(), " agents logged in"));
  }
  metrics_.journal.recovery_seconds.Set(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  metrics_.journal.recovered_records.Set(static_cast<double>(replayed));
  StartSnapshots();
  return absl::OkStatus();
}

void Engine::JournalStart() {
  JournalInput input = InputAt(Now());
  if (core_ == nullptr) {
    acd::journal::v1::Created* created = input.mutable_created();
    *created->mutable_policy() = startup_policy_->source;
    created->set_policy_source(startup_policy_source_);
    *created->mutable_settings() = SettingsOf(options_.core);
    Journal(input);
    absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(input, &observer_);
    if (!core.ok()) Crash(absl::StrCat("a new core: ", core.status().message()));
    core_ = *std::move(core);
  } else {
    acd::journal::v1::Started* restarted = input.mutable_started();
    *restarted->mutable_settings() = SettingsOf(options_.core);
    *restarted->mutable_startup_policy() = startup_policy_->source;
    restarted->set_startup_policy_source(startup_policy_source_);
    restarted->set_apply_startup_policy(!file_policy_ ||
                                        !google::protobuf::util::MessageDifferencer::Equals(
                                            *file_policy_, startup_policy_->source));
    Journal(input);
    const absl::Status answered = ApplyInput(*core_, input);
    FollowFilePolicy(input, answered, *core_, &file_policy_);
  }
  WriteCommands();
  LogNotices();
}

void Engine::StartSnapshots() {
  // Snapshots off (both flags 0) and no live feeds: no copy of the core is kept.
  const JournalOptions& options = options_.journal;
  const SnapshotOptions& every = options.snapshots;
  if (snapshots_ != nullptr || core_ == nullptr || journal_ == nullptr) return;
  if (every.every_records == 0 && every.every <= absl::ZeroDuration() && every.feed == nullptr) {
    return;
  }
  snapshots_ = std::make_unique<SnapshotTaker>(
      options.data_dir, options.snapshots, clock_, journal_.get(), &metrics_.journal,
      last_sequence_, [this](const SnapshotReport& report) {
        asio::post(io_, [this, report] { OnSnapshot(report); });
      });
}

void Engine::OnSnapshot(const SnapshotReport& report) {
  if (report.feed) {
    Log(report.status.ok() ? std::string("the history feeds are written again")
                           : absl::StrCat("the history feeds cannot be written (what they miss is "
                                          "kept, and written once they can be): ",
                                          report.status.message()));
    return;
  }
  if (!report.status.ok()) {
    Log(report.sequence == 0
            ? std::string(report.status.message())
            : absl::StrCat("snapshot at record ", report.sequence, " failed (the journal still "
                           "holds everything; the next is tried in a minute): ",
                           report.status.message()));
    return;
  }
  std::string removed;
  if (!report.removed.segments.empty() || !report.removed.snapshots.empty()) {
    removed = absl::StrCat("; retention removed ", report.removed.segments.size(),
                           " journal segments and ", report.removed.snapshots.size(),
                           " older snapshots (", report.removed.bytes, " bytes)");
  }
  Log(absl::StrCat("snapshot at record ", report.sequence, ": ", report.bytes, " bytes in ",
                   absl::FormatDuration(report.took), removed));
  if (!report.retention.ok()) {
    Log(absl::StrCat("journal retention failed: ", report.retention.message()));
  }
}

absl::Status Engine::OpenJournal(const journal::JournalScan& scan) {
  journal::FileJournalOptions writer;
  writer.dir = options_.journal.data_dir;
  writer.sync = options_.journal.sync;
  writer.segment_bytes = options_.journal.segment_bytes;
  journal::JournalEvents events;
  events.durable = [this](uint64_t sequence) {
    if (durable_hook_) durable_hook_(sequence);
    asio::post(io_, [this, sequence] { OnDurable(sequence); });
  };
  events.trouble = [this](const absl::Status& trouble) {
    asio::post(io_, [this, trouble] { OnJournalTrouble(trouble); });
  };
  absl::StatusOr<std::unique_ptr<journal::FileJournal>> opened =
      journal::FileJournal::Start(writer, scan, &metrics_.journal, std::move(events));
  if (!opened.ok()) {
    return absl::Status(opened.status().code(),
                        absl::StrCat("--data_dir ", writer.dir, " cannot be written: ",
                                     opened.status().message()));
  }
  journal_ = *std::move(opened);
  metrics_.journal.writable.Set(1);
  local_durable_ = durable_sequence_ = last_sequence_ = scan.last_sequence;
  return absl::OkStatus();
}

void Engine::Journal(const JournalInput& input) {
  time_floor_ = TimeOf(input);
  if (journal_ == nullptr) return;
  last_sequence_ = journal_->Append(input.SerializeAsString());
  if (replica_counted_) replicating_.emplace_back(last_sequence_, std::chrono::steady_clock::now());
  // Copied into the journal's window: durable already, and what it causes may leave at once.
  if (journal_->durable_sequence() >= last_sequence_) OnDurable(last_sequence_);
}

void Engine::WhenDurable(std::function<void(const grpc::Status& journal)> release) {
  if (journal_ == nullptr || !journal_writable_ || last_sequence_ <= durable_sequence_) {
    release(grpc::Status::OK);
    return;
  }
  if (Fenced()) {  // it would wait for a fence that may never open again
    EnterFenced();
    release(grpc::Status(grpc::StatusCode::UNAVAILABLE, kFenced));
    return;
  }
  held_replies_.push_back({last_sequence_, std::move(release)});
}

void Engine::WatchForAStalledJournal() {
  if (journal_ == nullptr) return;
  const bool waiting = last_sequence_ > local_durable_;
  // Records were waiting at the last tick too, and none became durable since: a write (or a sync)
  // has hung for a whole tick. Turn state changes away, as for a failed write, so that what waits
  // in memory stops growing; the first durable report after it clears this.
  if (waiting && durable_at_last_tick_ == local_durable_ && waited_at_last_tick_ &&
      !journal_stalled_ && journal_writable_) {
    journal_stalled_ = true;
    OnJournalTrouble(absl::UnavailableError(absl::StrCat(
        "no journal write has finished for ", absl::FormatDuration(absl::FromChrono(kTickEvery)),
        " (a stalled disk?)")));
  }
  durable_at_last_tick_ = local_durable_;
  waited_at_last_tick_ = waiting;
}

void Engine::OnDurable(uint64_t sequence) {
  local_durable_ = std::max(local_durable_, sequence);
  if (journal_stalled_) {
    journal_stalled_ = false;
    OnJournalTrouble(absl::OkStatus());
  }
  Commit();
}

void Engine::Commit() {
  const uint64_t committed =
      replica_counted_ ? std::min(local_durable_, replica_durable_) : local_durable_;
  durable_sequence_ = std::max(durable_sequence_, committed);
  if (Fenced()) {
    EnterFenced();
    return;
  }
  while (!held_replies_.empty() && held_replies_.front().sequence <= durable_sequence_) {
    auto release = std::move(held_replies_.front().release);
    held_replies_.pop_front();
    release(grpc::Status::OK);
  }
  DeliverCommitted();  // the fence is time-based: a second look could find it shut
}

void Engine::OnJournalTrouble(const absl::Status& trouble) {
  if (!trouble.ok()) {
    journal_writable_ = false;
    journal_trouble_ = absl::StrCat("the journal cannot write (", trouble.message(),
                                    "); acdd refuses state changes until it can");
    Log(journal_trouble_);
    // Their inputs are in the core but not on disk: not acknowledged. A retry is answered from
    // the retry ledger whether or not the record makes it to disk later.
    std::deque<HeldReply> failed;
    failed.swap(held_replies_);
    for (HeldReply& held : failed) {
      held.release(grpc::Status(grpc::StatusCode::UNAVAILABLE, journal_trouble_));
    }
    return;
  }
  journal_writable_ = true;
  journal_trouble_.clear();
  Log("the journal writes again; acdd takes state changes again");
  if (drain_requested_ && !core_->draining()) {
    RunInput(Timed::kNo, [](JournalInput& input) { input.mutable_drain_begun(); });
  }
  RearmWakeup();
}

// ---------------------------------------------------------------------------------------------
// Inputs, output, time.

absl::Time Engine::Now() { return std::max(WholeMicros(clock_->Now()), time_floor_); }

template <typename Fill>
grpc::Status Engine::RunInput(Timed timed, Fill fill, const InputReplies& replies) {
  if (standby_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, kStandby);
  if (!journal_writable_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, journal_trouble_);
  if (Fenced()) {
    EnterFenced();
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, kFenced);
  }
  JournalInput input = InputAt(Now());
  fill(input);
  Journal(input);
  const auto started = std::chrono::steady_clock::now();
  const absl::Status status = ApplyInput(*core_, input, replies);
  if (timed == Timed::kRoutingDecision) {
    metrics_.routing_decision_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    metrics_.engine_events.Add(1);
  }
  WriteCommands();
  LogNotices();
  RearmWakeup();
  PublishPolicy();
  return ToGrpcStatus(status);
}

void Engine::PublishPolicy() {
  if (core_ == nullptr || &core_->router().policy() == published_) return;
  std::shared_ptr<const routing::CompiledPolicy> running = core_->router().shared_policy();
  // GetPolicy reads its YAML on this thread, and SetPolicy's diff on gRPC's: made here, before
  // either asks. A policy applied live came with it made (DiffFrom, the SIGHUP's compile); one
  // that recovery or a standby's replication applied has it made here, once.
  running->yaml();
  published_ = running.get();
  {
    absl::MutexLock lock(&published_mu_);
    std::swap(published_policy_, running);
  }
  // `running` now holds the policy replaced: if it was the last holder, it goes here, unlocked.
}

std::shared_ptr<const routing::CompiledPolicy> Engine::published_policy() const {
  absl::MutexLock lock(&published_mu_);
  return published_policy_;
}

void Engine::WriteCommands() {
  for (OutgoingCommand& out : core_->TakeCommands()) {
    held_commands_.push_back({last_sequence_, std::move(out)});
  }
  ReleaseCommands();
}

void Engine::ReleaseCommands() {
  if (!Fenced()) DeliverCommitted();
}

void Engine::DeliverCommitted() {
  if (together_ > 0) return;
  while (!held_commands_.empty() && held_commands_.front().sequence <= durable_sequence_) {
    OutgoingCommand out = std::move(held_commands_.front().out);
    held_commands_.pop_front();
    Deliver(std::move(out));
  }
}

void Engine::Deliver(OutgoingCommand out) {
  auto it = links_.find(out.switch_id);
  if (it == links_.end()) return;  // not connected: the command waits in the core's outbox
  SwitchLink& link = it->second;
  if (link.local) {
    // Delivered once the current input is done, as a stream write would be.
    asio::post(io_, [this, out = std::move(out), deliver = link.local] {
      OnCommandWritten(out.switch_id, *out.command, /*writer=*/nullptr);
      deliver(*out.command);
    });
    return;
  }
  if (link.stream == nullptr || CutOffIfBehind(out.switch_id, link)) return;
  link.stream->SendCommand(*out.command);
}

bool Engine::CutOffIfBehind(const std::string& switch_id, SwitchLink& link) {
  if (link.stream->backlog() < options_.max_stream_backlog + link.first_unwritten) return false;
  Log(absl::StrCat("switch ", switch_id,
                   " reads its commands too slowly; closing its stream "
                   "(commands wait in the outbox for the reconnect)"));
  RetireStream(link, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                  "command stream backlog too large; reconnect"));
  return true;
}

void Engine::RetireStream(SwitchLink& link, const grpc::Status& status) {
  link.stream->Abort(status);
  link.retired.push_back(link.stream);
  link.stream = nullptr;
}

void Engine::AccountForRetired(const std::string& switch_id, SwitchLink& link) {
  for (CommandSink* retired : link.retired) {
    CommandSink::Delivered delivered = retired->TakeDelivered();
    for (const acd::v1::Command& command : delivered.written) {
      OnCommandWritten(switch_id, command, retired);
    }
    for (const acd::v1::Command& command : delivered.in_flight) {
      if (ReservedCallId(command) != nullptr) OnCommandWritten(switch_id, command, retired);
    }
  }
}

void Engine::RearmWakeup() {
  // Refused inputs: Tick, the journal and the fence re-arm.
  if (stopping_ || standby_ || !journal_writable_ || fenced_) return;
  std::optional<absl::Time> next = core_->NextWakeup();
  if (next == armed_for_) return;
  armed_for_ = next;
  wakeup_.cancel();
  if (!next) return;
  wakeup_.expires_at(clock_->ToSteady(*next));
  wakeup_.async_wait([this](const asio::error_code& error) {
    if (error || stopping_) return;  // cancelled: re-armed for another time, or stopping
    armed_for_.reset();
    RunInput(Timed::kRoutingDecision, [](JournalInput& input) { input.mutable_time_passed(); });
  });
}

void Engine::LogNotices() {
  for (const Core::Notice& notice : core_->TakeNotices()) {
    notices_.Log(notice.topic, notice.line, Now());
  }
}

void Engine::Tick() {
  WatchForAStalledJournal();
  notices_.Flush(Now());
  RunInput(Timed::kNo, [](JournalInput& input) { input.mutable_time_passed(); });
  tick_.expires_after(kTickEvery);
  tick_.async_wait([this](const asio::error_code& error) {
    if (!error && !stopping_) Tick();
  });
}

void Engine::RefreshFigures() {
  if (core_ != nullptr) observer_.Refresh(core_->router(), Now());
  figures_timer_.expires_after(std::chrono::seconds(1));
  figures_timer_.async_wait([this](const asio::error_code& error) {
    if (!error && !stopping_) RefreshFigures();
  });
}

// ---------------------------------------------------------------------------------------------
// Switch side.

grpc::Status Engine::EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                                 acd::v1::EnqueueCallResponse* response) {
  return RunInput(
      Timed::kRoutingDecision,
      [&](JournalInput& input) { *input.mutable_enqueue_call() = request; },
      {.enqueue_call = response});
}

grpc::Status Engine::ReportCallEvent(const acd::v1::CallEvent& event,
                                     acd::v1::CallEventResponse* response) {
  return RunInput(
      Timed::kRoutingDecision, [&](JournalInput& input) { *input.mutable_call_event() = event; },
      {.call_event = response});
}

grpc::Status Engine::ListCalls(const acd::v1::ListCallsRequest& request,
                               acd::v1::ListCallsResponse* response) {
  return ToGrpcStatus(core_->ListCalls(request, response, Now()));
}

grpc::Status Engine::OpenCommandStream(const std::string& switch_id, CommandSink* stream,
                                       std::function<bool()> admitted) {
  grpc::Status refused;
  if (admitted && !admitted()) {  // admitted, then its token was removed before it got here
    refused = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kTokenRemoved);
  } else if (!journal_writable_) {  // the reconnect could not be journaled: an old stream stays
    refused = grpc::Status(grpc::StatusCode::UNAVAILABLE, journal_trouble_);
  } else if (Fenced()) {  // likewise
    EnterFenced();
    refused = grpc::Status(grpc::StatusCode::UNAVAILABLE, kFenced);
  }
  if (!refused.ok()) {
    stream->Close(refused);
    return refused;
  }
  SwitchLink& link = links_[switch_id];
  if (link.stream != nullptr) {
    // Stop the old stream now, unflushed: what it has not written goes out on the new one.
    RetireStream(link, grpc::Status(grpc::StatusCode::ABORTED,
                                    "another command stream for this switch took over"));
  }
  AccountForRetired(switch_id, link);
  // What is held for this switch is unwritten in its outbox, so the reconnect gives it again.
  std::erase_if(held_commands_,
                [&](const HeldCommand& held) { return held.out.switch_id == switch_id; });
  std::vector<acd::v1::Command> pending;
  grpc::Status status = RunInput(
      Timed::kNo,
      [&](JournalInput& input) { input.mutable_switch_reconnected()->set_switch_id(switch_id); },
      {.reconnect = &pending});
  if (!status.ok()) {
    stream->Close(status);
    return status;
  }
  link.stream = stream;
  link.admitted = std::move(admitted);
  link.first_unwritten = pending.size();
  for (acd::v1::Command& command : pending) {
    held_commands_.push_back(
        {last_sequence_,
         OutgoingCommand{switch_id, std::make_shared<const acd::v1::Command>(std::move(command))}});
  }
  ReleaseCommands();
  return grpc::Status::OK;
}

void Engine::OnCommandWritten(const std::string& switch_id, const acd::v1::Command& command,
                              CommandSink* writer) {
  // Only the stream's own writes count down what it started with (not an old stream's, late).
  if (auto it = links_.find(switch_id);
      it != links_.end() && it->second.stream == writer && it->second.first_unwritten > 0) {
    --it->second.first_unwritten;
  }
  // A write the outbox already counted changes nothing and is not journaled again: an offer both
  // the old stream and the one that took over wrote, or a report that came after the takeover
  // had counted it.
  if (!core_->AwaitsWrite(switch_id, command.sequence())) return;
  // Refused while the journal cannot write: the command then stays unwritten in the outbox and a
  // reconnect gives it again (a switch tells repeats by their sequence).
  RunInput(Timed::kNo, [&](JournalInput& input) {
    acd::journal::v1::CommandWritten* written = input.mutable_command_written();
    written->set_switch_id(switch_id);
    written->set_sequence(command.sequence());
  });
}

void Engine::CommandStreamGone(const std::string& switch_id, CommandSink* stream) {
  auto it = links_.find(switch_id);
  if (it == links_.end()) return;
  if (it->second.stream == stream) it->second.stream = nullptr;
  std::erase(it->second.retired, stream);
}

void Engine::AttachLocalSwitch(const std::string& switch_id,
                               std::function<void(const acd::v1::Command&)> deliver) {
  links_[switch_id].local = std::move(deliver);
}

// ---------------------------------------------------------------------------------------------
// Agents.

grpc::Status Engine::Login(const acd::v1::LoginRequest& request, acd::v1::AgentInfo* response) {
  return RunInput(
      Timed::kNo, [&](JournalInput& input) { *input.mutable_login() = request; },
      {.agent = response});
}

grpc::Status Engine::SetAgentState(const acd::v1::SetAgentStateRequest& request,
                                   acd::v1::AgentInfo* response) {
  return RunInput(
      Timed::kNo, [&](JournalInput& input) { *input.mutable_set_agent_state() = request; },
      {.agent = response});
}

grpc::Status Engine::Logout(const acd::v1::LogoutRequest& request) {
  return RunInput(Timed::kNo, [&](JournalInput& input) { *input.mutable_logout() = request; });
}

// ---------------------------------------------------------------------------------------------
// Operations.

grpc::Status Engine::ListQueues(acd::v1::ListQueuesResponse* response) {
  return ToGrpcStatus(core_->ListQueues(response, Now()));
}

grpc::Status Engine::ListAgents(const acd::v1::ListAgentsRequest& request,
                                acd::v1::ListAgentsResponse* response) {
  return ToGrpcStatus(core_->ListAgents(request, response));
}

grpc::Status Engine::GetCall(const acd::v1::GetCallRequest& request, acd::v1::CallInfo* response) {
  return ToGrpcStatus(core_->GetCall(request, response, Now()));
}

grpc::Status Engine::GetPolicy(acd::v1::PolicyInfo* response) {
  return ToGrpcStatus(core_->GetPolicy(response));
}

grpc::Status Engine::SetPolicy(const acd::v1::SetPolicyRequest& request,
                               const PolicyRequestPrepared& prepared,
                               acd::v1::SetPolicyResponse* response) {
  // A dry run changes nothing, so it is not an input to journal.
  if (request.validate_only()) {
    return ToGrpcStatus(core_->SetPolicy(request, response, Now(), &prepared));
  }
  return RunInput(
      Timed::kNo, [&](JournalInput& input) { *input.mutable_set_policy() = request; },
      {.set_policy = response, .set_policy_prepared = &prepared});
}

void Engine::ReloadPolicyText(
    const std::string& yaml, const std::string& source,
    const absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>>& compiled) {
  grpc::Status status = RunInput(Timed::kNo,
                                 [&](JournalInput& input) {
                                   input.mutable_policy_text()->set_yaml(yaml);
                                   input.mutable_policy_text()->set_source(source);
                                 },
                                 {.policy_text_compiled = &compiled});
  if (standby_) {
    Log("SIGHUP: a standby takes the leader's policy; the file is read again if it takes over");
  } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    Log(absl::StrCat("SIGHUP: the policy file was not applied: ", status.error_message()));
  }
}

void Engine::OpenQueueWatch(QueueWatchWriter* stream, absl::Duration interval,
                            std::function<bool()> admitted) {
  if (admitted && !admitted()) {
    stream->Close(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, kTokenRemoved));
    return;
  }
  QueueWatch& watch = watches_[stream];
  watch.stream = stream;
  watch.admitted = std::move(admitted);
  watch.interval = interval;
  watch.timer = std::make_unique<asio::steady_timer>(io_);
  TickWatch(stream);
}

void Engine::TickWatch(QueueWatchWriter* stream) {
  auto it = watches_.find(stream);
  if (it == watches_.end() || !stream->open()) return;
  if (stream->backlog() == 0) {  // a wallboard that reads slowly skips snapshots, never queues them
    std::shared_ptr<const grpc::ByteBuffer> table = WatchTable();
    // It shows what inputs did, so it waits for them to be durable like a reply.
    WhenDurable([this, stream, table](const grpc::Status& journal) {
      // A copy of a ByteBuffer shares its slices: the bytes are not copied.
      if (journal.ok() && watches_.contains(stream)) stream->Send(*table);
    });
  }
  it->second.timer->expires_after(absl::ToChronoNanoseconds(it->second.interval));
  it->second.timer->async_wait([this, stream](const asio::error_code& error) {
    if (!error && !stopping_) TickWatch(stream);
  });
}

std::shared_ptr<const grpc::ByteBuffer> Engine::WatchTable() {
  const absl::Time now = Now();  // the table's time, and what its freshness is judged by
  if (std::shared_ptr<const grpc::ByteBuffer> fresh = watch_tables_.Get(now)) return fresh;
  const auto started = std::chrono::steady_clock::now();
  acd::v1::ListQueuesResponse table;
  (void)core_->ListQueues(&table, now);
  auto serialized = std::make_shared<grpc::ByteBuffer>();
  bool own_buffer = false;
  if (grpc::Status s = grpc::SerializationTraits<acd::v1::ListQueuesResponse>::Serialize(
          table, serialized.get(), &own_buffer);
      !s.ok()) {
    Crash(absl::StrCat("the queues table does not serialize: ", s.error_message()));
  }
  watch_tables_.Put(serialized, now, absl::FromChrono(std::chrono::steady_clock::now() - started));
  return serialized;
}

void Engine::QueueWatchGone(QueueWatchWriter* stream) {
  auto it = watches_.find(stream);
  if (it == watches_.end()) return;
  it->second.timer->cancel();
  watches_.erase(it);
}

void Engine::DropStreamsNoLongerAdmitted() {
  const grpc::Status revoked(grpc::StatusCode::UNAUTHENTICATED, kTokenRemoved);
  size_t dropped = 0;
  for (auto& [switch_id, link] : links_) {
    if (link.stream != nullptr && link.admitted && !link.admitted()) {
      RetireStream(link, revoked);  // what it has not written stays in the outbox for a reconnect
      ++dropped;
    }
  }
  for (auto& [stream, watch] : watches_) {
    if (watch.admitted && !watch.admitted()) {
      watch.timer->cancel();
      stream->Abort(revoked);
      ++dropped;
    }
  }
  if (dropped > 0) Log(absl::StrCat(dropped, " streams ended: their tokens were removed"));
}

size_t Engine::open_streams() const {
  size_t open = watches_.size();
  for (const auto& [switch_id, link] : links_) open += link.stream != nullptr;
  return open;
}

void Engine::BeginDrain() {
  drain_requested_ = true;
  // Refused only while the journal cannot write; it is then journaled once the journal can.
  RunInput(Timed::kNo, [](JournalInput& input) { input.mutable_drain_begun(); });
  for (auto& [switch_id, link] : links_) {
    if (link.stream != nullptr) link.stream->Close(grpc::Status::OK);
  }
  for (auto& [stream, watch] : watches_) {
    watch.timer->cancel();
    stream->Close(grpc::Status::OK);
  }
  Log("draining: no new calls; streams closed");
}

// ---------------------------------------------------------------------------------------------
// The fence of an HA leader (its replication: engine_replica.cc).

void Engine::EnterFenced() {
  if (fenced_) return;
  fenced_ = true;
  if (!drain_requested_) {  // a leader that resigned on its way out shut it itself
    Log("the fence is shut: acdd cannot confirm in time that it still leads; it acknowledges "
        "nothing (state changes are refused, reads answer) until it can, or steps down");
  }
  std::deque<HeldReply> failed;
  failed.swap(held_replies_);
  for (HeldReply& held : failed) held.release(grpc::Status(grpc::StatusCode::UNAVAILABLE, kFenced));
}

void Engine::WatchTheFence() {
  if (Fenced()) {
    EnterFenced();
  } else if (fenced_) {
    fenced_ = false;
    Log("the fence is open again: acdd takes state changes again");
    Commit();
    RearmWakeup();
  }
  fence_timer_->expires_after(std::chrono::milliseconds(20));
  fence_timer_->async_wait([this](const asio::error_code& error) {
    if (!error && !stopping_) WatchTheFence();
  });
}

}  // namespace acd::daemon
