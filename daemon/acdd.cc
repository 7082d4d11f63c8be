// acdd: the acd daemon. Loads a policy (or the built-in one), runs the engine thread, serves the
// acd.v1 gRPC API (plus health and reflection) and an HTTP listener, reloads the policy and the
// tokens on SIGHUP and drains on SIGTERM.
//   acdd --policy /etc/acd/policy.yaml --grpc_listen 127.0.0.1:50051 --http_listen 127.0.0.1:9464
//   acdd --grpc_listen 0.0.0.0:50051 --tls_cert server.pem --tls_key server.key
//        --auth_tokens /etc/acd/tokens          # off loopback: TLS and tokens, or it refuses
//   acdd --data_dir /var/lib/acd --etcd_endpoints e1:2379,e2:2379,e3:2379
//        --replica_id acd-1 --advertise_address 10.0.0.1:50051   # one of an HA pair
// With port 0 it binds a free port; once serving it prints one line:
//   acdd listening grpc=127.0.0.1:41234 http=127.0.0.1:39877
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "daemon/access/access.h"
#include "daemon/access/access_gate.h"
#include "daemon/access/transport.h"
#include "daemon/demo.h"
#include "daemon/engine.h"
#include "daemon/grpc_log.h"
#include "daemon/grpc_status.h"
#include "daemon/ha/replica.h"
#include "daemon/recovery.h"
#include "daemon/sched_slice.h"
#include "daemon/services.h"
#include "daemon/serving_role.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "metrics/http_server.h"
#include "metrics/wallboard_page.h"
#include "prometheus/text_serializer.h"
#include "reports/live_feeds.h"
#include "reports/what_if_tool.h"
#include "routing/policy_text.h"

ABSL_FLAG(std::string, policy, "", "routing policy YAML file; empty: the built-in default policy");
ABSL_FLAG(std::string, grpc_listen, "127.0.0.1:50051", "HOST:PORT for the gRPC API; port 0 picks one");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9464",
          "HOST:PORT for HTTP (/metrics, /wallboard, /api/queues); port 0 picks one");
ABSL_FLAG(absl::Duration, sched_slice, absl::Microseconds(100),
          "scheduler slice for acdd's threads (Linux 6.12 or later; older kernels ignore it): a "
          "short one gets a thread that wakes a CPU sooner; 0 keeps the kernel's default; "
          "100us to 100ms");
ABSL_FLAG(bool, demo, false,
          "run simulated switch traffic and agents in-process on the active policy, to see queues "
          "move (off unless asked for)");
ABSL_FLAG(double, drain_timeout_seconds, 10, "on SIGTERM, how long in-flight RPCs may take");
ABSL_FLAG(double, call_retention_seconds, 900,
          "how long a finished call stays visible to GetCall and answers retried events");
ABSL_FLAG(int64_t, max_finished_calls, 200000,
          "at most this many finished calls are kept for GetCall and retries (oldest go first)");
ABSL_FLAG(int64_t, max_outbox, 100000,
          "at most this many commands wait for a switch that does not read them (the oldest are "
          "dropped first, with a log line and a count)");
ABSL_FLAG(int64_t, max_stream_backlog, 10000,
          "a command stream or switch session whose switch leaves this many messages unread is cut "
          "off (RESOURCE_EXHAUSTED); its commands wait in the outbox for the reconnect");
ABSL_FLAG(std::string, data_dir, "",
          "directory of the journal acdd recovers its state from after a restart; empty: state in "
          "memory only (a restart loses every waiting call)");
ABSL_FLAG(std::string, journal_sync, "write",
          "when an input counts as durable: 'write' (reached the OS: survives kill -9 and OOM "
          "kills) or 'fsync' (fdatasync'd: survives a power loss too)");
ABSL_FLAG(std::string, journal_recover, "stop",
          "a corrupt record in the middle of the journal: 'stop' (refuse to start, naming file and "
          "offset) or 'truncate' (cut the journal there, losing every record from it on)");
ABSL_FLAG(int64_t, journal_segment_mb, 64, "a new journal segment file starts past this size");
ABSL_FLAG(uint64_t, snapshot_every_records, 500000,
          "take a snapshot of the whole state once this many journal records were written since "
          "the last one (bounds what a restart replays); 0: not by count");
