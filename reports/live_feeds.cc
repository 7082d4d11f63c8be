#include "reports/live_feeds.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "daemon/core.h"
#include "daemon/journal/files.h"
#include "reports/history_replay.h"

namespace acd::reports {

LiveFeeds::LiveFeeds(const Options& options)
    : position_path_(absl::StrCat(options.data_dir, "/feeds.position")) {
  queue_log_file_.path = options.queue_log;
  call_records_file_.path = options.call_records;
  if (!options.queue_log.empty()) {
    queue_log_.emplace([this](const std::string& line) { Take(queue_log_file_, line); });
  }
  if (!options.call_records.empty()) {
    call_records_.emplace([this](const std::string& line) { Take(call_records_file_, line); });
  }
}

LiveFeeds::~LiveFeeds() {
  for (File* file : {&queue_log_file_, &call_records_file_}) {
    if (file->fd >= 0) close(file->fd);
  }
}

absl::StatusOr<std::unique_ptr<LiveFeeds>> LiveFeeds::Open(const Options& options) {
  std::unique_ptr<LiveFeeds> feeds(new LiveFeeds(options));
  for (File* file : {&feeds->queue_log_file_, &feeds->call_records_file_}) {
    if (file->path.empty()) continue;
    if (absl::Status s = OpenFile(*file); !s.ok()) return s;
  }
  std::ifstream in(feeds->position_path_);
  std::string text;
  if (in && std::getline(in, text) &&
      !absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &feeds->resume_after_)) {
    return absl::DataLossError(absl::StrCat(feeds->position_path_, " holds '", text,
                                            "', not a journal sequence; remove it to start the "
                                            "feeds from the recovered state"));
  }
  feeds->written_through_ = feeds->buffered_through_ = feeds->resume_after_;
  return feeds;
}

absl::Status LiveFeeds::OpenFile(File& file) {
  if (file.fd >= 0) close(file.fd);
  file.fd = open(file.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (file.fd < 0) {
    return daemon::journal::ErrnoStatus(absl::StrCat("cannot open ", file.path, " to append"),
                                        errno);
  }
  return absl::OkStatus();
}

void LiveFeeds::Start(const daemon::Core& core) {
  // The agents as the copy starts: learned (who is paused), never written.
  TellAgentsFound(core, core.router().now(), this);
}

void LiveFeeds::BeforeRecord(uint64_t sequence) {
  if (!stalled_) buffered_through_ = current_;
  current_ = sequence;
  for (File* file : {&queue_log_file_, &call_records_file_}) {
    file->pending_before_record = file->pending.size();
  }
}

void LiveFeeds::Record(const daemon::HistoryEvent& event) {
  if (queue_log_) queue_log_->Record(event);
  if (call_records_) call_records_->Record(event);
}

void LiveFeeds::Take(File& file, const std::string& line) {
  if (current_ <= resume_after_ || stalled_) return;  // written before a restart, or no room
  absl::StrAppend(&file.pending, line, "\n");
  if (file.pending.size() > kMaxPendingBytes) {
    // This record's lines go (a restart writes them from the journal), and no more are taken.
    stalled_ = true;
    for (File* f : {&queue_log_file_, &call_records_file_})
      f->pending.resize(f->pending_before_record);
  }
}

absl::Status LiveFeeds::Flush() {
  const bool reopen = reopen_.exchange(false, std::memory_order_relaxed);
  absl::Status status;
  for (File* file : {&queue_log_file_, &call_records_file_}) {
    if (file->path.empty()) continue;
    if (reopen || file->fd < 0) {
      if (absl::Status s = OpenFile(*file); !s.ok()) {
        status.Update(s);
        continue;
      }
    }
    size_t done = 0;
    status.Update(daemon::journal::WriteAll(file->fd, file->path, file->pending, &done));
    file->pending.erase(0, done);
    file->pending_before_record -= std::min(file->pending_before_record, done);
  }
  const uint64_t through = stalled_ ? buffered_through_ : current_;
  if (status.ok() && through > written_through_) {
    status = SavePosition(through);
    if (status.ok()) written_through_ = through;
  }
  if (stalled_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        status.ok() ? "" : absl::StrCat(status.message(), "; "), "over ", kMaxPendingBytes >> 20,
        " MiB of lines waited, so no more are taken: a restart writes them from the journal"));
  }
  return status;
}

absl::Status LiveFeeds::SavePosition(uint64_t sequence) {
  const std::string temporary = absl::StrCat(position_path_, ".tmp");
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << sequence << "\n";
    if (!out.flush()) return absl::InternalError(absl::StrCat("cannot write ", temporary));
  }
  if (std::rename(temporary.c_str(), position_path_.c_str()) != 0) {
    return daemon::journal::ErrnoStatus(absl::StrCat("cannot rename ", temporary), errno);
  }
  return absl::OkStatus();
}

}  // namespace acd::reports
