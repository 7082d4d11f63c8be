#include "daemon/journal/snapshot_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "daemon/journal/crc32c.h"
#include "daemon/journal/files.h"
#include "daemon/journal/record_format.h"

namespace acd::daemon::journal {
namespace {

constexpr char kHeadMagic[8] = {'A', 'C', 'D', 'S', 'N', 'A', 'P', '\0'};
constexpr char kTailMagic[8] = {'A', 'C', 'D', 'S', 'E', 'N', 'D', '\0'};
constexpr size_t kHeaderBytes = 16;
constexpr size_t kTrailerBytes = 16;
constexpr size_t kFlushAt = 1 << 20;
constexpr absl::string_view kTemporarySuffix = ".tmp";
constexpr absl::string_view kDamagedSuffix = ".damaged";

}  // namespace

std::string SnapshotFileName(uint64_t sequence) {
  return absl::StrFormat("snapshot-%020u.snap", sequence);
}

uint64_t SnapshotSequence(absl::string_view file_name) {
  constexpr absl::string_view kPrefix = "snapshot-", kSuffix = ".snap";
  if (file_name.size() != kPrefix.size() + 20 + kSuffix.size()) return 0;
  if (!absl::StartsWith(file_name, kPrefix) || !absl::EndsWith(file_name, kSuffix)) return 0;
  uint64_t sequence = 0;
  if (!absl::SimpleAtoi(file_name.substr(kPrefix.size(), 20), &sequence)) return 0;
  return sequence;
}

absl::StatusOr<std::vector<SnapshotFile>> ListSnapshots(const std::string& dir) {
  auto found = ListNumberedFiles(dir, SnapshotSequence);
  if (!found.ok()) return found.status();
  std::vector<SnapshotFile> out;
  for (auto it = found->rbegin(); it != found->rend(); ++it) {
    out.push_back({it->first, std::move(it->second)});
  }
  return out;
}

absl::Status RemoveUnfinishedSnapshots(const std::string& dir) {
  auto unfinished = ListNumberedFiles(dir, [](absl::string_view name) -> uint64_t {
    return absl::ConsumeSuffix(&name, kTemporarySuffix) ? SnapshotSequence(name) : 0;
  });
  if (!unfinished.ok()) return unfinished.status();
  for (const auto& [sequence, path] : *unfinished) {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(absl::StrCat("cannot remove ", path), errno);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SetAsideSnapshot(const std::string& path) {
  const std::string aside = absl::StrCat(path, kDamagedSuffix);
  if (rename(path.c_str(), aside.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("cannot rename ", path, " to ", aside), errno);
  }
  return aside;
}

absl::StatusOr<std::vector<std::string>> SetAsideSnapshots(const std::string& dir) {
  auto aside = ListNumberedFiles(dir, [](absl::string_view name) -> uint64_t {
    return absl::ConsumeSuffix(&name, kDamagedSuffix) ? SnapshotSequence(name) : 0;
  });
  if (!aside.ok()) return aside.status();
  std::vector<std::string> out;
  for (auto& [sequence, path] : *aside) out.push_back(std::move(path));
  return out;
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<SnapshotFileWriter>> SnapshotFileWriter::Create(
    const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoStatus(absl::StrCat("cannot create ", path), errno);
  std::unique_ptr<SnapshotFileWriter> writer(new SnapshotFileWriter(path, fd));
  writer->buffer_.reserve(kFlushAt + 4096);
  writer->buffer_.append(kHeadMagic, sizeof(kHeadMagic));
  writer->buffer_.resize(kHeaderBytes, '\0');
  PutU32(kSnapshotFormatVersion, writer->buffer_.data() + 8);
  return writer;
}

SnapshotFileWriter::~SnapshotFileWriter() {
  if (fd_ >= 0) close(fd_);
}

absl::Status SnapshotFileWriter::Flush() {
  crc_ = Crc32cExtend(crc_, buffer_);
  bytes_ += buffer_.size();
  size_t done = 0;
  absl::Status status = WriteAll(fd_, path_, buffer_, &done);
  buffer_.clear();
  return status;
}

absl::Status SnapshotFileWriter::Add(const google::protobuf::MessageLite& part) {
  const size_t length = part.ByteSizeLong();
  if (length > kMaxSnapshotPartBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a snapshot part of ", length, " bytes is over the format's limit"));
  }
  char prefix[4];
  PutU32(static_cast<uint32_t>(length), prefix);
  buffer_.append(prefix, sizeof(prefix));
  const size_t at = buffer_.size();
  buffer_.resize(at + length);
  part.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(buffer_.data() + at));
  return buffer_.size() >= kFlushAt ? Flush() : absl::OkStatus();
}

absl::Status SnapshotFileWriter::Finish() {
  if (absl::Status s = Flush(); !s.ok()) return s;
  char trailer[kTrailerBytes] = {};
  std::memcpy(trailer, kTailMagic, sizeof(kTailMagic));
  PutU32(MaskCrc(crc_), trailer + 8);
  buffer_.assign(trailer, sizeof(trailer));
  size_t done = 0;
  if (absl::Status s = WriteAll(fd_, path_, buffer_, &done); !s.ok()) return s;
  bytes_ += buffer_.size();
  buffer_.clear();
  if (fdatasync(fd_) != 0) return ErrnoStatus(absl::StrCat("cannot fdatasync ", path_), errno);
  const int rc = close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoStatus(absl::StrCat("cannot close ", path_), errno);
  return absl::OkStatus();
}

absl::Status PublishSnapshot(const std::string& temporary, const std::string& path) {
  if (rename(temporary.c_str(), path.c_str()) != 0) {
    return ErrnoStatus(absl::StrCat("cannot rename ", temporary, " to ", path), errno);
  }
  return SyncDir(path.substr(0, path.rfind('/')));
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<SnapshotFileReader> SnapshotFileReader::Open(const std::string& path) {
  SnapshotFileReader reader;
  reader.path_ = path;
  absl::StatusOr<MappedFile> file = MappedFile::Open(path);
  if (!file.ok()) return file.status();
  reader.file_ = std::make_unique<MappedFile>(*std::move(file));
  const absl::string_view bytes = reader.file_->bytes();
  auto damaged = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("snapshot ", path, ": ", why));
  };
  if (bytes.size() < kHeaderBytes + kTrailerBytes) return damaged("shorter than a snapshot");
  if (std::memcmp(bytes.data(), kHeadMagic, sizeof(kHeadMagic)) != 0) {
    return damaged("not an acd snapshot");
  }
  if (const uint32_t version = GetU32(bytes.data() + 8); version != kSnapshotFormatVersion) {
    return damaged(absl::StrCat("snapshot format version ", version, "; this acdd reads version ",
                                kSnapshotFormatVersion));
  }
  reader.end_ = bytes.size() - kTrailerBytes;
  const char* trailer = bytes.data() + reader.end_;
  if (std::memcmp(trailer, kTailMagic, sizeof(kTailMagic)) != 0) {
    return damaged("no trailer: the file is cut short");
  }
  const uint32_t crc = Crc32c(absl::string_view(bytes.data(), reader.end_));
  if (UnmaskCrc(GetU32(trailer + 8)) != crc || GetU32(bytes.data() + 12) != 0 ||
      GetU32(trailer + 12) != 0) {
    return damaged("its checksum does not match: the file is damaged");
  }
  reader.offset_ = kHeaderBytes;
  return reader;
}

absl::StatusOr<bool> SnapshotFileReader::Next(google::protobuf::MessageLite* part) {
  if (offset_ == end_) return false;
  if (end_ - offset_ < 4) {
    return absl::DataLossError(absl::StrCat("snapshot ", path_, ": a part cut short at offset ",
                                            offset_));
  }
  const uint32_t length = GetU32(file_->bytes().data() + offset_);
  if (length > kMaxSnapshotPartBytes || end_ - offset_ - 4 < length ||
      !part->ParseFromArray(file_->bytes().data() + offset_ + 4, static_cast<int>(length))) {
    return absl::DataLossError(absl::StrCat("snapshot ", path_, ": the part at offset ", offset_,
                                            " does not parse"));
  }
  offset_ += 4 + length;
  return true;
}

}  // namespace acd::daemon::journal
