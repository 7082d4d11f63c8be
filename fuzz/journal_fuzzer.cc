// A byte string made into a data dir (journal segments, and a snapshot) and recovered as acdd
// recovers at start (RecoverCore: the snapshot loaded, the records read, checked, parsed and
// replayed through ApplyInput). Whatever the bytes, recovery returns a core or an error, never a
// crash, and:
//  - a recovered core keeps its invariants (Core::CheckInvariants): bytes that would make an
//    inconsistent core are refused;
//  - when the first byte asks: once the journal is cut where the scan says (CutJournal, as acdd
//    does before appending), recovering again succeeds, cuts nothing more and gives the very same
//    state (Core::Dump).
//
// Input: byte 0 says how the rest becomes files (kLayout*), the recovery mode and the checks; with
// kStopBefore the next byte is --journal_stop_before; with kLayoutSnapshot the next byte is the
// snapshot's sequence and the first chunk its body. A chunk is a control byte, a 16-bit length
// and that many bytes; the harness frames each chunk as a record (sequence, epoch, CRC32C), its
// control byte damaging the framing or starting a new segment on the way (kChunk*). The CRCs being
// right, the fuzzer reaches the payloads, and through them the core.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "acd/journal/v1/journal.pb.h"
#include "daemon/core.h"
#include "daemon/core_input.h"
#include "daemon/journal/crc32c.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"
#include "daemon/recovery.h"
#include "daemon/text_diff.h"
#include "fuzz/fuzz_support.h"
#include "routing/policy_text.h"
#include "tests/daemon/replay_center.h"

namespace acd::fuzz {
namespace {

namespace journal = daemon::journal;

// Byte 0.
constexpr uint8_t kLayoutMask = 0x03;
constexpr uint8_t kLayoutRaw = 0;           // the rest is one segment file, as it is
constexpr uint8_t kLayoutRecords = 1;       // the rest is chunks, framed as records from 1
constexpr uint8_t kLayoutAfterCreated = 2;  // record 1 creates the replay center; chunks follow
constexpr uint8_t kLayoutSnapshot = 3;      // a snapshot (the first chunk), then chunks from 1
constexpr uint8_t kTruncate = 0x04;         // RecoverMode::kTruncate, else kStop
constexpr uint8_t kCutAndRecoverAgain = 0x08;
constexpr uint8_t kStopBefore = 0x10;

// Record times move at most an hour forward from one record to the next (a later one is brought
// back within the hour): recovery runs every timer between two records, as if acdd had been up,
// so a record dated years ahead costs years of prompts and offers (fuzz/README.md, "Findings").
constexpr uint64_t kMaxStep = uint64_t{3600} * 1000 * 1000;

// A chunk's control byte.
constexpr uint8_t kChunkBadCrc = 0x01;        // one bit of the stored CRC flipped
constexpr uint8_t kChunkSkipSequence = 0x02;  // a sequence left out before this record
constexpr uint8_t kChunkNextEpoch = 0x04;
constexpr uint8_t kChunkNewSegment = 0x08;    // this record starts a segment of its own
constexpr uint8_t kChunkTorn = 0x10;          // only part of the record was written: the end
constexpr uint8_t kChunkLongerLength = 0x20;  // the length says one byte more than there is
constexpr uint8_t kChunkMisnamed = 0x40;      // with kChunkNewSegment: the name is one off

void Empty(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) Fail("cannot read ", dir);
  while (const dirent* entry = readdir(d)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") unlink(absl::StrCat(dir, "/", name).c_str());
  }
  closedir(d);
}

// The data dir, made once per process in memory-backed storage and emptied before each input.
const std::string& DataDir() {
  static const std::string* const dir = [] {
    std::string path = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path += "/acd-journal-fuzz-XXXXXX";
    if (mkdtemp(path.data()) == nullptr) Fail("cannot make a data dir ", path);
    std::atexit([] { Empty(DataDir()), rmdir(DataDir().c_str()); });
    return new std::string(path);
  }();
  return *dir;
}

// A chunk of the input: its control byte, and up to 64 KiB of payload after a 16-bit length.
absl::string_view Chunk(Bytes& in, uint8_t* control) {
  *control = in.Next();
  const size_t low = in.Next();
  const size_t high = in.Next();
  return in.Take(low | high << 8);
}

void WriteFile(const std::string& name, absl::string_view bytes) {
  std::ofstream out(absl::StrCat(DataDir(), "/", name), std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) Fail("cannot write ", name);
}

// The payload of a record that creates the replay center's core (replay_center.h).
const std::string& CreatedPayload() {
  static const std::string* const payload = [] {
    auto policy = routing::CompilePolicyText(daemon::testing::kReplayPolicy, "replay_center.h");
    if (!policy.ok()) Fail("the replay center's policy: ", policy.status().message());
    daemon::JournalInput input = daemon::InputAt(absl::FromUnixSeconds(1'800'000'000));
    *input.mutable_created()->mutable_policy() = (*policy)->source;
    input.mutable_created()->set_policy_source("/etc/acd/policy.yaml");
    *input.mutable_created()->mutable_settings() = daemon::SettingsOf(daemon::testing::kOptions);
    return new std::string(input.SerializeAsString());
  }();
  return *payload;
}

// Frames chunks as records into segments, from sequence `first` on, and writes them out.
class SegmentWriter {
 public:
  explicit SegmentWriter(uint64_t first) : sequence_(first) { Open(first); }

  // False once a torn record ended the journal.
  bool Add(uint8_t control, absl::string_view payload) {
    if (control & kChunkSkipSequence) ++sequence_;
    if (control & kChunkNextEpoch) ++epoch_;
    if ((control & kChunkNewSegment) && records_ > 0) {
      Flush();
      Open(sequence_ + ((control & kChunkMisnamed) ? 1 : 0));
    }
    std::string record = journal::EncodeRecord(sequence_++, epoch_, Paced(payload));
    ++records_;
    if (control & kChunkBadCrc) record[4] ^= 0x10;
    if (control & kChunkLongerLength) {
      journal::PutU32(static_cast<uint32_t>(payload.size() + 1), record.data());
    }
    if (control & kChunkTorn) {
      bytes_.append(record, 0, journal::kRecordHeaderBytes + payload.size() / 2);
      return false;
    }
    bytes_ += record;
    return true;
  }
  void Flush() { WriteFile(journal::SegmentFileName(name_), bytes_); }

 private:
  // The payload with its time at most kMaxStep after the record before it, when it is an input.
  std::string Paced(absl::string_view payload) {
    daemon::JournalInput input;
    if (!input.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      return std::string(payload);
    }
    const int64_t time = input.time_unix_micros();
    const bool first = !last_time_.has_value();
    if (!first && time > *last_time_ && time - static_cast<uint64_t>(*last_time_) > kMaxStep) {
      const uint64_t step = (static_cast<uint64_t>(time) - static_cast<uint64_t>(*last_time_)) %
                            (kMaxStep + 1);
      input.set_time_unix_micros(*last_time_ + static_cast<int64_t>(step));
    }
    last_time_ = std::max(input.time_unix_micros(), last_time_.value_or(input.time_unix_micros()));
    return input.time_unix_micros() == time ? std::string(payload) : input.SerializeAsString();
  }

  void Open(uint64_t name) {
    name_ = name;
    bytes_ = journal::SegmentHeader();
    records_ = 0;
  }

  uint64_t sequence_;
  std::optional<int64_t> last_time_;  // of the records so far, the latest
  uint64_t epoch_ = 1;
  uint64_t name_ = 0;
  std::string bytes_;
  int records_ = 0;
};

// A snapshot file of state `sequence` around `body` (its parts, framed or not): header, body,
// trailer with the CRC of all before it.
void WriteSnapshot(uint64_t sequence, absl::string_view body) {
  std::string bytes = "ACDSNAP";
  bytes.resize(16, '\0');
  journal::PutU32(journal::kSnapshotFormatVersion, bytes.data() + 8);
  bytes.append(body.data(), body.size());
  std::string trailer = "ACDSEND";
  trailer.resize(16, '\0');
  journal::PutU32(journal::MaskCrc(journal::Crc32c(bytes)), trailer.data() + 8);
  WriteFile(journal::SnapshotFileName(sequence), bytes + trailer);
}

}  // namespace
}  // namespace acd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace acd;  // NOLINT: a harness's one function
  namespace journal = daemon::journal;
  fuzz::Bytes in(data, size);
  const uint8_t flags = in.Next();
  const uint64_t stop_before =
      (flags & fuzz::kStopBefore) ? std::max<uint8_t>(in.Next(), 1) : journal::kReadToTheEnd;
  fuzz::Empty(fuzz::DataDir());
  const uint8_t layout = flags & fuzz::kLayoutMask;
  if (layout == fuzz::kLayoutRaw) {
    fuzz::WriteFile(journal::SegmentFileName(1), in.Rest());
  } else {
    if (layout == fuzz::kLayoutSnapshot) {
      const uint64_t sequence = std::max<uint8_t>(in.Next(), 1);
      uint8_t control;
      fuzz::WriteSnapshot(sequence, fuzz::Chunk(in, &control));
    }
    fuzz::SegmentWriter segments(1);
    bool more = true;
    if (layout == fuzz::kLayoutAfterCreated) more = segments.Add(0, fuzz::CreatedPayload());
    while (more && !in.empty()) {
      uint8_t control;
      const absl::string_view payload = fuzz::Chunk(in, &control);
      more = segments.Add(control, payload);
    }
    segments.Flush();
  }

