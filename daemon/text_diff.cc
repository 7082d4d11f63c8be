#include "daemon/text_diff.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace acd::daemon {
namespace {

constexpr int kContext = 3;

struct Edit {
  char op;  // ' ', '-', '+'
  std::string line;
  int before_line;  // 1-based line numbers this edit stands at
  int after_line;
};

// Longest common subsequence over lines; policies are a few hundred lines, so O(n*m) is fine.
std::vector<Edit> Edits(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> lcs(n + 1, std::vector<int>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<Edit> edits;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      edits.push_back({' ', a[i], int(i) + 1, int(j) + 1}), ++i, ++j;
    } else if (j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j])) {  // removals first, as diff -u
      edits.push_back({'+', b[j], int(i) + 1, int(j) + 1}), ++j;
    } else {
      edits.push_back({'-', a[i], int(i) + 1, int(j) + 1}), ++i;
    }
  }
  return edits;
}

std::vector<std::string> Lines(absl::string_view text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

}  // namespace

std::string UnifiedDiff(absl::string_view before, absl::string_view after,
                        absl::string_view before_name, absl::string_view after_name) {
  const std::vector<Edit> edits = Edits(Lines(before), Lines(after));
  std::string out;
  size_t k = 0;
  while (k < edits.size()) {
    if (edits[k].op == ' ') {
      ++k;
      continue;
    }
    // A hunk: from kContext lines before this change to kContext lines after the last change
    // that is within 2 * kContext lines of the previous one.
    size_t start = k >= kContext ? k - kContext : 0;
    size_t end = k;
    while (true) {
      size_t next = end + 1;
      while (next < edits.size() && edits[next].op == ' ') ++next;
      if (next < edits.size() && next - end <= 2 * kContext) {
        end = next;
      } else {
        break;
      }
    }
    const size_t stop = std::min(edits.size(), end + kContext + 1);
    if (out.empty()) absl::StrAppend(&out, "--- ", before_name, "\n+++ ", after_name, "\n");
    int before_count = 0, after_count = 0;
    for (size_t e = start; e < stop; ++e) {
      if (edits[e].op != '+') ++before_count;
      if (edits[e].op != '-') ++after_count;
    }
    absl::StrAppend(&out, "@@ -", edits[start].before_line, ",", before_count, " +",
                    edits[start].after_line, ",", after_count, " @@\n");
    for (size_t e = start; e < stop; ++e) absl::StrAppend(&out, std::string(1, edits[e].op), edits[e].line, "\n");
    k = stop;
  }
  return out;
}

}  // namespace acd::daemon
