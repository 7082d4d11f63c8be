#include "routing/policy_yaml.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "routing/quote.h"
#include "routing/request_limits.h"

namespace acd::routing {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

// ---- Names ----------------------------------------------------------------------------------

// "CustomerTier" -> "CUSTOMER_TIER", "HTTPMethod" -> "HTTP_METHOD": the prefix protobuf style puts
// on every value of an enum type.
std::string UpperSnake(absl::string_view camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    const char c = camel[i];
    if (i > 0 && absl::ascii_isupper(c)) {
      const char prev = camel[i - 1];
      const bool next_is_lower = i + 1 < camel.size() && absl::ascii_islower(camel[i + 1]);
      if (absl::ascii_islower(prev) || absl::ascii_isdigit(prev) ||
          (absl::ascii_isupper(prev) && next_is_lower)) {
        out.push_back('_');
      }
    }
    out.push_back(absl::ascii_toupper(c));
  }
  return out;
}

// STRATEGY_LONGEST_IDLE -> "longest_idle": how enum values are written in the policy file.
std::string ShortEnumName(const EnumValueDescriptor* value) {
  const std::string prefix = UpperSnake(value->type()->name()) + "_";
  absl::string_view name = value->name();
  if (name.size() > prefix.size() && absl::StartsWith(name, prefix))
    name.remove_prefix(prefix.size());
  return absl::AsciiStrToLower(name);
}

bool IsUnspecified(const EnumValueDescriptor* value) {
  return value->number() == 0 && absl::EndsWith(value->name(), "UNSPECIFIED");
}

std::string AllowedEnumValues(const EnumDescriptor* type) {
  std::vector<std::string> names;
  for (int i = 0; i < type->value_count(); ++i) {
    if (!IsUnspecified(type->value(i))) names.push_back(ShortEnumName(type->value(i)));
  }
  return absl::StrJoin(names, ", ");
}

const EnumValueDescriptor* FindEnumValue(const EnumDescriptor* type, absl::string_view text) {
  for (int i = 0; i < type->value_count(); ++i) {
    const EnumValueDescriptor* value = type->value(i);
    if (absl::EqualsIgnoreCase(text, ShortEnumName(value)) ||
        absl::EqualsIgnoreCase(text, value->name())) {
      return value;
    }
  }
  return nullptr;
}

std::string UnknownFieldMessage(const Descriptor* type, absl::string_view key) {
  const FieldDescriptor* best = nullptr;
  int best_distance = std::numeric_limits<int>::max();
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    // camelCase is the JSON spelling of the same field: always worth pointing at. A key whose
    // length differs by more than the largest tolerance (3) is not compared: the cost of a key
    // stays bounded however long a client makes it.
    const size_t length = field->name().size();
    const size_t gap = key.size() > length ? key.size() - length : length - key.size();
    const int distance = key == field->json_name() ? 0
                         : gap > 3                 ? std::numeric_limits<int>::max()
                                                   : EditDistance(key, field->name());
    if (distance < best_distance) {
      best = field;
      best_distance = distance;
    }
  }
  if (best != nullptr) {
    // Short names tolerate fewer edits, or every two-letter typo would "mean" some field.
    const int tolerance = std::clamp(static_cast<int>(best->name().size()) / 3, 1, 3);
    if (best_distance <= tolerance) {
      return absl::StrCat("unknown field ", Quote(key), "; did you mean ", Quote(best->name()),
                          "?");
    }
  }
  std::vector<std::string> names;
  for (int i = 0; i < type->field_count(); ++i) names.push_back(type->field(i)->name());
  return absl::StrCat("unknown field ", Quote(key),
                      "; valid fields are: ", absl::StrJoin(names, ", "));
}

// ---- Scalars ---------------------------------------------------------------------------------

