// Failed requests of a load run (acdload), by step (EnqueueCall, offer_accepted, ..., floor ping)
// and status code, with the first few messages: what acdload reports in its JSON and says on
// stderr before it exits 1. Any thread may add.
//   Failures failures;
//   failures.Add("EnqueueCall", status);
//   if (failures.Total() > 0) failures.Print(std::cerr);
#ifndef ACD_BENCH_LOAD_FAILURES_H_
#define ACD_BENCH_LOAD_FAILURES_H_

#include <algorithm>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/support/status.h"

namespace acd::bench {

inline std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// ---------------------------------------------------------------------------------------------
// Failed requests, by step (EnqueueCall, offer_accepted, ..., floor ping) and status code, with
// the first few messages: what acdload says on stderr before it exits 1.
class Failures {
 public:
  void Add(absl::string_view step, const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    ++counts_[std::string(step)][status.error_code()];
    ++total_;
    std::string message =
        absl::StrCat(step, " ", CodeName(status.error_code()), ": ", status.error_message());
    if (first_.size() < kMessagesKept &&
        std::find(first_.begin(), first_.end(), message) == first_.end()) {
      first_.push_back(std::move(message));
    }
  }

  int Total() const {
    absl::MutexLock lock(&mu_);
    return total_;
  }

  // {"EnqueueCall": {"NOT_FOUND": 12}, ...}
  std::string Json() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> steps;
    for (const auto& [step, codes] : counts_) {
      std::vector<std::string> by_code;
      for (const auto& [code, count] : codes) {
        by_code.push_back(absl::StrFormat("\"%s\": %d", CodeName(code), count));
      }
      steps.push_back(absl::StrFormat("\"%s\": {%s}", step, absl::StrJoin(by_code, ", ")));
    }
    return absl::StrCat("{", absl::StrJoin(steps, ", "), "}");
  }

  void Print(std::ostream& out) const {
    absl::MutexLock lock(&mu_);
    out << "acdload: " << total_ << " requests failed\n";
    for (const auto& [step, codes] : counts_) {
      for (const auto& [code, count] : codes) {
        out << "  " << step << " " << CodeName(code) << ": " << count << "\n";
      }
    }
    out << "  first messages:\n";
    for (const std::string& message : first_) out << "    " << message << "\n";
  }

 private:
  static constexpr size_t kMessagesKept = 5;  // different ones
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<grpc::StatusCode, int>> counts_ ABSL_GUARDED_BY(mu_);
  int total_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> first_ ABSL_GUARDED_BY(mu_);
};

}  // namespace acd::bench

#endif  // ACD_BENCH_LOAD_FAILURES_H_
