// Quote and BoundedUtf8: what a client chose comes back inside acd's words short, printable and
// valid UTF-8, however long, binary or cut in the middle of a character it was.
#include "routing/quote.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace acd::routing {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(Quote, AShortValueIsQuotedAsItIs) {
  EXPECT_EQ(Quote("sales"), "'sales'");
  EXPECT_EQ(Quote(""), "''");
  EXPECT_EQ(Quote("caf\xC3\xA9"), "'caf\xC3\xA9'");
}

TEST(Quote, AnyValidIdIsQuotedWhole) {
  const std::string id(kMaxQuotedBytes, 'c');
  EXPECT_EQ(Quote(id), "'" + id + "'");
}

TEST(Quote, ALongValueIsCutAndSaysHowLongItWas) {
  const std::string quoted = Quote(std::string(1 << 20, 'x'));
  EXPECT_EQ(quoted, "'" + std::string(kMaxQuotedBytes, 'x') + "\xE2\x80\xA6' (1048576 bytes)");
}

TEST(Quote, ACutNeverSplitsACharacter) {
  // 'é' is two bytes: 128 bytes hold 64 of them, and a one-byte shift must not leave half of one.
  for (const std::string prefix : {"", "a"}) {
    std::string value = prefix;
    for (int i = 0; i < 100; ++i) value += "\xC3\xA9";
    const std::string quoted = Quote(value);
    EXPECT_TRUE(IsValidUtf8(quoted)) << quoted;
    EXPECT_THAT(quoted, HasSubstr("\xE2\x80\xA6' ("));
  }
}

TEST(Quote, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  EXPECT_EQ(Quote("a\xFF"
                  "b"),
            "'a\xEF\xBF\xBD"
            "b'");
  EXPECT_EQ(Quote("\xC3"), "'\xEF\xBF\xBD'");                  // a character cut short
  EXPECT_EQ(Quote("\xC0\xAF"), "'\xEF\xBF\xBD\xEF\xBF\xBD'");  // an overlong '/'
  EXPECT_EQ(Quote("\xED\xA0\x80"), "'\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD'");  // a surrogate
}

TEST(Quote, ControlCharactersQuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(Quote("two\nlines"), "'two\\x0alines'");
  EXPECT_EQ(Quote("it's"), "'it\\'s'");
  EXPECT_EQ(Quote("a\\b"), "'a\\\\b'");
  EXPECT_EQ(Quote(std::string("nul\0byte", 8)), "'nul\\x00byte'");
}

TEST(BoundedUtf8, ATextWithinItsBoundIsLeftAlone) {
  EXPECT_EQ(BoundedUtf8("policy has 2 problems:\n  a\n  b"), "policy has 2 problems:\n  a\n  b");
}

TEST(BoundedUtf8, ALongerTextIsCutToItsBoundEndingInAnEllipsis) {
  const std::string text = BoundedUtf8(std::string(10000, 'y'), 100);
  EXPECT_EQ(text.size(), 100u);
  EXPECT_THAT(text, StartsWith("yyy"));
  EXPECT_THAT(text, EndsWith("\xE2\x80\xA6"));
}

TEST(BoundedUtf8, RandomBytesAlwaysComeOutValidAndWithinTheBound) {
  std::mt19937 random(11);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes(std::uniform_int_distribution<size_t>(0, 300)(random), '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    const size_t bound = std::uniform_int_distribution<size_t>(0, 200)(random);
    const std::string out = BoundedUtf8(bytes, bound);
    ASSERT_TRUE(IsValidUtf8(out)) << "trial " << trial;
    ASSERT_LE(out.size(), bound) << "trial " << trial;
    const std::string quoted = Quote(bytes);
    ASSERT_TRUE(IsValidUtf8(quoted)) << "trial " << trial;
    ASSERT_LE(quoted.size(), 2 + kMaxQuotedBytes + 3 + 20) << "trial " << trial;
  }
}

TEST(IsValidUtf8, TellsWellFormedTextFromTheRest) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC \xF0\x9F\x93\x9E"));  // € and a telephone receiver
  EXPECT_FALSE(IsValidUtf8("\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\x80"));
}

}  // namespace
}  // namespace acd::routing
