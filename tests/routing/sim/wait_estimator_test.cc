// QueueWaitEstimator: QL-m values worked by hand, abandonment, forgetting, fallbacks.
#include "routing/wait_estimator.h"

#include <optional>

#include "gtest/gtest.h"

namespace acd::routing {
namespace {

absl::Time T(double seconds) { return absl::FromUnixSeconds(1'800'000'000) + absl::Seconds(seconds); }

double Seconds(std::optional<absl::Duration> d) {
  EXPECT_TRUE(d.has_value());
  return d ? absl::ToDoubleSeconds(*d) : -1;
}

TEST(QueueWaitEstimator, WithoutAbandonmentEachCallerAheadCostsOneHandleTimeOverTheServers) {
  QueueWaitEstimator est;
  est.HandleEnded(absl::Seconds(180), T(0));
  // handle = 180 s talk + 20 s wrap-up; 10 servers finish 0.05 calls/s; 3 ahead + the caller's
  // own turn = 4 stages of 20 s.
  EXPECT_DOUBLE_EQ(Seconds(est.Estimate({.ahead = 3, .servers = 10, .wrap_up = absl::Seconds(20)},
                                        T(0))),
                   80);
  EXPECT_DOUBLE_EQ(Seconds(est.Estimate({.ahead = 0, .servers = 10, .wrap_up = absl::Seconds(20)},
                                        T(0))),
                   20);
}

TEST(QueueWaitEstimator, QlmSumsOneStagePerCallerAheadWithTheirAndTheCallersAbandonment) {
  QueueWaitEstimator est;
  est.HandleEnded(absl::Seconds(180), T(0));
  // One caller hung up after 280 s; with the 120 s prior exposure theta = 1 / 400 per second.
  est.Abandoned(absl::Seconds(280), T(0));
  EXPECT_DOUBLE_EQ(est.abandonment_rate_per_second(), 1.0 / 400);
  // Given the caller is answered, their own patience adds theta to every stage:
  // 1/0.0525 + 1/0.055 + 1/0.0575 + 1/0.06 = 19.0476 + 18.1818 + 17.3913 + 16.6667
  EXPECT_NEAR(
      Seconds(est.Estimate({.ahead = 3, .servers = 10, .wrap_up = absl::Seconds(20)}, T(0))),
      71.2874, 1e-4);
}

TEST(QueueWaitEstimator, AbandonmentShortensTheWaitMoreTheLongerTheLine) {
  QueueWaitEstimator patient, impatient;
  for (QueueWaitEstimator* est : {&patient, &impatient}) {
    est->HandleEnded(absl::Seconds(300), T(0));
    est->Served(absl::Seconds(60), T(0));
  }
  impatient.Abandoned(absl::Seconds(60), T(0));
  for (int ahead : {1, 10, 100}) {
    const QueueWaitEstimator::Line line{.ahead = ahead, .servers = 20};
    EXPECT_LT(Seconds(impatient.Estimate(line, T(0))), Seconds(patient.Estimate(line, T(0))))
        << ahead << " ahead";
  }
  // Under heavy overload the wait grows with the log of the line, not linearly.
  const double w100 = Seconds(impatient.Estimate({.ahead = 100, .servers = 20}, T(0)));
  const double w1000 = Seconds(impatient.Estimate({.ahead = 1000, .servers = 20}, T(0)));
  EXPECT_LT(w1000, 3 * w100);
  EXPECT_EQ(patient.abandonment_rate_per_second(), 0);
}

TEST(QueueWaitEstimator, ServedCallersCountAsExposureForPatience) {
  QueueWaitEstimator est;
  est.Abandoned(absl::Seconds(100), T(0));
  const double theta_one = est.abandonment_rate_per_second();
  est.Served(absl::Seconds(780), T(0));  // waited long and did not hang up
  EXPECT_DOUBLE_EQ(theta_one, 1.0 / 220);
  EXPECT_DOUBLE_EQ(est.abandonment_rate_per_second(), 1.0 / 1000);
}

TEST(QueueWaitEstimator, OldCallsWeighHalfAfterAnHour) {
  QueueWaitEstimator est;
  est.HandleEnded(absl::Seconds(100), T(0));
  est.HandleEnded(absl::Seconds(300), T(3600));
  // Weights 1/2 and 1: (50 + 300) / 1.5.
  EXPECT_NEAR(est.mean_talk_seconds(), 350.0 / 1.5, 1e-9);
  EXPECT_EQ(est.calls_ended(), 2u);
  // A long quiet spell changes the weights, not the learned mean.
  est.HandleEnded(absl::Seconds(300), T(3600 + 200 * 86400.0));
  EXPECT_NEAR(est.mean_talk_seconds(), 300, 1e-6);
}

TEST(QueueWaitEstimator, WithoutEndedCallsFallsBackToLastServedThenHeadOfLine) {
  QueueWaitEstimator est;
  const QueueWaitEstimator::Line line{.ahead = 4, .servers = 10,
                                      .head_wait = absl::Seconds(30)};
  EXPECT_DOUBLE_EQ(Seconds(est.Estimate(line, T(0))), 30) << "head of line";
  EXPECT_EQ(est.Estimate({.ahead = 4, .servers = 10}, T(0)), std::nullopt) << "nothing known";
  est.Served(absl::Seconds(45), T(10));
  EXPECT_DOUBLE_EQ(Seconds(est.Estimate(line, T(10))), 45) << "last to enter service";
}

TEST(QueueWaitEstimator, WithoutServersFallsBackToDelayHistory) {
  QueueWaitEstimator est;
  est.HandleEnded(absl::Seconds(200), T(0));
  EXPECT_DOUBLE_EQ(Seconds(est.Estimate({.ahead = 2, .servers = 0,
                                         .head_wait = absl::Seconds(70)}, T(0))),
                   70);
  est.Served(absl::Seconds(25), T(1));
  EXPECT_DOUBLE_EQ(Seconds(est.Estimate({.ahead = 2, .servers = 0,
                                         .head_wait = absl::Seconds(70)}, T(1))),
                   25);
  EXPECT_EQ(QueueWaitEstimator().Estimate({.ahead = 2, .servers = 0}, T(0)), std::nullopt);
}

TEST(QlmSum, ClosedFormForLongLinesMatchesTheTermByTermSum) {
  for (double theta : {1e-6, 1e-3, 0.01, 0.5}) {
    for (int ahead : {65, 100, 1000, 20000}) {
      double direct = 0;
      for (int j = 0; j <= ahead; ++j) direct += 1.0 / (0.2 + j * theta);
      EXPECT_NEAR(QlmSum(ahead, 0.2, theta), direct, 1e-9 * direct)
          << "theta " << theta << ", " << ahead << " ahead";
    }
  }
  EXPECT_DOUBLE_EQ(QlmSum(99, 0.5, 0), 200);
}

}  // namespace
}  // namespace acd::routing