std::string ExpectedValue(const FieldDescriptor* field) {
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      return absl::StrCat("an integer (", field->cpp_type_name(), ")");
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT:
      return "a number";
    case FieldDescriptor::CPPTYPE_BOOL:
      return "true or false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return absl::StrCat("one of: ", AllowedEnumValues(field->enum_type()));
    case FieldDescriptor::CPPTYPE_STRING:
      return field->type() == FieldDescriptor::TYPE_BYTES ? "base64 text" : "a string";
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return absl::StrCat("a mapping of ", field->message_type()->name(), " fields");
  }
  return "a value";
}

// yaml-cpp 0.7 decodes the escapes \N and \_ of a double-quoted scalar to the bare bytes 0x85
// and 0xA0, not to U+0085 and U+00A0 in UTF-8, and a proto3 string holding them could not be read
// back (the journal's snapshots, GetPolicy's reply). The policy text is valid UTF-8 (checked
// first), so a bare byte of either kind in a scalar comes from one of those escapes: it gets its
// UTF-8 form.
std::string WithEscapesInUtf8(const std::string& text) {
  std::string out;
  absl::string_view rest = text;
  for (size_t bad; (bad = FirstInvalidUtf8(rest)) != absl::string_view::npos;) {
    out.append(rest.data(), bad);
    const auto byte = static_cast<unsigned char>(rest[bad]);
    if (byte == 0x85 || byte == 0xA0) out.push_back('\xC2');
    out.push_back(rest[bad]);
    rest.remove_prefix(bad + 1);
  }
  out.append(rest.data(), rest.size());
  return out;
}

std::string DescribeNode(const YAML::Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a sequence";
  if (node.IsNull()) return "nothing";
  return absl::StrCat(Quote(node.Scalar()));
}

// Integer text as YAML 1.2 writes it: optional sign, then decimal, 0x hex or 0o octal digits.
// False when the text is no integer or its magnitude needs more than 64 bits.
bool ParseIntegerText(absl::string_view text, bool* negative, uint64_t* magnitude, bool* too_big) {
  *negative = false;
  *too_big = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    *negative = text[0] == '-';
    text.remove_prefix(1);
  }
  int base = 10;
  if (absl::StartsWithIgnoreCase(text, "0x")) {
    base = 16;
    text.remove_prefix(2);
  } else if (absl::StartsWithIgnoreCase(text, "0o")) {
    base = 8;
    text.remove_prefix(2);
  }
  if (text.empty()) return false;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), *magnitude, base);
  if (end != text.data() + text.size()) return false;
  if (error == std::errc::result_out_of_range) {
    *too_big = true;
    return false;
  }
  return error == std::errc();
}

bool ParseDoubleText(absl::string_view text, double* value) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == ".inf" || lower == "+.inf") {
    *value = std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == "-.inf") {
    *value = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == ".nan") {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  bool negative, too_big;
  uint64_t magnitude;
  if (ParseIntegerText(text, &negative, &magnitude, &too_big)) {
    *value = negative ? -static_cast<double>(magnitude) : static_cast<double>(magnitude);
    return true;
  }
  // SimpleAtod would also take "nan", "inf" and surrounding blanks: keep to YAML's spellings.
  if (lower.find_first_not_of("0123456789+-.e") != std::string::npos) return false;
  return absl::SimpleAtod(text, value) && std::isfinite(*value);
}

