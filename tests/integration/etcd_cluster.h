// EtcdCluster runs real etcd members (/usr/bin/etcd) on free loopback ports for tests of what
// depends on etcd, and breaks them on demand: kill, pause (SIGSTOP), resume, restart on the same
// data dir. Members are numbered 0..size()-1 (etcd calls them m1..mN).
//   EtcdCluster etcd;                        // three members, healthy, or the test has failed
//   std::optional<int> leader = etcd.Leader();
//   etcd.Kill(*leader);                      // the other two elect a new leader
// Data dirs live in /dev/shm and go with the fixture; each member's log (DATA_DIR.log) is kept
// only when the test failed, and its path printed.
#ifndef ACD_TESTS_INTEGRATION_ETCD_CLUSTER_H_
#define ACD_TESTS_INTEGRATION_ETCD_CLUSTER_H_

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/integration/http_get.h"

namespace acd::testing {

class EtcdCluster {
 public:
  static constexpr const char* kEtcdPath = "/usr/bin/etcd";
  // etcd's own /health waits up to 1 s for a quorum read before it says false; wait a little more
  // so a member without quorum answers "false" rather than looking stopped.
  static constexpr std::chrono::milliseconds kHealthPatience{2000};
  static constexpr std::chrono::seconds kStartPatience{10};

  explicit EtcdCluster(int members = 3) {
    for (int i = 0; i < members; ++i) {
      char dir[] = "/dev/shm/acd-etcd-XXXXXX";
      if (mkdtemp(dir) == nullptr) {
        ADD_FAILURE() << "mkdtemp under /dev/shm: " << std::strerror(errno);
        return;
      }
      Member m;
      m.data_dir = dir;
      m.log_path = m.data_dir + ".log";
      members_.push_back(m);
    }
    const std::vector<int> ports = FreePorts(2 * members);
    std::string initial_cluster;
    for (int i = 0; i < members; ++i) {
      members_[i].client_port = ports[2 * i];
      members_[i].peer_port = ports[2 * i + 1];
      initial_cluster += (i ? "," : "") + Name(i) + "=" + PeerUrl(i);
    }
    // The first data dir's name is unique on this machine, so it makes a unique cluster token.
    const std::string token = std::filesystem::path(members_[0].data_dir).filename();
    for (int i = 0; i < members; ++i) {
      const std::string client_url = "http://" + endpoint(i);
      members_[i].argv = {kEtcdPath,
                          "--name",
                          Name(i),
                          "--data-dir",
                          members_[i].data_dir,
                          "--listen-client-urls",
                          client_url,
                          "--advertise-client-urls",
                          client_url,
                          "--listen-peer-urls",
                          PeerUrl(i),
                          "--initial-advertise-peer-urls",
                          PeerUrl(i),
                          "--initial-cluster",
                          initial_cluster,
                          "--initial-cluster-state",
                          "new",
                          "--initial-cluster-token",
                          token,
                          "--heartbeat-interval",
                          "50",
                          "--election-timeout",
                          "250",
                          "--logger",
                          "zap",
                          "--log-level",
                          "warn"};
    }
    // One at a time: a new member asks its peers whether it was bootstrapped already, and a peer
    // that has bound its port but does not serve yet holds that question for etcd's bootstrap
    // timeout (1 s), which a simultaneous start hits about one time in four.
    const auto deadline = std::chrono::steady_clock::now() + kStartPatience;
    for (int i = 0; i < members; ++i) {
      Start(i);
      WaitServingPeers(i, deadline);
    }
    for (int i = 0; i < members; ++i) {
      if (!WaitHealthy(i, std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now()))) {
        const std::string what =
            Exited(i) ? "exited before it was healthy"
                      : "not healthy within " + std::to_string(kStartPatience.count()) + " s";
        ADD_FAILURE() << "etcd member " << Name(i) << " (" << endpoint(i) << ") " << what
                      << "; the end of " << members_[i].log_path << ":\n"
                      << LogTail(i);
      }
    }
  }

