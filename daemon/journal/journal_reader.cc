#include "daemon/journal/journal_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/journal/snapshot_file.h"

namespace acd::daemon::journal {
namespace {

// Whether a good record later than `expected` starts anywhere after `offset`: then the bad bytes
// at `offset` are damage with records after it, not a write cut short (a bit flip in a length can
// make a record look as if it ran past the end of the file).
bool GoodRecordFollows(absl::string_view bytes, size_t offset, uint64_t expected) {
  const uint64_t most = expected + bytes.size() / kRecordHeaderBytes;
  for (size_t at = offset + 1; at + kRecordHeaderBytes <= bytes.size(); ++at) {
    uint64_t sequence = 0;
    for (int i = 0; i < 8; ++i) {
      sequence |= static_cast<uint64_t>(static_cast<uint8_t>(bytes[at + 8 + i])) << (8 * i);
    }
    if (sequence <= expected || sequence > most) continue;  // cheap: no CRC unless plausible
    DecodedRecord record;
    if (DecodeRecord(bytes, at, &record) == RecordCheck::kOk) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ListSegments(const std::string& dir) {
  absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>> found =
      ListNumberedFiles(dir, SegmentFirstSequence);
  if (!found.ok()) return found.status();
  std::vector<std::string> paths;
  for (auto& [first, path] : *found) paths.push_back(std::move(path));
  return paths;
}

absl::StatusOr<JournalScan> ReadJournal(
    const std::string& dir, RecoverMode mode, uint64_t from,
    const std::function<absl::Status(const DecodedRecord&)>& visit, uint64_t stop_before) {
  absl::StatusOr<std::vector<std::string>> segments = ListSegments(dir);
  if (!segments.ok()) return segments.status();
  JournalScan scan;
  scan.dir = dir;
  for (size_t i = 0; i < segments->size(); ++i) {
    const std::string& path = (*segments)[i];
    const bool last = i + 1 == segments->size();
    const size_t slash = path.rfind('/');
    const uint64_t named_first = SegmentFirstSequence(path.substr(slash + 1));
    if (from > 1 && scan.last_sequence == 0 && i == 0 && named_first > from) {
      return absl::DataLossError(absl::StrCat("journal: the records from ", from, " on are needed, "
                                              "but the oldest segment, ", path, ", starts at ",
                                              named_first));
    }
    // A whole segment before `from` (the next one starts at or before it) need not be read.
    if (!last && SegmentFirstSequence((*segments)[i + 1].substr(slash + 1)) <= from &&
        scan.last_sequence == 0) {
      continue;
    }
    absl::StatusOr<MappedFile> file = MappedFile::Open(path);
    if (!file.ok()) return file.status();
    const absl::string_view bytes = file->bytes();
    ++scan.segments;
    // The first segment read says by its name that the records before it were written (and
    // removed by retention, or skipped as before `from`), even when it holds none yet itself.
    if (scan.last_sequence == 0) scan.last_sequence = named_first - 1;
    scan.tail_segment = path;
    scan.tail_good_bytes = 0;

    // The journal ends at `offset` of this segment: it, what follows it there and every later
    // segment are to be cut, for the reason `note` gives.
    auto cut_from = [&](size_t offset, std::string note) {
      scan.notes.push_back(std::move(note));
      scan.tail_good_bytes = offset;
      scan.cut_bytes = bytes.size() - offset;
      if (offset < kSegmentHeaderBytes) {  // nothing of it is good: it goes, and appending starts anew
        scan.cut_segments.push_back(path);
        scan.tail_segment.clear();
        scan.tail_good_bytes = 0;
        scan.cut_bytes = 0;
      }
      for (size_t j = i + 1; j < segments->size(); ++j) scan.cut_segments.push_back((*segments)[j]);
    };
    // Everything from `offset` of this segment on is bad (`why`): torn if it is the end of the
    // journal, corrupt otherwise.
    // `torn_bytes`: how much of the torn write was written (zeros after it are not counted).
    auto bad = [&](size_t offset, const std::string& why, size_t torn_bytes,
                   bool may_be_torn) -> absl::Status {
      const std::string where = absl::StrCat(path, " at offset ", offset);
      if (last && may_be_torn) {
        cut_from(offset, absl::StrCat("journal: cut a torn last write (", torn_bytes, " bytes, ",
                                      why, ") in ", where));
      } else if (mode == RecoverMode::kTruncate) {
        cut_from(offset, absl::StrCat("journal: cut at a corrupt record (", why, ") in ", where,
                                      ", as --journal_recover=truncate asked: every record from "
                                      "there on is dropped"));
      } else {
        return absl::DataLossError(absl::StrCat(
            "journal corrupt: ", why, " in ", where, ". Records after it exist, so this is not a "
            "torn last write. Start acdd with --journal_recover=truncate to cut the journal there "
            "(every record from there on is lost), or restore the data dir from a copy"));
      }
      return absl::OkStatus();
    };

    if (std::string problem = CheckSegmentHeader(bytes); !problem.empty()) {
      // A segment cut short before its header was complete is a torn creation.
      const bool torn = bytes.size() < kSegmentHeaderBytes &&
                        absl::string_view(SegmentHeader()).substr(0, bytes.size()) == bytes;
      if (absl::Status s = bad(0, problem, bytes.size(), torn); !s.ok()) return s;
      return scan;
    }
    size_t offset = kSegmentHeaderBytes;
    scan.tail_good_bytes = offset;
    uint64_t expected = scan.last_sequence + 1;
    while (offset < bytes.size()) {
      // Checked before decoding: a reader of a live journal stops before the record that may be
      // being copied into the segment as it reads (its bytes change under a mapping).
      if (expected >= stop_before) {
        const bool zeros = bytes.find_first_not_of('\0', offset) == absl::string_view::npos;
        if (last && zeros) {
          scan.cut_bytes = bytes.size() - offset;
        } else {
          cut_from(offset, absl::StrCat("journal: cut at record ", stop_before, " in ", path,
                                        " at offset ", offset,
                                        ", as --journal_stop_before "
                                        "asked: every record from there on is dropped"));
        }
        return scan;
      }
      DecodedRecord record;
      const RecordCheck check = DecodeRecord(bytes, offset, &record);
      if (check != RecordCheck::kOk) {
        // Nothing but zeros from here on: where the segment's writer stopped, in the window it
        // had prepared (file_journal.h), or the unsynced end of a file after a power loss. The
        // records go on in the next segment, if any; the last one's zeros are cut at start.
        const size_t written = bytes.find_last_not_of('\0') + 1;  // 0 when all are zeros
        if (written <= offset) {
          scan.cut_bytes = last ? bytes.size() - offset : 0;
          break;
        }
        // Only a record that runs to the end of what was written, with no good record after it,
        // can be a write cut short.
        const absl::string_view data = bytes.substr(0, written);
        DecodedRecord cut_short = record;
        RecordCheck tail = written < bytes.size() ? DecodeRecord(data, offset, &cut_short) : check;
        // Whole now though not a moment ago: it was being written as this read it (a live
        // journal's tail, read through a mapping), which is where what can be read ends.
        if (tail == RecordCheck::kOk) tail = RecordCheck::kTruncated;
        const bool torn =
            (tail == RecordCheck::kTruncated ||
             (tail == RecordCheck::kBadChecksum && offset + cut_short.size >= data.size())) &&
            !GoodRecordFollows(data, offset, expected);
        if (absl::Status s = bad(offset, RecordCheckName(tail), written - offset, torn); !s.ok()) {
          return s;
        }
        return scan;
      }
      if (record.sequence != expected) {
        if (absl::Status s = bad(
                offset, absl::StrCat("sequence ", record.sequence, " where ", expected, " was due"),
                0, false);
            !s.ok()) {
          return s;
        }
        return scan;
      }
      // Epochs never fall: a record of an older epoch after a newer one is a deposed leader's,
      // which no replica of the newer epoch may take.
      if (record.epoch < scan.epoch) {
        if (absl::Status s = bad(offset,
                                 absl::StrCat("epoch ", record.epoch,
                                              " after a record of "
                                              "epoch ",
                                              scan.epoch),
                                 0, false);
            !s.ok()) {
          return s;
        }
        return scan;
      }
      ++expected;
      if (record.sequence >= from) {
        if (absl::Status s = visit(record); !s.ok()) return s;
        if (scan.first_sequence == 0) scan.first_sequence = record.sequence;
      }
      ++scan.records;
      scan.bytes += record.size;
      scan.last_sequence = record.sequence;
      scan.epoch = record.epoch;
      offset += record.size;
      scan.tail_good_bytes = offset;
    }
  }
  return scan;
}

absl::Status CutJournal(const JournalScan& scan) {
  // Snapshots of records past the end first: they hold a history the journal no longer has, and
  // the records appended next take their sequences.
  absl::StatusOr<std::vector<SnapshotFile>> snapshots = ListSnapshots(scan.dir);
  if (!snapshots.ok()) return snapshots.status();
  for (const SnapshotFile& snapshot : *snapshots) {
    if (snapshot.sequence <= scan.last_sequence) break;  // newest first
    if (unlink(snapshot.path.c_str()) != 0) {
      return ErrnoStatus(absl::StrCat("cannot remove ", snapshot.path), errno);
    }
  }
  // The newest segments first, then the tail: stopped half way, what is left still reads as the
  // journal up to the cut plus some of what was to go, never as one with a gap in it.
  for (auto it = scan.cut_segments.rbegin(); it != scan.cut_segments.rend(); ++it) {
    if (unlink(it->c_str()) != 0) return ErrnoStatus(absl::StrCat("cannot remove ", *it), errno);
  }
  if (scan.cut_bytes > 0) {
    if (truncate(scan.tail_segment.c_str(), static_cast<off_t>(scan.tail_good_bytes)) != 0) {
      return ErrnoStatus(absl::StrCat("cannot cut ", scan.tail_segment), errno);
    }
  }
  return absl::OkStatus();
}

}  // namespace acd::daemon::journal
