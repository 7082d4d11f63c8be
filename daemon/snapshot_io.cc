#include "daemon/snapshot_io.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/journal/snapshot_file.h"

namespace acd::daemon {

using acd::journal::v1::SnapshotPart;

absl::StatusOr<uint64_t> WriteSnapshot(const Core& core, const acd::journal::v1::SnapshotHead& head,
                                       const std::string& path) {
  absl::StatusOr<std::unique_ptr<journal::SnapshotFileWriter>> writer =
      journal::SnapshotFileWriter::Create(path);
  if (!writer.ok()) return writer.status();
  SnapshotPart first;
  *first.mutable_head() = head;
  if (absl::Status s = (*writer)->Add(first); !s.ok()) return s;
  if (absl::Status s = core.SaveSnapshot(
          [&](const SnapshotPart& part) { return (*writer)->Add(part); });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = (*writer)->Finish(); !s.ok()) return s;
  return (*writer)->bytes();
}

absl::StatusOr<LoadedSnapshot> LoadSnapshot(const std::string& path,
                                            metrics::CallObserver* observer) {
  absl::StatusOr<journal::SnapshotFileReader> reader = journal::SnapshotFileReader::Open(path);
  if (!reader.ok()) return reader.status();
  LoadedSnapshot out;
  out.bytes = reader->bytes();
  SnapshotPart part;
  absl::StatusOr<bool> more = reader->Next(&part);
  if (!more.ok()) return more.status();
  if (!*more || !part.has_head()) {
    return absl::DataLossError(absl::StrCat("snapshot ", path, ": it does not open with its head"));
  }
  out.head = part.head();
  absl::StatusOr<std::unique_ptr<Core>> core =
      Core::RestoreSnapshot([&](SnapshotPart* next) { return reader->Next(next); }, observer);
  if (!core.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", core.status().message()));
  }
  out.core = *std::move(core);
  return out;
}

}  // namespace acd::daemon