  // Stops every member still running (a paused one is continued first, so it dies at once),
  // removes the data dirs, and removes the logs unless the test has failed.
  ~EtcdCluster() {
    const bool keep_logs = ::testing::Test::HasFailure();
    for (int i = 0; i < size(); ++i) {
      Kill(i);
      std::error_code ignored;
      std::filesystem::remove_all(members_[i].data_dir, ignored);
      if (keep_logs) {
        std::fprintf(stderr, "etcd member %s's log kept: %s\n", Name(i).c_str(),
                     members_[i].log_path.c_str());
      } else {
        std::filesystem::remove(members_[i].log_path, ignored);
      }
    }
  }

  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  // "127.0.0.1:C1,127.0.0.1:C2,...", the form etcd clients take.
  std::string endpoints() const {
    std::string all;
    for (int i = 0; i < size(); ++i) all += (i ? "," : "") + endpoint(i);
    return all;
  }
  std::string endpoint(int i) const {
    return "127.0.0.1:" + std::to_string(members_.at(i).client_port);
  }
  // For tests that check what is left behind: the member's process (-1 once killed), its data dir
  // and its log.
  pid_t pid(int i) const { return members_.at(i).pid; }
  const std::string& data_dir(int i) const { return members_.at(i).data_dir; }
  const std::string& log_path(int i) const { return members_.at(i).log_path; }

  // SIGKILL, and waits for the member to be gone. Nothing happens to a member already killed.
  void Kill(int i) {
    Member& m = members_.at(i);
    if (m.pid <= 0) return;
    kill(m.pid, SIGCONT);  // a stopped process dies of SIGKILL too, but then at once
    kill(m.pid, SIGKILL);
    waitpid(m.pid, nullptr, 0);
    m.pid = -1;
    m.paused = false;
  }
  // SIGSTOP: the member's sockets stay open and accept, but it answers nothing, not even its peers.
  // Returns once every thread has stopped (kill() returns before; a thread still running may
  // answer one more request).
  void Pause(int i) {
    Member& m = members_.at(i);
    if (m.pid <= 0 || m.paused || kill(m.pid, SIGSTOP) != 0) return;
    int status = 0;
    if (waitpid(m.pid, &status, WUNTRACED) == m.pid && !WIFSTOPPED(status)) {
      m.pid = -1;  // it had ended already
      return;
    }
    m.paused = true;
  }
  void Resume(int i) {
    Member& m = members_.at(i);
    if (m.pid > 0 && kill(m.pid, SIGCONT) == 0) m.paused = false;
  }
  // Starts the member again with the same command on its data dir (etcd then ignores the
  // --initial-* flags and rejoins as itself); kills it first if it still runs. Does not wait: ask
  // WaitHealthy.
  void Restart(int i) {
    Kill(i);
    Start(i);
  }

