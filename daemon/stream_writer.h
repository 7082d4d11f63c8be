// StreamWriter is a server-streaming gRPC reactor fed by the engine thread: the engine queues
// messages with Send(), and they are written one at a time (gRPC allows one write in flight).
// The next write starts straight from gRPC's write-done callback, so a busy stream is not slowed
// by a hop through the engine per message; only the bookkeeping callbacks run on the engine.
// With `merge` set, what waits when a write starts leaves as one message (protobuf's MergeFrom,
// which appends repeated fields: for an envelope such as a session's SessionResponse), up to
// kMergeBytes. `Reactor` is the gRPC reactor it writes for: a server stream's by default, a
// bidirectional one for a class that also reads (switch_session.h). `Message` may be a
// grpc::ByteBuffer, serialized once and sent on many streams (no merge then).
//   auto* w = new StreamWriter<Command>(engine_io, on_written, on_gone);
//   w->Send(command);             // engine thread
//   w->Close(grpc::Status::OK);   // flushes what is queued, then finishes
// A stream that another takes over from (a switch reconnected) hands over what it delivered that
// on_written has not heard of yet: TakeUnreported().
// The writer's lock is not held across a write (StartWrite: gRPC writes to the socket inline when
// the transport is free) or a post that may wake the engine; only a stream's one Finish runs
// under it. A thread that only queues a message, or gRPC's thread reporting a write done, would
// otherwise sleep on the lock while another made a system call under it.
#ifndef ACD_DAEMON_STREAM_WRITER_H_
#define ACD_DAEMON_STREAM_WRITER_H_

#include <atomic>
#include <deque>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "asio/io_context.hpp"
#include "asio/post.hpp"
#include "google/protobuf/message_lite.h"
#include "grpcpp/support/server_callback.h"

namespace acd::daemon {

template <typename Message, typename Reactor = grpc::ServerWriteReactor<Message>>
class StreamWriter : public Reactor {
 public:
  // A merged message stops growing past this size (a message alone may be larger).
  static constexpr size_t kMergeBytes = 64 << 10;

  // `on_written(this, message)` runs on the engine thread after a message reached the transport;
  // `on_gone(this)` runs there once gRPC is done with the stream, and then Gone().
  StreamWriter(asio::io_context* engine,
               std::function<void(StreamWriter*, const Message&)> on_written,
               std::function<void(StreamWriter*)> on_gone, bool merge = false)
      : engine_(engine),
        on_written_(std::move(on_written)),
        on_gone_(std::move(on_gone)),
        merge_(merge) {}
  virtual ~StreamWriter() = default;

  // On the engine thread a write does not start at once: it starts once the engine's current
  // task is over, so that what that task sends (an answer and the commands it caused, replies
  // released together) can leave as one write when merging. Elsewhere it starts at once.
  void Send(Message message) {
    const Message* write = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
      pending_.push_back(std::move(message));
      CountBacklogLocked();
      if (writing_ || start_posted_) return;
      if (engine_->get_executor().running_in_this_thread()) {
        start_posted_ = true;
      } else {
        write = NextWriteLocked();
      }
    }
    if (write != nullptr) {
      this->StartWrite(write);
    } else {
      asio::post(*engine_, [this] { StartPostedWrite(); });
    }
  }
  // Finishes once what is queued has been written (a graceful close, e.g. on shutdown).
  void Close(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    if (closing_) return;
    closing_ = true;
    close_status_ = status;
    if (!writing_ && !start_posted_) FinishOnceLocked(close_status_);
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
    CountBacklogLocked();
  }
  bool open() const {
    absl::MutexLock lock(&mu_);
    return !closing_;
  }
  // Messages queued and not yet written (the one in flight included), read without the lock: it
  // may be a moment old.
  size_t backlog() const { return backlog_.load(std::memory_order_relaxed); }
  // What the client may have got that on_written has not heard of: the messages that reached the
  // transport and wait for their on_written (which now never runs for them), and the message
  // being written, if any, which the client may get or not.
  struct Unreported {
    std::vector<Message> written;
    std::optional<Message> in_flight;
  };
  // Engine thread, typically as another stream takes over from this one: the caller accounts for
  // them instead of on_written.
  Unreported TakeUnreported() {
    absl::MutexLock lock(&mu_);
    Unreported out;
    out.written.swap(written_);
    if (const Message* in_flight = InFlightLocked()) out.in_flight = *in_flight;
    return out;
  }

