// The id check shared by the router and the daemon.
#include "routing/request_limits.h"

#include "absl/strings/str_cat.h"

namespace acd::routing {

absl::Status CheckId(absl::string_view id, absl::string_view field) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", id.size(), " bytes; at most ", kMaxIdBytes));
  }
  return absl::OkStatus();
}

}  // namespace acd::routing
