#include "daemon/ha/resync.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "acd/ha/v1/replication.grpc.pb.h"
#include "daemon/journal/files.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/snapshot_file.h"
#include "grpcpp/grpcpp.h"

namespace acd::daemon::ha {
namespace {

// Downloads the leader's newest snapshot into `path`, durably; returns its sequence.
absl::StatusOr<uint64_t> Download(const std::string& leader_address,
                                  std::shared_ptr<grpc::ChannelCredentials> credentials,
                                  const std::string& path) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);
  auto stub = acd::ha::v1::Replication::NewStub(grpc::CreateCustomChannel(
      leader_address, credentials != nullptr ? credentials : grpc::InsecureChannelCredentials(),
      args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(10));
  std::unique_ptr<grpc::ClientReader<acd::ha::v1::SnapshotChunk>> reader =
      stub->GetSnapshot(&context, acd::ha::v1::GetSnapshotRequest());
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return journal::ErrnoStatus(path, errno);
  uint64_t sequence = 0, total = 0, received = 0;
  absl::Status written;
  acd::ha::v1::SnapshotChunk chunk;
  while (written.ok() && reader->Read(&chunk)) {
    if (received == 0) {
      sequence = chunk.sequence();
      total = chunk.total_bytes();
    }
    size_t done = 0;
    written = journal::WriteAll(fd, path, chunk.data(), &done);
    received += chunk.data().size();
  }
  if (written.ok() && fdatasync(fd) != 0) written = journal::ErrnoStatus(path, errno);
  close(fd);
  const grpc::Status finished = reader->Finish();
  if (!written.ok()) return written;
  if (!finished.ok()) {
    return absl::UnavailableError(absl::StrCat("the leader's snapshot from ", leader_address, ": ",
                                               finished.error_message()));
  }
  if (sequence == 0 || received != total) {
    return absl::DataLossError(
        absl::StrCat("the leader's snapshot came with ", received, " of ", total, " bytes"));
  }
  return sequence;
}

absl::Status Rename(const std::string& from, const std::string& to) {
  if (rename(from.c_str(), to.c_str()) != 0) {
    return journal::ErrnoStatus(absl::StrCat("rename ", from, " to ", to), errno);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> ResyncFromLeader(const std::string& leader_address,
                                          std::shared_ptr<grpc::ChannelCredentials> credentials,
                                          const std::string& data_dir, absl::Time now) {
  const std::string download = absl::StrCat(data_dir, "/resync.snap.download");
  absl::StatusOr<uint64_t> sequence = Download(leader_address, std::move(credentials), download);
  if (!sequence.ok()) {
    unlink(download.c_str());
    return sequence.status();
  }
  // Everything the data dir held moves aside first; only then does the snapshot come in.
  std::vector<std::string> old;
  absl::StatusOr<std::vector<std::string>> segments = journal::ListSegments(data_dir);
  if (!segments.ok()) return segments.status();
  old = *segments;
  absl::StatusOr<std::vector<journal::SnapshotFile>> snapshots = journal::ListSnapshots(data_dir);
  if (!snapshots.ok()) return snapshots.status();
  for (const journal::SnapshotFile& snapshot : *snapshots) old.push_back(snapshot.path);
  if (!old.empty()) {
    const std::string aside = absl::StrCat(data_dir, "/set-aside-", absl::ToUnixSeconds(now));
    if (mkdir(aside.c_str(), 0750) != 0 && errno != EEXIST) {
      return journal::ErrnoStatus(aside, errno);
    }
    for (const std::string& path : old) {
      const std::string name = path.substr(path.rfind('/') + 1);
      if (absl::Status s = Rename(path, absl::StrCat(aside, "/", name)); !s.ok()) return s;
    }
    if (absl::Status s = journal::SyncDir(aside); !s.ok()) return s;
    if (absl::Status s = journal::SyncDir(data_dir); !s.ok()) return s;
  }
  if (absl::Status s =
          Rename(download, absl::StrCat(data_dir, "/", journal::SnapshotFileName(*sequence)));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = journal::SyncDir(data_dir); !s.ok()) return s;
  return sequence;
}

}  // namespace acd::daemon::ha
