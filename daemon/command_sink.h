// CommandSink is where one switch's commands are written: its command stream (StreamCommands) or
// its session (switch_session.h). The engine keeps one per connected switch and calls it on the
// engine thread only; a new one of the same switch takes over from the old.
//   sink->SendCommand(std::move(command));
//   CommandSink::Delivered delivered = old_sink->TakeDelivered();  // a new sink took over
//   if (sink->backlog() >= limit) sink->Abort(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
//   ...));
#ifndef ACD_DAEMON_COMMAND_SINK_H_
#define ACD_DAEMON_COMMAND_SINK_H_

#include <cstddef>
#include <vector>

#include "acd/v1/acd.pb.h"
#include "grpcpp/support/status.h"

namespace acd::daemon {

class CommandSink {
 public:
  // Queues `command` to be written; the sink reports it written (Engine::OnCommandWritten) once
  // it reached the transport.
  virtual void SendCommand(acd::v1::Command command) = 0;
  // Commands queued and not yet written.
  virtual size_t backlog() const = 0;
  // Ends the stream once what is queued is written (shutdown).
  virtual void Close(const grpc::Status& status) = 0;
  // Ends the stream at once, dropping what is queued (it stays in the outbox).
  virtual void Abort(const grpc::Status& status) = 0;

  // What the switch may have got from this sink that the engine has not heard of yet: commands
  // that reached the transport (their OnCommandWritten now never comes from the sink), and those
  // in the write still in flight, which the switch may get or not.
  struct Delivered {
    std::vector<acd::v1::Command> written;
    std::vector<acd::v1::Command> in_flight;
  };
  // Once acdd ended this sink (another took over, it was cut off, its token was removed), as the
  // switch reconnects: the engine accounts for them itself, so that the new sink's first commands
  // do not depend on which of two threads ran first.
  virtual Delivered TakeDelivered() = 0;

 protected:
  ~CommandSink() = default;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_COMMAND_SINK_H_
