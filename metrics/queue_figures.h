// QueueFigures keeps one queue's outcomes in one-minute buckets over the last hour and answers the
// figures a wallboard shows over a trailing window (15 min, 1 h): service level, average speed of
// answer, average handle time and abandon rate. Pure and single-threaded: the engine thread feeds
// it and reads it; time is an argument.
//   QueueFigures figures(absl::Seconds(20));          // the queue's service-level threshold
//   figures.Answered(absl::Seconds(12), now);
//   figures.Abandoned(absl::Seconds(40), now);
//   figures.Over(absl::Minutes(15), now).service_level; // 1 answered in 20 s of 2 that count: 0.5
//
// Definitions (the common contact-center ones, stated so a board can be checked by hand):
// - service level = answered within the threshold / (answered + abandoned after the threshold);
//   callers who hung up within the threshold count for neither side. Unknown with no such call.
// - ASA = total wait of answered calls / answered calls.
// - AHT = total handle time (talk + wrap-up) of calls that ended / those calls.
// - abandon rate = abandoned / (answered + abandoned).
#ifndef ACD_METRICS_QUEUE_FIGURES_H_
#define ACD_METRICS_QUEUE_FIGURES_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/time/time.h"

namespace acd::metrics {

class QueueFigures {
 public:
  explicit QueueFigures(absl::Duration service_level_threshold)
      : threshold_(service_level_threshold) {}

  void set_threshold(absl::Duration threshold) { threshold_ = threshold; }
  absl::Duration threshold() const { return threshold_; }

  // A caller reached an agent after waiting `wait`.
  void Answered(absl::Duration wait, absl::Time now);
  // A caller hung up while waiting, after `wait`.
  void Abandoned(absl::Duration wait, absl::Time now);
  // A call's agent finished with it: talk (holds included) plus the wrap-up that followed.
  void Handled(absl::Duration handle, absl::Time now);

  struct Window {
    uint64_t answered = 0;
    uint64_t answered_within_threshold = 0;
    uint64_t abandoned = 0;
    uint64_t abandoned_after_threshold = 0;
    uint64_t handled = 0;
    double wait_seconds_answered = 0;
    double handle_seconds = 0;
    std::optional<double> service_level;  // 0..1
    std::optional<double> asa_seconds;
    std::optional<double> aht_seconds;
    std::optional<double> abandon_rate;   // 0..1
  };
  // The figures over the trailing `window` (whole minutes, at most an hour) ending at `now`.
  Window Over(absl::Duration window, absl::Time now) const;

 private:
  static constexpr int kMinutes = 60;
  struct Bucket {
    int64_t minute = -1;  // minutes since the epoch this bucket holds; -1: empty
    uint64_t answered = 0, answered_within = 0, abandoned = 0, abandoned_after = 0, handled = 0;
    double wait_answered = 0, handle = 0;
  };
  Bucket& At(absl::Time now);

  absl::Duration threshold_;
  std::array<Bucket, kMinutes> buckets_{};
};

}  // namespace acd::metrics

#endif  // ACD_METRICS_QUEUE_FIGURES_H_
