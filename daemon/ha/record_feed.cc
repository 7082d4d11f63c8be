#include "daemon/ha/record_feed.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "daemon/log.h"

namespace acd::daemon::ha {

void RecordFeed::Add(absl::string_view framed, uint64_t sequence) {
  absl::MutexLock lock(&mu_);
  if (!records_.empty() && sequence != records_.back().sequence + 1) {
    Crash(absl::StrCat("record ", sequence, " fed after record ", records_.back().sequence));
  }
  records_.push_back(Record{sequence, std::string(framed)});
  bytes_ += framed.size();
  // Keep at least the newest record, however large.
  while (bytes_ > max_bytes_ && records_.size() > 1) {
    bytes_ -= records_.front().framed.size();
    records_.pop_front();
  }
}

RecordFeed::Taken RecordFeed::Take(uint64_t from, absl::Duration wait, size_t max_bytes) const {
  Taken taken;
  absl::MutexLock lock(&mu_);
  struct Ready {
    const RecordFeed* feed;
    uint64_t from;
    bool operator()() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(feed->mu_) {
      return feed->closed_ || (!feed->records_.empty() && feed->records_.back().sequence >= from);
    }
  } ready{this, from};
  mu_.AwaitWithTimeout(absl::Condition(&ready), wait);
  if (records_.empty() || records_.back().sequence < from) return taken;  // kNothing
  const uint64_t oldest = records_.front().sequence;
  if (from < oldest) {
    taken.outcome = Taken::kTooOld;
    return taken;
  }
  taken.outcome = Taken::kRecords;
  taken.first = from;
  for (size_t i = from - oldest; i < records_.size(); ++i) {
    if (!taken.records.empty() && taken.records.size() + records_[i].framed.size() > max_bytes) {
      break;
    }
    taken.records.append(records_[i].framed);
    taken.last = records_[i].sequence;
  }
  return taken;
}

uint64_t RecordFeed::oldest() const {
  absl::MutexLock lock(&mu_);
  return records_.empty() ? 0 : records_.front().sequence;
}

uint64_t RecordFeed::last() const {
  absl::MutexLock lock(&mu_);
  return records_.empty() ? 0 : records_.back().sequence;
}

void RecordFeed::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace acd::daemon::ha
