#include "daemon/ha/etcd_client.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace acd::daemon::ha {
namespace {

absl::Status ToAbsl(const grpc::Status& status, absl::string_view what, absl::string_view member) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd ", member, ": ", what, ": ", status.error_message()));
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseEtcdEndpoints(absl::string_view text) {
  std::vector<std::string> endpoints;
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    absl::ConsumePrefix(&part, "http://");
    const size_t colon = part.rfind(':');
    uint32_t port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(part.substr(colon + 1), &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("etcd endpoint '", part, "' is not HOST:PORT (in '", text, "')"));
    }
    endpoints.emplace_back(part);
  }
  return endpoints;
}

EtcdClient::EtcdClient(EtcdClientOptions options) : options_(std::move(options)) {
  for (const std::string& endpoint : options_.endpoints) {
    grpc::ChannelArguments args;
    // etcd refuses pings more often than every 5 s (GOAWAY too_many_pings); our own deadlines
    // find a dead member long before keepalive would. Reconnect quickly after a member restarts.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    std::shared_ptr<grpc::Channel> channel =
        grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
    members_.push_back(Member{endpoint, etcdserverpb::KV::NewStub(channel),
                              etcdserverpb::Lease::NewStub(channel)});
  }
}

std::string EtcdClient::current_endpoint() const {
  absl::MutexLock lock(&mu_);
  return members_.empty() ? "" : members_[current_].endpoint;
}

EtcdClient::Member& EtcdClient::Current(size_t* index) {
  absl::MutexLock lock(&mu_);
  *index = current_;
  return members_[current_];
}

absl::Status EtcdClient::Failed(size_t index, const grpc::Status& status, absl::string_view what) {
  const grpc::StatusCode code = status.error_code();
  // "etcdserver: no leader" is UNAVAILABLE; "request timed out" (the member's raft cannot
  // commit) is UNAVAILABLE too in 3.4; a member that never answers is DEADLINE_EXCEEDED.
  if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
      code == grpc::StatusCode::UNKNOWN || code == grpc::StatusCode::CANCELLED) {
    absl::MutexLock lock(&mu_);
    if (current_ == index) current_ = (current_ + 1) % members_.size();
  }
  return ToAbsl(status, what, members_[index].endpoint);
}

void EtcdClient::Prepare(grpc::ClientContext* context, absl::Duration timeout) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  // A member that has lost its raft leader refuses the call at once instead of holding it.
  context->AddMetadata("hasleader", "true");
}

template <typename Response, typename Call>
absl::StatusOr<Response> EtcdClient::Unary(absl::string_view what, Call call) {
  if (members_.empty()) return absl::FailedPreconditionError("no etcd endpoints");
  size_t index;
  Member& member = Current(&index);
  grpc::ClientContext context;
  Prepare(&context, options_.call_timeout);
  Response response;
  grpc::Status s = call(member, &context, &response);
  if (!s.ok()) return Failed(index, s, what);
  return response;
}

absl::StatusOr<EtcdLease> EtcdClient::Grant(absl::Duration ttl) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(ttl, absl::Seconds(1)))));
  absl::StatusOr<etcdserverpb::LeaseGrantResponse> response =
      Unary<etcdserverpb::LeaseGrantResponse>("LeaseGrant",
                                              [&](Member& m, grpc::ClientContext* c, auto* r) {
                                                return m.lease->LeaseGrant(c, request, r);
                                              });
  if (!response.ok()) return response.status();
  if (!response->error().empty()) {
    return absl::UnavailableError(absl::StrCat("etcd: LeaseGrant: ", response->error()));
  }
  return EtcdLease{response->id(), absl::Seconds(response->ttl())};
}

absl::StatusOr<absl::Duration> EtcdClient::KeepAliveOnce(int64_t lease, absl::Duration timeout) {
  if (members_.empty()) return absl::FailedPreconditionError("no etcd endpoints");
  size_t index;
  Member& member = Current(&index);
  // A stream of one renewal: its deadline bounds the wait for the answer, which a long-lived
  // stream could not (etcd answers nothing while it has no leader).
  grpc::ClientContext context;
  Prepare(&context, timeout);
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::LeaseKeepAliveRequest,
                                           etcdserverpb::LeaseKeepAliveResponse>>
      stream = member.lease->LeaseKeepAlive(&context);
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  etcdserverpb::LeaseKeepAliveResponse response;
  const bool answered = stream->Write(request) && stream->WritesDone() && stream->Read(&response);
  context.TryCancel();
  grpc::Status s = stream->Finish();
  if (!answered) {
    if (s.ok()) s = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream ended unanswered");
    return Failed(index, s, "LeaseKeepAlive");
  }
  return absl::Seconds(response.ttl());
}

absl::Status EtcdClient::Revoke(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  return Unary<etcdserverpb::LeaseRevokeResponse>("LeaseRevoke",
                                                  [&](Member& m, grpc::ClientContext* c, auto* r) {
                                                    return m.lease->LeaseRevoke(c, request, r);
                                                  })
      .status();
}

absl::StatusOr<etcdserverpb::TxnResponse> EtcdClient::Txn(const etcdserverpb::TxnRequest& request) {
  return Unary<etcdserverpb::TxnResponse>(
      "Txn", [&](Member& m, grpc::ClientContext* c, auto* r) { return m.kv->Txn(c, request, r); });
}

absl::StatusOr<etcdserverpb::RangeResponse> EtcdClient::Range(const std::string& key, bool prefix,
                                                              bool serializable) {
  etcdserverpb::RangeRequest request = RangeOp(key, prefix).request_range();
  request.set_serializable(serializable);
  return Unary<etcdserverpb::RangeResponse>(
      "Range",
      [&](Member& m, grpc::ClientContext* c, auto* r) { return m.kv->Range(c, request, r); });
}

absl::Status EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease) {
  const etcdserverpb::PutRequest request = PutOp(key, value, lease).request_put();
  return Unary<etcdserverpb::PutResponse>("Put", [&](Member& m, grpc::ClientContext* c,
                                                     auto* r) { return m.kv->Put(c, request, r); })
      .status();
}

namespace {

etcdserverpb::Compare Equal(const std::string& key, etcdserverpb::Compare::CompareTarget target) {
  etcdserverpb::Compare compare;
  compare.set_key(key);
  compare.set_target(target);
  compare.set_result(etcdserverpb::Compare::EQUAL);
  return compare;
}

}  // namespace

etcdserverpb::Compare CreateRevisionIs(const std::string& key, int64_t revision) {
  etcdserverpb::Compare compare = Equal(key, etcdserverpb::Compare::CREATE);
  compare.set_create_revision(revision);
  return compare;
}

etcdserverpb::Compare ValueIs(const std::string& key, const std::string& value) {
  etcdserverpb::Compare compare = Equal(key, etcdserverpb::Compare::VALUE);
  compare.set_value(value);
  return compare;
}

etcdserverpb::RequestOp PutOp(const std::string& key, const std::string& value, int64_t lease) {
  etcdserverpb::RequestOp op;
  etcdserverpb::PutRequest* put = op.mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  return op;
}

etcdserverpb::RequestOp RangeOp(const std::string& key, bool prefix) {
  etcdserverpb::RequestOp op;
  etcdserverpb::RangeRequest* range = op.mutable_request_range();
  range->set_key(key);
  if (prefix) range->set_range_end(PrefixEnd(key));
  return op;
}

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xFF) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

}  // namespace acd::daemon::ha
