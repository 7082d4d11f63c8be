// The snapshot file (daemon/journal/snapshot_file.h, daemon/snapshot_io.h): parts read back as
// written, byte for byte in the documented format; every truncation and byte flip, and parts that
// pass the checksum but do not make a consistent core, are DATA_LOSS, never a crash; file names
// carry their sequence, ListSnapshots gives the newest first, and RemoveUnfinishedSnapshots removes
// only temporary files.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "daemon/api_convert.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/journal/crc32c.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/snapshot_io.h"
#include "gtest/gtest.h"
#include "tests/daemon/journal_test_support.h"
#include "tests/daemon/random_core_traffic.h"
#include "tests/daemon/snapshot_parts.h"

namespace acd::daemon::testing {
namespace {

using acd::journal::v1::SnapshotHead;
using acd::journal::v1::SnapshotPart;

namespace fs = std::filesystem;

constexpr char kScratch[] = "snapshot_file_test";

// A core with some of every kind of state a snapshot keeps.
// At least `each` live calls, finished calls and logins, and an outbox with unwritten commands.
std::unique_ptr<Core> BusyCore(uint64_t seed, int each) {
  Traffic traffic(seed);
  absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(traffic.Created(), nullptr);
  if (!core.ok()) {
    ADD_FAILURE() << core.status();
    return nullptr;
  }
  for (int k = 1; k <= 3000; ++k) {
    const JournalInput input = traffic.Next(**core);
    traffic.Learn(input, Apply(**core, input));
    PartCounts counts;
    counts.Add(Save(**core));
    if (counts.live_calls >= each && counts.finished_calls >= each && counts.logins >= each &&
        counts.outboxes_with_unwritten >= 1) {
      return *std::move(core);
    }
  }
  ADD_FAILURE() << "the traffic never made a busy core";
  return nullptr;
}

// Writes `parts` as a snapshot file (a valid one, whatever the parts say).
void WriteParts(const std::string& path, const std::vector<SnapshotPart>& parts) {
  absl::StatusOr<std::unique_ptr<journal::SnapshotFileWriter>> writer =
      journal::SnapshotFileWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const SnapshotPart& part : parts) ASSERT_TRUE((*writer)->Add(part).ok());
  ASSERT_TRUE((*writer)->Finish().ok());
}

std::string U32(uint32_t v) {
  std::string out(4, '\0');
  journal::PutU32(v, out.data());
  return out;
}

TEST(SnapshotFile, PartsReadBackInTheOrderTheyWereWrittenInTheDocumentedFormat) {
  ScratchDir dir(kScratch);
  std::vector<SnapshotPart> parts(4);
  parts[0].mutable_head()->set_sequence(7);
  parts[1].mutable_login()->set_agent_id("alice");
  parts[1].mutable_login()->set_login(std::string("\0\1\2", 3));
  // parts[2]: empty, zero bytes long.
  parts[3].mutable_end()->set_logins(1);
  const std::string path = dir / "parts.snap";
  absl::StatusOr<std::unique_ptr<journal::SnapshotFileWriter>> writer =
      journal::SnapshotFileWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const SnapshotPart& part : parts) ASSERT_TRUE((*writer)->Add(part).ok());
  ASSERT_TRUE((*writer)->Finish().ok());
  EXPECT_EQ((*writer)->bytes(), fs::file_size(path));

  absl::StatusOr<journal::SnapshotFileReader> reader = journal::SnapshotFileReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(reader->bytes(), fs::file_size(path));
  for (const SnapshotPart& expected : parts) {
    SnapshotPart part;
    absl::StatusOr<bool> more = reader->Next(&part);
    ASSERT_TRUE(more.ok()) << more.status();
    ASSERT_TRUE(*more);
    EXPECT_EQ(DeterministicBytes(part), DeterministicBytes(expected));
  }
  SnapshotPart part;
  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<bool> more = reader->Next(&part);
    ASSERT_TRUE(more.ok()) << more.status();
    EXPECT_FALSE(*more) << "no more parts, however often asked";
  }

  // Byte for byte what the file format's comment says.
  std::string expected(std::string("ACDSNAP\0", 8) + U32(1) + U32(0));
  for (const SnapshotPart& p : parts) {
    const std::string bytes = p.SerializeAsString();
    absl::StrAppend(&expected, U32(static_cast<uint32_t>(bytes.size())), bytes);
  }
  const uint32_t crc = journal::MaskCrc(journal::Crc32c(expected));
  absl::StrAppend(&expected, std::string("ACDSEND\0", 8), U32(crc), U32(0));
  absl::StatusOr<std::string> written = ReadFile(path);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(*written == expected) << "the file is not in the documented format";
}

