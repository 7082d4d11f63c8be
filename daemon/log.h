// acdd's operator log (one line per event worth a person's attention, on stderr), and the crash for
// a broken invariant of acdd itself, which is never bad input and never survivable. A line leaves
// as valid UTF-8 of at most routing::kMaxMessageBytes, whatever a client put into it.
//   Log(absl::StrCat("policy '", name, "' applied"));
//   if (record == nullptr) Crash("decision for a call without a record");
#ifndef ACD_DAEMON_LOG_H_
#define ACD_DAEMON_LOG_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "routing/quote.h"

namespace acd::daemon {

inline void Log(absl::string_view line) {
  const std::string bounded = routing::BoundedUtf8(line);
  std::fprintf(stderr, "acdd: %.*s\n", static_cast<int>(bounded.size()), bounded.data());
}

[[noreturn]] inline void Crash(absl::string_view what) {
  std::fprintf(stderr, "acdd invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace acd::daemon

#endif  // ACD_DAEMON_LOG_H_
