// Scenario YAML -> Scenario; see scenario.h and README.md.
#include "routing/sim/scenario.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace acd::routing::sim {
namespace {

// Reads typed values from a YAML map, naming "file: path.key" in every error.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  absl::Status Error(const std::string& path, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat(file_, ": ", path, ": ", message));
  }

  absl::Status CheckKeys(const YAML::Node& map, const std::string& path,
                         std::initializer_list<absl::string_view> known) const {
    if (!map.IsMap()) return Error(path.empty() ? "(top level)" : path, "must be a map");
    for (const auto& kv : map) {
      const std::string key = kv.first.as<std::string>();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string list;
        for (absl::string_view k : known) absl::StrAppend(&list, list.empty() ? "" : ", ", k);
        return Error(Join(path, key), absl::StrCat("unknown key (known: ", list, ")"));
      }
    }
    return absl::OkStatus();
  }

  static std::string Join(const std::string& path, absl::string_view key) {
    return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
  }

  template <typename T>
  absl::Status Get(const YAML::Node& map, const std::string& path, const char* key, T* out,
                   bool required) const {
    const YAML::Node node = map[key];
    if (!node) {
      return required ? Error(Join(path, key), "is required") : absl::OkStatus();
    }
    try {
      *out = node.as<T>();
    } catch (const YAML::Exception&) {
      return Error(Join(path, key), absl::StrCat("line ", node.Mark().line + 1, ": expected ",
                                                 TypeName<T>()));
    }
    return absl::OkStatus();
  }

 private:
  template <typename T>
  static const char* TypeName() {
    if constexpr (std::is_same_v<T, std::string>) return "a string";
    if constexpr (std::is_integral_v<T>) return "an integer";
    return "a number";
  }
  std::string file_;
};

#define ACD_SIM_RETURN_IF_ERROR(expr)     \
  do {                                    \
    absl::Status _status = (expr);        \
    if (!_status.ok()) return _status;    \
  } while (0)

absl::Status ParseDistribution(const Reader& r, const YAML::Node& node, const std::string& path,
                               Distribution* out) {
  ACD_SIM_RETURN_IF_ERROR(r.CheckKeys(node, path, {"distribution", "mean_seconds",
                                                   "stddev_seconds"}));
  std::string kind = "exponential";
  ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "distribution", &kind, false));
  if (kind == "exponential") {
    out->kind = Distribution::Kind::kExponential;
  } else if (kind == "lognormal") {
    out->kind = Distribution::Kind::kLognormal;
  } else if (kind == "constant") {
    out->kind = Distribution::Kind::kConstant;
  } else {
    return r.Error(Reader::Join(path, "distribution"),
                   absl::StrCat("'", kind, "': expected exponential, lognormal or constant"));
  }
  ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "mean_seconds", &out->mean_seconds, true));
  if (!(out->mean_seconds > 0)) return r.Error(Reader::Join(path, "mean_seconds"), "must be > 0");
  if (out->kind == Distribution::Kind::kLognormal) {
    ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "stddev_seconds", &out->stddev_seconds, true));
    if (!(out->stddev_seconds > 0)) {
      return r.Error(Reader::Join(path, "stddev_seconds"), "must be > 0");
    }
  } else if (node["stddev_seconds"]) {
    return r.Error(Reader::Join(path, "stddev_seconds"), "only a lognormal takes a stddev");
  }
  return absl::OkStatus();
}

absl::Status ParseSkills(const Reader& r, const YAML::Node& node, const std::string& path,
                         std::vector<NamedSkill>* out) {
  if (!node) return absl::OkStatus();
  if (!node.IsSequence()) return r.Error(path, "must be a list of {skill, proficiency}");
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string p = absl::StrCat(path, "[", i, "]");
    ACD_SIM_RETURN_IF_ERROR(r.CheckKeys(node[i], p, {"skill", "proficiency"}));
    NamedSkill skill;
    ACD_SIM_RETURN_IF_ERROR(r.Get(node[i], p, "skill", &skill.skill, true));
    skill.proficiency = 1;
    ACD_SIM_RETURN_IF_ERROR(r.Get(node[i], p, "proficiency", &skill.proficiency, false));
    out->push_back(std::move(skill));
  }
  return absl::OkStatus();
}

