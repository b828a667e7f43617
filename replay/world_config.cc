#include "replay/world_config.h"

#include <fmt/format.h>

#include <charconv>

namespace flowid::replay {
namespace {

std::optional<int64_t> parse_number(const std::string& text) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

void append_world_config(const WorldConfig& c,
                         std::vector<std::pair<std::string, std::string>>& out) {
  out.emplace_back("world.pid-policy", c.pid_policy == PidPolicy::kLowestFree       ? "lowest-free"
                                       : c.pid_policy == PidPolicy::kReuseLastFreed ? "reuse-last"
                                                                                    : "sequential");
  out.emplace_back("world.pid-min", std::to_string(c.pid_min));
  out.emplace_back("world.pid-max", std::to_string(c.pid_max));
  out.emplace_back("world.seed", std::to_string(c.seed));
  std::string prefixes;
  for (const auto& p : c.eperm_path_prefixes) prefixes += (prefixes.empty() ? "" : "\n") + p;
  out.emplace_back("world.eperm-prefixes", prefixes);
}

bool world_config_from_header(const trace::TraceHeader& header, const std::string& file,
                              WorldConfig* config, std::string* error) {
  config->caller = header.caller;
  for (const auto& entry : header.resolver_config) {
    // Named references, not structured bindings: clang 14 cannot capture those in a lambda.
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    auto bad = [&](const char* what) {
      *error = fmt::format("{}: header entry {} = '{}': {}", file, key, value, what);
      return false;
    };
    if (key == "world.pid-policy") {
      if (value == "sequential")
        config->pid_policy = PidPolicy::kSequential;
      else if (value == "lowest-free")
        config->pid_policy = PidPolicy::kLowestFree;
      else if (value == "reuse-last")
        config->pid_policy = PidPolicy::kReuseLastFreed;
      else
        return bad("expected sequential, lowest-free or reuse-last");
    } else if (key == "world.pid-min" || key == "world.pid-max") {
      auto n = parse_number(value);
      if (!n || *n < 2 || *n > 0x7fffffff) return bad("expected a pid");
      (key == "world.pid-min" ? config->pid_min : config->pid_max) = static_cast<int32_t>(*n);
    } else if (key == "world.seed") {
      auto n = parse_number(value);
      if (!n || *n < 0) return bad("expected a number");
      config->seed = static_cast<uint64_t>(*n);
    } else if (key == "world.eperm-prefixes") {
      config->eperm_path_prefixes.clear();
      std::size_t p = 0;
      while (p < value.size()) {
        auto nl = value.find('\n', p);
        if (nl == std::string::npos) nl = value.size();
        if (nl > p) config->eperm_path_prefixes.push_back(value.substr(p, nl - p));
        p = nl + 1;
      }
    }
  }
  if (config->pid_min >= config->pid_max) {
    *error = fmt::format("{}: header: world.pid-min must be below world.pid-max", file);
    return false;
  }
  return true;
}

std::optional<RuleSet> rules_from_header(const trace::TraceHeader& header, const std::string& file,
                                         std::string* error) {
  for (const auto& [key, value] : header.resolver_config) {
    if (key != "rules") continue;
    RuleError rule_error;
    auto rules = parse_rules(value, file + " (header: rules)", &rule_error);
    if (!rules) *error = rule_error.describe();
    return rules;
  }
  return std::nullopt;
}

}  // namespace flowid::replay
