// Test harness: starts the real acdd on free ports, reads back where it listens, gives stubs for
// every service, reads a switch's command stream on a thread, and stops acdd with a signal.
//   AcddProcess acdd({"--policy", PolicyPath()});
//   auto sw = acdd.Switch(); ...
//   EXPECT_EQ(acdd.Stop(SIGTERM), 0);
#ifndef ACD_TESTS_INTEGRATION_ACDD_PROCESS_H_
#define ACD_TESTS_INTEGRATION_ACDD_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "acd/v1/acd.grpc.pb.h"
#include "gtest/gtest.h"
#include "grpcpp/grpcpp.h"

namespace acd::testing {

class AcddProcess {
 public:
  // With a `stderr_path`, acdd's stderr (its log) is appended to that file instead of going to the
  // test's, for the test to read what acdd logged, across restarts too.
  explicit AcddProcess(std::vector<std::string> args, const std::string& stderr_path = "") {
    int out[2];
    if (pipe(out) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      if (!stderr_path.empty()) {
        const int log = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (log < 0) _exit(126);
        dup2(log, STDERR_FILENO);
        close(log);
      }
      std::vector<std::string> all = {ACDD_PATH, "--grpc_listen", "127.0.0.1:0", "--http_listen",
                                      "127.0.0.1:0"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (std::string& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(ACDD_PATH, argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_ = out[0];
    const std::string line = ReadLine(std::chrono::seconds(20));
    // "acdd listening grpc=127.0.0.1:PORT http=127.0.0.1:PORT"
    const size_t g = line.find("grpc="), h = line.find(" http=");
    if (line.rfind("acdd listening ", 0) != 0 || g == std::string::npos || h == std::string::npos) {
      ADD_FAILURE() << "acdd did not report where it listens; it printed: '" << line << "'";
      return;
    }
    grpc_address_ = line.substr(g + 5, h - g - 5);
    http_address_ = line.substr(h + 6);
    channel_ = grpc::CreateChannel(grpc_address_, grpc::InsecureChannelCredentials());
  }
  ~AcddProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (stdout_ >= 0) close(stdout_);
  }

  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  std::unique_ptr<acd::v1::SwitchService::Stub> Switch() const { return acd::v1::SwitchService::NewStub(channel_); }
  std::unique_ptr<acd::v1::AgentService::Stub> Agents() const { return acd::v1::AgentService::NewStub(channel_); }
  std::unique_ptr<acd::v1::AdminService::Stub> Admin() const { return acd::v1::AdminService::NewStub(channel_); }
  void Signal(int signal) const { kill(pid_, signal); }

  // Sends `signal` and waits for acdd to exit; returns its exit code, or -1 if it had to be killed.
  int Stop(int signal, std::chrono::seconds patience = std::chrono::seconds(20)) {
    kill(pid_, signal);
    const auto deadline = std::chrono::steady_clock::now() + patience;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

 private:
  std::string ReadLine(std::chrono::seconds patience) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{stdout_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char c;
      if (read(stdout_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }

  pid_t pid_ = -1;
  int stdout_ = -1;
  bool exited_ = false;
  std::string grpc_address_, http_address_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Reads one switch's command stream on its own thread; Next() waits for the next command.
class CommandReader {
 public:
  CommandReader(acd::v1::SwitchService::Stub* stub, const std::string& switch_id) {
    acd::v1::StreamCommandsRequest request;
    request.set_switch_id(switch_id);
    reader_ = stub->StreamCommands(&context_, request);
    thread_ = std::thread([this] {
      acd::v1::Command command;
      while (reader_->Read(&command)) {
        std::lock_guard<std::mutex> lock(mu_);
        (ForTheCaller(command) ? prompts_ : commands_).push_back(command);
        cv_.notify_all();
      }
      grpc::Status status = reader_->Finish();
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = status;
      cv_.notify_all();
    });
  }
  ~CommandReader() {
    context_.TryCancel();
    thread_.join();
  }
  // The next command that routes a call (offer, cancel, fallback, callback, transfer), or nullopt
  // if none comes within `patience`. Prompts and hold notices are kept apart for NextPrompt().
  std::optional<acd::v1::Command> Next(std::chrono::milliseconds patience = std::chrono::seconds(5)) {
    return Pop(commands_, patience);
  }
  // The next prompt, hold reminder or hold overrun notice.
  std::optional<acd::v1::Command> NextPrompt(
      std::chrono::milliseconds patience = std::chrono::seconds(5)) {
    return Pop(prompts_, patience);
  }
  // How the stream ended, once it has.
  std::optional<grpc::Status> WaitFinished(std::chrono::seconds patience = std::chrono::seconds(10)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, patience, [&] { return finished_.has_value(); });
    return finished_;
  }
  void Cancel() { context_.TryCancel(); }

 private:
  static bool ForTheCaller(const acd::v1::Command& command) {
    return command.has_play_prompt() || command.has_hold_reminder() || command.has_hold_overrun();
  }
  std::optional<acd::v1::Command> Pop(std::deque<acd::v1::Command>& from,
                                      std::chrono::milliseconds patience) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, patience, [&] { return !from.empty(); })) return std::nullopt;
    acd::v1::Command c = from.front();
    from.pop_front();
    return c;
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<acd::v1::Command>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<acd::v1::Command> commands_;
  std::deque<acd::v1::Command> prompts_;
  std::optional<grpc::Status> finished_;
};

}  // namespace acd::testing

#endif  // ACD_TESTS_INTEGRATION_ACDD_PROCESS_H_
