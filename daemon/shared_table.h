// SharedTable keeps the last table the engine made for its readers (the queues table its
// wallboard watches send) and hands it out again while it is fresh: for `at_least` after it was
// made, or ten times as long as making it took, whichever is longer. A fleet of wallboards then
// costs what one does, and a table that is dear to make (a policy of thousands of queues) is
// made at most about a tenth of the time. One thread (the engine's); times come from its clock.
//   SharedTable<grpc::ByteBuffer> tables(absl::Milliseconds(100));
//   std::shared_ptr<const grpc::ByteBuffer> t = tables.Get(now);
//   if (t == nullptr) { t = Make(); tables.Put(t, now, took); }
#ifndef ACD_DAEMON_SHARED_TABLE_H_
#define ACD_DAEMON_SHARED_TABLE_H_

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/time/time.h"

namespace acd::daemon {

template <typename Table>
class SharedTable {
 public:
  explicit SharedTable(absl::Duration at_least) : at_least_(at_least) {}

  // The table put last while it is fresh at `now`; null when there is none, it has aged, or the
  // clock went back past the moment it was made.
  std::shared_ptr<const Table> Get(absl::Time now) const {
    if (table_ == nullptr || now < made_ || now - made_ >= fresh_for_) return nullptr;
    return table_;
  }
  // `table`, made at `now`, which took `took` to make.
  void Put(std::shared_ptr<const Table> table, absl::Time now, absl::Duration took) {
    table_ = std::move(table);
    made_ = now;
    fresh_for_ = std::max(at_least_, 10 * took);
  }

 private:
  const absl::Duration at_least_;
  std::shared_ptr<const Table> table_;
  absl::Time made_;
  absl::Duration fresh_for_;
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SHARED_TABLE_H_
