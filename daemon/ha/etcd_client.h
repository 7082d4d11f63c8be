// EtcdClient is acdd's client of etcd's v3 gRPC API, for the hot standby's leadership: leases
// (grant, one keep-alive at a time, revoke), guarded transactions and reads. Every call is
// blocking with a deadline of its own, so it belongs on a thread that may wait (the leadership's,
// never the engine's). A call that fails for want of a reachable or working member (UNAVAILABLE,
// DEADLINE_EXCEEDED, a member without a raft leader) moves the client to the next endpoint for the
// calls after it: a paused or isolated member keeps its TCP connection open and never answers,
// which gRPC's own channel would not notice.
//   EtcdClient etcd({.endpoints = {"127.0.0.1:2379", "127.0.0.1:22379"}});
//   absl::StatusOr<EtcdLease> lease = etcd.Grant(absl::Seconds(1));
//   absl::StatusOr<etcdserverpb::TxnResponse> won = etcd.Txn(request);
#ifndef ACD_DAEMON_HA_ETCD_CLIENT_H_
#define ACD_DAEMON_HA_ETCD_CLIENT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace acd::daemon::ha {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // host:port of each member (plain gRPC)
  // Each call's deadline, unless the call says otherwise.
  absl::Duration call_timeout = absl::Milliseconds(500);
};

struct EtcdLease {
  int64_t id = 0;
  // What etcd granted, which may be longer than what was asked for: etcd raises a TTL below
  // its minimum (1.5 election timeouts, in whole seconds) without saying so.
  absl::Duration ttl;
};

// Splits "a:1,b:2" (spaces allowed) into endpoints; an empty or malformed entry is an error
// naming it.
absl::StatusOr<std::vector<std::string>> ParseEtcdEndpoints(absl::string_view text);

class EtcdClient {
 public:
  explicit EtcdClient(EtcdClientOptions options);

  absl::StatusOr<EtcdLease> Grant(absl::Duration ttl);
  // One renewal: the lease's remaining TTL as etcd reports it; zero when the lease is gone
  // (expired or revoked: etcd answers a renewal of an unknown lease with TTL 0, not an error).
  absl::StatusOr<absl::Duration> KeepAliveOnce(int64_t lease, absl::Duration timeout);
  absl::Status Revoke(int64_t lease);
  absl::StatusOr<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request);
  // A linearizable read of one key, or of every key under `key` with `prefix`. `serializable`:
  // the member's own copy instead, without a round of its raft (cheaper, possibly a little stale).
  absl::StatusOr<etcdserverpb::RangeResponse> Range(const std::string& key, bool prefix = false,
                                                    bool serializable = false);
  absl::Status Put(const std::string& key, const std::string& value, int64_t lease = 0);

  // The endpoint the next call goes to.
  std::string current_endpoint() const;

 private:
  struct Member {
    std::string endpoint;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  };
  // The member to call, and its index for Failed().
  Member& Current(size_t* index);
  // After a call to member `index` failed with `status`: move on to the next member when the
  // failure says this one cannot serve now. Returns `status` as an absl::Status naming the member.
  absl::Status Failed(size_t index, const grpc::Status& status, absl::string_view what);
  void Prepare(grpc::ClientContext* context, absl::Duration timeout) const;
  // One unary call to the current member with the default deadline: `call(member, context,
  // &response)` makes it.
  template <typename Response, typename Call>
  absl::StatusOr<Response> Unary(absl::string_view what, Call call);

  const EtcdClientOptions options_;
  std::vector<Member> members_;
  mutable absl::Mutex mu_;
  size_t current_ ABSL_GUARDED_BY(mu_) = 0;
};

// Helpers for building transactions.
etcdserverpb::Compare CreateRevisionIs(const std::string& key, int64_t revision);
etcdserverpb::Compare ValueIs(const std::string& key, const std::string& value);
etcdserverpb::RequestOp PutOp(const std::string& key, const std::string& value, int64_t lease = 0);
etcdserverpb::RequestOp RangeOp(const std::string& key, bool prefix = false);
// The end of the range of every key starting with `prefix` (etcd's "prefix + 1").
std::string PrefixEnd(const std::string& prefix);

}  // namespace acd::daemon::ha

#endif  // ACD_DAEMON_HA_ETCD_CLIENT_H_
