// CallBook: records opened for the calls a switch handed over, their capped history, finished
// records kept for their retention and at most so many of them.
#include "daemon/call_book.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

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