absl::Status ParseTraffic(const Reader& r, const YAML::Node& node, const std::string& path,
                          Traffic* out) {
  ACD_SIM_RETURN_IF_ERROR(r.CheckKeys(
      node, path, {"queue", "arrivals_per_hour", "arrival_schedule", "handle_time", "patience",
                   "required_skills", "language", "priority"}));
  ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "queue", &out->queue, true));
  const bool constant = static_cast<bool>(node["arrivals_per_hour"]);
  const bool schedule = static_cast<bool>(node["arrival_schedule"]);
  if (constant == schedule) {
    return r.Error(path, "give exactly one of arrivals_per_hour and arrival_schedule");
  }
  if (constant) {
    RateStep step;
    ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "arrivals_per_hour", &step.per_hour, true));
    if (!(step.per_hour >= 0)) {
      return r.Error(Reader::Join(path, "arrivals_per_hour"), "must be >= 0");
    }
    out->rates.push_back(step);
  } else {
    const std::string sp = Reader::Join(path, "arrival_schedule");
    const YAML::Node s = node["arrival_schedule"];
    ACD_SIM_RETURN_IF_ERROR(r.CheckKeys(s, sp, {"repeat_minutes", "steps"}));
    double repeat_minutes = 0;
    ACD_SIM_RETURN_IF_ERROR(r.Get(s, sp, "repeat_minutes", &repeat_minutes, false));
    if (repeat_minutes < 0) return r.Error(Reader::Join(sp, "repeat_minutes"), "must be >= 0");
    out->repeat_seconds = repeat_minutes * 60;
    const YAML::Node steps = s["steps"];
    const std::string stp = Reader::Join(sp, "steps");
    if (!steps || !steps.IsSequence() || steps.size() == 0) {
      return r.Error(stp, "must be a non-empty list of {from_minutes, per_hour}");
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      const std::string p = absl::StrCat(stp, "[", i, "]");
      ACD_SIM_RETURN_IF_ERROR(r.CheckKeys(steps[i], p, {"from_minutes", "per_hour"}));
      double from_minutes = 0;
      RateStep step;
      ACD_SIM_RETURN_IF_ERROR(r.Get(steps[i], p, "from_minutes", &from_minutes, true));
      ACD_SIM_RETURN_IF_ERROR(r.Get(steps[i], p, "per_hour", &step.per_hour, true));
      step.from_seconds = from_minutes * 60;
      if (i == 0 && from_minutes != 0) {
        return r.Error(Reader::Join(p, "from_minutes"), "the first step starts at 0");
      }
      if (i > 0 && !(step.from_seconds > out->rates.back().from_seconds)) {
        return r.Error(Reader::Join(p, "from_minutes"), "must be after the step before");
      }
      if (out->repeat_seconds > 0 && !(step.from_seconds < out->repeat_seconds)) {
        return r.Error(Reader::Join(p, "from_minutes"), "must be inside repeat_minutes");
      }
      if (!(step.per_hour >= 0)) return r.Error(Reader::Join(p, "per_hour"), "must be >= 0");
      out->rates.push_back(step);
    }
  }
  if (!node["handle_time"]) return r.Error(Reader::Join(path, "handle_time"), "is required");
  ACD_SIM_RETURN_IF_ERROR(ParseDistribution(r, node["handle_time"],
                                            Reader::Join(path, "handle_time"), &out->handle_time));
  if (node["patience"]) {
    out->patience.emplace();
    ACD_SIM_RETURN_IF_ERROR(ParseDistribution(r, node["patience"], Reader::Join(path, "patience"),
                                              &*out->patience));
  }
  ACD_SIM_RETURN_IF_ERROR(ParseSkills(r, node["required_skills"],
                                      Reader::Join(path, "required_skills"),
                                      &out->required_skills));
  ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "language", &out->language, false));
  ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "priority", &out->priority, false));
  return absl::OkStatus();
}