// Shortest text that parses back to exactly `value`.
template <typename Float>
std::string FormatFloat(Float value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// ---- YAML -> message -------------------------------------------------------------------------

std::pair<int, int> Position(const YAML::Mark& mark) {
  if (mark.is_null()) return {0, 0};
  return {mark.line + 1, mark.column + 1};
}

// The documents of a YAML stream, counted from the parser's events: how many, and where the
// second one's content starts. Not YAML::LoadAll: yaml-cpp 0.7's loops forever, allocating all
// the while, on some malformed streams (a document that starts with ',': jbeder/yaml-cpp#1040,
// fixed after 0.8), as its parser hands back the same empty document again and again without
// reading on. A document that starts where the one before it did is that stall: a syntax error.
struct DocumentCount {
  int documents = 0;
  YAML::Mark second = YAML::Mark::null_mark();
};

class DocumentCounter final : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (count_.documents > 0 && mark.pos == last_start_.pos) {
      throw YAML::ParserException(mark, "unexpected token where a document should start");
    }
    last_start_ = mark;
    ++count_.documents;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnMapEnd() override {}

  const DocumentCount& count() const { return count_; }

 private:
  void Node(const YAML::Mark& mark) {
    if (count_.documents == 2 && count_.second.is_null()) count_.second = mark;
  }

  DocumentCount count_;
  YAML::Mark last_start_ = YAML::Mark::null_mark();
};

// REQUIRES: called inside ParsePolicyYaml's try (yaml-cpp reports through exceptions).
DocumentCount CountDocuments(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentCounter counter;
  while (parser.HandleNextDocument(counter)) {
  }
  return counter.count();
}

