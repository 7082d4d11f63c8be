// One-minute buckets over an hour; see queue_figures.h.
#include "metrics/queue_figures.h"

#include <algorithm>

namespace acd::metrics {
namespace {

int64_t MinuteOf(absl::Time t) { return absl::ToInt64Minutes(absl::Floor(t - absl::UnixEpoch(), absl::Minutes(1))); }

}  // namespace

QueueFigures::Bucket& QueueFigures::At(absl::Time now) {
  const int64_t minute = MinuteOf(now);
  Bucket& bucket = buckets_[static_cast<size_t>(((minute % kMinutes) + kMinutes) % kMinutes)];
  if (bucket.minute != minute) bucket = Bucket{.minute = minute};
  return bucket;
}

void QueueFigures::Answered(absl::Duration wait, absl::Time now) {
  Bucket& b = At(now);
  b.answered++;
  if (wait <= threshold_) b.answered_within++;
  b.wait_answered += absl::ToDoubleSeconds(wait);
}

void QueueFigures::Abandoned(absl::Duration wait, absl::Time now) {
  Bucket& b = At(now);
  b.abandoned++;
  if (wait > threshold_) b.abandoned_after++;
}

void QueueFigures::Handled(absl::Duration handle, absl::Time now) {
  Bucket& b = At(now);
  b.handled++;
  b.handle += absl::ToDoubleSeconds(handle);
}

QueueFigures::Window QueueFigures::Over(absl::Duration window, absl::Time now) const {
  const int64_t minutes =
      std::clamp<int64_t>(absl::ToInt64Minutes(window), 1, kMinutes);
  const int64_t last = MinuteOf(now);
  Window w;
  for (const Bucket& b : buckets_) {
    if (b.minute < 0 || b.minute > last || b.minute <= last - minutes) continue;
    w.answered += b.answered;
    w.answered_within_threshold += b.answered_within;
    w.abandoned += b.abandoned;
    w.abandoned_after_threshold += b.abandoned_after;
    w.handled += b.handled;
    w.wait_seconds_answered += b.wait_answered;
    w.handle_seconds += b.handle;
  }
  if (const uint64_t counted = w.answered + w.abandoned_after_threshold; counted > 0) {
    w.service_level = static_cast<double>(w.answered_within_threshold) / counted;
  }
  if (w.answered > 0) w.asa_seconds = w.wait_seconds_answered / w.answered;
  if (w.handled > 0) w.aht_seconds = w.handle_seconds / w.handled;
  if (const uint64_t offered = w.answered + w.abandoned; offered > 0) {
    w.abandon_rate = static_cast<double>(w.abandoned) / offered;
  }
  return w;
}

}  // namespace acd::metrics
