// A process's CPU seconds from /proc, and which process listens on a loopback port: how acdload
// charges both processes' CPU to the calls of a run.
//   std::optional<double> before = ProcessCpuSeconds("self");
//   int pid = SocketOwner(ListeningSocketInode(50051));   // 0: not found
#ifndef ACD_BENCH_PROCESS_CPU_H_
#define ACD_BENCH_PROCESS_CPU_H_

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace acd::bench {

// User + system CPU seconds `pid` ("self" or a number) has used; nullopt when unreadable.
inline std::optional<double> ProcessCpuSeconds(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(name_end + 1), ' ', absl::SkipEmpty());
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15, in clock ticks.
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return std::nullopt;
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

// Whether a /proc/net/tcp{,6} local address (hex, as the kernel prints it) takes connections to
// loopback: 127.0.0.0/8, ::1, ::ffff:127.x.x.x, or a wildcard.
inline bool TakesLoopback(absl::string_view hex) {
  // IPv4: the address's four bytes read as a little-endian word, so 127.x.x.x ends in "7F".
  if (hex.size() == 8) return hex == "00000000" || absl::EndsWith(hex, "7F");
  if (hex.size() != 32) return false;
  if (hex == std::string(32, '0') || hex == "00000000000000000000000001000000") return true;
  return absl::StartsWith(hex, "0000000000000000FFFF0000") && TakesLoopback(hex.substr(24));
}

// The inode of the socket listening on `port` at an address taking loopback; 0 if none.
inline uint64_t ListeningSocketInode(int port) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
      const std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() < 10 || f[3] != "0A") continue;  // 0A: LISTEN
      const std::vector<absl::string_view> local = absl::StrSplit(f[1], ':');
      uint32_t local_port = 0;
      uint64_t inode = 0;
      if (local.size() == 2 && TakesLoopback(local[0]) &&
          absl::SimpleHexAtoi(local[1], &local_port) && static_cast<int>(local_port) == port &&
          absl::SimpleAtoi(f[9], &inode)) {
        return inode;
      }
    }
  }
  return 0;
}

// The entries of `dir`; as many as could be read (processes come and go under /proc).
inline std::vector<std::filesystem::path> DirectoryEntries(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> entries;
  std::error_code error;
  for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end;
       it.increment(error)) {
    entries.push_back(it->path());
  }
  return entries;
}

// A process holding socket `inode` open, from /proc/*/fd; 0 if none can be seen.
inline int SocketOwner(uint64_t inode) {
  const std::string target = absl::StrCat("socket:[", inode, "]");
  for (const std::filesystem::path& process : DirectoryEntries("/proc")) {
    int pid = 0;
    if (!absl::SimpleAtoi(process.filename().string(), &pid)) continue;
    for (const std::filesystem::path& fd : DirectoryEntries(process / "fd")) {
      std::error_code error;
      if (std::filesystem::read_symlink(fd, error).string() == target) return pid;
    }
  }
  return 0;
}

}  // namespace acd::bench

#endif  // ACD_BENCH_PROCESS_CPU_H_
