// The switch's side of a SwitchService.Session for acdload: SwitchSession (below), with the
// answer deadline and the clock it shares with acdload.
#ifndef ACD_BENCH_SESSION_CLIENT_H_
#define ACD_BENCH_SESSION_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "acd/v1/acd.grpc.pb.h"
#include "bench/load_failures.h"
#include "grpcpp/grpcpp.h"

namespace acd::bench {

// How long a unary request, or a closing session's answers still due, may take: a request not
// answered by then counts as failed.
inline constexpr auto kAnswerDeadline = std::chrono::seconds(10);

inline int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// SwitchSession: a switch's side of one SwitchService.Session, on gRPC's callback API (acdload's
// session mode).
//   SwitchSession session(stub, "sw1", &failures, "Session");
//   grpc::Status opened = session.Open(on_command);   // waits for `opened`
//   session.Send(message, acd::v1::AcdMessage::kEnqueueCall, on_answer);
//   session.Close();
// Requests go out in the order sent. A stream has one write in flight: what is sent meanwhile is
// queued and goes out as one SessionRequest when the write completes, so senders never wait for
// the network. With a `hold`, a request sent as not urgent (an agent's call events, say) is not
// written on its own at once: it waits, up to about `hold`, for an urgent one (an arrival) to go
// with, as a switch would gather its events; fewer, fuller writes cost both sides fewer wake-ups.
// The session holds gRPC's stream (AddHold) from Open to Close, so that a write started from any
// thread meets a live stream even when acdd has ended it.
// Answers are matched to their requests by request_id; commands go to `on_command` as they are
// read.
class SwitchSession
    : public grpc::ClientBidiReactor<acd::v1::SessionRequest, acd::v1::SessionResponse> {
 public:
  using CommandHandler = std::function<void(const acd::v1::Command&, int64_t received_ns)>;
  // Runs once per request, on gRPC's thread (or the sender's once the session is over): the
  // answer's status (its `status`, or why none came), and the answer.
  using AnswerHandler = std::function<void(const grpc::Status&, const acd::v1::AcdMessage&)>;

  // `name` is the step a failure of the session itself is counted under; `hold` is how long a
  // request sent as not urgent may wait for company (zero: it is written as soon as it can be).
  SwitchSession(acd::v1::SwitchService::Stub* stub, std::string switch_id, Failures* failures,
                std::string name, absl::Duration hold = absl::ZeroDuration())
      : stub_(stub),
        switch_id_(std::move(switch_id)),
        failures_(failures),
        name_(std::move(name)),
        hold_(hold) {}
  // Closes the session if Close was not called.
  ~SwitchSession() override { Close(); }

  // Starts the session (`open`, naming the switch) and waits for `opened`.
  grpc::Status Open(CommandHandler on_command) {
    on_command_ = std::move(on_command);
    acd::v1::SwitchMessage open;
    open.mutable_open()->set_switch_id(switch_id_);
    auto opened = std::make_shared<std::promise<grpc::Status>>();
    Send(std::move(open), acd::v1::AcdMessage::kOpened,
         [opened](const grpc::Status& status, const acd::v1::AcdMessage&) {
           opened->set_value(status);
         });
    stub_->async()->Session(&context_, this);
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      started_ = true;
      write = TakeQueuedForWrite();
    }
    if (write) StartWrite(&writing_);
    StartRead(&reading_);
    AddHold();  // removed by Close
    StartCall();
    if (hold_ > absl::ZeroDuration()) holder_ = std::thread([this] { WriteHeld(); });
    std::future<grpc::Status> answer = opened->get_future();
    if (answer.wait_for(kAnswerDeadline) != std::future_status::ready) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("session of ", switch_id_, ": no `opened` within ",
                                       kAnswerDeadline.count(), " s"));
    }
    return answer.get();
  }

  // Sends `message` (its request_id is chosen here); `on_answer` gets the answer, which must be
  // `answer_case` when its status is OK. Not `urgent`, it may wait up to `hold` for company.
  void Send(acd::v1::SwitchMessage message, acd::v1::AcdMessage::MessageCase answer_case,
            AnswerHandler on_answer, bool urgent = true) {
    bool over = false, write = false;
    {
      absl::MutexLock lock(&mu_);
      over = over_;
      if (!over) {
        const uint64_t id = next_request_id_++;
        message.set_request_id(id);
        waiting_.emplace(id, Waiting{answer_case, std::move(on_answer)});
        if (queued_.messages_size() == 0) queued_since_ns_ = NowNanos();
        *queued_.add_messages() = std::move(message);
        queued_urgent_ = queued_urgent_ || urgent;
        write = TakeQueuedForWrite();
      }
    }
    if (over) {
      on_answer(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the session is over"),
                acd::v1::AcdMessage());
    }
    if (write) StartWrite(&writing_);
  }

  // Waits up to kAnswerDeadline for the answers still due, then ends the session; nothing is
  // called back after it returns. Requests still unanswered fail with CANCELLED. Nothing may be
  // sent once it has begun.
  void Close() {
    {
      absl::MutexLock lock(&mu_);
      if (!started_ || closing_) return;
      mu_.AwaitWithTimeout(absl::Condition(this, &SwitchSession::NothingDue),
                           absl::FromChrono(kAnswerDeadline));
      closing_ = true;
    }
    if (holder_.joinable()) holder_.join();
    context_.TryCancel();
    RemoveHold();  // OnDone may come now
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&done_));
  }

  double MessagesPerWrite() const {
    absl::MutexLock lock(&mu_);
    return writes_ == 0 ? 0 : static_cast<double>(messages_written_) / writes_;
  }

 private:
  struct Waiting {
    acd::v1::AcdMessage::MessageCase answer_case = acd::v1::AcdMessage::MESSAGE_NOT_SET;
    AnswerHandler on_answer;
  };

  bool NothingDue() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return over_ || reads_over_ || (waiting_.empty() && answering_ == 0);
  }

  // Moves what is queued into writing_ when no write is in flight and something urgent waits (or
  // there is no hold); true when it should be written. Whoever gets true owns writing_ until
  // OnWriteDone.
  bool TakeQueuedForWrite() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!started_ || write_in_flight_ || write_failed_ || queued_.messages_size() == 0) {
      return false;
    }
    if (!queued_urgent_ && hold_ > absl::ZeroDuration()) return false;
    queued_urgent_ = false;
    writing_.Clear();
    writing_.Swap(&queued_);
    write_in_flight_ = true;
    ++writes_;
    messages_written_ += writing_.messages_size();
    return true;
  }

  void OnWriteDone(bool ok) override {
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      if (!ok) write_failed_ = true;  // the stream is broken; OnDone follows
      write = TakeQueuedForWrite();
    }
    if (write) StartWrite(&writing_);
  }

  // The hold's thread, until the session is closing or over: every half `hold`, what has waited
  // that long counts as urgent, and is written at once or when the write in flight completes. So
  // a request waits about `hold` at most (a tick late at worst), and at a steady flow of urgent
  // requests this thread writes nothing.
  void WriteHeld() {
    const absl::Duration tick = hold_ / 2;
    while (true) {
      bool write = false;
      {
        absl::MutexLock lock(&mu_);
        if (mu_.AwaitWithTimeout(absl::Condition(this, &SwitchSession::Ending), tick)) return;
        if (queued_.messages_size() > 0 &&
            NowNanos() - queued_since_ns_ >= absl::ToInt64Nanoseconds(tick)) {
          queued_urgent_ = true;
          write = TakeQueuedForWrite();
        }
      }
      if (write) StartWrite(&writing_);
    }
  }
  bool Ending() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return closing_ || over_; }

  void OnReadDone(bool ok) override {
    if (!ok) {  // no answer comes any more; OnDone follows (once Close removes the hold)
      absl::MutexLock lock(&mu_);
      reads_over_ = true;
      return;
    }
    const int64_t received = NowNanos();
    for (const acd::v1::AcdMessage& message : reading_.messages()) {
      if (message.has_command()) {
        on_command_(message.command(), received);
      } else {
        Answer(message);
      }
    }
    StartRead(&reading_);
  }

  void Answer(const acd::v1::AcdMessage& message) {
    Waiting waiting;
    {
      absl::MutexLock lock(&mu_);
      auto it = waiting_.find(message.request_id());
      if (it == waiting_.end()) {
        failures_->Add(name_,
                       grpc::Status(grpc::StatusCode::INTERNAL,
                                    absl::StrCat("an answer to request ", message.request_id(),
                                                 ", which was not waiting for one")));
        return;
      }
      waiting = std::move(it->second);
      waiting_.erase(it);
      ++answering_;
    }
    waiting.on_answer(AnswerStatus(message, waiting.answer_case), message);
    absl::MutexLock lock(&mu_);
    --answering_;
  }

  // The answer's own status; INTERNAL when an OK answer is not what the request asked for.
  static grpc::Status AnswerStatus(const acd::v1::AcdMessage& message,
                                   acd::v1::AcdMessage::MessageCase expected) {
    if (message.status().code() != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(message.status().code()),
                          message.status().message());
    }
    if (message.message_case() == expected) return grpc::Status::OK;
    auto name = [](int field) {
      const auto* f = acd::v1::AcdMessage::descriptor()->FindFieldByNumber(field);
      return f == nullptr ? std::string("nothing") : f->name();
    };
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("request ", message.request_id(), " answered OK with ",
                                     name(message.message_case()), " instead of ", name(expected)));
  }

  // Why a request still waiting when the session ended got no answer.
  static grpc::Status NoAnswer(const grpc::Status& ended, bool our_cancel) {
    if (our_cancel) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "no answer when acdload closed the session");
    }
    return grpc::Status(ended.ok() ? grpc::StatusCode::UNAVAILABLE : ended.error_code(),
                        absl::StrCat("the session ended (", CodeName(ended.error_code()), " \"",
                                     ended.error_message(), "\") before the answer"));
  }

  void OnDone(const grpc::Status& status) override {
    std::unordered_map<uint64_t, Waiting> unanswered;
    bool closing = false;
    {
      absl::MutexLock lock(&mu_);
      over_ = true;
      closing = closing_;
      unanswered.swap(waiting_);
    }
    const bool our_cancel = closing && status.error_code() == grpc::StatusCode::CANCELLED;
    if (!status.ok() && !our_cancel) failures_->Add(name_, status);
    const grpc::Status why = NoAnswer(status, our_cancel);
    for (auto& [id, waiting] : unanswered) waiting.on_answer(why, acd::v1::AcdMessage());
    absl::MutexLock lock(&mu_);
    done_ = true;  // the last touch: Close may return and the session go
  }

  acd::v1::SwitchService::Stub* const stub_;
  const std::string switch_id_;
  Failures* const failures_;
  const std::string name_;
  const absl::Duration hold_;
  std::thread holder_;         // WriteHeld, with a hold
  CommandHandler on_command_;  // set before the call starts, then only read by OnReadDone
  grpc::ClientContext context_;
  acd::v1::SessionResponse reading_;  // only OnReadDone, between reads
  acd::v1::SessionRequest writing_;   // only whoever TakeQueuedForWrite gave it to

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool over_ ABSL_GUARDED_BY(mu_) = false;  // OnDone has begun: nothing more is sent or answered
  bool reads_over_ ABSL_GUARDED_BY(mu_) = false;  // the last read failed: no answer comes
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone has ended
  acd::v1::SessionRequest queued_ ABSL_GUARDED_BY(mu_);
  bool queued_urgent_ ABSL_GUARDED_BY(mu_) = false;  // an urgent request is among queued_
  int64_t queued_since_ns_ ABSL_GUARDED_BY(mu_) = 0;  // when queued_ last became non-empty
  uint64_t next_request_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, Waiting> waiting_ ABSL_GUARDED_BY(mu_);
  int answering_ ABSL_GUARDED_BY(mu_) = 0;  // answers taken out of waiting_, handler running
  int64_t writes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t messages_written_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace acd::bench

#endif  // ACD_BENCH_SESSION_CLIENT_H_
