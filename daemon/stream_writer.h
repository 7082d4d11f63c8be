// StreamWriter is a server-streaming gRPC reactor fed by the engine thread: the engine queues
// messages with Send(), and they are written one at a time (gRPC allows one write in flight).
// The next write starts straight from gRPC's write-done callback, so a busy stream is not slowed
// by a hop through the engine per message; only the bookkeeping callbacks run on the engine.
//   auto* w = new StreamWriter<Command>(engine_io, on_written, on_gone);
//   w->Send(command);             // engine thread
//   w->Close(grpc::Status::OK);   // flushes what is queued, then finishes
#ifndef ACD_DAEMON_STREAM_WRITER_H_
#define ACD_DAEMON_STREAM_WRITER_H_

#include <deque>
#include <functional>
#include <utility>

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
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

  void Send(Message message) {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    pending_.push_back(std::move(message));
    if (!writing_) WriteNextLocked();
  }
  // Finishes once what is queued has been written (a graceful close, e.g. on shutdown).
  void Close(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
    close_status_ = status;
    if (!writing_) FinishOnceLocked(close_status_);
  }
  // Finishes at once (after the write in flight, if any), dropping what is still queued.
  void Abort(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (finish_called_) return;
    closing_ = true;
    close_status_ = status;
    if (writing_) {
      pending_.erase(pending_.begin() + 1, pending_.end());  // keep only the one in flight
    } else {
      pending_.clear();
      FinishOnceLocked(close_status_);
    }
  }
  bool open() const {
    absl::MutexLock lock(&mu_);
    return !closing_;
  }
  // Messages queued and not yet written (the one in flight included).
  size_t backlog() const {
    absl::MutexLock lock(&mu_);
    return pending_.size();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok || cancelled_) {  // the client went away; unwritten messages stay with the caller
      closing_ = true;
      FinishOnceLocked(grpc::Status::CANCELLED);
      return;
    }
    if (on_written_) {
      asio::post(*engine_, [this, written = std::move(pending_.front())] { on_written_(written); });
    }
    pending_.pop_front();
    if (!pending_.empty()) {
      WriteNextLocked();
    } else if (closing_) {
      FinishOnceLocked(close_status_);
    }
  }
  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    closing_ = true;
    if (!writing_) FinishOnceLocked(grpc::Status::CANCELLED);
  }
  void OnDone() override {
    // After OnDone gRPC calls nothing more; the engine forgets the stream, then it is deleted.
    // on_written tasks posted earlier run before this one (the engine runs tasks in order).
    asio::post(*engine_, [this] {
      if (on_gone_) on_gone_(this);
      delete this;
    });
  }

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    this->StartWrite(&pending_.front());
  }
  void FinishOnceLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_called_) return;
    finish_called_ = true;
    this->Finish(status);
  }

  asio::io_context* const engine_;
  const std::function<void(const Message&)> on_written_;
  const std::function<void(StreamWriter*)> on_gone_;
  mutable absl::Mutex mu_;
  std::deque<Message> pending_ ABSL_GUARDED_BY(mu_);  // front is in flight while writing_
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;  // no more sends; finish when the queue is written
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_STREAM_WRITER_H_
