#include "daemon/journal/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace acd::daemon::journal {

absl::Status ErrnoStatus(const std::string& what, int error) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(error)));
}

absl::StatusOr<MappedFile> MappedFile::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot open ", path), errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int error = errno;
    close(fd);
    return ErrnoStatus(absl::StrCat("cannot stat ", path), error);
  }
  MappedFile file;
  if (st.st_size > 0) {
    // MAP_POPULATE maps the whole file at once rather than a page fault at a time.
    void* address = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                         MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (address == MAP_FAILED) {
      const int error = errno;
      close(fd);
      return ErrnoStatus(absl::StrCat("cannot read ", path), error);
    }
    file.address_ = address;
    file.size_ = static_cast<size_t>(st.st_size);
  }
  close(fd);  // the mapping keeps the file
  return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (address_ != nullptr) munmap(address_, size_);
    address_ = std::exchange(other.address_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (address_ != nullptr) munmap(address_, size_);
}

absl::Status WriteAll(int fd, const std::string& path, absl::string_view bytes, size_t* done) {
  while (*done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + *done, bytes.size() - *done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(absl::StrCat("cannot write ", path), errno);
    *done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const std::string& path, absl::string_view bytes, uint64_t at,
                      size_t* done) {
  while (*done < bytes.size()) {
    const ssize_t n =
        pwrite(fd, bytes.data() + *done, bytes.size() - *done, static_cast<off_t>(at + *done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(absl::StrCat("cannot write ", path), errno);
    *done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot open ", dir), errno);
  const int rc = fsync(fd);
  const int error = errno;
  close(fd);
  if (rc != 0) return ErrnoStatus(absl::StrCat("cannot fsync ", dir), error);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> ListNumberedFiles(
    const std::string& dir, uint64_t (*sequence_of)(absl::string_view file_name)) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return std::vector<std::pair<uint64_t, std::string>>{};
    return ErrnoStatus(absl::StrCat("cannot list ", dir), errno);
  }
  std::vector<std::pair<uint64_t, std::string>> found;
  while (dirent* entry = readdir(d)) {
    const uint64_t sequence = sequence_of(entry->d_name);
    if (sequence != 0) found.emplace_back(sequence, absl::StrCat(dir, "/", entry->d_name));
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace acd::daemon::journal
