// gRPC's own log lines, through a LogLimiter: a peer decides how often gRPC logs (every failed TLS
// handshake on the gRPC port is a line), so each of gRPC's source files reaches acdd's log ten
// times a minute, then as a count (acd_log_lines_suppressed_total{topic="grpc:FILE"}).
//   RouteGrpcLog([] { return absl::Now(); }, [&](absl::string_view topic, uint64_t n) {...});
#ifndef ACD_DAEMON_GRPC_LOG_H_
#define ACD_DAEMON_GRPC_LOG_H_

#include <cstdint>
#include <functional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace acd::daemon {

// From now on for the process; call once, before the gRPC server starts.
void RouteGrpcLog(std::function<absl::Time()> now,
                  std::function<void(absl::string_view topic, uint64_t lines)> suppressed);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_GRPC_LOG_H_
