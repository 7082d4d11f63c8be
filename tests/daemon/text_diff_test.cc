// UnifiedDiff: what an operator sees before applying a policy change.
#include "daemon/text_diff.h"

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

}  // namespace
}  // namespace acd::daemon
