// The on-disk format of acdd's journal, version 1. A data dir holds segment files named
// `journal-<first sequence, 20 digits>.seg`, each a header and then records back to back:
//
//   segment header (16 bytes): "ACDJRNL\0"  u32 format version (2)  u32 zero
//   record:  u32 payload length | u32 masked CRC32C | u64 sequence | u64 epoch | payload
//   zeros, from an all-zero record header to the end of the file (version 2): the part of the
//   segment its writer prepared for records and never filled (FileJournal's window)
//
// Version 1 segments are version 2's without the zeros (but a power loss's); this acdd reads both.
// A version 1 acdd refuses a version 2 segment by its header rather than take its zeros for
// damage.
// Integers are little-endian. The CRC covers sequence, epoch and payload. Sequences start at 1 and
// rise by one from record to record across segments; the epoch is the term of the acdd that wrote
// the record (1 on a lone acdd; a standby that takes over raises it). The payload is a serialized
// acd.journal.v1.Input.
//   std::string bytes = EncodeRecord(seq, epoch, payload);
//   DecodedRecord r; RecordCheck c = DecodeRecord(buffer, offset, &r);
#ifndef ACD_DAEMON_JOURNAL_RECORD_FORMAT_H_
#define ACD_DAEMON_JOURNAL_RECORD_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace acd::daemon::journal {

inline constexpr uint32_t kFormatVersion = 2;        // what this acdd writes
inline constexpr uint32_t kOldestFormatVersion = 1;  // the oldest it reads
inline constexpr size_t kSegmentHeaderBytes = 16;
inline constexpr size_t kRecordHeaderBytes = 24;
// No input comes near this (a policy is the largest); a length above it is corruption, not a
// reason to allocate.
inline constexpr uint32_t kMaxPayloadBytes = 64u << 20;

// Little-endian integers, as every field of the data dir's files is stored.
void PutU32(uint32_t v, char* out);
void PutU64(uint64_t v, char* out);
uint32_t GetU32(const char* in);
uint64_t GetU64(const char* in);

std::string SegmentHeader();
// Why a segment's first bytes are not a header of this format, or empty when they are.
std::string CheckSegmentHeader(absl::string_view bytes);

// Appends one framed record to `out`.
void AppendRecord(uint64_t sequence, uint64_t epoch, absl::string_view payload, std::string* out);
inline std::string EncodeRecord(uint64_t sequence, uint64_t epoch, absl::string_view payload) {
  std::string out;
  AppendRecord(sequence, epoch, payload, &out);
  return out;
}

struct DecodedRecord {
  uint64_t sequence = 0;
  uint64_t epoch = 0;
  absl::string_view payload;  // into the buffer decoded from
  size_t size = 0;            // header + payload (set for kBadChecksum too)
};

enum class RecordCheck {
  kOk,
  kTruncated,    // the buffer ends inside the record (its header or its payload)
  kBadLength,    // the length is beyond any record's
  kBadChecksum,  // the bytes are all there but their CRC does not match
};
const char* RecordCheckName(RecordCheck check);

// Decodes the record at `offset` of `buffer`.
RecordCheck DecodeRecord(absl::string_view buffer, size_t offset, DecodedRecord* record);

// The name of the segment whose first record is `first_sequence`, and back (0 if not one).
std::string SegmentFileName(uint64_t first_sequence);
uint64_t SegmentFirstSequence(absl::string_view file_name);

}  // namespace acd::daemon::journal

#endif  // ACD_DAEMON_JOURNAL_RECORD_FORMAT_H_
