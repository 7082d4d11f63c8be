// The few file operations the data dir's writers and readers share (journal segments, snapshots):
// errno as a status, mapping a whole file to read it, writing all of a buffer, syncing a
// directory, and listing the files whose names carry a sequence.
//   absl::StatusOr<MappedFile> file = MappedFile::Open(path);
//   if (!file.ok()) return file.status();
//   Decode(file->bytes());
//   auto segments = ListNumberedFiles(dir, SegmentFirstSequence);   // oldest first
#ifndef ACD_DAEMON_JOURNAL_FILES_H_
#define ACD_DAEMON_JOURNAL_FILES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace acd::daemon::journal {

// A failed system call on the data dir as a status: UNAVAILABLE, "`what`: strerror(error)".
absl::Status ErrnoStatus(const std::string& what, int error);

// A whole file's bytes, mapped read-only: the page cache's own pages, with no copy and no zeroed
// buffer to fault in first (recovery reads every segment and a snapshot of tens of MB once). The
// file must not be cut shorter while it is mapped (reading past its new end raises SIGBUS): only
// acdd's start cuts a journal, before it maps anything, and files that go are unlinked, which a
// mapping survives.
class MappedFile {
 public:
  static absl::StatusOr<MappedFile> Open(const std::string& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  ~MappedFile();

  absl::string_view bytes() const { return {static_cast<const char*>(address_), size_}; }

 private:
  MappedFile() = default;
  void* address_ = nullptr;  // null for an empty file
  size_t size_ = 0;
};

// Writes all of `bytes` from `*done` on, moving `*done` as it goes (so a failed write can be
// retried from where it stopped).
absl::Status WriteAll(int fd, const std::string& path, absl::string_view bytes, size_t* done);
// The same at a file offset: byte i of `bytes` goes to offset `at` + i (pwrite).
absl::Status WriteAll(int fd, const std::string& path, absl::string_view bytes, uint64_t at,
                      size_t* done);
// fsync of the directory itself: a file created, renamed or removed in it stays so.
absl::Status SyncDir(const std::string& dir);

// The files of `dir` whose names `sequence_of` gives a sequence to (not 0), as (sequence, full
// path), lowest sequence first. A missing dir has none.
absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> ListNumberedFiles(
    const std::string& dir, uint64_t (*sequence_of)(absl::string_view file_name));

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_FILES_H_
