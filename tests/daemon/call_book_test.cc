// CallBook: records opened for the calls a switch handed over, their capped history, finished
// records kept for their retention and at most so many of them.
#include "daemon/call_book.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

FinishedCall Ended(const std::string& agent) {
  return FinishedCall{.state = acd::v1::CALL_STATE_ENDED, .arrived = kStart, .agent_id = agent};
}

CallRecord& OpenCall(CallBook& book, const std::string& call) {
  acd::v1::EnqueueCallResponse response;
  response.set_position(1);
  return book.Open(SimulatedCenter::EnqueueRequest(call, "sales"), response);
}

std::vector<std::string> Ids(const CallBook& book) {
  std::vector<std::string> ids;
  book.ForEach([&](const std::string& id, const CallRecord&) { ids.push_back(id); });
  return ids;
}

TEST(CallBook, OpensARecordWithWhatTheSwitchAskedAndWasAnswered) {
  CallBook book(absl::Minutes(15), 10);
  OpenCall(book, "c1");
  const CallRecord* record = book.Find("c1");
  ASSERT_NE(record, nullptr);
  EXPECT_EQ(record->switch_id(), "sw1");
  EXPECT_EQ(record->first_response.position(), 1);
  EXPECT_EQ(record->finished, nullptr);
  EXPECT_EQ(book.Find("c2"), nullptr);
}

// The ids ForEachLiveOf gives for `switch_id` after `after`, stopping after `most`.
std::vector<std::string> LiveOf(const CallBook& book, const std::string& switch_id,
                                const std::string& after = "", size_t most = 100) {
  std::vector<std::string> ids;
  book.ForEachLiveOf(switch_id, after, [&](absl::string_view id, const CallRecord& record) {
    EXPECT_EQ(book.Find(id), &record);
    ids.emplace_back(id);
    return ids.size() < most;
  });
  return ids;
}

TEST(CallBook, ListsEachSwitchsLiveCallsInIdOrderFromAnyPointUntilTheyFinish) {
  CallBook book(absl::Minutes(15), 10);
  for (const char* call : {"c3", "c1", "c4", "c2"}) OpenCall(book, call);
  acd::v1::EnqueueCallResponse answered;
  book.Open(SimulatedCenter::EnqueueRequest("d1", "sales", "sw2"), answered);
  book.Finish("c2", Ended("alice"), kStart);
  book.Restore("c0", "sw1", std::nullopt);  // live, from a snapshot
  book.Restore("c9", "sw1", kStart).finished = std::make_unique<FinishedCall>(Ended("bob"));

  EXPECT_THAT(LiveOf(book, "sw1"), ElementsAre("c0", "c1", "c3", "c4"));
  EXPECT_THAT(LiveOf(book, "sw1", "c1"), ElementsAre("c3", "c4")) << "after c1";
  EXPECT_THAT(LiveOf(book, "sw1", "c2"), ElementsAre("c3", "c4")) << "after an id it has not";
  EXPECT_THAT(LiveOf(book, "sw1", "", 2), ElementsAre("c0", "c1")) << "until told to stop";
  EXPECT_THAT(LiveOf(book, "sw2"), ElementsAre("d1"));
  EXPECT_THAT(LiveOf(book, "nosuch"), ElementsAre());
  EXPECT_EQ(book.listed_live(), 5u);
  book.Finish("d1", Ended("carol"), kStart);
  EXPECT_THAT(LiveOf(book, "sw2"), ElementsAre());
  EXPECT_EQ(book.listed_live(), 4u);
}

TEST(CallBook, PastTheHistoryCapOnlyWhereTheCallWentIsKeptAndPastTwiceTheCapNothing) {
  CallBook book(absl::Minutes(15), 10);
  CallRecord& record = OpenCall(book, "c1");
  for (int i = 0; i < 100; ++i) CallBook::AddHistory(record, "offer_rejected", "alice", kStart);
  CallBook::AddHistory(record, "offered", "bob", kStart);
  EXPECT_EQ(record.history.size(), 100u) << "a routine entry past the cap is dropped";
  CallBook::AddHistory(record, "connected", "bob", kStart);
  CallBook::AddHistory(record, "ended", "bob", kStart + absl::Seconds(1));
  ASSERT_EQ(record.history.size(), 102u);
  EXPECT_STREQ(record.history.back().what, "ended") << "the end always shows";
  EXPECT_EQ(record.history.back().at, kStart + absl::Seconds(1));

  for (int i = 0; i < 200; ++i) CallBook::AddHistory(record, "transferred", "x", kStart);
  EXPECT_EQ(record.history.size(), 200u) << "nothing at all past twice the cap";
}

TEST(CallBook, AFinishedRecordIsKeptWithHowTheCallEndedAndFinishesOnce) {
  CallBook book(absl::Minutes(15), 10);
  OpenCall(book, "c1");
  book.Finish("c1", Ended("alice"), kStart);
  book.Finish("c1", FinishedCall{.state = acd::v1::CALL_STATE_ABANDONED}, kStart);
  book.Finish("ghost", Ended("bob"), kStart);  // no record: nothing happens
  const CallRecord* record = book.Find("c1");
  ASSERT_NE(record, nullptr);
  ASSERT_NE(record->finished, nullptr);
  EXPECT_EQ(record->finished->state, acd::v1::CALL_STATE_ENDED) << "the first end stands";
  EXPECT_EQ(record->finished->agent_id, "alice");
  EXPECT_EQ(book.size(), 1u);
}

TEST(CallBook, SweepDropsFinishedRecordsWhoseRetentionPassedAndKeepsLiveOnes) {
  CallBook book(absl::Minutes(15), 10);
  OpenCall(book, "old");
  OpenCall(book, "recent");
  OpenCall(book, "live");
  book.Finish("old", Ended("a"), kStart);
  book.Finish("recent", Ended("b"), kStart + absl::Minutes(5));

  book.Sweep(kStart + absl::Minutes(15) - absl::Seconds(1));
  EXPECT_THAT(Ids(book), UnorderedElementsAre("old", "recent", "live"));
  book.Sweep(kStart + absl::Minutes(15));
  EXPECT_THAT(Ids(book), UnorderedElementsAre("recent", "live"));
  book.Sweep(kStart + absl::Hours(10));
  EXPECT_THAT(Ids(book), UnorderedElementsAre("live")) << "a live call is never swept";
}

TEST(CallBook, KeepsAtMostMaxFinishedRecordsTheOldestGoingFirst) {
  CallBook book(absl::Minutes(15), 2);
  for (const char* id : {"f1", "f2", "f3", "live"}) OpenCall(book, id);
  book.Finish("f1", Ended("a"), kStart);
  book.Finish("f2", Ended("a"), kStart + absl::Seconds(1));
  EXPECT_EQ(book.size(), 4u);
  book.Finish("f3", Ended("a"), kStart + absl::Seconds(2));
  EXPECT_THAT(Ids(book), UnorderedElementsAre("f2", "f3", "live"));
}

}  // namespace
}  // namespace acd::daemon::testing