absl::Status ParseAgents(const Reader& r, const YAML::Node& node, const std::string& path,
                         AgentGroup* out) {
  ACD_SIM_RETURN_IF_ERROR(r.CheckKeys(node, path, {"name", "count", "skills", "languages",
                                                   "shifts"}));
  ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "name", &out->name, true));
  ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "count", &out->count, true));
  if (out->count < 1) return r.Error(Reader::Join(path, "count"), "must be >= 1");
  ACD_SIM_RETURN_IF_ERROR(ParseSkills(r, node["skills"], Reader::Join(path, "skills"),
                                      &out->skills));
  if (out->skills.empty()) return r.Error(Reader::Join(path, "skills"), "is required");
  if (node["languages"]) {
    ACD_SIM_RETURN_IF_ERROR(r.Get(node, path, "languages", &out->languages, false));
  }
  if (const YAML::Node shifts = node["shifts"]) {
    const std::string sp = Reader::Join(path, "shifts");
    if (!shifts.IsSequence()) return r.Error(sp, "must be a list of {from_hours, to_hours}");
    for (size_t i = 0; i < shifts.size(); ++i) {
      const std::string p = absl::StrCat(sp, "[", i, "]");
      ACD_SIM_RETURN_IF_ERROR(r.CheckKeys(shifts[i], p, {"from_hours", "to_hours"}));
      double from = 0, to = 0;
      ACD_SIM_RETURN_IF_ERROR(r.Get(shifts[i], p, "from_hours", &from, true));
      ACD_SIM_RETURN_IF_ERROR(r.Get(shifts[i], p, "to_hours", &to, true));
      if (!(from >= 0)) return r.Error(Reader::Join(p, "from_hours"), "must be >= 0");
      if (!(to > from)) return r.Error(Reader::Join(p, "to_hours"), "must be after from_hours");
      if (!out->shifts.empty() && from * 3600 < out->shifts.back().second) {
        return r.Error(Reader::Join(p, "from_hours"), "shifts must not overlap");
      }
      out->shifts.emplace_back(from * 3600, to * 3600);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<Scenario> ParseScenario(absl::string_view yaml_text, const std::string& file_name) {
  const Reader r(file_name);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": ", e.what()));
  }
  ACD_SIM_RETURN_IF_ERROR(r.CheckKeys(root, "", {"name", "description", "policy", "policy_file",
                                                 "hours", "warmup_hours", "seed", "traffic",
                                                 "agents"}));
  Scenario s;
  s.name = std::filesystem::path(file_name).stem().string();
  ACD_SIM_RETURN_IF_ERROR(r.Get(root, "", "name", &s.name, false));
  const bool inline_policy = static_cast<bool>(root["policy"]);
  if (inline_policy == static_cast<bool>(root["policy_file"])) {
    return r.Error("policy", "give exactly one of policy (inline YAML) and policy_file");
  }
  if (inline_policy) {
    const YAML::Node p = root["policy"];
    if (p.IsScalar()) {
      s.policy_text = p.as<std::string>();
    } else {
      YAML::Emitter out;
      out << p;
      s.policy_text = out.c_str();
    }
    s.policy_name = absl::StrCat(file_name, ":policy");
  } else {
    std::string policy_file;
    ACD_SIM_RETURN_IF_ERROR(r.Get(root, "", "policy_file", &policy_file, true));
    std::filesystem::path path(policy_file);
    if (path.is_relative()) path = std::filesystem::path(file_name).parent_path() / path;
    absl::StatusOr<std::string> text = ReadFile(path.string());
    if (!text.ok()) return r.Error("policy_file", text.status().message());
    s.policy_text = *std::move(text);
    s.policy_name = path.string();
  }
  ACD_SIM_RETURN_IF_ERROR(r.Get(root, "", "hours", &s.hours, true));
  if (!(s.hours > 0)) return r.Error("hours", "must be > 0");
  ACD_SIM_RETURN_IF_ERROR(r.Get(root, "", "warmup_hours", &s.warmup_hours, false));
  if (!(s.warmup_hours >= 0)) return r.Error("warmup_hours", "must be >= 0");
  ACD_SIM_RETURN_IF_ERROR(r.Get(root, "", "seed", &s.seed, false));

  const YAML::Node traffic = root["traffic"];
  if (!traffic || !traffic.IsSequence() || traffic.size() == 0) {
    return r.Error("traffic", "must be a non-empty list");
  }
  for (size_t i = 0; i < traffic.size(); ++i) {
    Traffic t;
    ACD_SIM_RETURN_IF_ERROR(ParseTraffic(r, traffic[i], absl::StrCat("traffic[", i, "]"), &t));
    s.traffic.push_back(std::move(t));
  }
  const YAML::Node agents = root["agents"];
  if (!agents || !agents.IsSequence() || agents.size() == 0) {
    return r.Error("agents", "must be a non-empty list");
  }
  for (size_t i = 0; i < agents.size(); ++i) {
    AgentGroup g;
    ACD_SIM_RETURN_IF_ERROR(ParseAgents(r, agents[i], absl::StrCat("agents[", i, "]"), &g));
    s.agents.push_back(std::move(g));
  }
  return s;
}

absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseScenario(*text, path);
}

double Sample(const Distribution& d, std::mt19937_64& random) {
  switch (d.kind) {
    case Distribution::Kind::kExponential:
      return std::exponential_distribution<double>(1.0 / d.mean_seconds)(random);
    case Distribution::Kind::kLognormal: {
      const double sigma2 =
          std::log1p((d.stddev_seconds * d.stddev_seconds) / (d.mean_seconds * d.mean_seconds));
      const double mu = std::log(d.mean_seconds) - sigma2 / 2;
      return std::lognormal_distribution<double>(mu, std::sqrt(sigma2))(random);
    }
    case Distribution::Kind::kConstant:
      return d.mean_seconds;
  }
  return d.mean_seconds;
}

double SampleRest(const Distribution& d, double so_far, std::mt19937_64& random) {
  switch (d.kind) {
    case Distribution::Kind::kExponential:
      return Sample(d, random);  // memoryless
    case Distribution::Kind::kConstant:
      return std::max(0.0, d.mean_seconds - so_far);
    case Distribution::Kind::kLognormal:
      // Draws until one outlasts what has passed; a value far in the tail, where that could take
      // long, gets a fresh draw instead.
      for (int tries = 0; tries < 256; ++tries) {
        const double x = Sample(d, random);
        if (x > so_far) return x - so_far;
      }
      return Sample(d, random);
  }
  return Sample(d, random);
}

}  // namespace acd::routing::sim
