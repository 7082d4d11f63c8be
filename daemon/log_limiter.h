// LogLimiter keeps a condition that an outside party can repeat at will (a switch that stops
// reading its command stream, agent desktops that let offers ring out) from flooding the
// operator's log. Per topic, the first `lines_per_window` lines of each window are logged and the
// rest only counted; once the window has passed, one line says how many were left out, and
// acd_log_lines_suppressed_total{topic} counts them all. Engine thread only; time is given.
//   LogLimiter limiter;
//   limiter.Log("commands_dropped", line, now);   // logged, or counted
//   limiter.Flush(now);                            // on the engine's tick: the summaries now due
#ifndef ACD_DAEMON_LOG_LIMITER_H_
#define ACD_DAEMON_LOG_LIMITER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace acd::daemon {

class LogLimiter {
 public:
  struct Options {
    int lines_per_window = 10;
    absl::Duration window = absl::Minutes(1);
  };
  // `log` writes one line (acdd's Log); `suppressed` counts lines left out, by topic (a metric).
  LogLimiter(Options options, std::function<void(absl::string_view line)> log,
             std::function<void(absl::string_view topic, uint64_t lines)> suppressed);

  void Log(absl::string_view topic, absl::string_view line, absl::Time now);
  // Says, for each topic whose window has passed with lines left out, how many.
  void Flush(absl::Time now);

 private:
  struct Window {
    absl::Time began;
    int logged = 0;
    uint64_t left_out = 0;
  };
  void Summarize(const std::string& topic, Window& window);

  const Options options_;
  std::function<void(absl::string_view)> log_;
  std::function<void(absl::string_view, uint64_t)> suppressed_;
  absl::flat_hash_map<std::string, Window> windows_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_LOG_LIMITER_H_
