#include "daemon/journal/journal_tool.h"

#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "acd/journal/v1/journal.pb.h"
#include "acd/journal/v1/snapshot.pb.h"
#include "daemon/journal/journal_reader.h"
#include "daemon/journal/snapshot_file.h"
#include "google/protobuf/util/json_util.h"

namespace acd::daemon::journal {
namespace {

using acd::journal::v1::Input;

std::string TimeText(int64_t unix_micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(unix_micros),
                          absl::UTCTimeZone());
}

// The name of an input's kind, as in the proto ("enqueue_call", "time_passed", ...).
std::string KindOf(const Input& input) {
  const google::protobuf::OneofDescriptor* oneof = Input::descriptor()->FindOneofByName("input");
  const google::protobuf::FieldDescriptor* field =
      input.GetReflection()->GetOneofFieldDescriptor(input, oneof);
  return field == nullptr ? "unknown" : field->name();
}

// Reads `dir` (without cutting anything), parsing each record's input for `visit`.
template <typename Visit>
absl::StatusOr<JournalScan> ReadInputs(const std::string& dir, uint64_t from, Visit visit) {
  return ReadJournal(dir, RecoverMode::kStop, from, [&](const DecodedRecord& record) -> absl::Status {
    Input input;
    if (!input.ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size()))) {
      return absl::DataLossError(absl::StrCat("record ", record.sequence, " is not a journal input"));
    }
    if (input.input_case() == Input::INPUT_NOT_SET) {
      return absl::DataLossError(absl::StrCat(
          "record ", record.sequence, " holds no input this release knows (a newer release's?)"));
    }
    return visit(record, input);
  });
}

int Problem(const absl::Status& status) {
  std::cerr << "acdctl: " << status.message() << "\n";
  return 1;
}

// What one snapshot file holds, checked as far as its frame goes: whole (its CRC), every part
// parses, the head's sequence is the name's and the end counts the parts.
struct SnapshotSummary {
  SnapshotFile file;
  absl::Status status;
  uint64_t bytes = 0, calls = 0, outboxes = 0, logins = 0;
};

SnapshotSummary Summarize(const SnapshotFile& file) {
  SnapshotSummary out{.file = file};
  std::error_code error;
  out.bytes = std::filesystem::file_size(file.path, error);
  if (error) out.bytes = 0;
  absl::StatusOr<SnapshotFileReader> reader = SnapshotFileReader::Open(file.path);
  if (!reader.ok()) {
    out.status = reader.status();
    return out;
  }
  acd::journal::v1::SnapshotPart part;
  bool headed = false, ended = false;
  for (;;) {
    absl::StatusOr<bool> more = reader->Next(&part);
    if (!more.ok()) {
      out.status = more.status();
      return out;
    }
    if (!*more) break;
    if (!headed) {
      if (!part.has_head() || part.head().sequence() != file.sequence) {
        out.status = absl::DataLossError("its head is missing or names another record");
        return out;
      }
      headed = true;
    }
    out.calls += part.has_call();
    out.outboxes += part.has_outbox();
    out.logins += part.has_login();
    if (part.has_end()) {
      ended = part.end().calls() == out.calls && part.end().outboxes() == out.outboxes &&
              part.end().logins() == out.logins;
    }
  }
  if (!ended) out.status = absl::DataLossError("its end is missing or miscounts its parts");
  return out;
}

std::vector<SnapshotSummary> SummarizeSnapshots(const std::string& dir, absl::Status* status) {
  std::vector<SnapshotSummary> out;
  absl::StatusOr<std::vector<SnapshotFile>> files = ListSnapshots(dir);
  if (!files.ok()) {
    *status = files.status();
    return out;
  }
  for (const SnapshotFile& file : *files) out.push_back(Summarize(file));
  return out;
}

}  // namespace