TEST(SnapshotFile, EveryTruncationAndEveryByteFlipIsDataLossNeverACrash) {
  ScratchDir dir(kScratch);
  std::unique_ptr<Core> core = BusyCore(81, 1);
  ASSERT_NE(core, nullptr);
  SnapshotHead head;
  head.set_sequence(1000);
  const std::string path = dir / "whole.snap";
  ASSERT_TRUE(WriteSnapshot(*core, head, path).ok());
  absl::StatusOr<std::string> whole = ReadFile(path);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE(LoadSnapshot(path, nullptr).ok()) << "whole, it loads";

  // Each damaged copy under a new name: rewriting one file in place would make the file system
  // flush it on every close.
  int copies = 0;
  auto load_damaged = [&](const std::string& bytes) -> absl::Status {
    const std::string damaged = dir / absl::StrCat("damaged-", ++copies, ".snap");
    WriteFile(damaged, bytes);
    absl::Status status = LoadSnapshot(damaged, nullptr).status();
    fs::remove(damaged);
    return status;
  };
  for (size_t length = 0; length < whole->size(); ++length) {
    const absl::Status status = load_damaged(whole->substr(0, length));
    ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss)
        << "cut to " << length << " of " << whole->size() << " bytes: " << status;
  }
  std::mt19937_64 random(81);
  for (int flip = 0; flip < 400; ++flip) {
    std::string bytes = *whole;
    const size_t at = random() % bytes.size();
    bytes[at] = static_cast<char>(bytes[at] ^ (1 + random() % 255));
    const absl::Status status = load_damaged(bytes);
    ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss)
        << "byte " << at << " of " << bytes.size() << " changed: " << status;
  }
}