// A key as a step of a field path: as written when it could name a field (a short word of
// letters, digits and underscores), else quoted, so that a path never carries a broken character,
// a line break or a key of a megabyte into a problem.
std::string PathStep(absl::string_view key) {
  const bool word = !key.empty() && key.size() <= kMaxQuotedBytes &&
                    std::all_of(key.begin(), key.end(),
                                [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
  return word ? std::string(key) : Quote(key);
}

std::string FieldPath(const std::string& parent, absl::string_view name) {
  const std::string step = PathStep(name);
  return parent.empty() ? step : absl::StrCat(parent, ".", step);
}

class MessageReader {
 public:
  MessageReader(std::vector<PolicyProblem>* problems, PolicySourceMap* source_map)
      : problems_(problems), source_map_(source_map) {}

  // REQUIRES: node.IsMap().
  void ReadMessage(const YAML::Node& node, const std::string& path, Message* message) {
    const Descriptor* type = message->GetDescriptor();
    absl::flat_hash_map<std::string, YAML::Mark> seen_keys;
    absl::flat_hash_map<const OneofDescriptor*, const FieldDescriptor*> oneof_members;
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      const YAML::Node& value = entry.second;
      if (!key.IsScalar()) {
        Report(path, key.Mark(),
               absl::StrCat("a key must be a field name of ", type->name(), ", got ",
                            DescribeNode(key)));
        continue;
      }
      const std::string& name = key.Scalar();
      const std::string path_here = FieldPath(path, name);
      // yaml-cpp keeps both entries of a repeated key; a silent "last one wins" hides typos.
      const auto [first, inserted] = seen_keys.emplace(name, key.Mark());
      if (!inserted) {
        Report(path_here, key.Mark(),
               absl::StrCat(Quote(name), " is given twice (first on line ",
                            Position(first->second).first, "); keep one"));
        continue;
      }
      const FieldDescriptor* field = type->FindFieldByName(name);
      if (field == nullptr) {
        Report(path_here, key.Mark(), UnknownFieldMessage(type, name));
        continue;
      }
      if (value.IsNull()) continue;  // `key:` with nothing leaves the field unset.
      if (const OneofDescriptor* oneof = field->real_containing_oneof()) {
        const auto [other, is_first] = oneof_members.emplace(oneof, field);
        if (!is_first) {
          std::vector<std::string> members;
          for (int i = 0; i < oneof->field_count(); ++i) members.push_back(oneof->field(i)->name());
          Report(path_here, key.Mark(),
                 absl::StrCat(Quote(name), " and ", Quote(other->second->name()),
                              " are both set; give only one of ", absl::StrJoin(members, ", ")));
          continue;
        }
      }
      ReadField(key, value, path_here, field, message);
    }
  }

 private:
  void ReadField(const YAML::Node& key, const YAML::Node& value, const std::string& path,
                 const FieldDescriptor* field, Message* message) {
    const Reflection* reflection = message->GetReflection();
    if (field->is_repeated()) {
      if (!value.IsSequence()) {
        Report(path, value.Mark(),
               absl::StrCat("expected a sequence (a list), each element ", ExpectedValue(field),
                            "; got ", DescribeNode(value)));
        return;
      }
      Record(path, key.Mark());
      int index = 0;
      for (const YAML::Node& element : value) {
        const std::string element_path = absl::StrCat(path, "[", index++, "]");
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          if (!element.IsMap()) {
            Report(
                element_path, element.Mark(),
                absl::StrCat("expected ", ExpectedValue(field), ", got ", DescribeNode(element)));
            continue;
          }
          Record(element_path, element.Mark());
          ReadMessage(element, element_path, reflection->AddMessage(message, field));
        } else {
          ReadScalar(element, element_path, field, message);
        }
      }
      return;
    }
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!value.IsMap()) {
        Report(path, value.Mark(),
               absl::StrCat("expected ", ExpectedValue(field), ", got ", DescribeNode(value)));
        return;
      }
      Record(path, key.Mark());
      ReadMessage(value, path, reflection->MutableMessage(message, field));
      return;
    }
    ReadScalar(value, path, field, message);
  }

  // Sets a singular scalar field or appends to a repeated one.
  void ReadScalar(const YAML::Node& node, const std::string& path, const FieldDescriptor* field,
                  Message* message) {
    if (!node.IsScalar()) {
      Report(path, node.Mark(),
             absl::StrCat("expected ", ExpectedValue(field), ", got ", DescribeNode(node)));
      return;
    }
    const Reflection* reflection = message->GetReflection();
    const bool repeated = field->is_repeated();
    const std::string& text = node.Scalar();
    switch (field->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32: {
        int64_t value;
        if (!ReadInteger(node, path, field, std::numeric_limits<int32_t>::min(),
                         std::numeric_limits<int32_t>::max(), &value)) {
          return;
        }
        repeated ? reflection->AddInt32(message, field, static_cast<int32_t>(value))
                 : reflection->SetInt32(message, field, static_cast<int32_t>(value));
        break;
      }
      case FieldDescriptor::CPPTYPE_INT64: {
        int64_t value;
        if (!ReadInteger(node, path, field, std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max(), &value)) {
          return;
        }
        repeated ? reflection->AddInt64(message, field, value)
                 : reflection->SetInt64(message, field, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT32: {
        uint64_t value;
        if (!ReadUnsigned(node, path, field, std::numeric_limits<uint32_t>::max(), &value)) return;
        repeated ? reflection->AddUInt32(message, field, static_cast<uint32_t>(value))
                 : reflection->SetUInt32(message, field, static_cast<uint32_t>(value));
        break;
      }
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t value;
        if (!ReadUnsigned(node, path, field, std::numeric_limits<uint64_t>::max(), &value)) return;
        repeated ? reflection->AddUInt64(message, field, value)
                 : reflection->SetUInt64(message, field, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double value;
        if (!ParseDoubleText(text, &value)) {
          Report(path, node.Mark(), absl::StrCat("expected a number, got ", Quote(text)));
          return;
        }
        if (field->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
          repeated ? reflection->AddDouble(message, field, value)
                   : reflection->SetDouble(message, field, value);
          break;
        }
        if (std::isfinite(value) && std::abs(value) > std::numeric_limits<float>::max()) {
          Report(path, node.Mark(), absl::StrCat(Quote(text), " is out of range for a float"));
          return;
        }
        repeated ? reflection->AddFloat(message, field, static_cast<float>(value))
                 : reflection->SetFloat(message, field, static_cast<float>(value));
        break;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        bool value;
        if (!YAML::convert<bool>::decode(node, value)) {
          Report(path, node.Mark(), absl::StrCat("expected true or false, got ", Quote(text)));
          return;
        }
        repeated ? reflection->AddBool(message, field, value)
                 : reflection->SetBool(message, field, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        const EnumValueDescriptor* value = FindEnumValue(field->enum_type(), text);
        if (value == nullptr) {
          Report(path, node.Mark(),
                 absl::StrCat("unknown value ", Quote(text),
                              "; use one of: ", AllowedEnumValues(field->enum_type())));
          return;
        }
        repeated ? reflection->AddEnum(message, field, value)
                 : reflection->SetEnum(message, field, value);
        break;
      }
      case FieldDescriptor::CPPTYPE_STRING: {
        std::string value = WithEscapesInUtf8(text);
        if (field->type() == FieldDescriptor::TYPE_BYTES && !absl::Base64Unescape(text, &value)) {
          Report(path, node.Mark(), absl::StrCat("expected base64 text, got ", Quote(text)));
          return;
        }
        if (field->type() == FieldDescriptor::TYPE_STRING && !IsValidUtf8(value)) {
          Report(path, node.Mark(), absl::StrCat("expected UTF-8 text, got ", Quote(value)));
          return;
        }
        repeated ? reflection->AddString(message, field, std::move(value))
                 : reflection->SetString(message, field, std::move(value));
        break;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        // ReadField handles messages; reaching here is a bug in this file.
        Report(path, node.Mark(), "internal error: message field read as a scalar");
        return;
    }
    Record(path, node.Mark());
  }

  bool ReadInteger(const YAML::Node& node, const std::string& path, const FieldDescriptor* field,
                   int64_t min, int64_t max, int64_t* value) {
    const std::string& text = node.Scalar();
    bool negative, too_big;
    uint64_t magnitude;
    if (!ParseIntegerText(text, &negative, &magnitude, &too_big) && !too_big) {
      Report(path, node.Mark(),
             absl::StrCat("expected ", ExpectedValue(field), ", got ", Quote(text)));
      return false;
    }
    const uint64_t limit =
        negative ? static_cast<uint64_t>(-(min + 1)) + 1 : static_cast<uint64_t>(max);
    if (too_big || magnitude > limit) {
      Report(path, node.Mark(),
             absl::StrCat(Quote(text), " is out of range for ", field->cpp_type_name(), " (", min,
                          " to ", max, ")"));
      return false;
    }
    *value = negative ? static_cast<int64_t>(0 - magnitude) : static_cast<int64_t>(magnitude);
    return true;
  }

  bool ReadUnsigned(const YAML::Node& node, const std::string& path, const FieldDescriptor* field,
                    uint64_t max, uint64_t* value) {
    const std::string& text = node.Scalar();
    bool negative, too_big;
    uint64_t magnitude;
    if (!ParseIntegerText(text, &negative, &magnitude, &too_big) && !too_big) {
      Report(path, node.Mark(),
             absl::StrCat("expected ", ExpectedValue(field), ", got ", Quote(text)));
      return false;
    }
    if (negative && (too_big || magnitude != 0)) {
      Report(
          path, node.Mark(),
          absl::StrCat(Quote(text), " is negative; ", field->cpp_type_name(), " takes 0 to ", max));
      return false;
    }
    if (too_big || magnitude > max) {
      Report(path, node.Mark(),
             absl::StrCat(Quote(text), " is out of range for ", field->cpp_type_name(), " (0 to ",
                          max, ")"));
      return false;
    }
    *value = magnitude;
    return true;
  }

  void Report(const std::string& path, const YAML::Mark& mark, std::string message) {
    const auto [line, column] = Position(mark);
    problems_->push_back(PolicyProblem{path, std::move(message), line, column});
  }

  void Record(const std::string& path, const YAML::Mark& mark) {
    if (source_map_ != nullptr) source_map_->positions[path] = Position(mark);
  }

  std::vector<PolicyProblem>* problems_;
  PolicySourceMap* source_map_;  // may be null
};

// ---- message -> YAML -------------------------------------------------------------------------

void WriteMessage(const Message& message, YAML::Emitter* out);

// Whether `text` holds a control character (C0, DEL, C1) or one of YAML 1.1's Unicode line
// breaks (U+2028, U+2029), none of which a plain scalar can carry.
bool HasBreakOrControl(absl::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xA0) {
      return true;  // U+0080..U+009F
    }
    const absl::string_view three = text.substr(i, 3);
    if (three == "\xE2\x80\xA8" || three == "\xE2\x80\xA9") return true;
  }
  return false;
}

// Element `index` of a repeated field, or the singular field when index < 0.
void WriteValue(const Message& message, const FieldDescriptor* field, int index,
                YAML::Emitter* out) {
  const Reflection* r = message.GetReflection();
  const bool repeated = index >= 0;
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      *out << absl::StrCat(repeated ? r->GetRepeatedInt32(message, field, index)
                                    : r->GetInt32(message, field));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      *out << absl::StrCat(repeated ? r->GetRepeatedInt64(message, field, index)
                                    : r->GetInt64(message, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      *out << absl::StrCat(repeated ? r->GetRepeatedUInt32(message, field, index)
                                    : r->GetUInt32(message, field));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      *out << absl::StrCat(repeated ? r->GetRepeatedUInt64(message, field, index)
                                    : r->GetUInt64(message, field));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      *out << FormatFloat(repeated ? r->GetRepeatedDouble(message, field, index)
                                   : r->GetDouble(message, field));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      *out << FormatFloat(repeated ? r->GetRepeatedFloat(message, field, index)
                                   : r->GetFloat(message, field));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      *out << (repeated ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field));
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = repeated ? r->GetRepeatedEnumValue(message, field, index)
                                  : r->GetEnumValue(message, field);
      const EnumValueDescriptor* value = field->enum_type()->FindValueByNumber(number);
      *out << (value != nullptr ? ShortEnumName(value) : absl::StrCat(number));
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string value =
          repeated ? r->GetRepeatedString(message, field, index) : r->GetString(message, field);
      if (field->type() == FieldDescriptor::TYPE_BYTES) value = absl::Base64Escape(value);
      // The emitter itself quotes what would not read back as this text ("", "~", "a: b"). Quote
      // numbers and booleans as well: this parser reads them back as strings either way, but a
      // person or another YAML tool would take `name: 123` for a number.
      // And quote any text with a line break or another control character: yaml-cpp writes
      // "vm:\r" plain, as `vm:` and a bare carriage return, which does not read back.
      bool as_bool;
      double as_number;
      if (YAML::convert<bool>::decode(YAML::Node(value), as_bool) ||
          ParseDoubleText(value, &as_number) || HasBreakOrControl(value)) {
        *out << YAML::DoubleQuoted;
      }
      *out << value;
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      WriteMessage(
          repeated ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field),
          out);
      break;
  }
}

