// The wallboard page (metrics/wallboard.html), embedded in the binary at build time.
#ifndef ACD_METRICS_WALLBOARD_PAGE_H_
#define ACD_METRICS_WALLBOARD_PAGE_H_

#include "absl/strings/string_view.h"

namespace acd::metrics {

absl::string_view WallboardHtml();

}  // namespace acd::metrics

#endif  // ACD_METRICS_WALLBOARD_PAGE_H_