TEST(SnapshotFile, PartsThatPassTheChecksumButAreWrongAreDataLoss) {
  ScratchDir dir(kScratch);
  std::unique_ptr<Core> core = BusyCore(82, 3);
  ASSERT_NE(core, nullptr);
  SnapshotPart head;
  head.mutable_head()->set_sequence(500);
  std::vector<SnapshotPart> parts = Save(*core);
  parts.insert(parts.begin(), head);
  // Where each kind of part is: [0] head, [1] core head, [2] router, then calls (finished first),
  // outboxes, logins, and the end last.
  auto first_of = [&](const std::function<bool(const SnapshotPart&)>& is) {
    return static_cast<size_t>(std::find_if(parts.begin(), parts.end(), is) - parts.begin());
  };
  const size_t finished = first_of([](const SnapshotPart& p) { return p.call().has_finished(); });
  const size_t live =
      first_of([](const SnapshotPart& p) { return p.has_call() && !p.call().has_finished(); });
  const size_t history =
      first_of([](const SnapshotPart& p) { return p.call().history_size() > 0; });
  const size_t outbox = first_of([](const SnapshotPart& p) { return p.has_outbox(); });
  const size_t unwritten =
      first_of([](const SnapshotPart& p) { return p.outbox().unwritten_size() > 0; });
  const size_t login = first_of([](const SnapshotPart& p) { return p.has_login(); });
  const size_t end = parts.size() - 1;
  ASSERT_TRUE(parts[1].has_core() && parts[2].has_router() && parts[end].has_end());
  ASSERT_TRUE(finished < live && live < outbox && unwritten < login && login < end &&
              history < outbox)
      << finished << " " << live << " " << outbox << " " << unwritten << " " << login << " " << end;

  auto move = [](std::vector<SnapshotPart>& p, size_t from, size_t to) {
    SnapshotPart part = p[from];
    p.erase(p.begin() + static_cast<std::ptrdiff_t>(from));
    p.insert(p.begin() + static_cast<std::ptrdiff_t>(to), part);
  };
  const std::vector<std::pair<std::string, std::function<void(std::vector<SnapshotPart>&)>>>
      wrongs = {
          {"no head", [](auto& p) { p.erase(p.begin()); }},
          {"nothing after the head", [](auto& p) { p.resize(1); }},
          {"no core head", [](auto& p) { p.erase(p.begin() + 1); }},
          {"the router before the core head", [](auto& p) { std::swap(p[1], p[2]); }},
          {"the head twice", [](auto& p) { p.insert(p.begin() + 3, p[0]); }},
          {"a policy that does not compile",
           [](auto& p) {
             p[1].mutable_core()->mutable_policy()->mutable_queues(0)->set_offer_timeout_seconds(
                 -1);
           }},
          {"the router's state cut short",
           [](auto& p) { p[2].set_router(p[2].router().substr(0, p[2].router().size() / 2)); }},
          {"a finished call after a live one", [&](auto& p) { move(p, finished, live); }},
          {"an outbox before the calls", [&](auto& p) { move(p, outbox, finished); }},
          {"a login before the outboxes", [&](auto& p) { move(p, login, outbox); }},
          {"a call twice",
           [&](auto& p) {
             p.insert(p.begin() + static_cast<std::ptrdiff_t>(live), p[live]);
             p.back().mutable_end()->set_calls(p.back().end().calls() + 1);
           }},
          {"a login twice",
           [&](auto& p) {
             p.insert(p.begin() + static_cast<std::ptrdiff_t>(login), p[login]);
             p.back().mutable_end()->set_logins(p.back().end().logins() + 1);
           }},
          {"an outbox twice",
           [&](auto& p) {
             p.insert(p.begin() + static_cast<std::ptrdiff_t>(outbox), p[outbox]);
             p.back().mutable_end()->set_outboxes(p.back().end().outboxes() + 1);
           }},
          {"a live call the router does not hold",
           [&](auto& p) {
             p.erase(p.begin() + static_cast<std::ptrdiff_t>(live));
             p.back().mutable_end()->set_calls(p.back().end().calls() - 1);
           }},
          {"a live call renamed", [&](auto& p) { p[live].mutable_call()->set_call_id("nobody"); }},
          {"a call without an id", [&](auto& p) { p[live].mutable_call()->clear_call_id(); }},
          {"a login of an agent the router does not hold",
           [&](auto& p) { p[login].mutable_login()->set_agent_id("nobody"); }},
          {"a login left out",
           [&](auto& p) {
             p.erase(p.begin() + static_cast<std::ptrdiff_t>(login));
             p.back().mutable_end()->set_logins(p.back().end().logins() - 1);
           }},
          {"a history line acdd does not write",
           [&](auto& p) { p[history].mutable_call()->mutable_history(0)->set_what("teleported"); }},
          {"a time out of range",
           [&](auto& p) {
             p[finished].mutable_call()->mutable_finished()->mutable_left_at()->set_quarter_nanos(
                 4'000'000'000u);
           }},
          {"an answer to an event that does not exist",
           [&](auto& p) { p[live].mutable_call()->add_answers()->set_event(9999); }},
          {"an unwritten command numbered past the outbox's next",
           [&](auto& p) {
             acd::journal::v1::OutboxState* o = p[unwritten].mutable_outbox();
             o->mutable_unwritten(0)->set_sequence(o->next_sequence());
           }},
          {"an unwritten command twice",
           [&](auto& p) {
             acd::journal::v1::OutboxState* o = p[unwritten].mutable_outbox();
             *o->add_unwritten() = o->unwritten(0);
           }},
          {"a part of no kind among the calls",
           [&](auto& p) {
             p.insert(p.begin() + static_cast<std::ptrdiff_t>(live), SnapshotPart());
           }},
          {"an end that counts one call too many",
           [](auto& p) { p.back().mutable_end()->set_calls(p.back().end().calls() + 1); }},
          {"an end that counts one outbox too few",
           [](auto& p) { p.back().mutable_end()->set_outboxes(p.back().end().outboxes() - 1); }},
          {"an end that counts one login too many",
           [](auto& p) { p.back().mutable_end()->set_logins(p.back().end().logins() + 1); }},
          {"no end", [](auto& p) { p.pop_back(); }},
          {"a part after the end", [&](auto& p) { p.push_back(p[login]); }},
          {"an end after the end", [](auto& p) { p.push_back(p.back()); }},
      };
  // Unchanged, the parts load.
  const std::string whole = dir / "whole.snap";
  ASSERT_NO_FATAL_FAILURE(WriteParts(whole, parts));
  absl::StatusOr<LoadedSnapshot> loaded = LoadSnapshot(whole, nullptr);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ExpectSameState(core->Dump(), loaded->core->Dump(), "loaded");

  for (const auto& [what, change] : wrongs) {
    SCOPED_TRACE(what);
    std::vector<SnapshotPart> wrong = parts;
    change(wrong);
    const std::string path = dir / "wrong.snap";
    ASSERT_NO_FATAL_FAILURE(WriteParts(path, wrong));
    loaded = LoadSnapshot(path, nullptr);
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss) << loaded.status();
  }
}

