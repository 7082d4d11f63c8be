// See grpc_log.h.
#include "daemon/grpc_log.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "daemon/log.h"
#include "daemon/log_limiter.h"
#include "grpc/support/log.h"

namespace acd::daemon {
namespace {

struct GrpcLog {
  absl::Mutex mu;
  std::function<absl::Time()> now ABSL_GUARDED_BY(mu);
  std::unique_ptr<LogLimiter> limiter ABSL_GUARDED_BY(mu);
};

// Never destroyed: gRPC may log from its threads while the process exits.
GrpcLog& Shared() {
  static GrpcLog* const log = new GrpcLog;
  return *log;
}

void Write(gpr_log_func_args* args) {
  const absl::string_view file = args->file == nullptr ? "" : args->file;
  const absl::string_view base = file.substr(file.rfind('/') + 1);
  GrpcLog& log = Shared();
  absl::MutexLock lock(&log.mu);
  const absl::Time now = log.now();
  log.limiter->Log(absl::StrCat("grpc:", base),
                   absl::StrCat("grpc ", gpr_log_severity_string(args->severity), " ", base, ":",
                                args->line, ": ", args->message == nullptr ? "" : args->message),
                   now);
}

}  // namespace

void RouteGrpcLog(std::function<absl::Time()> now,
                  std::function<void(absl::string_view topic, uint64_t lines)> suppressed) {
  GrpcLog& log = Shared();
  {
    absl::MutexLock lock(&log.mu);
    log.now = std::move(now);
    log.limiter = std::make_unique<LogLimiter>(
        LogLimiter::Options{}, [](absl::string_view line) { Log(line); }, std::move(suppressed));
  }
  gpr_set_log_function(&Write);
}

}  // namespace acd::daemon
