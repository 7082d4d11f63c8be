#include "daemon/journal/record_format.h"

#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "daemon/journal/crc32c.h"

namespace acd::daemon::journal {
namespace {

constexpr char kMagic[8] = {'A', 'C', 'D', 'J', 'R', 'N', 'L', '\0'};

}  // namespace

void PutU32(uint32_t v, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}
void PutU64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (8 * i));
}
uint32_t GetU32(const char* in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}
uint64_t GetU64(const char* in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  return v;
}

std::string SegmentHeader() {
  std::string header(kSegmentHeaderBytes, '\0');
  std::memcpy(header.data(), kMagic, sizeof(kMagic));
  PutU32(kFormatVersion, header.data() + 8);
  return header;
}

std::string CheckSegmentHeader(absl::string_view bytes) {
  if (bytes.size() < kSegmentHeaderBytes) return "shorter than a segment header";
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) return "not an acd journal segment";
  const uint32_t version = GetU32(bytes.data() + 8);
  if (version < kOldestFormatVersion || version > kFormatVersion) {
    return absl::StrCat("journal format version ", version, "; this acdd reads versions ",
                        kOldestFormatVersion, " to ", kFormatVersion);
  }
  if (GetU32(bytes.data() + 12) != 0) return "a segment header with its reserved bytes set";
  return "";
}

void AppendRecord(uint64_t sequence, uint64_t epoch, absl::string_view payload, std::string* out) {
  const size_t start = out->size();
  out->resize(start + kRecordHeaderBytes);
  char* header = out->data() + start;
  PutU32(static_cast<uint32_t>(payload.size()), header);
  PutU64(sequence, header + 8);
  PutU64(epoch, header + 16);
  uint32_t crc = Crc32c(absl::string_view(header + 8, 16));
  crc = Crc32cExtend(crc, payload);
  PutU32(MaskCrc(crc), header + 4);
  out->append(payload.data(), payload.size());
}

const char* RecordCheckName(RecordCheck check) {
  switch (check) {
    case RecordCheck::kOk: return "ok";
    case RecordCheck::kTruncated: return "record cut short";
    case RecordCheck::kBadLength: return "impossible record length";
    case RecordCheck::kBadChecksum: return "CRC mismatch";
  }
  return "?";
}

RecordCheck DecodeRecord(absl::string_view buffer, size_t offset, DecodedRecord* record) {
  if (offset > buffer.size() || buffer.size() - offset < kRecordHeaderBytes) {
    return RecordCheck::kTruncated;
  }
  const char* header = buffer.data() + offset;
  const uint32_t length = GetU32(header);
  if (length > kMaxPayloadBytes) return RecordCheck::kBadLength;
  if (buffer.size() - offset - kRecordHeaderBytes < length) return RecordCheck::kTruncated;
  const absl::string_view payload(header + kRecordHeaderBytes, length);
  record->size = kRecordHeaderBytes + length;
  uint32_t crc = Crc32c(absl::string_view(header + 8, 16));
  crc = Crc32cExtend(crc, payload);
  if (MaskCrc(crc) != GetU32(header + 4)) return RecordCheck::kBadChecksum;
  record->sequence = GetU64(header + 8);
  record->epoch = GetU64(header + 16);
  record->payload = payload;
  return RecordCheck::kOk;
}

std::string SegmentFileName(uint64_t first_sequence) {
  return absl::StrFormat("journal-%020u.seg", first_sequence);
}

uint64_t SegmentFirstSequence(absl::string_view file_name) {
  constexpr absl::string_view kPrefix = "journal-", kSuffix = ".seg";
  if (file_name.size() != kPrefix.size() + 20 + kSuffix.size()) return 0;
  if (!absl::StartsWith(file_name, kPrefix) || !absl::EndsWith(file_name, kSuffix)) return 0;
  uint64_t sequence = 0;
  if (!absl::SimpleAtoi(file_name.substr(kPrefix.size(), 20), &sequence)) return 0;
  return sequence;
}

}  // namespace acd::daemon::journal
