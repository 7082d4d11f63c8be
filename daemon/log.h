// acdd's operator log (one line per event worth a person's attention, on stderr), and the crash for
// a broken invariant of acdd itself, which is never bad input and never survivable.
//   Log(absl::StrCat("policy '", name, "' applied"));
//   if (record == nullptr) Crash("decision for a call without a record");
#ifndef ACD_DAEMON_LOG_H_
#define ACD_DAEMON_LOG_H_

#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"

namespace acd::daemon {

inline void Log(absl::string_view line) {
  std::fprintf(stderr, "acdd: %.*s\n", static_cast<int>(line.size()), line.data());
}

[[noreturn]] inline void Crash(absl::string_view what) {
  std::fprintf(stderr, "acdd invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
  std::abort();
}

}  // namespace acd::daemon

#endif  // ACD_DAEMON_LOG_H_
