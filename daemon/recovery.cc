#include "daemon/recovery.h"

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/core_input.h"
#include "routing/policy_text.h"

namespace acd::daemon {
namespace {

std::atomic<uint64_t> replaying{0};

}  // namespace

uint64_t SequenceBeingReplayed() { return replaying.load(std::memory_order_relaxed); }

absl::StatusOr<Recovered> RecoverCore(const std::string& data_dir, journal::RecoverMode mode,
                                      metrics::CallObserver* observer, uint64_t stop_before) {
  Recovered out;
  absl::StatusOr<journal::JournalScan> scan = journal::ReadJournal(
      data_dir, mode, 1, [&](const journal::DecodedRecord& record) -> absl::Status {
        replaying.store(record.sequence, std::memory_order_relaxed);
        JournalInput input;
        if (!input.ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size()))) {
          return absl::DataLossError(
              absl::StrCat("journal record ", record.sequence, " is not a journal input"));
        }
        if (out.core == nullptr) {
          absl::StatusOr<std::unique_ptr<Core>> core = CreateCore(input, observer);
          if (!core.ok()) return core.status();
          out.core = *std::move(core);
          out.file_policy = input.created().policy();
        } else {
          // What the core answered was answered when the input was journaled.
          absl::Status answered = ApplyInput(*out.core, input);
          if (answered.code() == absl::StatusCode::kDataLoss) {
            return absl::DataLossError(
                absl::StrCat("journal record ", record.sequence, ": ", answered.message()));
          }
          // What the file gave is what it last gave and was applied (a refused one is tried
          // again at the next start).
          if (input.has_started() &&
              (!input.started().apply_startup_policy() || answered.ok())) {
            out.file_policy = input.started().startup_policy();
          }
          if (input.has_policy_text() && answered.ok()) {
            auto compiled = routing::CompilePolicyText(input.policy_text().yaml(),
                                                       input.policy_text().source());
            if (compiled.ok()) out.file_policy = (*compiled)->source;
          }
        }
        out.last_time = TimeOf(input);
        (void)out.core->TakeCommands();  // they wait in the outboxes for the switches' reconnects
        (void)out.core->TakeNotices();   // logged when they happened
        ++out.replayed;
        return absl::OkStatus();
      },
      stop_before);
  replaying.store(0, std::memory_order_relaxed);
  if (!scan.ok()) return scan.status();
  out.scan = *std::move(scan);
  return out;
}

}  // namespace acd::daemon
