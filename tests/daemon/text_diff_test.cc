// UnifiedDiff: what an operator sees before applying a policy change.
#include "daemon/text_diff.h"

#include <string>

#include "gtest/gtest.h"

namespace acd::daemon {
namespace {

TEST(UnifiedDiff, EqualTextsHaveNoDiff) {
  EXPECT_EQ(UnifiedDiff("a\nb\n", "a\nb\n", "old", "new"), "");
}

TEST(UnifiedDiff, ShowsAChangedLineWithThreeLinesOfContext) {
  const std::string before = "1\n2\n3\n4\n5\n6\n7\n8\n9\n";
  const std::string after = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n";
  EXPECT_EQ(UnifiedDiff(before, after, "running", "new"),
            "--- running\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
}

TEST(UnifiedDiff, KeepsFarApartChangesInSeparateHunks) {
  std::string before, after;
  for (int i = 1; i <= 20; ++i) {
    before += std::to_string(i) + "\n";
    after += (i == 2 || i == 18 ? "x" : std::to_string(i)) + "\n";
  }
  const std::string diff = UnifiedDiff(before, after, "a", "b");
  EXPECT_NE(diff.find("@@ -1,5 +1,5 @@"), std::string::npos) << diff;
  EXPECT_NE(diff.find("@@ -15,6 +15,6 @@"), std::string::npos) << diff;
}

TEST(UnifiedDiff, ShowsAddedAndRemovedLines) {
  EXPECT_EQ(UnifiedDiff("a\nb\n", "a\nc\nb\n", "x", "y"), "--- x\n+++ y\n@@ -1,2 +1,3 @@\n a\n+c\n b\n");
  EXPECT_EQ(UnifiedDiff("a\nb\n", "a\n", "x", "y"), "--- x\n+++ y\n@@ -1,2 +1,1 @@\n a\n-b\n");
}

TEST(UnifiedDiff, OneLineChangedInTwentyThousandGivesOneSmallHunk) {
  std::string before, after;
  for (int i = 1; i <= 20000; ++i) {
    before += std::to_string(i) + "\n";
    after += (i == 10000 ? std::string("ten thousand") : std::to_string(i)) + "\n";
  }
  EXPECT_EQ(UnifiedDiff(before, after, "a", "b"),
            "--- a\n+++ b\n@@ -9997,7 +9997,7 @@\n 9997\n 9998\n 9999\n-10000\n+ten thousand\n"
            " 10001\n 10002\n 10003\n");
}

TEST(UnifiedDiff, TextsReplacedWholesaleBeyondTheTablesBoundShowOldLinesRemovedThenNewAdded) {
  // 10,001 x 10,001 lines would take a 400-MB table: the diff shows every old line removed and
  // every new one added instead, a correct diff if not the shortest (the shortest would keep the
  // one line both share).
  std::string before, after;
  for (int i = 0; i < 10001; ++i) {
    before += i == 5000 ? std::string("shared\n") : "old " + std::to_string(i) + "\n";
    after += i == 5000 ? std::string("shared\n") : "new " + std::to_string(i) + "\n";
  }
  const std::string diff = UnifiedDiff(before, after, "a", "b");
  ASSERT_EQ(diff.rfind("--- a\n+++ b\n@@ -1,10001 +1,10001 @@\n-old 0\n", 0), 0u)
      << diff.substr(0, 200);
  EXPECT_NE(diff.find("-shared\n"), std::string::npos);
  EXPECT_NE(diff.find("-old 10000\n+new 0\n"), std::string::npos);
  EXPECT_EQ(diff.substr(diff.size() - 11), "+new 10000\n");
}

}  // namespace
}  // namespace acd::daemon
