// ServingRole says whether this acdd serves the acd.v1 API: a lone acdd always does; of an HA pair
// (daemon/ha/replica.h) only the leader does. A replica that does not answers every acd.v1 call
// with UNAVAILABLE and where the leader is, in the message and in the trailing metadata
// `acd-leader`, so that a client can go there. Any thread may read it; the replica's coordinator
// sets it.
//   ServingRole role(/*serving=*/false);
//   role.Redirect("10.0.0.1:50051");        // a standby that follows this leader
//   if (!role.serving()) return role.Refuse(context);
#ifndef ACD_DAEMON_SERVING_ROLE_H_
#define ACD_DAEMON_SERVING_ROLE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace acd::daemon {

// The trailing metadata key that names the leader's address on a refused call.
inline constexpr char kLeaderMetadata[] = "acd-leader";

class ServingRole {
 public:
  explicit ServingRole(bool serving) : serving_(serving) {}

  bool serving() const {
    absl::MutexLock lock(&mu_);
    return serving_;
  }
  std::string leader_address() const {
    absl::MutexLock lock(&mu_);
    return leader_address_;
  }
  // This replica leads: it serves.
  void Serve() {
    absl::MutexLock lock(&mu_);
    serving_ = true;
    leader_address_.clear();
  }
  // This replica does not lead; `leader_address` does (empty: none is known now).
  void Redirect(const std::string& leader_address) {
    absl::MutexLock lock(&mu_);
    serving_ = false;
    leader_address_ = leader_address;
  }
  // The refusal of a call this replica does not serve, with the leader's address in `context`'s
  // trailing metadata when one is known.
  template <typename Context>
  absl::Status Refuse(Context* context) const {
    const std::string leader = leader_address();
    if (leader.empty()) {
      return absl::UnavailableError(
          "this acdd is a standby and no leader is elected yet; try again shortly");
    }
    context->AddTrailingMetadata(kLeaderMetadata, leader);
    return absl::UnavailableError(
        absl::StrCat("this acdd is a standby; the leader is at ", leader));
  }

 private:
  mutable absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_);
  std::string leader_address_ ABSL_GUARDED_BY(mu_);
};

}  // namespace acd::daemon

#endif  // ACD_DAEMON_SERVING_ROLE_H_
