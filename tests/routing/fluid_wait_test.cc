// FluidWait: exactly QL-m on one line, the cases where agents serving several lines can be worked
// by hand, the ranking across lines, the caller's own patience, and the closed-form tail.
#include "routing/fluid_wait.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "routing/wait_estimator.h"

namespace acd::routing {
namespace {

// `n` callers ahead who arrived at seconds 1, 2, ... (earlier is better at equal scores).
std::vector<FluidCaller> Ahead(int n, int64_t first_second = 1) {
  std::vector<FluidCaller> callers;
  for (int i = 0; i < n; ++i) {
    callers.push_back({.score = 0,
                       .arrived_us = (first_second + i) * 1'000'000,
                       .seq = static_cast<uint64_t>(first_second + i)});
  }
  return callers;
}

TEST(FluidWait, IsQlmOnOneLineServedByOnePool) {
  for (int ahead : {0, 1, 5, 40}) {
    FluidWait model{.lines = {{.ahead = Ahead(ahead)}},
                    .pools = {{.lines = {0}, .frees_per_second = 0.1}}};
    EXPECT_NEAR(*ExpectedFluidWait(model, 0), (ahead + 1) / 0.1, 1e-9) << ahead << " ahead";
  }
}

TEST(FluidWait, IsQlmGivenTheCallerIsAnsweredWhenCallersHangUp) {
  // Callers ahead hang up at theta, and so might the caller: each stage ends at theta more.
  const double theta = 0.01;
  for (int ahead : {0, 3, 30}) {
    FluidWait model{.lines = {{.abandon_rate = theta, .ahead = Ahead(ahead)}},
                    .pools = {{.lines = {0}, .frees_per_second = 0.2}},
                    .caller_abandon_rate = theta};
    const double qlm = QlmSum(ahead, 0.2 + theta, theta);
    EXPECT_NEAR(*ExpectedFluidWait(model, 0), qlm, 1e-9 * qlm) << ahead << " ahead";
  }
}

TEST(FluidWait, WaitsForTheOlderCallerOfAnotherQueueThatItsOnlyAgentsAlsoServe) {
  // Line 0 (the caller's, nobody ahead) is served only by pool B, which also serves line 1 where
  // an older caller waits; pool A serves line 1 only. Whichever frees first takes the older
  // caller (1 / (a + b)), then B's next free takes ours (1 / b).
  const double a = 0.3, b = 0.1;
  FluidWait model{
      .lines = {{}, {.ahead = Ahead(1)}},
      .pools = {{.lines = {1}, .frees_per_second = a}, {.lines = {0, 1}, .frees_per_second = b}}};
  EXPECT_NEAR(*ExpectedFluidWait(model, 0), 1 / (a + b) + 1 / b, 1e-9);
}

TEST(FluidWait, IsServedByEitherPoolWhenTheSharedOneTakesTheOlderCallerFirst) {
  // Our caller (line 0) can be taken by pools A and B alike; B also serves line 1, where an older
  // caller waits. With equal rates: half the time A frees first and takes ours (1 / 2r); otherwise
  // B took the older caller, and the next free of either takes ours: 1/2r + 1/2 x 1/2r.
  const double r = 0.05;
  FluidWait model{
      .lines = {{}, {.ahead = Ahead(1)}},
      .pools = {{.lines = {0}, .frees_per_second = r}, {.lines = {0, 1}, .frees_per_second = r}}};
  EXPECT_NEAR(*ExpectedFluidWait(model, 0), 1 / (2 * r) + 0.5 / (2 * r), 1e-9);
}

TEST(FluidWait, CountsOnlyTheCallersAheadThatTheCallersOwnAgentsTake) {
  // Line 1 has ten callers ahead, but only pool A serves it; our pool B serves line 0 alone.
  FluidWait model{
      .lines = {{.ahead = Ahead(2)}, {.ahead = Ahead(10)}},
      .pools = {{.lines = {1}, .frees_per_second = 0.5}, {.lines = {0}, .frees_per_second = 0.1}}};
  EXPECT_NEAR(*ExpectedFluidWait(model, 0), 3 / 0.1, 1e-9);
}

TEST(FluidWait, LetsABetterScoreGoFirstWhateverItsArrival) {
  // One shared pool; line 1's caller arrived later but scores higher (a priority): it goes first.
  FluidWait later_but_better{
      .lines = {{}, {.ahead = {{.score = 10, .arrived_us = 9'000'000, .seq = 9}}}},
      .pools = {{.lines = {0, 1}, .frees_per_second = 0.1}}};
  EXPECT_NEAR(*ExpectedFluidWait(later_but_better, 0), 2 / 0.1, 1e-9);
}

TEST(FluidWait, IsUnknownWhenNoPoolServesTheCallersLine) {
  FluidWait model{.lines = {{}, {.ahead = Ahead(1)}},
                  .pools = {{.lines = {1}, .frees_per_second = 0.1}}};
  EXPECT_FALSE(ExpectedFluidWait(model, 0));
  EXPECT_FALSE(ExpectedFluidWait(model, 7)) << "no such line";
}

TEST(FluidWait, FinishesInClosedFormPastItsSteps) {
  // One line, one pool: the closed form is QL-m's, so cutting the walk anywhere changes nothing.
  FluidWait listed{.lines = {{.abandon_rate = 0.002, .ahead = Ahead(50)}},
                   .pools = {{.lines = {0}, .frees_per_second = 0.3}},
                   .caller_abandon_rate = 0.002};
  FluidWait counted = listed;
  counted.lines[0].ahead.clear();
  counted.lines[0].more_ahead = 50;
  const double walked = *ExpectedFluidWait(listed, 0, {.max_steps = 1000});
  EXPECT_NEAR(*ExpectedFluidWait(listed, 0, {.max_steps = 10}), walked, 1e-9 * walked);
  EXPECT_NEAR(*ExpectedFluidWait(counted, 0, {.max_steps = 1000}), walked, 1e-9 * walked)
      << "callers only counted go to the closed form at once";
}

TEST(FluidWait, GrowsWithEveryOlderCallerOnAnyLineItsAgentsServe) {
  double last = 0;
  for (int older : {0, 1, 4, 16}) {
    // Line 1's callers arrived before everyone on line 0; pool A serves both lines, B ours only.
    FluidWait model{.lines = {{.ahead = Ahead(3)}, {.ahead = Ahead(older, -100)}},
                    .pools = {{.lines = {0, 1}, .frees_per_second = 0.2},
                              {.lines = {0}, .frees_per_second = 0.1}}};
    const double wait = *ExpectedFluidWait(model, 0);
    if (older == 0) {
      EXPECT_NEAR(wait, 4 / 0.3, 1e-9) << "both pools on our line alone";
    }
    EXPECT_GT(wait, last) << older << " older callers";
    last = wait;
  }
  EXPECT_LT(last, 4 / 0.1) << "never slower than our own pool alone";
}

}  // namespace
}  // namespace acd::routing
