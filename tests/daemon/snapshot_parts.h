// A core's snapshot parts for the snapshot tests: Save takes them as Core::SaveSnapshot hands them
// over, and PartCounts tells what kinds of state they hold (to check a core was busy enough).
//   std::vector<SnapshotPart> parts = Save(core);
//   PartCounts counts;  counts.Add(parts);  EXPECT_GT(counts.live_calls, 0);
#ifndef ACD_TESTS_DAEMON_SNAPSHOT_PARTS_H_
#define ACD_TESTS_DAEMON_SNAPSHOT_PARTS_H_

#include <vector>

#include "absl/status/status.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "daemon/core.h"
#include "gtest/gtest.h"

namespace acd::daemon::testing {

// A core's snapshot parts, in the order SaveSnapshot hands them over.
inline std::vector<acd::journal::v1::SnapshotPart> Save(const Core& core) {
  std::vector<acd::journal::v1::SnapshotPart> parts;
  absl::Status saved = core.SaveSnapshot([&](const acd::journal::v1::SnapshotPart& part) {
    parts.push_back(part);
    return absl::OkStatus();
  });
  EXPECT_TRUE(saved.ok()) << saved;
  return parts;
}

// What kinds of state a snapshot's parts hold.
struct PartCounts {
  int live_calls = 0;
  int finished_calls = 0;
  int outboxes_with_unwritten = 0;
  int offers = 0;
  int logins = 0;
  void Add(const std::vector<acd::journal::v1::SnapshotPart>& parts) {
    for (const acd::journal::v1::SnapshotPart& part : parts) {
      if (part.has_call()) ++(part.call().has_finished() ? finished_calls : live_calls);
      if (part.has_outbox() && part.outbox().unwritten_size() > 0) ++outboxes_with_unwritten;
      if (part.has_outbox()) offers += part.outbox().offers_size();
      if (part.has_login()) ++logins;
    }
  }
};

}  // namespace acd::daemon::testing

#endif  // ACD_TESTS_DAEMON_SNAPSHOT_PARTS_H_
