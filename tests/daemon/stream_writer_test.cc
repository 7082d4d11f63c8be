// StreamWriter's bookkeeping as gRPC drives it: which messages count as written (and so reach
// on_written, which journals a command as delivered) when a write completes, fails, or completes
// after the client cancelled, and what a stream taken over from hands over instead. gRPC's
// callbacks are called here directly, in the orders gRPC may call them, on a reactor bound to no
// call (gRPC keeps its StartWrite and Finish until binding).
#include "daemon/stream_writer.h"

#include <cstdint>
#include <vector>

#include "acd/v1/acd.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace acd::daemon {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class StreamWriterTest : public ::testing::Test {
 protected:
  // finishing() made public: whether the writer finished its stream.
  class Writer : public StreamWriter<acd::v1::Command> {
   public:
    using StreamWriter::finishing;
    using StreamWriter::StreamWriter;
  };

  // A writer whose written sequences and end land in this fixture; Send runs off the engine
  // thread, so each write starts at once.
  Writer* NewWriter() {
    return new Writer(
        &engine_,
        [this](StreamWriter<acd::v1::Command>*, const acd::v1::Command& command) {
          written_.push_back(command.sequence());
        },
        [this](StreamWriter<acd::v1::Command>*) { gone_ = true; });
  }
  static acd::v1::Command Numbered(uint64_t sequence) {
    acd::v1::Command command;
    command.set_sequence(sequence);
    return command;
  }
  // Runs what the writer posted to the engine thread.
  void RunEngine() {
    engine_.restart();
    engine_.run();
  }
  // gRPC is done with the stream: the writer ends (and deletes itself) on the engine thread.
  void EndStream(Writer* writer) {
    writer->OnDone();
    RunEngine();
    EXPECT_TRUE(gone_);
  }

  asio::io_context engine_;
  std::vector<uint64_t> written_;
  bool gone_ = false;
};

TEST_F(StreamWriterTest, MessagesAreWrittenOneAtATimeAndEachCountsOnceItsWriteCompletes) {
  Writer* writer = NewWriter();
  writer->Send(Numbered(1));
  writer->Send(Numbered(2));
  EXPECT_EQ(writer->backlog(), 2u);
  writer->OnWriteDone(true);
  writer->OnWriteDone(true);
  RunEngine();
  EXPECT_THAT(written_, ElementsAre(1, 2));
  EXPECT_EQ(writer->backlog(), 0u);
  EndStream(writer);
}

TEST_F(StreamWriterTest, AWriteThatCompletesAfterTheClientCancelledStillCountsAsWritten) {
  Writer* writer = NewWriter();
  writer->Send(Numbered(1));
  writer->Send(Numbered(2));
  writer->OnCancel();  // gRPC may report the cancel before the write in flight completes
  writer->OnWriteDone(true);
  RunEngine();
  // The first reached the transport; the second never started and stays with the caller.
  EXPECT_THAT(written_, ElementsAre(1));
  EXPECT_TRUE(writer->finishing());
  EndStream(writer);
}

TEST_F(StreamWriterTest, AWriteThatFailedDoesNotCountAndTheStreamFinishes) {
  Writer* writer = NewWriter();
  writer->Send(Numbered(1));
  writer->OnWriteDone(false);
  RunEngine();
  EXPECT_THAT(written_, IsEmpty());
  EXPECT_TRUE(writer->finishing());
  writer->Send(Numbered(2));  // a closed stream takes nothing more
  EXPECT_EQ(writer->backlog(), 1u);
  EndStream(writer);
}

TEST_F(StreamWriterTest, WhatTakeUnreportedTakesNeverReachesOnWritten) {
  Writer* writer = NewWriter();
  writer->Send(Numbered(1));
  writer->Send(Numbered(2));
  writer->OnWriteDone(true);  // 1 reached the transport; its report waits for the engine
  // 2 is being written: the client may get it or not.
  StreamWriter<acd::v1::Command>::Unreported unreported = writer->TakeUnreported();
  ASSERT_EQ(unreported.written.size(), 1u);
  EXPECT_EQ(unreported.written[0].sequence(), 1u);
  ASSERT_TRUE(unreported.in_flight.has_value());
  EXPECT_EQ(unreported.in_flight->sequence(), 2u);
  writer->OnWriteDone(true);
  RunEngine();
  EXPECT_THAT(written_, ElementsAre(2)) << "1 was taken; 2 completed after and is reported";
  unreported = writer->TakeUnreported();
  EXPECT_THAT(unreported.written, IsEmpty());
  EXPECT_FALSE(unreported.in_flight.has_value()) << "no write in flight";
  EndStream(writer);
}

}  // namespace
}  // namespace acd::daemon
