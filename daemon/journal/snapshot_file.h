// Snapshot files: acdd's whole state at a journal sequence, written beside the journal's segments
// so that recovery replays only the records after it. Format version 1:
//
//   file name: `snapshot-<sequence, 20 digits>.snap` (the last record the state includes)
//   header (16 bytes): "ACDSNAP\0"  u32 format version (1)  u32 zero
//   parts, back to back: u32 length | one serialized acd.journal.v1.SnapshotPart
//   trailer (16 bytes): "ACDSEND\0"  u32 masked CRC32C of every byte before the trailer  u32 zero
//
// Integers are little-endian. A snapshot is written as `<name>.tmp`, synced, and renamed into
// place (PublishSnapshot) once the journal through its sequence is on disk too: a file with the
// final name is whole unless the disk damaged it, which the CRC shows. Leftover `.tmp` files (a
// crash while writing) mean nothing and are removed at start; a snapshot that does not load is set
// aside as `<name>.damaged`.
//   auto writer = SnapshotFileWriter::Create(dir + "/" + SnapshotFileName(seq) + ".tmp");
//   (*writer)->Add(part); ... (*writer)->Finish();
//   auto reader = SnapshotFileReader::Open(path);
//   while (*reader->Next(&part)) ...
#ifndef ACD_DAEMON_JOURNAL_SNAPSHOT_FILE_H_
#define ACD_DAEMON_JOURNAL_SNAPSHOT_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "daemon/journal/files.h"
#include "google/protobuf/message_lite.h"

namespace acd::daemon::journal {

inline constexpr uint32_t kSnapshotFormatVersion = 1;
// No part comes near this (the router's, the largest, is about 200 bytes per call); a length
// above it is damage, not a reason to allocate.
inline constexpr uint32_t kMaxSnapshotPartBytes = 1u << 30;

std::string SnapshotFileName(uint64_t sequence);
// The sequence a snapshot file's name carries, or 0 if it is not a snapshot's name.
uint64_t SnapshotSequence(absl::string_view file_name);

struct SnapshotFile {
  uint64_t sequence = 0;
  std::string path;
};
// The snapshots of `dir`, newest (highest sequence) first.
absl::StatusOr<std::vector<SnapshotFile>> ListSnapshots(const std::string& dir);
// Removes the `.tmp` files a snapshot being written left behind.
absl::Status RemoveUnfinishedSnapshots(const std::string& dir);
// Renames a snapshot that does not load to `<path>.damaged`: kept for the operator to look at,
// no longer one of the dir's snapshots. Returns the new path.
absl::StatusOr<std::string> SetAsideSnapshot(const std::string& path);
// The snapshots set aside in `dir` (paths).
absl::StatusOr<std::vector<std::string>> SetAsideSnapshots(const std::string& dir);

class SnapshotFileWriter {
 public:
  // Creates (or empties) `path` and writes the header.
  static absl::StatusOr<std::unique_ptr<SnapshotFileWriter>> Create(const std::string& path);
  ~SnapshotFileWriter();  // closes the file; a writer not finished leaves it incomplete
  SnapshotFileWriter(const SnapshotFileWriter&) = delete;
  SnapshotFileWriter& operator=(const SnapshotFileWriter&) = delete;

  absl::Status Add(const google::protobuf::MessageLite& part);
  // Writes the trailer, fdatasyncs and closes the file.
  absl::Status Finish();
  uint64_t bytes() const { return bytes_; }  // written so far, buffered included

 private:
  SnapshotFileWriter(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  absl::Status Flush();

  const std::string path_;
  int fd_;
  std::string buffer_;
  uint32_t crc_ = 0;
  uint64_t bytes_ = 0;
};

// Renames the written `temporary` file to `path` and syncs the directory.
absl::Status PublishSnapshot(const std::string& temporary, const std::string& path);

class SnapshotFileReader {
 public:
  // Maps `path` whole and checks its header, trailer and CRC: DATA_LOSS names what is wrong.
  static absl::StatusOr<SnapshotFileReader> Open(const std::string& path);
  // The next part into `part`; false after the last one. DATA_LOSS for a part that does not parse.
  absl::StatusOr<bool> Next(google::protobuf::MessageLite* part);
  uint64_t bytes() const { return file_->bytes().size(); }

 private:
  std::string path_;
  std::unique_ptr<MappedFile> file_;
  size_t offset_ = 0;
  size_t end_ = 0;  // where the trailer starts
};

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_SNAPSHOT_FILE_H_
