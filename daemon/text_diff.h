// UnifiedDiff shows what changes between two texts, line by line, as "diff -u" would (hunks with
// three lines of context, "-" for removed and "+" for added lines). Used to show operators what a
// policy change does before they apply it. Its cost is bounded: past the lines both texts begin
// and end with, a longest common subsequence is sought only while its table stays under 4M cells
// (two texts of about 2,000 differing lines each); beyond that the old lines are shown removed and
// the new ones added, still a correct diff.
//   std::string d = UnifiedDiff(running_yaml, new_yaml, "running", "new");  // "" when equal
#ifndef ACD_DAEMON_TEXT_DIFF_H_
#define ACD_DAEMON_TEXT_DIFF_H_

#include <string>

#include "absl/strings/string_view.h"

namespace acd::daemon {

std::string UnifiedDiff(absl::string_view before, absl::string_view after,
                        absl::string_view before_name, absl::string_view after_name);

}  // namespace acd::daemon

#endif  // ACD_DAEMON_TEXT_DIFF_H_
