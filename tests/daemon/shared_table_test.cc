// SharedTable: a table put is handed out again while it is fresh (at least the minimum, or ten
// times what it took to make), and not once it has aged or the clock went back before it.
#include "daemon/shared_table.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace acd::daemon {
namespace {

const absl::Time kMade = absl::FromUnixSeconds(1'800'000'000);

TEST(SharedTable, GivesNothingBeforeATableIsPut) {
  SharedTable<std::string> tables(absl::Milliseconds(100));
  EXPECT_EQ(tables.Get(kMade), nullptr);
}

TEST(SharedTable, ACheapTableServesEveryReaderForTheMinimumThenAgesOut) {
  SharedTable<std::string> tables(absl::Milliseconds(100));
  auto table = std::make_shared<const std::string>("queues at 0 ms");
  tables.Put(table, kMade, absl::Microseconds(50));
  EXPECT_EQ(tables.Get(kMade), table);
  EXPECT_EQ(tables.Get(kMade + absl::Milliseconds(99)), table);
  EXPECT_EQ(tables.Get(kMade + absl::Milliseconds(100)), nullptr);

  auto newer = std::make_shared<const std::string>("queues at 100 ms");
  tables.Put(newer, kMade + absl::Milliseconds(100), absl::Microseconds(50));
  EXPECT_EQ(tables.Get(kMade + absl::Milliseconds(150)), newer);
}

TEST(SharedTable, ADearTableServesTenTimesAsLongAsItTookToMake) {
  SharedTable<std::string> tables(absl::Milliseconds(100));
  auto table = std::make_shared<const std::string>("four thousand queues");
  tables.Put(table, kMade, absl::Milliseconds(15));
  EXPECT_EQ(tables.Get(kMade + absl::Milliseconds(149)), table);
  EXPECT_EQ(tables.Get(kMade + absl::Milliseconds(150)), nullptr);
}

TEST(SharedTable, AClockThatWentBackBeforeTheTableWasMadeGetsANewOne) {
  SharedTable<std::string> tables(absl::Milliseconds(100));
  tables.Put(std::make_shared<const std::string>("t"), kMade, absl::ZeroDuration());
  EXPECT_EQ(tables.Get(kMade - absl::Milliseconds(1)), nullptr);
}

}  // namespace
}  // namespace acd::daemon
