// Engine is acdd's shell around its deterministic core: the one engine thread (an asio
// io_context), the journal the core's inputs go to, the wake-up timer the core asks for, the
// command streams and switch sessions (and the in-process demo switch) its commands are written
// to, the wallboard watches, and the once-a-second refresh of the figures. gRPC handlers check a
// request, Post() it here and finish the RPC from here. Each input reads the injected clock once,
// is journaled with that time and handed to the core; nothing on this thread blocks.
//
// With a data dir, Start() first recovers the core from the snapshot and journal found there
// (daemon/recovery.h), has snapshots taken by a copy of the core that follows the journal on a
// thread of its own (daemon/snapshot_taker.h), and output
// commit holds: a reply (WhenDurable), a command or a wallboard message caused by an input leaves
// only once the journal says that input's record is durable. While the journal cannot write,
// state-changing inputs are refused (UNAVAILABLE, saying why) and reads are still answered.
//
// As one replica of an HA pair (daemon/ha/replica.h) it starts as a standby: its journal takes the
// leader's records and its core applies them, until Promote makes it the leader. A leader's output
// commit then also waits for its counted standby's journal, and every release asks the
// leadership's fence first (see the HA section below).
//   Engine engine(policy, "deploy/policy.example.yaml", {.journal = {.data_dir = "/var/lib/acd"}});
//   if (absl::Status s = engine.Start(); !s.ok()) ...
//   engine.Post([&] {
//     grpc::Status s = engine.EnqueueCall(request, &response);
//     engine.WhenDurable([=](const grpc::Status& journal) { reactor->Finish(journal.ok() ? s :
//     journal); });
//   });
#ifndef ACD_DAEMON_ENGINE_H_
#define ACD_DAEMON_ENGINE_H_

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "acd/v1/acd.pb.h"
#include "asio/executor_work_guard.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"
#include "daemon/clock.h"
#include "daemon/command_sink.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/journal/file_journal.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/log.h"
#include "daemon/log_limiter.h"
#include "daemon/shared_table.h"
#include "daemon/snapshot_taker.h"
#include "daemon/stream_writer.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits for acd.v1 messages
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/status.h"
#include "metrics/acd_metrics.h"
#include "metrics/call_observer.h"
#include "routing/router.h"