  const journal::RecoverMode mode =
      (flags & fuzz::kTruncate) ? journal::RecoverMode::kTruncate : journal::RecoverMode::kStop;
  absl::StatusOr<daemon::Recovered> recovered =
      daemon::RecoverCore(fuzz::DataDir(), mode, nullptr, stop_before);
  if (!recovered.ok()) return 0;
  std::string dump;
  if (recovered->core != nullptr) {
    if (absl::Status s = recovered->core->CheckInvariants(); !s.ok()) {
      fuzz::Fail("a recovered core: ", s.message());
    }
    dump = recovered->core->Dump();
  }
  if (!(flags & fuzz::kCutAndRecoverAgain)) return 0;
  if (absl::Status s = journal::CutJournal(recovered->scan); !s.ok()) {
    fuzz::Fail("cutting the journal: ", s.message());
  }
  absl::StatusOr<daemon::Recovered> again = daemon::RecoverCore(fuzz::DataDir(), mode, nullptr);
  if (!again.ok()) {
    fuzz::Fail("a journal cut where its scan said does not recover: ", again.status().message());
  }
  if (again->scan.cut_bytes != 0 || !again->scan.cut_segments.empty()) {
    fuzz::Fail("a journal already cut is to be cut again: ",
               absl::StrJoin(again->scan.notes, "; "));
  }
  const std::string dump_again = again->core != nullptr ? again->core->Dump() : "";
  if (dump != dump_again) {
    fuzz::Fail("recovering a cut journal gives another state:\n",
               daemon::UnifiedDiff(dump, dump_again, "first", "after the cut"));
  }
  return 0;
}