ABSL_FLAG(absl::Duration, snapshot_every, absl::Minutes(10),
          "take a snapshot once this long has passed since the last one, if anything was "
          "journaled; 0: not by time");
ABSL_FLAG(absl::Duration, journal_retention, absl::Hours(72),
          "keep journal segments this long even once a snapshot covers them (the journal's "
          "history serves reports and replays); 0: remove them as soon as they are covered");
ABSL_FLAG(std::string, queue_log, "",
          "append the history as Asterisk queue_log lines to this file as it becomes durable "
          "(reports/README.md; reopened on SIGHUP for logrotate). Needs --data_dir");
ABSL_FLAG(std::string, call_records, "",
          "append one JSON line per finished call to this file (reports/README.md; reopened on "
          "SIGHUP). Needs --data_dir");
ABSL_FLAG(uint64_t, journal_stop_before, 0,
          "last resort when replaying a journal record crashes acdd (the crash names it): recover "
          "only the records before this sequence and cut the journal there; 0: all of them");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain: the gRPC listener serves TLS only (and HTTP serves HTTPS, see "
          "--http_tls); both re-read it every minute, so a renewed certificate needs no restart");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates: mutual TLS, only clients with a certificate it signed get in");
ABSL_FLAG(bool, http_tls, true,
          "with --tls_cert, the HTTP listener serves HTTPS with the same certificate; false keeps "
          "it plain HTTP (loopback only, unless --allow_insecure)");
ABSL_FLAG(std::string, auth_tokens, "",
          "tokens file (NAME ROLE sha256:HEX [BINDING] per line; acdctl token makes them): every "
          "call and HTTP request needs a token from it; re-read on SIGHUP. Empty: no tokens, "
          "everyone may do everything (loopback only, unless --allow_insecure)");
ABSL_FLAG(
    std::string, health_listen, "",
    "HOST:PORT of a second gRPC listener serving only grpc.health.v1 in plain gRPC, for probes "
    "that cannot do TLS or client certificates (Kubernetes' gRPC probe); it tells no more "
    "than SERVING or NOT_SERVING, so any address may serve it. Empty: none");
ABSL_FLAG(std::string, etcd_endpoints, "",
          "HOST:PORT,... of etcd's members (its v3 gRPC API, plain): run as one replica of an HA "
          "pair, leadership decided through etcd. Needs --data_dir and --advertise_address. "
          "Empty: a lone acdd");
ABSL_FLAG(std::string, ha_cluster, "acd", "the HA pair's name: its keys in etcd are /acd/NAME/");
ABSL_FLAG(std::string, replica_id, "",
          "this replica's name within the pair, stable across restarts; empty: the host name");
ABSL_FLAG(std::string, advertise_address, "",
          "HOST:PORT where clients and the other replica reach this replica's gRPC listener");
ABSL_FLAG(absl::Duration, ha_lease, absl::Seconds(1),
          "the leader's etcd lease: a leader that cannot renew it stops acknowledging before it "
          "can expire, and a standby takes over about this long after the leader is gone (etcd "
          "grants at least 1.5 election timeouts, in whole seconds)");
ABSL_FLAG(absl::Duration, ha_sync_timeout, absl::Milliseconds(500),
          "a standby that leaves a record durable on the leader undurable this long is marked "
          "out of sync (it may then not take over) and the leader goes on alone");
ABSL_FLAG(std::string, ha_token_file, "",
          "with --auth_tokens: file holding the admin token this replica follows the leader "
          "with, as a standby (acdctl token NAME admin makes one; both replicas' tokens files "
          "need its line)");
ABSL_FLAG(std::string, ha_peer_ca, "",
          "with --tls_cert: PEM CA that signed the other replica's certificate, which a standby "
          "checks (the name it checks is the host of the leader's --advertise_address); empty: "
          "--tls_client_ca. A standby presents its own --tls_cert to the leader");
ABSL_FLAG(bool, allow_insecure, false,
          "serve a non-loopback address without TLS or without tokens (a network you trust "
          "entirely); off, acdd refuses to start that way and says what to add");

