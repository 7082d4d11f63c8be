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

// At most this many cells in the table of common subsequences (4 bytes each).
constexpr size_t kMaxTableCells = size_t{4} << 20;

// The edits from a to b: the lines both begin and end with stay as they are; between them, a
// longest common subsequence of lines. When the part between is too big for its table (a policy
// of thousands of lines replaced wholesale), its old lines are shown removed and its new ones
// added: still a correct diff, if not the shortest. Either way the cost is bounded.
std::vector<Edit> Edits(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const size_t n = a.size(), m = b.size();
  size_t head = 0, tail = 0;
  while (head < n && head < m && a[head] == b[head]) ++head;
  while (tail < n - head && tail < m - head && a[n - 1 - tail] == b[m - 1 - tail]) ++tail;
  const size_t a_end = n - tail, b_end = m - tail;
  std::vector<Edit> edits;
  for (size_t k = 0; k < head; ++k) edits.push_back({' ', a[k], int(k) + 1, int(k) + 1});
  size_t i = head, j = head;
  if ((a_end - head + 1) * (b_end - head + 1) <= kMaxTableCells) {
    const size_t rows = a_end - head, columns = b_end - head;
    std::vector<std::vector<int>> lcs(rows + 1, std::vector<int>(columns + 1, 0));
    for (size_t r = rows; r-- > 0;) {
      for (size_t c = columns; c-- > 0;) {
        lcs[r][c] = a[head + r] == b[head + c] ? lcs[r + 1][c + 1] + 1
                                               : std::max(lcs[r + 1][c], lcs[r][c + 1]);
      }
    }
    while (i < a_end || j < b_end) {
      const size_t r = i - head, c = j - head;
      if (i < a_end && j < b_end && a[i] == b[j]) {
        edits.push_back({' ', a[i], int(i) + 1, int(j) + 1}), ++i, ++j;
      } else if (j < b_end && (i == a_end || lcs[r][c + 1] > lcs[r + 1][c])) {  // removals first
        edits.push_back({'+', b[j], int(i) + 1, int(j) + 1}), ++j;
      } else {
        edits.push_back({'-', a[i], int(i) + 1, int(j) + 1}), ++i;
      }
    }
  } else {
    for (; i < a_end; ++i) edits.push_back({'-', a[i], int(i) + 1, int(j) + 1});
    for (; j < b_end; ++j) edits.push_back({'+', b[j], int(i) + 1, int(j) + 1});
  }
  for (; i < n; ++i, ++j) edits.push_back({' ', a[i], int(i) + 1, int(j) + 1});
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
