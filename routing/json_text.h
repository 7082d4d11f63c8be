// JSON text for the hand-built JSON acd writes (the wallboard's figures, acdsim's report, the call
// records): a string quoted and escaped, a number or null. One definition for all of them.
//   std::string out = "{\"queue\":";
//   AppendJsonString(&out, name);                 // "sa\"les" -> "sa\\\"les"
//   absl::StrAppend(&out, ",\"sl\":", JsonNumber(0.8), "}");
#ifndef ACD_ROUTING_JSON_TEXT_H_
#define ACD_ROUTING_JSON_TEXT_H_

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace acd::routing {

inline void AppendJsonString(std::string* out, absl::string_view text) {
  out->push_back('"');
  for (char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppend(out, absl::StrFormat("\\u%04x", c));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

inline std::string JsonString(absl::string_view text) {
  std::string out;
  AppendJsonString(&out, text);
  return out;
}

// Six significant digits; NaN and infinities (no figure) are null.
inline std::string JsonNumber(double value) {
  return std::isfinite(value) ? absl::StrFormat("%.6g", value) : "null";
}

}  // namespace acd::routing

#endif  // ACD_ROUTING_JSON_TEXT_H_