int VerifyJournal(const std::string& dir, std::ostream& out) {
  std::optional<int64_t> first_time, last_time;
  std::string created;
  absl::StatusOr<JournalScan> scan =
      ReadInputs(dir, 1, [&](const DecodedRecord& record, const Input& input) -> absl::Status {
        if (!first_time && record.sequence > 1) {
          created = absl::StrCat("record ", record.sequence, " (retention removed the ones before)");
        } else if (record.sequence == 1) {
          if (!input.has_created()) {
            return absl::DataLossError("record 1 does not create the state (not a `created` input)");
          }
          created = absl::StrCat("policy '", input.created().policy().name(), "' from ",
                                 input.created().policy_source());
        } else if (input.has_created()) {
          return absl::DataLossError(
              absl::StrCat("record ", record.sequence, " creates the state again"));
        }
        if (last_time && input.time_unix_micros() < *last_time) {
          return absl::DataLossError(absl::StrCat("record ", record.sequence, " goes back in time"));
        }
        if (!first_time) first_time = input.time_unix_micros();
        last_time = input.time_unix_micros();
        return absl::OkStatus();
      });
  if (!scan.ok()) return Problem(scan.status());
  if (scan->records == 0) {
    out << dir << ": no journal (an acdd started on it begins a new one)\n";
    return 0;
  }
  out << absl::StrFormat("%s: %d segments, %d records (sequences %d to %d, epoch %d), %d bytes\n",
                         dir, scan->segments, scan->records, scan->first_sequence,
                         scan->last_sequence, scan->epoch, scan->bytes);
  out << (scan->first_sequence > 1 ? "  begins   " : "  created  ") << TimeText(*first_time)
      << (scan->first_sequence > 1 ? " at " : " with ") << created << "\n";
  out << "  last     " << TimeText(*last_time) << "\n";
  for (const std::string& note : scan->notes) out << "  on start acdd will have to " << note << "\n";
  // The snapshots, newest first: recovery starts from the newest whole one that the journal
  // continues; the journal's start, when retention removed records, must be covered by one.
  absl::Status listed;
  std::vector<SnapshotSummary> snapshots = SummarizeSnapshots(dir, &listed);
  if (!listed.ok()) return Problem(listed);
  bool damaged = false;
  const SnapshotSummary* start = nullptr;
  for (const SnapshotSummary& s : snapshots) {
    if (!s.status.ok()) {
      damaged = true;
      out << "  snapshot " << s.file.path << ": DAMAGED: " << s.status.message() << "\n";
      continue;
    }
    const bool usable = s.file.sequence >= scan->first_sequence - 1 &&
                        s.file.sequence <= scan->last_sequence;
    out << absl::StrFormat("  snapshot record %d: %d bytes, %d calls, %d agents logged in, %d "
                           "switches%s\n",
                           s.file.sequence, s.bytes, s.calls, s.logins, s.outboxes,
                           usable ? "" : " (the journal does not continue it)");
    if (usable && start == nullptr) start = &s;
  }
  if (start != nullptr) {
    out << "  a start recovers from the snapshot at record " << start->file.sequence
        << " and replays " << scan->last_sequence - start->file.sequence << " records\n";
  } else if (scan->first_sequence > 1) {
    return Problem(absl::DataLossError(absl::StrCat(
        dir, ": the journal begins at record ", scan->first_sequence,
        " and no whole snapshot continues into it: acdd cannot recover this data dir")));
  }
  absl::StatusOr<std::vector<std::string>> aside = SetAsideSnapshots(dir);
  if (!aside.ok()) return Problem(aside.status());
  for (const std::string& path : *aside) {
    out << "  set aside: " << path << " (did not load at a start; acdd no longer reads it)\n";
  }
  if (damaged) {
    std::cerr << "acdctl: damaged snapshots in " << dir
              << " (acdd passes over them; remove them, or restore them from a copy)\n";
    return 1;
  }
  out << "ok\n";
  return 0;
}

int PrintJournal(const std::string& dir, uint64_t from, std::ostream& out) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  absl::StatusOr<JournalScan> scan =
      ReadInputs(dir, from, [&](const DecodedRecord& record, const Input& input) -> absl::Status {
        std::string json;
        auto status = google::protobuf::util::MessageToJsonString(input, &json, options);
        if (!status.ok()) return absl::InternalError(std::string(status.message()));
        out << "{\"sequence\":" << record.sequence << ",\"epoch\":" << record.epoch
            << ",\"time\":\"" << TimeText(input.time_unix_micros()) << "\",\"kind\":\""
            << KindOf(input) << "\",\"input\":" << json << "}\n";
        return absl::OkStatus();
      });
  if (!scan.ok()) return Problem(scan.status());
  for (const std::string& note : scan->notes) std::cerr << "acdctl: " << note << "\n";
  return 0;
}

int JournalStats(const std::string& dir, std::ostream& out) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_kind;  // records, bytes
  std::optional<int64_t> first_time, last_time;
  absl::StatusOr<JournalScan> scan =
      ReadInputs(dir, 1, [&](const DecodedRecord& record, const Input& input) -> absl::Status {
        auto& [records, bytes] = by_kind[KindOf(input)];
        ++records;
        bytes += record.size;
        if (!first_time) first_time = input.time_unix_micros();
        last_time = input.time_unix_micros();
        return absl::OkStatus();
      });
  if (!scan.ok()) return Problem(scan.status());
  out << absl::StrFormat("%-20s %12s %14s %10s\n", "INPUT", "RECORDS", "BYTES", "BYTES/REC");
  for (const auto& [kind, counts] : by_kind) {
    out << absl::StrFormat("%-20s %12d %14d %10.1f\n", kind, counts.first, counts.second,
                           static_cast<double>(counts.second) / counts.first);
  }
  out << absl::StrFormat("%-20s %12d %14d\n", "all", scan->records, scan->bytes);
  absl::Status listed;
  std::vector<SnapshotSummary> snapshots = SummarizeSnapshots(dir, &listed);
  if (!listed.ok()) return Problem(listed);
  for (const SnapshotSummary& s : snapshots) {
    out << absl::StrFormat("snapshot at record %d: %d bytes%s\n", s.file.sequence, s.bytes,
                           s.status.ok() ? "" : " (damaged)");
  }
  out << absl::StrFormat("%d segments", scan->segments);
  if (first_time) {
    out << ", " << TimeText(*first_time) << " to " << TimeText(*last_time) << " ("
        << absl::FormatDuration(absl::Microseconds(*last_time - *first_time)) << ")";
  }
  out << "\n";
  return 0;
}

}  // namespace acd::daemon::journal