namespace {

bool ReadFile(const std::string& path, std::string* text) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

std::string HostOf(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  return colon == std::string::npos ? host_port : host_port.substr(0, colon);
}

// A crash while the journal is replayed says which record it was replaying and how to start past
// it. Async-signal-safe: formats with no allocation and writes with write(2).
void InstallReplayCrashNote() {
  struct sigaction action = {};
  action.sa_handler = [](int signal) {
    const uint64_t sequence = acd::daemon::SequenceBeingReplayed();
    if (sequence != 0) {
      char number[24];
      int n = 0;
      char reversed[24];
      for (uint64_t v = sequence; v > 0; v /= 10) reversed[n++] = static_cast<char>('0' + v % 10);
      for (int i = 0; i < n; ++i) number[i] = reversed[n - 1 - i];
      number[n] = '\0';
      char line[320];
      size_t at = 0;
      auto put = [&](const char* text) {
        while (*text && at < sizeof(line)) line[at++] = *text++;
      };
      put("acdd: crashed while replaying journal record ");
      put(number);
      put(". Starting with --journal_stop_before=");
      put(number);
      put(" recovers the records before it and cuts the journal there (it and every later record "
          "are lost)\n");
      (void)!write(STDERR_FILENO, line, at);
    }
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  };
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  for (int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) sigaction(signal, &action, nullptr);
}

// Server reflection registers itself for every gRPC server once its library is linked; this
// option takes it off one server's plugins.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    std::erase_if(*plugins, [](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
      return plugin->name() == "proto_server_reflection";
    });
  }
};

// AdminService.WhatIf on `data_dir`'s history (reports/what_if_tool.h); none without one.
acd::daemon::WhatIfRunner WhatIfOn(const std::string& data_dir) {
  if (data_dir.empty()) return nullptr;
  return [data_dir](const acd::v1::WhatIfRequest& in, acd::v1::WhatIfResponse* out) {
    auto time_of = [](const google::protobuf::Timestamp& t) {
      return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
    };
    acd::reports::WhatIfRequest request{
        .data_dir = data_dir,
        .candidate_yaml = in.policy_yaml(),
        .candidate_name = in.policy_name().empty() ? "candidate" : in.policy_name(),
        .seed = in.seed() != 0 ? in.seed() : 1};
    if (in.has_from()) request.from = time_of(in.from());
    if (in.has_to()) request.to = time_of(in.to());
    absl::StatusOr<acd::reports::WhatIfResult> result = acd::reports::WhatIf(request);
    if (!result.ok()) return acd::daemon::ToGrpcStatus(result.status());
    out->set_table(acd::reports::WhatIfTable(*result));
    out->set_json(acd::reports::WhatIfJson(*result));
    for (const std::string& note : result->notes) out->add_notes(note);
    return grpc::Status::OK;
  };
}

int Fail(const std::string& message) {
  std::cerr << "acdd: " << message << "\n";
  return 1;
}

// The command line acdd was started with, for a replica that starts again as a standby.
std::vector<std::string>& CommandLine() {
  static std::vector<std::string> line;
  return line;
}

