#include "daemon/log_limiter.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace acd::daemon {

LogLimiter::LogLimiter(Options options, std::function<void(absl::string_view line)> log,
                       std::function<void(absl::string_view topic, uint64_t lines)> suppressed)
    : options_(options), log_(std::move(log)), suppressed_(std::move(suppressed)) {}

void LogLimiter::Summarize(const std::string& topic, Window& window) {
  if (window.left_out == 0) return;
  log_(absl::StrCat(window.left_out, " more '", topic, "' lines in ",
                    absl::FormatDuration(options_.window), " were left out of this log (",
                    options_.lines_per_window,
                    " a window are kept; "
                    "acd_log_lines_suppressed_total counts them)"));
  window.left_out = 0;
}

void LogLimiter::Log(absl::string_view topic, absl::string_view line, absl::Time now) {
  auto [it, fresh] = windows_.try_emplace(topic);
  Window& window = it->second;
  if (fresh || now - window.began >= options_.window) {
    if (!fresh) Summarize(it->first, window);
    window.began = now;
    window.logged = 0;
  }
  if (window.logged < options_.lines_per_window) {
    ++window.logged;
    log_(line);
    return;
  }
  ++window.left_out;
  suppressed_(topic, 1);
}

void LogLimiter::Flush(absl::Time now) {
  for (auto& [topic, window] : windows_) {
    if (window.left_out > 0 && now - window.began >= options_.window) {
      Summarize(topic, window);
      window.began = now;
      window.logged = 0;
    }
  }
}

}  // namespace acd::daemon
