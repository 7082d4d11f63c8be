// ThreadOwner, and the Core that relies on it: used from any thread but its owner they crash,
// naming the method, because that is a bug in acdd (an input that did not go through the engine).
#include "daemon/thread_owner.h"

#include <thread>

#include "daemon/core.h"
#include "gtest/gtest.h"
#include "tests/daemon/core_fixture.h"

namespace acd::daemon::testing {
namespace {

// Runs `f` on a thread of its own and waits for it.
template <typename F>
void OnAnotherThread(F f) {
  std::thread thread(f);
  thread.join();
}

class ThreadOwnerDeathTest : public ::testing::Test {
 protected:
  // The child re-runs the test from the start: safe with the threads these tests make.
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(ThreadOwnerDeathTest, ACheckOffTheOwningThreadCrashesNamingTheMethod) {
  ThreadOwner owner;
  owner.Check("Router::Enqueue");  // the constructing thread owns it
  EXPECT_TRUE(owner.IsCurrent());
  EXPECT_DEATH(OnAnotherThread([&] { owner.Check("Router::Enqueue"); }),
               "Router::Enqueue called off its owning thread");
}

TEST_F(ThreadOwnerDeathTest, BindingHandsTheObjectToTheCallingThread) {
  ThreadOwner owner;
  bool fine_there = false;
  OnAnotherThread([&] {
    owner.BindToCurrentThread();
    owner.Check("Engine::Run");  // fine on its new owner
    fine_there = owner.IsCurrent();
  });
  EXPECT_TRUE(fine_there);
  EXPECT_FALSE(owner.IsCurrent());
  EXPECT_DEATH(owner.Check("Engine::Run"), "Engine::Run called off its owning thread");
}

TEST_F(ThreadOwnerDeathTest, ACoreUsedOffItsThreadCrashesNamingTheMethod) {
  SimulatedCenter center;
  acd::v1::EnqueueCallResponse response;
  EXPECT_DEATH(OnAnotherThread([&] {
                 (void)center.core().EnqueueCall(SimulatedCenter::EnqueueRequest("c1", "sales"),
                                                 &response, center.now());
               }),
               "Core::EnqueueCall called off its owning thread");
  EXPECT_DEATH(OnAnotherThread([&] { center.core().AdvanceTo(center.now()); }),
               "Core::AdvanceTo called off its owning thread");
  acd::v1::GetCallRequest request;
  acd::v1::CallInfo info;
  EXPECT_DEATH(OnAnotherThread([&] { (void)center.core().GetCall(request, &info, center.now()); }),
               "Core::GetCall called off its owning thread")
      << "reads too: they see state only the owner may touch";
}

TEST_F(ThreadOwnerDeathTest, ACoreBoundToAnotherThreadWorksThereAndNoLongerHere) {
  SimulatedCenter center;
  absl::Status enqueued = absl::UnknownError("not run");
  OnAnotherThread([&] {
    center.core().BindToCurrentThread();  // as the engine thread does when it starts
    acd::v1::EnqueueCallResponse response;
    enqueued = center.core().EnqueueCall(SimulatedCenter::EnqueueRequest("c1", "sales"), &response,
                                         center.now());
  });
  EXPECT_TRUE(enqueued.ok()) << enqueued;
  acd::v1::GetCallRequest request;
  request.set_call_id("c1");
  acd::v1::CallInfo info;
  EXPECT_DEATH((void)center.core().GetCall(request, &info, center.now()),
               "Core::GetCall called off its owning thread");
}

// core.h: "every method checks it runs on that thread". Taking the new commands and starting the
// drain change the core's state like any input.
TEST_F(ThreadOwnerDeathTest, TakingCommandsOrDrainingOffTheCoresThreadCrashesToo) {
  SimulatedCenter center;
  EXPECT_DEATH(OnAnotherThread([&] { center.core().TakeCommands(); }),
               "Core::TakeCommands called off its owning thread");
  EXPECT_DEATH(OnAnotherThread([&] { center.core().BeginDrain(); }),
               "Core::BeginDrain called off its owning thread");
}

}  // namespace
}  // namespace acd::daemon::testing
