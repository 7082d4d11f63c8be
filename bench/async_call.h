// What bench's gRPC clients (acdload, acdfill) share: a unary call in flight on the callback API,
// which its completion deletes, and how they give up on an RPC that must not fail.
//   auto* login = new AsyncCall<acd::v1::LoginRequest, acd::v1::AgentInfo>;
//   stub->async()->Login(&login->context, &login->request, &login->response,
//                        [login](grpc::Status s) { if (!s.ok()) Die("Login", s); delete login; });
#ifndef ACD_BENCH_ASYNC_CALL_H_
#define ACD_BENCH_ASYNC_CALL_H_

#include <errno.h>  // program_invocation_short_name (GNU)

#include <cstdlib>
#include <iostream>
#include <string>

#include "grpcpp/grpcpp.h"

namespace acd::bench {

template <typename Request, typename Response>
struct AsyncCall {
  grpc::ClientContext context;
  Request request;
  Response response;
};

[[noreturn]] inline void Die(const std::string& what, const grpc::Status& status) {
  std::cerr << program_invocation_short_name << ": " << what << ": " << status.error_message()
            << " (code " << status.error_code() << ")\n";
  std::exit(1);
}

}  // namespace acd::bench

#endif  // ACD_BENCH_ASYNC_CALL_H_