void WriteMessage(const Message& message, YAML::Emitter* out) {
  std::vector<const FieldDescriptor*> fields;
  // Exactly the fields that are set: non-default implicit ones, present optional ones, non-empty
  // repeated ones, in field-number order.
  message.GetReflection()->ListFields(message, &fields);
  if (fields.empty()) {
    *out << YAML::Flow << YAML::BeginMap << YAML::EndMap;  // `{}` keeps an empty message set
    return;
  }
  *out << YAML::BeginMap;
  for (const FieldDescriptor* field : fields) {
    *out << YAML::Key << field->name() << YAML::Value;
    if (!field->is_repeated()) {
      WriteValue(message, field, -1, out);
      continue;
    }
    *out << YAML::BeginSeq;
    const int size = message.GetReflection()->FieldSize(message, field);
    for (int i = 0; i < size; ++i) WriteValue(message, field, i, out);
    *out << YAML::EndSeq;
  }
  *out << YAML::EndMap;
}

}  // namespace

void PolicySourceMap::Annotate(std::vector<PolicyProblem>* problems) const {
  for (PolicyProblem& problem : *problems) {
    if (problem.line != 0) continue;
    absl::string_view path = problem.path;
    while (!path.empty()) {
      const auto it = positions.find(path);
      if (it != positions.end()) {
        problem.line = it->second.first;
        problem.column = it->second.second;
        break;
      }
      const size_t cut = path.find_last_of(".[");
      if (cut == absl::string_view::npos) break;
      path = path.substr(0, cut);
    }
  }
}