  void OnWriteDone(bool ok) override {
    const Message* write = nullptr;
    bool after_written = false;
    bool gone_away = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      // A write that completed reached the transport even when the client cancelled meanwhile
      // (gRPC may call OnCancel first): it counts as written, or a reconnect would send it again
      // as never sent.
      if (ok) {
        after_written = MessageWritten(std::move(pending_.front()));
        pending_.pop_front();
        CountBacklogLocked();
      }
      if (!ok || cancelled_) {  // the client went away; unwritten messages stay with the caller
        closing_ = true;
        gone_away = true;
        FinishOnceLocked(grpc::Status::CANCELLED);
      } else if (!pending_.empty()) {
        write = NextWriteLocked();
      } else if (closing_) {
        FinishOnceLocked(close_status_);
      }
    }
    if (write != nullptr) this->StartWrite(write);
    if (after_written) AfterWritten();
    if (!gone_away) WriteDone();
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
      {
        absl::MutexLock lock(&mu_);
        gone_ = true;
        if (start_posted_) return;  // StartPostedWrite, still to run, calls Gone()
      }
      Gone();
    });
  }

 protected:
  // Engine thread, once gRPC is done with the stream and on_gone has run: by default the writer
  // deletes itself; a subclass that the engine still refers to waits until it no longer does.
  virtual void Gone() { delete this; }
  // gRPC's thread, after a write completed (outside the writer's lock), for a subclass to act on.
  virtual void WriteDone() {}
  // gRPC's thread, under the writer's lock: `written` reached the transport. By default it goes to
  // on_written on the engine thread (before Gone, which OnDone posts after every write is done),
  // unless TakeUnreported takes it first. True asks for AfterWritten() once the lock is released.
  virtual bool MessageWritten(Message&& written) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!on_written_) return false;
    // A task is on its way whenever written_ holds something: one task reports a burst.
    const bool first = written_.empty();
    written_.push_back(std::move(written));
    return first;
  }
  // gRPC's thread, outside the lock, when MessageWritten asked for it (still inside OnWriteDone,
  // so before OnDone): by default, the task that reports what was written.
  virtual void AfterWritten() {
    asio::post(*engine_, [this] { ReportWritten(); });
  }
  // The writer's lock, under which MessageWritten runs: a subclass keeping what was written
  // guards it with this lock too.
  absl::Mutex& writer_mutex() const ABSL_LOCK_RETURNED(mu_) { return mu_; }
  // The message being written, or nullptr.
  const Message* InFlightLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return writing_ ? &pending_.front() : nullptr;
  }
  // Whether the stream was finished (or is about to be): no new operation should start.
  bool finishing() const {
    absl::MutexLock lock(&mu_);
    return finish_called_;
  }

 private:
  // Engine thread: the write a Send there left for after its task.
  void StartPostedWrite() {
    const Message* write = nullptr;
    {
      absl::MutexLock lock(&mu_);
      start_posted_ = false;
      if (gone_) {
        // gRPC was done with the stream while this waited.
      } else if (writing_ || finish_called_) {
        return;
      } else if (!pending_.empty()) {
        write = NextWriteLocked();
      } else {
        if (closing_) FinishOnceLocked(close_status_);
        return;
      }
    }
    if (write != nullptr) {
      this->StartWrite(write);
      return;
    }
    Gone();
  }
  // Engine thread: on_written for what reached the transport since the last report.
  void ReportWritten() {
    std::vector<Message> written;
    {
      absl::MutexLock lock(&mu_);
      written.swap(written_);
    }
    for (const Message& message : written) on_written_(this, message);
  }
  // The next message goes in flight (what waits merged into it, when merging): the caller starts
  // its write once the lock is released. It stays put meanwhile: only the back of pending_ changes
  // (Send, Abort) while a write is in flight.
  const Message* NextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    if constexpr (std::is_base_of_v<google::protobuf::MessageLite, Message>) {
      if (merge_ && pending_.size() > 1) MergePendingLocked();
    }
    CountBacklogLocked();
    return &pending_.front();
  }
  void CountBacklogLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    backlog_.store(pending_.size(), std::memory_order_relaxed);
  }
  // What waits leaves as one message, up to kMergeBytes (protobuf messages only).
  void MergePendingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Only the ends of a deque may change under a reference into it: merge into a local.
    Message merged = std::move(pending_.front());
    pending_.pop_front();
    size_t bytes = merged.ByteSizeLong();
    while (!pending_.empty() && bytes < kMergeBytes) {
      bytes += pending_.front().ByteSizeLong();
      merged.MergeFrom(pending_.front());
      pending_.pop_front();
    }
    pending_.push_front(std::move(merged));
  }
  void FinishOnceLocked(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finish_called_) return;
    finish_called_ = true;
    this->Finish(status);
  }

  asio::io_context* const engine_;
  const std::function<void(StreamWriter*, const Message&)> on_written_;
  const std::function<void(StreamWriter*)> on_gone_;
  const bool merge_;
  mutable absl::Mutex mu_;
  std::deque<Message> pending_ ABSL_GUARDED_BY(mu_);  // front is in flight while writing_
  std::atomic<size_t> backlog_{0};                    // pending_.size(), for backlog()
  std::vector<Message> written_ ABSL_GUARDED_BY(mu_);  // for on_written, in order
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;  // no more sends; finish when the queue is written
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool start_posted_ ABSL_GUARDED_BY(mu_) = false;  // StartPostedWrite will run on the engine
  bool gone_ ABSL_GUARDED_BY(mu_) = false;          // OnDone's task ran
  grpc::Status close_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_STREAM_WRITER_H_