  // One GET /health: true when the member answers {"health":"true"} within `patience`. A member
  // without quorum answers false (or, while it still believes in a leader, after etcd's 1 s).
  bool Healthy(int i, std::chrono::milliseconds patience = kHealthPatience) const {
    std::optional<HttpResponse> r = HttpRequest(endpoint(i), "GET", "/health", "", patience);
    return r.has_value() && r->status == 200 &&
           r->body.find("\"health\":\"true\"") != std::string::npos;
  }
  // Asks Healthy until it says true, at least once; false after `patience`, or as soon as the
  // member's process has ended.
  bool WaitHealthy(int i, std::chrono::milliseconds patience) {
    using std::chrono::milliseconds;
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (true) {
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (Healthy(i, std::clamp(left, milliseconds(100), kHealthPatience))) return true;
      if (Exited(i)) return false;
      if (left <= milliseconds(50)) return false;
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

  // The member that is etcd's raft leader, asked of every member neither killed nor paused
  // (POST /v3/maintenance/status: a member leads when its member_id is the leader it reports). If
  // two claim it (a deposed leader that has not heard yet), the one of the later term; nullopt when
  // none does.
  std::optional<int> Leader() const {
    std::optional<int> leader;
    long long leader_term = -1;
    for (int i = 0; i < size(); ++i) {
      if (members_[i].pid <= 0 || members_[i].paused) continue;
      std::optional<HttpResponse> r =
          HttpPost(endpoint(i), "/v3/maintenance/status", "{}", std::chrono::seconds(1));
      if (!r.has_value() || r->status != 200) continue;
      const std::string id = JsonString(r->body, "member_id");
      const std::string term = JsonString(r->body, "raftTerm");
      if (id.empty() || id != JsonString(r->body, "leader")) continue;
      const long long t = term.empty() ? 0 : std::stoll(term);
      if (t > leader_term) {
        leader = i;
        leader_term = t;
      }
    }
    return leader;
  }

  // The last `bytes` of member i's log, to say why it failed.
  std::string LogTail(int i, size_t bytes = 3000) const {
    std::ifstream in(members_.at(i).log_path);
    std::stringstream all;
    all << in.rdbuf();
    const std::string text = all.str();
    return text.size() > bytes ? "..." + text.substr(text.size() - bytes) : text;
  }

 private:
  struct Member {
    std::string data_dir;
    std::string log_path;
    int client_port = 0;
    int peer_port = 0;
    std::vector<std::string> argv;
    pid_t pid = -1;  // -1 when not running
    bool paused = false;
  };

  static std::string Name(int i) { return "m" + std::to_string(i + 1); }
  std::string PeerUrl(int i) const {
    return "http://127.0.0.1:" + std::to_string(members_[i].peer_port);
  }

  // Ports the kernel hands out for 127.0.0.1:0, all bound at once so that none repeats, then
  // released for etcd to take. Never 2379/2380, where a system etcd may listen.
  static std::vector<int> FreePorts(int count) {
    std::vector<int> fds, ports;
    while (static_cast<int>(ports.size()) < count) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof(a);
      if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
          getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        std::fprintf(stderr, "EtcdCluster: cannot bind 127.0.0.1:0: %s\n", std::strerror(errno));
        std::abort();
      }
      fds.push_back(fd);
      const int port = ntohs(a.sin_port);
      if (port != 2379 && port != 2380) ports.push_back(port);
    }
    for (int fd : fds) close(fd);
    return ports;
  }

  // fork + exec of member i in its own session, its stdout and stderr appended to its log. The
  // member is killed if this process dies (PR_SET_PDEATHSIG: a crashed or timed-out test leaves
  // no etcd running); that follows the thread that started it, so start clusters on a thread
  // that outlives them.
  void Start(int i) {
    Member& m = members_.at(i);
    const int log = open(m.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
      ADD_FAILURE() << "cannot open " << m.log_path << ": " << std::strerror(errno);
      return;
    }
    std::vector<char*> argv;
    for (std::string& a : m.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      setsid();
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(125);
      const int null = open("/dev/null", O_RDONLY);
      if (null >= 0) dup2(null, STDIN_FILENO);
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      execv(kEtcdPath, argv.data());
      _exit(127);
    }
    close(log);
    if (pid < 0) {
      ADD_FAILURE() << "fork: " << std::strerror(errno);
      return;
    }
    m.pid = pid;
    m.paused = false;
  }

  // Waits until member i answers on its peer port (GET /version there needs no quorum), it has
  // ended, or `deadline`.
  void WaitServingPeers(int i, std::chrono::steady_clock::time_point deadline) {
    const std::string peer = "127.0.0.1:" + std::to_string(members_[i].peer_port);
    while (!Exited(i) && std::chrono::steady_clock::now() < deadline &&
           !HttpRequest(peer, "GET", "/version", "", std::chrono::milliseconds(50)).has_value()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // True if member i is not running: killed, or its process ended on its own (then reaped here).
  bool Exited(int i) {
    Member& m = members_.at(i);
    if (m.pid > 0 && waitpid(m.pid, nullptr, WNOHANG) == m.pid) m.pid = -1;
    return m.pid <= 0;
  }

  // The string value of "key":"value" in etcd's gateway JSON, or "" when it is absent.
  static std::string JsonString(const std::string& json, const std::string& key) {
    const std::string start = "\"" + key + "\":\"";
    const size_t at = json.find(start);
    if (at == std::string::npos) return "";
    const size_t from = at + start.size();
    const size_t to = json.find('"', from);
    return to == std::string::npos ? "" : json.substr(from, to - from);
  }

  std::vector<Member> members_;
};

}  // namespace acd::testing

#endif  // ACD_TESTS_INTEGRATION_ETCD_CLUSTER_H_
