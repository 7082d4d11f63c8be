// SwitchSession is one switch's session (acd.v1.SwitchService.Session): a bidirectional stream
// that carries the switch's requests, acdd's answers and the switch's commands. The contract is
// the comment above SessionRequest in proto/acd/v1/acd.proto.
//
// Reads finish on gRPC's threads. Each read's requests are checked there as the unary RPCs check
// them (request_checks.h), pings are answered at once, and the rest wait in the inbox; one engine
// task takes everything the inbox holds when it runs, and the commands written since (for the
// outbox), so a burst of reads and writes wakes the engine once.
// It hands the requests to the engine together (Engine::RunTogether) and writes each answer once
// the input behind it is durable (Engine::WhenDurable), before the commands it caused. Once open,
// the session is its switch's CommandSink. What waits to be written leaves merged into one
// SessionResponse (StreamWriter with merge).
// Flow control: while kMaxInbox requests wait for the engine, or --max_stream_backlog messages
// wait to be written, reading stops; it starts again from a write's completion, once the engine
// took them (each request it took is answered) and the writes caught up. Answers never cut a
// session off (a reading switch may cause a burst of them); commands do, as on a command stream
// (Engine::Deliver counts backlog(), the commands not written yet).
// Why the callback API: a version on the completion-queue API, with a polling thread of its own,
// was measured (acdload --mode session, 2,000 calls/s) and used no less CPU (acdd 0.34-0.35 s
// per 1,000 calls against 0.32-0.33 s). The other services' callback methods keep gRPC's
// "nexting" threads polling the same epoll set, so they still read the session's socket and then
// wake the queue's thread. Only a server with no callback method at all would read on its own.
// Lifetime: gRPC holds the stream until OnDone; answers still waiting for the journal (and a
// clean close on its way) hold it after that; on the engine thread, the last of them deletes it.
//   grpc::ServerBidiReactor<SessionRequest, SessionResponse>* SwitchServiceImpl::Session(...) {
//     return new SwitchSession(engine_, access_, *std::move(caller));
//   }
#ifndef ACD_DAEMON_SWITCH_SESSION_H_
#define ACD_DAEMON_SWITCH_SESSION_H_

#include <atomic>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "acd/v1/acd.pb.h"
#include "daemon/access/access.h"
#include "daemon/command_sink.h"
#include "daemon/engine.h"
#include "daemon/stream_writer.h"
#include "grpcpp/support/server_callback.h"

namespace acd::daemon {

using SessionWriter =
    StreamWriter<acd::v1::SessionResponse,
                 grpc::ServerBidiReactor<acd::v1::SessionRequest, acd::v1::SessionResponse>>;

class SwitchSession final : public SessionWriter, public CommandSink {
 public:
  // Requests waiting for the engine before the session stops reading.
  static constexpr size_t kMaxInbox = 1000;

  // `caller` was admitted to Session; `access` (not owned) outlives the session.
  SwitchSession(Engine* engine, const Access* access, Caller caller);

  // CommandSink, on the engine thread once the session is open.
  void SendCommand(acd::v1::Command command) override;
  size_t backlog() const override { return commands_unwritten_.load(std::memory_order_relaxed); }
  void Close(const grpc::Status& status) override { SessionWriter::Close(status); }
  void Abort(const grpc::Status& status) override { SessionWriter::Abort(status); }
  Delivered TakeDelivered() override;

  void OnReadDone(bool ok) override;

 private:
  // One request on its way to the engine, with what the checks on gRPC's thread found.
  struct Request {
    acd::v1::SwitchMessage message;
    grpc::Status check;
  };

  // gRPC's thread: checks one request of a read; OK to keep reading.
  grpc::Status Take(acd::v1::SwitchMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(inbox_mu_);
  // The checks of a request other than `open` and `ping`; fills in the session's switch_id.
  grpc::Status CheckRequest(acd::v1::SwitchMessage& message);
  void WriteDone() override;  // gRPC's thread: reading starts again if it had stopped
  bool MustPauseReadingLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(inbox_mu_);
  // gRPC's thread, under the writer's lock: the commands among `written` go to the engine, one
  // task for all written until it runs (AfterWritten, once the lock is released, posts it).
  bool MessageWritten(acd::v1::SessionResponse&& written) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(writer_mutex());
  void AfterWritten() override { WakeEngine(); }
  void Gone() override;  // engine thread: gRPC is done with the stream

  // Engine thread.
  // Any thread: makes sure an engine task (RunEngineTask) will take what waits for the engine,
  // one task for everything that waits until it runs.
  void WakeEngine();
  void RunEngineTask();  // the commands written, then the inbox
  void Handle(Request& request);
  void Open(uint64_t request_id);
  // Answers `request_id` once what the engine did is durable: `status`, and with OK `answer`.
  void AnswerWhenDurable(acd::metrics::SessionRequest kind, uint64_t request_id,
                         grpc::Status status, acd::v1::AcdMessage answer);
  void CommandsWritten();  // the engine hears of the commands written
  // Deletes the session once gRPC is done with it and no answer waits; closes it (OK) once the
  // switch closed its side, everything it asked is answered and the commands released with the
  // answers are sent.
  void CloseIfFinished();

  Engine* const engine_;
  const Access* const access_;
  const Caller caller_;

  // Set by the read that opened the session (gRPC's thread), before the engine hears of it.
  std::string switch_id_;
  bool open_read_ = false;  // the first read's `open` was taken (gRPC's thread)

  acd::v1::SessionRequest incoming_;  // the read in flight
  absl::Mutex inbox_mu_;
  std::vector<Request> inbox_ ABSL_GUARDED_BY(inbox_mu_);
  bool reading_paused_ ABSL_GUARDED_BY(inbox_mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(inbox_mu_) = false;  // the switch closed its side (or failed)

  std::atomic<size_t> commands_unwritten_{0};  // sent by the engine, not written yet
  // Written, for the engine (CommandsWritten or TakeDelivered).
  std::vector<acd::v1::Command> written_ ABSL_GUARDED_BY(writer_mutex());
  std::atomic<bool> engine_task_posted_{false};  // RunEngineTask will run
  // Engine thread.
  bool linked_ = false;          // the engine's CommandSink for switch_id_
  size_t answers_waiting_ = 0;   // answers not yet released by the journal
  bool gone_ = false;            // gRPC is done with the stream
  bool reads_finished_ = false;  // the engine took the last request the switch will send
  bool close_posted_ = false;    // the clean close (CloseIfFinished) is posted
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SWITCH_SESSION_H_
