// QueueFigures: the wallboard's rolling figures, checked against values computed by hand.
#include "metrics/queue_figures.h"

#include "gtest/gtest.h"
#include "metrics/acd_metrics.h"

namespace acd::metrics {
namespace {

const absl::Time kNine = absl::FromUnixSeconds(1'800'000'000);  // a whole minute

TEST(QueueFigures, ServiceLevelCountsAnswersWithinTheThresholdAgainstAnswersAndLateAbandons) {
  QueueFigures figures(absl::Seconds(20));
  figures.Answered(absl::Seconds(5), kNine);
  figures.Answered(absl::Seconds(20), kNine);   // exactly at the threshold: within
  figures.Answered(absl::Seconds(45), kNine);
  figures.Abandoned(absl::Seconds(10), kNine);  // hung up within the threshold: neither side
  figures.Abandoned(absl::Seconds(30), kNine);  // after it: counts against
  const QueueFigures::Window w = figures.Over(absl::Minutes(15), kNine + absl::Seconds(30));
  EXPECT_EQ(w.answered, 3u);
  EXPECT_EQ(w.answered_within_threshold, 2u);
  EXPECT_EQ(w.abandoned_after_threshold, 1u);
  EXPECT_DOUBLE_EQ(*w.service_level, 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(*w.asa_seconds, (5 + 20 + 45) / 3.0);
  EXPECT_DOUBLE_EQ(*w.abandon_rate, 2.0 / 5.0);
  EXPECT_FALSE(w.aht_seconds) << "no call has ended yet";
}

TEST(QueueFigures, AverageHandleTimeIsOverCallsThatEnded) {
  QueueFigures figures(absl::Seconds(20));
  figures.Handled(absl::Seconds(200), kNine);
  figures.Handled(absl::Seconds(100), kNine + absl::Minutes(1));
  EXPECT_DOUBLE_EQ(*figures.Over(absl::Minutes(15), kNine + absl::Minutes(2)).aht_seconds, 150);
}

TEST(QueueFigures, AWindowHoldsOnlyItsTrailingMinutes) {
  QueueFigures figures(absl::Seconds(20));
  figures.Answered(absl::Seconds(5), kNine);                         // minute 0
  figures.Answered(absl::Seconds(50), kNine + absl::Minutes(20));    // minute 20
  const absl::Time now = kNine + absl::Minutes(20) + absl::Seconds(10);
  const QueueFigures::Window last15 = figures.Over(absl::Minutes(15), now);
  EXPECT_EQ(last15.answered, 1u) << "minute 0 is outside the last 15 minutes";
  EXPECT_DOUBLE_EQ(*last15.service_level, 0);
  const QueueFigures::Window hour = figures.Over(absl::Hours(1), now);
  EXPECT_EQ(hour.answered, 2u);
  EXPECT_DOUBLE_EQ(*hour.service_level, 0.5);
}

TEST(QueueFigures, ABucketIsReusedAfterAnHourWithoutMixingOldCounts) {
  QueueFigures figures(absl::Seconds(20));
  figures.Answered(absl::Seconds(5), kNine);
  figures.Answered(absl::Seconds(50), kNine + absl::Hours(1));  // the same slot an hour later
  const QueueFigures::Window hour = figures.Over(absl::Hours(1), kNine + absl::Hours(1));
  EXPECT_EQ(hour.answered, 1u);
  EXPECT_DOUBLE_EQ(*hour.service_level, 0);
}

TEST(QueueFigures, NothingYetMeansNoFigureRatherThanZero) {
  QueueFigures figures(absl::Seconds(20));
  const QueueFigures::Window w = figures.Over(absl::Minutes(15), kNine);
  EXPECT_FALSE(w.service_level);
  EXPECT_FALSE(w.asa_seconds);
  EXPECT_FALSE(w.abandon_rate);
}

TEST(RelaxedHistogram, CountsEachObservationInTheFirstBucketItFitsCumulatively) {
  RelaxedHistogram histogram({1, 2, 5});
  histogram.Observe(0.3);
  histogram.Observe(1.0);  // le="1" includes 1
  histogram.Observe(1.5);
  histogram.Observe(9);
  const prometheus::ClientMetric::Histogram h = histogram.Read();
  ASSERT_EQ(h.bucket.size(), 4u);
  EXPECT_EQ(h.bucket[0].cumulative_count, 2u);
  EXPECT_EQ(h.bucket[1].cumulative_count, 3u);
  EXPECT_EQ(h.bucket[2].cumulative_count, 3u);
  EXPECT_EQ(h.bucket[3].cumulative_count, 4u);
  EXPECT_TRUE(std::isinf(h.bucket[3].upper_bound));
  EXPECT_EQ(h.sample_count, 4u);
  EXPECT_DOUBLE_EQ(h.sample_sum, 11.8);
}

}  // namespace
}  // namespace acd::metrics