namespace acd::daemon {

// A switch's command stream (StreamCommands): one of the two kinds of CommandSink.
class CommandWriter final : public StreamWriter<acd::v1::Command>, public CommandSink {
 public:
  using StreamWriter::StreamWriter;
  void SendCommand(acd::v1::Command command) override { Send(std::move(command)); }
  size_t backlog() const override { return StreamWriter::backlog(); }
  void Close(const grpc::Status& status) override { StreamWriter::Close(status); }
  void Abort(const grpc::Status& status) override { StreamWriter::Abort(status); }
  Delivered TakeDelivered() override {
    Unreported unreported = TakeUnreported();
    Delivered delivered{.written = std::move(unreported.written)};
    if (unreported.in_flight) delivered.in_flight.push_back(std::move(*unreported.in_flight));
    return delivered;
  }
};
// A wallboard's queue watch (WatchQueues): the queues table, serialized once for all of them.
using QueueWatchWriter = StreamWriter<grpc::ByteBuffer>;

struct JournalOptions {
  // Where the journal's segments live; empty: acdd keeps its state in memory only.
  std::string data_dir;
  journal::SyncMode sync = journal::SyncMode::kWrite;
  // A corrupt record in the middle of the journal: refuse to start (kStop), or cut the journal there.
  journal::RecoverMode recover = journal::RecoverMode::kStop;
  uint64_t segment_bytes = 64ull << 20;
  // Recovery leaves out this record and every later one, cutting them (see --journal_stop_before).
  uint64_t stop_before = journal::kReadToTheEnd;
  // When snapshots are taken, and what retention keeps.
  SnapshotOptions snapshots;
};

struct EngineOptions {
  CoreOptions core;
  JournalOptions journal;
  // A stream whose client reads slower than this many queued messages is closed
  // (RESOURCE_EXHAUSTED); commands stay in the outbox for the reconnect.
  size_t max_stream_backlog = 10000;
  // One replica of an HA pair (daemon/ha/replica.h): start as a standby. Start() recovers the core
  // and opens the journal but journals nothing of its own: the journal takes only the leader's
  // records (Replicate) until Promote, no timer runs and no input is taken.
  bool standby = false;
};

class Engine {
 public:
  // `clock` (not owned; null: a RealClock of the engine's own) must outlive the engine.
  Engine(std::shared_ptr<const routing::CompiledPolicy> policy, std::string policy_source,
         EngineOptions options = {}, const Clock* clock = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the engine thread and, with a data dir, recovers the state from it first (returns once
  // recovered). An error (a corrupt journal, a data dir that cannot be written) says what to do.
  absl::Status Start();
  // Runs what is queued, then stops the thread. Call after the gRPC server has shut down.
  void Stop();
  void Post(std::function<void()> task);
  // Engine thread: runs `release` once every input handed to the core so far is durable (at once
  // without a journal). Its argument is OK, or UNAVAILABLE when the journal failed first: the
  // input's effect may or may not survive a restart, and a retry is answered either way.
  void WhenDurable(std::function<void(const grpc::Status& journal)> release);
  asio::io_context* io() { return &io_; }
  // What acdd exports; its readers (the HTTP threads) never block the engine.
  metrics::AcdMetrics& metrics() { return metrics_; }

  // --- Everything below runs on the engine thread only (the core checks it). ---
  grpc::Status EnqueueCall(const acd::v1::EnqueueCallRequest& request,
                           acd::v1::EnqueueCallResponse* response);
  grpc::Status ReportCallEvent(const acd::v1::CallEvent& event,
                               acd::v1::CallEventResponse* response);
  grpc::Status ListCalls(const acd::v1::ListCallsRequest& request,
                         acd::v1::ListCallsResponse* response);
  // Takes over as `switch_id`'s command stream or session (ending an older one, ABORTED) and
  // delivers what is pending. `admitted` says whether the stream's caller may still have it (its
  // token not removed since): see DropStreamsNoLongerAdmitted. Null: always. On an error the
  // stream is closed with it (and an older one stays).
  grpc::Status OpenCommandStream(const std::string& switch_id, CommandSink* stream,
                                 std::function<bool()> admitted = nullptr);
  // Stream callbacks: `writer` (null: an in-process switch) wrote a command to the transport; a
  // stream is gone.
  void OnCommandWritten(const std::string& switch_id, const acd::v1::Command& command,
                        CommandSink* writer);
  void CommandStreamGone(const std::string& switch_id, CommandSink* stream);
  // Runs `requests` (inputs handed in a row, e.g. what one read of a switch's session brought),
  // holding back the commands they make until all have run: the answers they give (through
  // WhenDurable) leave before the commands they caused.
  template <typename Requests>
  void RunTogether(Requests requests) {
    ++together_;
    requests();
    --together_;
    ReleaseCommands();
  }
  // A stream whose switch leaves this many commands unwritten is cut off (see Deliver).
  size_t max_stream_backlog() const { return options_.max_stream_backlog; }
  // Plays `switch_id` in-process: its commands go to `deliver` (engine thread) instead of a stream.
  void AttachLocalSwitch(const std::string& switch_id,
                         std::function<void(const acd::v1::Command&)> deliver);

  grpc::Status Login(const acd::v1::LoginRequest& request, acd::v1::AgentInfo* response);
  grpc::Status SetAgentState(const acd::v1::SetAgentStateRequest& request,
                             acd::v1::AgentInfo* response);
  grpc::Status Logout(const acd::v1::LogoutRequest& request);

  grpc::Status ListQueues(acd::v1::ListQueuesResponse* response);
  grpc::Status ListAgents(const acd::v1::ListAgentsRequest& request,
                          acd::v1::ListAgentsResponse* response);
  grpc::Status GetCall(const acd::v1::GetCallRequest& request, acd::v1::CallInfo* response);
  grpc::Status GetPolicy(acd::v1::PolicyInfo* response);
  // `prepared`: the request read and compiled on gRPC's thread (PreparePolicyRequest), with its
  // diff from published_policy() made there too (DiffFrom).
  grpc::Status SetPolicy(const acd::v1::SetPolicyRequest& request,
                         const PolicyRequestPrepared& prepared,
                         acd::v1::SetPolicyResponse* response);
  // Any thread: the policy in force, as the engine last published it (at start, after each input
  // it takes or records it replicates, at promotion; it may be a moment behind), for work made
  // against it off the engine thread, with its YAML made. Null until a core is made.
  std::shared_ptr<const routing::CompiledPolicy> published_policy() const;
  // A policy file re-read on SIGHUP: applied if valid, else refused with every problem logged.
  // `compiled` is routing::CompilePolicyText(yaml, source), made by the caller off this thread
  // (with its yaml() made too), so that a big policy does not hold the engine up.
  void ReloadPolicyText(
      const std::string& yaml, const std::string& source,
      const absl::StatusOr<std::shared_ptr<const routing::CompiledPolicy>>& compiled);
  // The shortest time one queues table serves the watches that tick (OpenQueueWatch).
  static constexpr absl::Duration kWatchTableShared = absl::Milliseconds(100);
  // Sends the queues table on `stream` now and every `interval`. The watches share it, serialized
  // once (daemon/shared_table.h): it is made at most once per kWatchTableShared, or per ten times
  // what the last one took to make, whichever is longer.
  void OpenQueueWatch(QueueWatchWriter* stream, absl::Duration interval,
                      std::function<bool()> admitted = nullptr);
  // After the tokens were re-read (SIGHUP): ends, UNAUTHENTICATED, every command stream and queue
  // watch whose caller is no longer admitted, so a removed token stops streams too.
  void DropStreamsNoLongerAdmitted();
  void QueueWatchGone(QueueWatchWriter* stream);

  // --- One replica of an HA pair (daemon/ha/replica.h). ---
  // Before Start(): `hook` is told, on the journal's thread, each time the local journal has made
  // more records durable (a standby reports it to the leader it follows); not of those that
  // WriteReplicated wrote on the follower's thread, which the follower reports itself.
  void SetDurableHook(std::function<void(uint64_t sequence)> hook) {
    durable_hook_ = std::move(hook);
  }
  // Any thread, after Start(): the local journal is durable through this record (0: no journal).
  uint64_t local_durable() const { return journal_ ? journal_->durable_sequence() : 0; }
  // Engine thread: the journal's last record and its epoch, where a follower resumes.
  uint64_t last_sequence() const { return last_sequence_; }
  uint64_t journal_epoch() const { return journal_ ? journal_->epoch() : 0; }
  bool standby() const { return standby_; }
  // Standby: the leader's records `first`..`last` (framed as in a segment, checked by the
  // follower; `epoch` the last one's) go to the journal as they are (AppendReplicated), and each is
  // applied to the core as recovery applies it (ApplyReplicated). One that the core cannot take
  // crashes acdd, naming it: the leader took it, so the copies have parted.
  // Replicate does both on the engine thread. A follower writes on its own thread instead
  // (WriteReplicated), so that the standby's journal (and its acknowledgement to the leader) never
  // waits for the engine to apply what came before: a standby's journal takes records from that
  // one thread only, and the engine appends again only after Promote, which runs after the
  // follower has stopped.
  void Replicate(const std::string& records, uint64_t first, uint64_t last, uint64_t epoch) {
    AppendReplicated(records, first, last, epoch);
    ApplyReplicated(records, first, last);
  }
  void AppendReplicated(absl::string_view records, uint64_t first, uint64_t last, uint64_t epoch);
  // The follower's thread: the records go to the journal, which writes them there and then when
  // its own thread is idle and syncs are writes (FileJournal::WriteFramed), and to an engine task
  // that applies them.
  // True: they are durable, which the hook is not told (the caller acknowledges them); the task
  // tells the engine. False: the journal's thread writes them and tells the hook and the engine.
  bool WriteReplicated(std::string records, uint64_t first, uint64_t last, uint64_t epoch);
  void ApplyReplicated(const std::string& records, uint64_t first, uint64_t last);
  struct Leading {
    uint64_t epoch = 0;  // the leader key's revision in etcd
    // Whether effects may leave now (the leadership's fence); asked at every release.
    std::function<bool()> fence_open;
    journal::FileJournal::Tap tap;  // each record appended, for the standby's feed
  };
  // Engine thread, standby: takes over as the leader. `leading.epoch` must be above every epoch in
  // the journal (else an error, and nothing changed). Journals this acdd's start as a restart does
  // (its settings; its policy file, if that changed since it last gave a policy), starts the
  // timers and takes inputs. From now on an effect leaves only while the fence is open: while it
  // is shut, state changes are refused and replies waiting for the journal fail UNAVAILABLE
  // (reads still answer).
  absl::Status Promote(Leading leading);
  // Engine thread, leader: the standby's journal is durable through `sequence`. While the standby
  // is counted, output commit waits for its journal as well as for the local one.
  void OnReplicaDurable(uint64_t sequence);
  // Engine thread, leader: count the standby (durable through `replica_durable`) from now on, or
  // go on alone. Returns the last record journaled: every record acknowledged before this call is
  // at or below it.
  uint64_t CountReplica(bool counted, uint64_t replica_durable = 0);

  // Shutdown, step one: refuse new calls and close every stream cleanly.
  void BeginDrain();
  bool draining() const { return drain_requested_; }
  bool stopping() const { return stopping_; }  // Stop() was asked
  // Command and wallboard streams still open (drained when 0).
  size_t open_streams() const;

 private:
  // Where one switch's commands go: its stream, or an in-process switch.
  struct SwitchLink {
    CommandSink* stream = nullptr;   // its command stream or session
    std::function<bool()> admitted;  // may `stream`'s caller still have it?
    // The commands `stream` started with (what waited for the switch), not written yet: they do
    // not count against --max_stream_backlog, or a switch away long enough could never catch up.
    size_t first_unwritten = 0;
    std::function<void(const acd::v1::Command&)> local;
    // Streams of this switch ended by acdd (taken over, cut off, token removed) that gRPC is not
    // done with yet: reports of their last writes may still be on their way (AccountForRetired).
    std::vector<CommandSink*> retired;
  };
  struct QueueWatch {
    QueueWatchWriter* stream;
    std::function<bool()> admitted;
    absl::Duration interval;
    std::unique_ptr<asio::steady_timer> timer;
  };

  // A command the core made, waiting until the input that made it (`sequence`) is durable.
  struct HeldCommand {
    uint64_t sequence;
    OutgoingCommand out;
  };
  struct HeldReply {
    uint64_t sequence;
    std::function<void(const grpc::Status&)> release;
  };

  // Whether an input is one of the routing decisions acd_routing_decision_seconds times and
  // acd_engine_events_total counts (a call arriving, a call event, a timer falling due).
  enum class Timed : bool { kNo, kRoutingDecision };
  // Hands the core one state-changing input at the clock's time (`fill` sets which), journaling it
  // first; then holds the commands it made until that record is durable, logs its notices and
  // re-arms the wake-up for the core's next deadline. Refused while the journal cannot write.
  template <typename Fill>
  grpc::Status RunInput(Timed timed, Fill fill, const InputReplies& replies = {});
  absl::Time Now();
  // Recovery (engine thread, before anything else runs): the core from the data dir, or a new one.
  absl::Status Recover();
  // Continues the journal `scan` read (cut already), on the journal thread.
  absl::Status OpenJournal(const journal::JournalScan& scan);
  void Journal(const JournalInput& input);
  // The snapshot taker's word (posted from its thread), for the operator's log.
  void OnSnapshot(const SnapshotReport& report);
  void OnDurable(uint64_t sequence);
  // Moves the committed sequence (the local journal's durable one, and the standby's while it is
  // counted) and releases what waited for it, while the fence is open. The fence is looked at
  // once: replies and the commands their inputs caused leave together or not at all (a session
  // that ends once its last answer left must not end before the commands those answers caused).
  void Commit();
  // Journals this acdd's start on its journal: `created` on an empty one, else `started`.
  void JournalStart();
  // With snapshots on and a core to copy: starts the snapshot taker (once).
  void StartSnapshots();
  // HA leader: whether the fence is shut now; EnterFenced/LeaveFenced act on a change.
  bool Fenced() const { return fence_open_ && !fence_open_(); }
  void EnterFenced();
  void WatchTheFence();  // every 20 ms while leading
  void OnJournalTrouble(const absl::Status& trouble);
  // Every tick: a journal write that has not finished for a whole tick counts as trouble.
  void WatchForAStalledJournal();
  void WriteCommands();
  // Delivers the commands of committed inputs while the fence is open (after a task run together,
  // not inside it); DeliverCommitted when the caller has looked at the fence already.
  void ReleaseCommands();
  void DeliverCommitted();
  void Deliver(OutgoingCommand out);
  // Whether `link`'s stream (`switch_id`'s) leaves more commands unwritten than
  // --max_stream_backlog beyond those it started with: if so it is cut off (RESOURCE_EXHAUSTED,
  // logged) and retired; what it did not write stays in the outbox.
  bool CutOffIfBehind(const std::string& switch_id, SwitchLink& link);
  // Ends `link`'s stream at once with `status` (what it did not write stays in the outbox) and
  // keeps it among the retired until gRPC is done with it.
  void RetireStream(SwitchLink& link, const grpc::Status& status);
  // Before `switch_id` reconnects: what its retired streams delivered and the engine has not
  // heard of yet counts as written (an offer in a write still in flight too: the switch may have
  // it), so that the switch gets such an offer again marked resent whichever of two threads ran
  // first.
  void AccountForRetired(const std::string& switch_id, SwitchLink& link);
  void RearmWakeup();
  void Tick();            // every few seconds: time moves on even when nothing happens
  void LogNotices();      // the core's notices since the last call, through notices_
  void RefreshFigures();  // once a second
  void PublishPolicy();   // published_policy() catches up with the core's (its YAML made)
  void TickWatch(QueueWatchWriter* stream);
  // The queues table for the watches: the last one made while it is fresh enough, else a new one.
  std::shared_ptr<const grpc::ByteBuffer> WatchTable();

  std::unique_ptr<RealClock> own_clock_;
  const Clock* const clock_;
  // The policy acdd was started with: a new core's, or the one a recovered core may take.
  const std::shared_ptr<const routing::CompiledPolicy> startup_policy_;
  const std::string startup_policy_source_;
  asio::io_context io_{1};  // one thread runs it: lets asio skip cross-thread locking work
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  const EngineOptions options_;
  metrics::AcdMetrics metrics_;
  metrics::CallObserver observer_{&metrics_};
  std::unique_ptr<Core> core_;  // made by Start(), on the engine thread
  mutable absl::Mutex published_mu_;  // taken once per policy change, and by SetPolicy's readers
  std::shared_ptr<const routing::CompiledPolicy> published_policy_ ABSL_GUARDED_BY(published_mu_);
  // Engine thread: what PublishPolicy published last, compared after each input without the
  // lock (published_policy_ holds it, so no other policy can take its address meanwhile).
  const routing::CompiledPolicy* published_ = nullptr;
  // The core's notices reach the log through it: a condition a client repeats is summarised.
  LogLimiter notices_{{},
                      [](absl::string_view line) { Log(line); },
                      [this](absl::string_view topic, uint64_t lines) {
                        metrics_.CountSuppressedLogLines(topic, lines);
                      }};

  // Output commit. Sequences are the journal's; without a journal both stay 0 and nothing waits.
  std::unique_ptr<journal::FileJournal> journal_;
  std::unique_ptr<SnapshotTaker> snapshots_;  // with a journal
  uint64_t last_sequence_ = 0;     // the last input journaled
  uint64_t durable_sequence_ = 0;  // committed: what replies and commands may leave after
  uint64_t local_durable_ = 0;     // the local journal's last word on what is durable
  uint64_t replica_durable_ = 0;   // the standby's (HA leader)
  bool replica_counted_ = false;   // output commit waits for the standby too
  // While the standby is counted: when each record not yet durable there was appended, for
  // acd_ha_replication_seconds.
  std::deque<std::pair<uint64_t, std::chrono::steady_clock::time_point>> replicating_;
  std::function<void(uint64_t)> durable_hook_;  // journal thread
  bool standby_ = false;
  std::optional<acd::v1::Policy> file_policy_;  // what the policy file last gave (see JournalStart)
  std::function<bool()> fence_open_;            // HA leader; null: always open
  bool fenced_ = false;                         // the fence was seen shut and not yet open again
  std::unique_ptr<asio::steady_timer> fence_timer_;
  std::deque<HeldCommand> held_commands_;
  int together_ = 0;  // inside RunTogether: commands wait for its end
  std::deque<HeldReply> held_replies_;
  bool journal_writable_ = true;
  std::string journal_trouble_;  // why state changes are refused, while they are
  bool journal_stalled_ = false;  // the trouble is a write that hangs (WatchForAStalledJournal)
  uint64_t durable_at_last_tick_ = 0;
  bool waited_at_last_tick_ = false;
  bool drain_requested_ = false;
  absl::Time time_floor_ = absl::InfinitePast();  // no input's time goes below the last one's

  asio::steady_timer wakeup_;
  std::optional<absl::Time> armed_for_;
  asio::steady_timer tick_;
  asio::steady_timer figures_timer_;
  absl::flat_hash_map<std::string, SwitchLink> links_;
  absl::flat_hash_map<QueueWatchWriter*, QueueWatch> watches_;
  SharedTable<grpc::ByteBuffer> watch_tables_{kWatchTableShared};
  bool stopping_ = false;  // Stop() was asked: timers no longer re-arm
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_ENGINE_H_
