// acdd's operator log: one line per event worth a person's attention, on stderr.
//   Log(absl::StrCat("policy '", name, "' applied"));
#ifndef ACD_DAEMON_LOG_H_
#define ACD_DAEMON_LOG_H_

#include <cstdio>

#include "absl/strings/string_view.h"

namespace acd::daemon {

inline void Log(absl::string_view line) {
  std::fprintf(stderr, "acdd: %.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace acd::daemon

#endif  // ACD_DAEMON_LOG_H_