bool ParsePolicyYaml(absl::string_view text, acd::v1::Policy* policy,
                     std::vector<PolicyProblem>* problems, PolicySourceMap* source_map) {
  policy->Clear();
  if (source_map != nullptr) source_map->positions.clear();
  auto refuse = [&](PolicyProblem problem) {
    if (problems != nullptr) problems->push_back(std::move(problem));
    return false;
  };
  if (text.size() > kMaxPolicyBytes) {
    return refuse(PolicyProblem{
        "", absl::StrCat("the policy text is ", text.size(), " bytes; at most ", kMaxPolicyBytes)});
  }
  // A policy's strings are proto3 strings, which must be UTF-8 (the journal could not read back
  // a record holding others); a file saved in another encoding is refused where it goes wrong.
  if (const size_t bad = FirstInvalidUtf8(text); bad != absl::string_view::npos) {
    const absl::string_view before = text.substr(0, bad);
    const size_t line_start = before.rfind('\n');
    const int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    const int column =
        1 + static_cast<int>(line_start == absl::string_view::npos ? bad : bad - line_start - 1);
    return refuse(PolicyProblem{
        "",
        absl::StrCat("the policy is not UTF-8 here (byte 0x",
                     absl::Hex(static_cast<uint8_t>(text[bad]), absl::kZeroPad2),
                     "); save the file as UTF-8"),
        line, column});
  }
  std::vector<PolicyProblem> found;
  // yaml-cpp reports through exceptions; none leave this function.
  try {
    const std::string whole(text);
    const DocumentCount documents = CountDocuments(whole);
    if (documents.documents > 1) {
      const auto [line, column] = Position(documents.second);
      found.push_back(PolicyProblem{
          "",
          absl::StrCat("the file holds ", documents.documents,
                       " YAML documents (separated by '---'); a policy is one document"),
          line, column});
    }
    const YAML::Node root = YAML::Load(whole);  // the first document
    if (root.IsDefined() && !root.IsNull()) {
      if (!root.IsMap()) {
        const auto [line, column] = Position(root.Mark());
        found.push_back(PolicyProblem{
            "",
            absl::StrCat("a policy is a mapping of fields (name, skills, queues, ...), got ",
                         DescribeNode(root)),
            line, column});
      } else {
        MessageReader(&found, source_map).ReadMessage(root, "", policy);
      }
    }
  } catch (const YAML::ParserException& e) {
    // yaml-cpp's words may carry a byte of the text ("unknown escape character: \xFF").
    const auto [line, column] = Position(e.mark);
    found.push_back(PolicyProblem{
        "", absl::StrCat("YAML syntax error: ", BoundedUtf8(e.msg, kMaxQuotedBytes)), line,
        column});
  } catch (const YAML::Exception& e) {
    const auto [line, column] = Position(e.mark);
    found.push_back(PolicyProblem{
        "", absl::StrCat("could not read the YAML: ", BoundedUtf8(e.msg, kMaxQuotedBytes)), line,
        column});
  }
  if (problems != nullptr) problems->insert(problems->end(), found.begin(), found.end());
  return found.empty();
}

std::string PolicyToYaml(const acd::v1::Policy& policy) {
  YAML::Emitter out;
  out.SetIndent(2);
  WriteMessage(policy, &out);
  return absl::StrCat(out.c_str(), "\n");
}

}  // namespace acd::routing
