// CRC32C (Castagnoli), the checksum of every journal record: hardware-accelerated with SSE4.2
// where the CPU has it, a table otherwise; both give the same values.
//   uint32_t crc = Crc32c(payload);
//   uint32_t more = Crc32cExtend(crc, next_part);
#ifndef ACD_DAEMON_JOURNAL_CRC32C_H_
#define ACD_DAEMON_JOURNAL_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace acd::daemon::journal {

// The CRC32C of `data` continued from `crc` (the CRC of what came before it; 0 for nothing).
uint32_t Crc32cExtend(uint32_t crc, absl::string_view data);
inline uint32_t Crc32c(absl::string_view data) { return Crc32cExtend(0, data); }

// What a record stores: the CRC rotated and offset, as leveldb does, so that the CRC of a string
// that itself contains CRCs is not trivially zero.
inline uint32_t MaskCrc(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t UnmaskCrc(uint32_t masked) {
  const uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_CRC32C_H_
