// StreamWriter is a server-streaming gRPC reactor whose state lives on the engine thread: the
// engine queues messages with Send(), they are written one at a time (gRPC allows one write in
// flight), and gRPC's callbacks only post back into the engine. No locks.
//   auto* w = new StreamWriter<Command>(engine_executor, on_written, on_gone);
//   w->Send(command);      // engine thread
//   w->Close(grpc::Status::OK);
#ifndef ACD_DAEMON_STREAM_WRITER_H_
#define ACD_DAEMON_STREAM_WRITER_H_

#include <deque>
#include <functional>
#include <utility>

#define ASIO_STANDALONE
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "grpcpp/support/server_callback.h"

namespace acd::daemon {

template <typename Message>
class StreamWriter : public grpc::ServerWriteReactor<Message> {
 public:
  // `on_written(message)` runs on the engine thread after a message reached the transport;
  // `on_gone(this)` runs there once gRPC is done with the stream, after which it is deleted.
  StreamWriter(asio::io_context* engine, std::function<void(const Message&)> on_written,
               std::function<void(StreamWriter*)> on_gone)
      : engine_(engine), on_written_(std::move(on_written)), on_gone_(std::move(on_gone)) {}

  // Engine thread only.
  void Send(Message message) {
    if (closing_) return;
    pending_.push_back(std::move(message));
    if (!writing_) WriteNext();
  }
  // Finishes once what is queued has been written (a graceful close, e.g. on shutdown).
  void Close(const grpc::Status& status) {
    if (closing_) return;
    closing_ = true;
    close_status_ = status;
    if (!writing_) FinishOnce(close_status_);
  }
  bool open() const { return !closing_; }

  // gRPC callbacks: they only post into the engine.
  void OnWriteDone(bool ok) override {
    asio::post(*engine_, [this, ok] {
      writing_ = false;
      if (!ok || cancelled_) {  // the client went away; unwritten messages stay with the caller
        closing_ = true;
        FinishOnce(grpc::Status::CANCELLED);
        return;
      }
      Message written = std::move(pending_.front());
      pending_.pop_front();
      if (on_written_) on_written_(written);
      if (!pending_.empty()) {
        WriteNext();
      } else if (closing_) {
        FinishOnce(close_status_);
      }
    });
  }
  void OnCancel() override {
    asio::post(*engine_, [this] {
      cancelled_ = true;
      closing_ = true;
      if (!writing_) FinishOnce(grpc::Status::CANCELLED);
    });
  }
  void OnDone() override {
    asio::post(*engine_, [this] {
      if (on_gone_) on_gone_(this);
      delete this;
    });
  }

 private:
  void WriteNext() {
    writing_ = true;
    this->StartWrite(&pending_.front());
  }
  void FinishOnce(const grpc::Status& status) {
    if (finish_called_) return;
    finish_called_ = true;
    this->Finish(status);
  }

  asio::io_context* engine_;
  std::function<void(const Message&)> on_written_;
  std::function<void(StreamWriter*)> on_gone_;
  std::deque<Message> pending_;  // front is in flight while writing_
  bool writing_ = false;
  bool closing_ = false;        // no more sends; finish when the queue is written
  bool cancelled_ = false;
  bool finish_called_ = false;
  grpc::Status close_status_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_STREAM_WRITER_H_