TEST(SnapshotFile, NamesCarryTheirSequenceAndOtherNamesNone) {
  EXPECT_EQ(journal::SnapshotFileName(42), "snapshot-00000000000000000042.snap");
  EXPECT_EQ(journal::SnapshotSequence(journal::SnapshotFileName(42)), 42u);
  EXPECT_EQ(journal::SnapshotSequence(journal::SnapshotFileName(1)), 1u);
  EXPECT_EQ(journal::SnapshotSequence(journal::SnapshotFileName(UINT64_MAX)), UINT64_MAX);
  for (const char* other :
       {"snapshot-00000000000000000042.snap.tmp", "snapshot-42.snap",
        "snapshot-000000000000000000042.snap", "snapshot-0000000000000000042x.snap",
        "snapshot-00000000000000000042.snp", "Snapshot-00000000000000000042.snap",
        "journal-00000000000000000042.seg", "snapshot-99999999999999999999.snap", "", "."}) {
    EXPECT_EQ(journal::SnapshotSequence(other), 0u) << other;
  }
}

TEST(SnapshotFile, ListSnapshotsGivesTheNewestFirstAndOnlySnapshots) {
  ScratchDir dir(kScratch);
  for (const std::string& name :
       {journal::SnapshotFileName(5), journal::SnapshotFileName(100), journal::SnapshotFileName(7),
        journal::SnapshotFileName(200) + ".tmp", journal::SegmentFileName(1),
        std::string("notes.txt"), std::string("snapshot-7.snap")}) {
    ASSERT_NO_FATAL_FAILURE(WriteFile(dir / name, "x"));
  }
  absl::StatusOr<std::vector<journal::SnapshotFile>> listed = journal::ListSnapshots(dir.path());
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::pair<uint64_t, std::string>> got;
  for (const journal::SnapshotFile& s : *listed) got.emplace_back(s.sequence, s.path);
  EXPECT_EQ(got,
            (std::vector<std::pair<uint64_t, std::string>>{{100, SnapshotPath(dir.path(), 100)},
                                                           {7, SnapshotPath(dir.path(), 7)},
                                                           {5, SnapshotPath(dir.path(), 5)}}));

  ScratchDir empty(kScratch);
  listed = journal::ListSnapshots(empty.path());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty());
}

TEST(SnapshotFile, RemoveUnfinishedSnapshotsRemovesOnlyTheirTemporaryFiles) {
  ScratchDir dir(kScratch);
  const std::vector<std::string> unfinished = {journal::SnapshotFileName(9) + ".tmp",
                                               journal::SnapshotFileName(12) + ".tmp"};
  const std::vector<std::string> others = {journal::SnapshotFileName(9),
                                           journal::SegmentFileName(1), "notes.tmp",
                                           "snapshot-12.snap.tmp"};
  for (const std::string& name : unfinished) ASSERT_NO_FATAL_FAILURE(WriteFile(dir / name, "x"));
  for (const std::string& name : others) ASSERT_NO_FATAL_FAILURE(WriteFile(dir / name, "x"));
  absl::Status removed = journal::RemoveUnfinishedSnapshots(dir.path());
  ASSERT_TRUE(removed.ok()) << removed;
  for (const std::string& name : unfinished) EXPECT_FALSE(fs::exists(dir / name)) << name;
  for (const std::string& name : others) EXPECT_TRUE(fs::exists(dir / name)) << name;
}

}  // namespace
}  // namespace acd::daemon::testing
