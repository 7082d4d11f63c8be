#include "daemon/journal/retention.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "acd/journal/v1/journal.pb.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "daemon/journal/files.h"
#include "daemon/journal/record_format.h"
#include "daemon/journal/snapshot_file.h"

namespace acd::daemon::journal {
namespace {

// The time of the first record of segment `path`.
absl::StatusOr<absl::Time> FirstRecordTime(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot open ", path), errno);
  std::string bytes(kSegmentHeaderBytes + kRecordHeaderBytes, '\0');
  auto read_at = [&](size_t offset, size_t n) -> bool {
    size_t done = 0;
    while (done < n) {
      const ssize_t got = pread(fd, bytes.data() + offset + done, n - done,
                                static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      done += static_cast<size_t>(got);
    }
    return true;
  };
  bool ok = read_at(0, bytes.size());
  const uint32_t length = ok ? GetU32(bytes.data() + kSegmentHeaderBytes) : 0;
  if (ok && length <= kMaxPayloadBytes) {
    bytes.resize(bytes.size() + length);
    ok = read_at(kSegmentHeaderBytes + kRecordHeaderBytes, length);
  }
  close(fd);
  DecodedRecord record;
  acd::journal::v1::Input input;
  if (!ok || DecodeRecord(bytes, kSegmentHeaderBytes, &record) != RecordCheck::kOk ||
      !input.ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size()))) {
    return absl::DataLossError(absl::StrCat("cannot read the first record of ", path));
  }
  return absl::FromUnixMicros(input.time_unix_micros());
}

uint64_t SizeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

absl::Status Remove(const std::string& path, std::vector<std::string>* removed, uint64_t* bytes) {
  const uint64_t size = SizeOf(path);
  if (unlink(path.c_str()) != 0) return ErrnoStatus(absl::StrCat("cannot remove ", path), errno);
  removed->push_back(path);
  *bytes += size;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<absl::Time> SnapshotTime(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot open ", path), errno);
  // The file's header (16 bytes), then the head part's length and the part: the running policy
  // and the startup file's, far below this bound.
  constexpr size_t kHeaderBytes = 16;
  constexpr uint32_t kMaxHeadBytes = 64u << 20;
  auto read_at = [fd](std::string* bytes, size_t offset) {
    size_t done = 0;
    while (done < bytes->size()) {
      const ssize_t got =
          pread(fd, bytes->data() + done, bytes->size() - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      done += static_cast<size_t>(got);
    }
    return true;
  };
  std::string length(4, '\0');
  std::string head;
  bool ok = read_at(&length, kHeaderBytes);
  if (ok && GetU32(length.data()) <= kMaxHeadBytes) {
    head.resize(GetU32(length.data()));
    ok = read_at(&head, kHeaderBytes + 4);
  }
  close(fd);
  acd::journal::v1::SnapshotPart part;
  if (ok && part.ParseFromString(head) && part.has_head()) {
    return absl::FromUnixMicros(part.head().time_unix_micros());
  }
  return absl::DataLossError(absl::StrCat("cannot read the head of snapshot ", path));
}

absl::StatusOr<Removed> ApplyRetention(const std::string& dir, const RetentionPolicy& policy,
                                       absl::Time now) {
  Removed removed;
  absl::StatusOr<std::vector<SnapshotFile>> snapshots = ListSnapshots(dir);
  if (!snapshots.ok()) return snapshots.status();
  const size_t keep = static_cast<size_t>(std::max(policy.snapshots, 1));
  if (snapshots->empty()) return removed;
  // Newest first: the newest `keep`; then, for the history, one per `spacing` while younger than
  // the retention, and the newest one taken at or before its start; none older.
  const absl::Time history_starts = now - policy.journal;
  const absl::Duration spacing = policy.journal / kHistorySnapshots;
  absl::Time kept_last = absl::InfiniteFuture();
  bool history_based = false;
  uint64_t covered = 0;
  for (size_t i = 0; i < snapshots->size(); ++i) {
    const SnapshotFile& snapshot = (*snapshots)[i];
    absl::StatusOr<absl::Time> taken = SnapshotTime(snapshot.path);
    bool stays = i < keep;
    if (!stays && !history_based && taken.ok()) {
      stays = *taken <= history_starts || *taken <= kept_last - spacing;
    }
    if (!stays) {
      if (absl::Status s = Remove(snapshot.path, &removed.snapshots, &removed.bytes); !s.ok()) {
        return s;
      }
      continue;
    }
    covered = snapshot.sequence;
    if (taken.ok()) {
      kept_last = *taken;
      if (*taken <= history_starts) history_based = true;
    }
  }

  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> segments =
      ListNumberedFiles(dir, SegmentFirstSequence);
  if (!segments.ok()) return segments.status();
  for (size_t i = 0; i + 1 < segments->size(); ++i) {
    const auto& [next_first, next_path] = (*segments)[i + 1];
    if (next_first - 1 > covered) break;  // records in it that no kept snapshot holds
    absl::StatusOr<absl::Time> closed = FirstRecordTime(next_path);
    // The last segment may hold no record yet (just started, or its first write failed): the one
    // before it has no age yet.
    if (!closed.ok() && i + 2 == segments->size()) break;
    if (!closed.ok()) return closed.status();
    if (*closed > now - policy.journal) break;  // too recent
    if (absl::Status s = Remove((*segments)[i].second, &removed.segments, &removed.bytes); !s.ok()) {
      return s;
    }
  }
  if (!removed.segments.empty() || !removed.snapshots.empty()) {
    if (absl::Status s = SyncDir(dir); !s.ok()) return s;
  }
  return removed;
}

}  // namespace acd::daemon::journal