// A replica starts again as a standby from its journal: the same command line, without a
// --journal_stop_before (it did its work at the first start), with one that cuts the journal
// after `cut_after` when set. Every descriptor is closed on exec, listeners included.
[[noreturn]] void StartAgainAsStandby(std::optional<uint64_t> cut_after, const std::string& why) {
  std::cerr << "acdd: ha: " << why << "; starting again as a standby" << std::endl;
  std::vector<std::string> args;
  const std::vector<std::string>& line = CommandLine();
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == "--journal_stop_before" || line[i] == "-journal_stop_before") {
      ++i;  // and its value
      continue;
    }
    if (line[i].starts_with("--journal_stop_before=") ||
        line[i].starts_with("-journal_stop_before=")) {
      continue;
    }
    args.push_back(line[i]);
  }
  if (cut_after) args.push_back(absl::StrCat("--journal_stop_before=", *cut_after + 1));
  if (DIR* fds = opendir("/proc/self/fd")) {
    while (dirent* entry = readdir(fds)) {
      const int fd = atoi(entry->d_name);
      if (fd > 2) fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    closedir(fds);
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  std::cerr << "acdd: ha: cannot start again (" << strerror(errno) << "); exiting" << std::endl;
  _exit(1);
}

// How a standby reaches its leader: as acdd's own listener is reached (TLS with this replica's
// certificate, checked against --ha_peer_ca; or plain gRPC), with --ha_token_file's token when
// acdd asks for tokens.
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> FollowCredentials(
    bool tls, const acd::daemon::TlsFiles& files, bool tokens) {
  std::shared_ptr<grpc::ChannelCredentials> channel = grpc::InsecureChannelCredentials();
  if (tls) {
    const std::string peer_ca =
        absl::GetFlag(FLAGS_ha_peer_ca).empty() ? files.client_ca : absl::GetFlag(FLAGS_ha_peer_ca);
    if (peer_ca.empty()) {
      return absl::InvalidArgumentError(
          "--etcd_endpoints with --tls_cert needs --ha_peer_ca (or --tls_client_ca): the CA that "
          "signed the other replica's certificate, which a standby checks");
    }
    grpc::SslCredentialsOptions options;
    for (auto [path, into] : {std::pair{&peer_ca, &options.pem_root_certs},
                              std::pair{&files.certificate, &options.pem_cert_chain},
                              std::pair{&files.key, &options.pem_private_key}}) {
      if (!ReadFile(*path, into)) {
        return absl::InvalidArgumentError(absl::StrCat("cannot read ", *path));
      }
    }
    channel = grpc::SslCredentials(options);
  } else if (tokens) {
    // A token travels only on secure credentials; on loopback, local ones are (as acdd serves).
    channel = grpc::experimental::LocalCredentials(LOCAL_TCP);
  }
  if (!tokens) return channel;
  const std::string token_file = absl::GetFlag(FLAGS_ha_token_file);
  std::string token;
  if (token_file.empty() || !ReadFile(token_file, &token)) {
    return absl::InvalidArgumentError(
        token_file.empty()
            ? "--etcd_endpoints with --auth_tokens needs --ha_token_file: an admin token the "
              "standby follows the leader with"
            : absl::StrCat("cannot read --ha_token_file ", token_file));
  }
  token = std::string(absl::StripAsciiWhitespace(token));
  return grpc::CompositeChannelCredentials(channel, grpc::AccessTokenCredentials(token));
}

// The acd.v1 services, whose health a standby reports NOT_SERVING.
constexpr const char* kServedServices[] = {"acd.v1.SwitchService", "acd.v1.AgentService",
                                           "acd.v1.AdminService"};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "acd routing daemon.\n  acdd [--policy FILE] [--grpc_listen HOST:PORT] [--http_listen HOST:PORT]");
  CommandLine().assign(argv, argv + argc);
  absl::ParseCommandLine(argc, argv);
  // Deadlock detection on every absl::Mutex (gRPC's locks included) costs CPU on each RPC; the
  // code's lock discipline is checked at build time with -Wthread-safety instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Signals are taken by one thread with sigwait; block them before any other thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A file size limit makes journal writes fail with EFBIG, handled like a full disk, instead of
  // killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  // Before any other thread starts, so that every one inherits it.
  absl::StatusOr<std::string> slice =
      acd::daemon::RequestSchedulerSlice(absl::GetFlag(FLAGS_sched_slice));
  if (!slice.ok()) return Fail(std::string(slice.status().message()));
  acd::daemon::Log(*slice);

  const std::string policy_path = absl::GetFlag(FLAGS_policy);
  std::string text(acd::routing::DefaultPolicyYaml());
  std::string source = acd::routing::kDefaultPolicyName;
  if (!policy_path.empty()) {
    if (!ReadFile(policy_path, &text)) return Fail(absl::StrCat("cannot read ", policy_path));
    source = policy_path;
  }
  auto policy = acd::routing::CompilePolicyText(text, source);
  if (!policy.ok()) return Fail(std::string(policy.status().message()));

  acd::daemon::EngineOptions options;
  options.core.call_retention = absl::Seconds(absl::GetFlag(FLAGS_call_retention_seconds));
  if (absl::GetFlag(FLAGS_max_finished_calls) < 1) return Fail("--max_finished_calls must be >= 1");
  options.core.max_finished_calls = static_cast<size_t>(absl::GetFlag(FLAGS_max_finished_calls));
  if (absl::GetFlag(FLAGS_max_outbox) < 1) return Fail("--max_outbox must be >= 1");
  options.core.max_outbox = static_cast<size_t>(absl::GetFlag(FLAGS_max_outbox));
  if (absl::GetFlag(FLAGS_max_stream_backlog) < 1) return Fail("--max_stream_backlog must be >= 1");
  options.max_stream_backlog = static_cast<size_t>(absl::GetFlag(FLAGS_max_stream_backlog));
  options.journal.data_dir = absl::GetFlag(FLAGS_data_dir);
  const std::string sync = absl::GetFlag(FLAGS_journal_sync);
  if (sync == "fsync") {
    options.journal.sync = acd::daemon::journal::SyncMode::kFsync;
  } else if (sync != "write") {
    return Fail("--journal_sync must be 'write' or 'fsync'");
  }
  const std::string recover = absl::GetFlag(FLAGS_journal_recover);
  if (recover == "truncate") {
    options.journal.recover = acd::daemon::journal::RecoverMode::kTruncate;
  } else if (recover != "stop") {
    return Fail("--journal_recover must be 'stop' or 'truncate'");
  }
  if (absl::GetFlag(FLAGS_journal_segment_mb) < 1) return Fail("--journal_segment_mb must be >= 1");
  options.journal.segment_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_journal_segment_mb)) << 20;
  options.journal.snapshots.every_records = absl::GetFlag(FLAGS_snapshot_every_records);
  options.journal.snapshots.every = absl::GetFlag(FLAGS_snapshot_every);
  options.journal.snapshots.retention.journal = absl::GetFlag(FLAGS_journal_retention);
  if (options.journal.snapshots.every < absl::ZeroDuration() ||
      options.journal.snapshots.retention.journal < absl::ZeroDuration()) {
    return Fail("--snapshot_every and --journal_retention must not be negative");
  }
  if (const uint64_t stop = absl::GetFlag(FLAGS_journal_stop_before); stop != 0) {
    options.journal.stop_before = stop;
  }
  // The live history feeds, written from the durable journal.
  std::unique_ptr<acd::reports::LiveFeeds> feeds;
  if (!absl::GetFlag(FLAGS_queue_log).empty() || !absl::GetFlag(FLAGS_call_records).empty()) {
    if (options.journal.data_dir.empty()) {
      return Fail(
          "--queue_log and --call_records need --data_dir: they are written from the "
          "journal");
    }
    absl::StatusOr<std::unique_ptr<acd::reports::LiveFeeds>> opened =
        acd::reports::LiveFeeds::Open({.data_dir = options.journal.data_dir,
                                       .queue_log = absl::GetFlag(FLAGS_queue_log),
                                       .call_records = absl::GetFlag(FLAGS_call_records)});
    if (!opened.ok()) return Fail(std::string(opened.status().message()));
    feeds = *std::move(opened);
    options.journal.snapshots.feed = feeds.get();
  }
  // Who may reach acdd, and how: settled before anything listens.
  const std::string grpc_listen = absl::GetFlag(FLAGS_grpc_listen);
  const std::string http_listen = absl::GetFlag(FLAGS_http_listen);
  const acd::daemon::TlsFiles tls{.certificate = absl::GetFlag(FLAGS_tls_cert),
                                  .key = absl::GetFlag(FLAGS_tls_key),
                                  .client_ca = absl::GetFlag(FLAGS_tls_client_ca)};
  if (absl::Status s = acd::daemon::CheckTlsFiles(tls); !s.ok())
    return Fail(std::string(s.message()));
  const std::string tokens_path = absl::GetFlag(FLAGS_auth_tokens);
  const bool grpc_tls = !tls.certificate.empty();
  const bool http_tls = grpc_tls && absl::GetFlag(FLAGS_http_tls);
  if (absl::Status s =
          acd::daemon::CheckExposure({.grpc_listen = grpc_listen,
                                      .http_listen = http_listen,
                                      .grpc_tls = grpc_tls,
                                      .http_tls = http_tls,
                                      .tokens = !tokens_path.empty(),
                                      .allow_insecure = absl::GetFlag(FLAGS_allow_insecure)});
      !s.ok()) {
    return Fail(std::string(s.message()));
  }
  acd::daemon::Access access;
  if (!tokens_path.empty()) {
    if (absl::Status s = access.Load(tokens_path); !s.ok()) return Fail(std::string(s.message()));
    std::cerr << "acdd: " << access.tokens() << " tokens from " << tokens_path
              << ": every call needs one (health checks excepted)\n";
  }

  // One replica of an HA pair: checked before anything starts.
  const std::string etcd_endpoints = absl::GetFlag(FLAGS_etcd_endpoints);
  const bool ha = !etcd_endpoints.empty();
  acd::daemon::ha::ReplicaOptions replica_options;
  if (ha) {
    absl::StatusOr<std::vector<std::string>> endpoints =
        acd::daemon::ha::ParseEtcdEndpoints(etcd_endpoints);
    if (!endpoints.ok())
      return Fail(absl::StrCat("--etcd_endpoints: ", endpoints.status().message()));
    if (options.journal.data_dir.empty()) {
      return Fail("--etcd_endpoints needs --data_dir: a standby keeps the leader's journal there");
    }
    if (absl::GetFlag(FLAGS_demo))
      return Fail("--demo runs a lone acdd only (no --etcd_endpoints)");
    absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> follow =
        FollowCredentials(grpc_tls, tls, !tokens_path.empty());
    if (!follow.ok()) return Fail(std::string(follow.status().message()));
    replica_options.follow_credentials = *std::move(follow);
    std::string replica_id = absl::GetFlag(FLAGS_replica_id);
    if (replica_id.empty()) {
      char host[256] = {};
      gethostname(host, sizeof(host) - 1);
      replica_id = host;
    }
    const std::string advertise = absl::GetFlag(FLAGS_advertise_address);
    if (advertise.empty() || advertise.rfind(':') == std::string::npos) {
      return Fail(
          "--etcd_endpoints needs --advertise_address HOST:PORT: where clients and the "
          "other replica reach this one");
    }
    if (grpc_listen.ends_with(":0")) {
      return Fail("--etcd_endpoints needs a fixed --grpc_listen port: the address is advertised");
    }
    replica_options.etcd.endpoints = *endpoints;
    replica_options.leadership.cluster = absl::GetFlag(FLAGS_ha_cluster);
    replica_options.leadership.replica_id = replica_id;
    replica_options.leadership.address = advertise;
    replica_options.leadership.lease_ttl = absl::GetFlag(FLAGS_ha_lease);
    replica_options.sync_timeout = absl::GetFlag(FLAGS_ha_sync_timeout);
    replica_options.data_dir = options.journal.data_dir;
    if (replica_options.leadership.lease_ttl < absl::Seconds(1)) {
      return Fail("--ha_lease must be at least 1s (etcd's leases are whole seconds)");
    }
    options.standby = true;
  }

  InstallReplayCrashNote();
  acd::daemon::Engine engine(*policy, source, options);
  acd::daemon::ServingRole role(/*serving=*/!ha);
  // Set once the server runs: the health a standby and a leader report.
  std::function<void(bool)> set_health = [](bool) {};
  std::unique_ptr<acd::daemon::ha::Replica> replica;
  if (ha) {
    replica = std::make_unique<acd::daemon::ha::Replica>(
        replica_options, &engine, &role, &engine.metrics().ha,
        acd::daemon::ha::ReplicaHooks{
            .restart = StartAgainAsStandby,
            .leading =
                [&set_health](bool leading) {
                  std::cerr << "acdd: ha: " << (leading ? "leading" : "no longer leading")
                            << std::endl;
                  set_health(leading);
                },
            .fatal =
                [](const absl::Status& why) {
                  std::cerr << "acdd: ha: cannot lead: " << why.message() << std::endl;
                  _exit(1);
                }});
  }
  if (absl::Status s = engine.Start(); !s.ok()) return Fail(std::string(s.message()));

  // HTTP: the listener Prometheus and wallboards scrape. Its handlers read what the engine
  // publishes and never wait for the engine thread.
  acd::metrics::HttpServer http;
  http.Route("/metrics", "text/plain; version=0.0.4; charset=utf-8", [&engine] {
    return prometheus::TextSerializer().Serialize(engine.metrics().Collect());
  });
  http.Route("/api/queues", "application/json", [&engine] { return *engine.metrics().queues_json(); });
  http.Route("/wallboard", "text/html; charset=utf-8",
             [] { return std::string(acd::metrics::WallboardHtml()); });
  http.Route("/", "text/html; charset=utf-8", [] {
    return std::string(
        "<!DOCTYPE html><title>acdd</title><p><a href=\"/wallboard\">wallboard</a> · "
        "<a href=\"/metrics\">metrics</a> · <a href=\"/api/queues\">/api/queues</a></p>");
  });
  if (!access.open()) {
    http.Authorize(
        [&access](absl::string_view authorization) { return access.AdmitHttp(authorization); });
  }
  acd::metrics::HttpTls https;
  if (http_tls) https = {.certificate_file = tls.certificate, .key_file = tls.key};
  if (absl::Status s = http.Start(http_listen, https); !s.ok()) {
    return Fail(std::string(s.message()));
  }

  acd::daemon::RouteGrpcLog([] { return absl::Now(); },
                            [&engine](absl::string_view topic, uint64_t lines) {
                              engine.metrics().CountSuppressedLogLines(topic, lines);
                            });
  acd::daemon::SwitchServiceImpl switch_service(&engine, &access, &role);
  acd::daemon::AgentServiceImpl agent_service(&engine, &access, &role);
  acd::daemon::AdminServiceImpl admin_service(&engine, &access, &role,
                                              WhatIfOn(options.journal.data_dir));
  grpc::EnableDefaultHealthCheckService(true);
  // Reflection is on every server built from here on; WithoutReflection takes it off one.
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // The health-only listener serves health checks and nothing else.
  std::unique_ptr<grpc::Server> health_server;
  if (const std::string health_listen = absl::GetFlag(FLAGS_health_listen);
      !health_listen.empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.SetOption(std::make_unique<WithoutReflection>());
    // Any other method: UNIMPLEMENTED (and gRPC wants one service of ours beside health's).
    static grpc::CallbackGenericService nothing_else;
    health_builder.RegisterCallbackGenericService(&nothing_else);
    int health_port = 0;
    health_builder.AddListeningPort(health_listen, grpc::InsecureServerCredentials(), &health_port);
    health_server = health_builder.BuildAndStart();
    if (!health_server || health_port == 0) {
      return Fail(absl::StrCat("cannot listen for health checks on ", health_listen));
    }
    std::cerr << "acdd: health checks (only) in plain gRPC on " << HostOf(health_listen) << ":"
              << health_port << "\n";
  }
  // With tokens, the gate admits each call before any handler runs; gRPC runs it only on secure
  // credentials: TLS, or local credentials (loopback peers, plain bytes) without TLS. Reflection,
  // which has no handler of ours to check, is served only where the gate guards it.
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc_tls ? acd::daemon::GrpcTlsCredentials(tls) : grpc::InsecureServerCredentials();
  bool gated = access.open();
  if (!access.open() && (grpc_tls || acd::daemon::IsLoopbackListen(grpc_listen))) {
    if (!grpc_tls) credentials = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
    credentials->SetAuthMetadataProcessor(std::make_shared<acd::daemon::AccessGate>(&access));
    gated = true;
  }
  grpc::ServerBuilder builder;
  if (!gated) {
    builder.SetOption(std::make_unique<WithoutReflection>());
    std::cerr << "acdd: tokens on plaintext gRPC off loopback (--allow_insecure): server "
                 "reflection is off\n";
  }
  int grpc_port = 0;
  builder.AddListeningPort(grpc_listen, credentials, &grpc_port);
  builder.RegisterService(&switch_service);
  builder.RegisterService(&agent_service);
  builder.RegisterService(&admin_service);
  if (replica) {
    builder.RegisterService(replica->replication());
    builder.RegisterService(replica->status_service());
    // A record (a policy) may be larger than gRPC's 4 MiB default.
    builder.SetMaxReceiveMessageSize(-1);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || grpc_port == 0) return Fail(absl::StrCat("cannot listen for gRPC on ", grpc_listen));
  set_health = [&server, &health_server](bool serving) {
    for (const char* service : kServedServices) {
      server->GetHealthCheckService()->SetServingStatus(service, serving);
      if (health_server) health_server->GetHealthCheckService()->SetServingStatus(service, serving);
    }
  };
  set_health(!ha);

  std::cout << "acdd listening grpc=" << HostOf(grpc_listen) << ":" << grpc_port
            << " http=" << HostOf(http_listen) << ":" << http.port() << std::endl;
  if (replica) {
    std::cerr << "acdd: ha: replica '" << replica_options.leadership.replica_id << "' of cluster '"
              << replica_options.leadership.cluster << "' at " << replica_options.leadership.address
              << "; etcd " << etcd_endpoints << std::endl;
    replica->Start();
  }
  std::unique_ptr<acd::daemon::Demo> demo;
  if (absl::GetFlag(FLAGS_demo)) {
    demo = std::make_unique<acd::daemon::Demo>(&engine, /*seed=*/1);
    demo->Start();
    const std::string http_address = absl::StrCat(HostOf(http_listen), ":", http.port());
    std::cerr << "acdd: demo traffic on (switch 'demo', agents demo-*). Look at:\n"
              << "  wallboard  " << (http_tls ? "https://" : "http://") << http_address
              << "/wallboard\n"
              << "  metrics    " << (http_tls ? "https://" : "http://") << http_address
              << "/metrics\n"
              << "  acdctl     build/bin/acdctl --server " << HostOf(grpc_listen) << ":"
              << grpc_port << " queues\n";
  }

  while (true) {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) continue;
    if (signal == SIGHUP) {
      if (feeds != nullptr) feeds->Reopen();
      if (!access.open()) {
        absl::Status reloaded = access.Reload();
        if (reloaded.ok()) engine.Post([&engine] { engine.DropStreamsNoLongerAdmitted(); });
        std::cerr << "acdd: audit: SIGHUP: "
                  << (reloaded.ok() ? absl::StrCat(access.tokens(), " tokens from ", tokens_path)
                                    : absl::StrCat("the tokens file was not re-read, the tokens "
                                                   "in force stay: ",
                                                   reloaded.message()))
                  << "\n";
      }
      if (policy_path.empty()) {
        std::cerr << "acdd: SIGHUP: running the built-in policy; start with --policy to reload a file\n";
        continue;
      }
      std::string fresh;
      if (!ReadFile(policy_path, &fresh)) {
        std::cerr << "acdd: SIGHUP: cannot read " << policy_path << "; the running policy stays\n";
        continue;
      }
      std::cerr << "acdd: audit: SIGHUP: re-reading the policy from " << policy_path << "\n";
      // Read, checked and compiled here, not on the engine thread: a policy near its size bound
      // takes most of a second (the engine applies it and journals its text).
      auto compiled = acd::routing::CompilePolicyText(fresh, policy_path);
      if (compiled.ok()) (*compiled)->yaml();
      engine.Post([&engine, fresh, policy_path, compiled] {
        engine.ReloadPolicyText(fresh, policy_path, compiled);
      });
      continue;
    }
    break;  // SIGTERM or SIGINT: drain
  }
  // Drain: refuse new calls and close streams, then let the engine finish every RPC already
  // handed to it and wait for the streams to end, within --drain_timeout_seconds. Only then shut
  // the server down; its short grace covers RPCs that raced in (they are refused anyway).
  std::cerr << "acdd: shutting down\n";
  if (demo) demo->Stop();
  server->GetHealthCheckService()->SetServingStatus(false);
  if (health_server) health_server->GetHealthCheckService()->SetServingStatus(false);
  if (engine.metrics().ha.leader.Get() == 0 && replica) {
    replica->Stop();  // a standby has nothing to drain
    replica.reset();
  }
  engine.Post([&engine] { engine.BeginDrain(); });
  const auto drain_deadline = std::chrono::steady_clock::now() +
                              std::chrono::milliseconds(static_cast<int64_t>(
                                  absl::GetFlag(FLAGS_drain_timeout_seconds) * 1000));
  while (std::chrono::steady_clock::now() < drain_deadline) {
    std::promise<size_t> open;
    engine.Post([&engine, &open] { open.set_value(engine.open_streams()); });
    if (open.get_future().get() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // A leader resigns now, drained: its standby takes over at once instead of after the lease.
  if (replica) replica->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  if (health_server) health_server->Shutdown(std::chrono::system_clock::now());
  http.Stop();
  engine.Stop();
  std::cerr << "acdd: stopped\n";
  return 0;
}
