#include "replay/scenario_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace flowid::replay {

std::optional<scenario::Scenario> load_scenario(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot read scenario file";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto parsed = scenario::parse_scenario(text.str(), path, error);
  if (!parsed) return std::nullopt;
  if (!parsed->rules_file.empty()) {
    auto rules_path = (std::filesystem::path(path).parent_path() / parsed->rules_file).string();
    RuleError rule_error;
    auto rules = load_rules(rules_path, &rule_error);
    if (!rules) {
      *error = rule_error.describe();
      return std::nullopt;
    }
    if (!parsed->rules.rules.empty()) {
      *error = path + ": use either 'rules FILE' or inline 'rule' lines, not both";
      return std::nullopt;
    }
    parsed->rules = std::move(*rules);
  }
  return parsed;
}

std::vector<std::string> scenario_files(const std::string& folder) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".scenario") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string default_fixtures_dir() {
  if (const char* dir = std::getenv("FLOWID_FIXTURES"); dir != nullptr && *dir != '\0') return dir;
#ifdef FLOWID_SOURCE_DIR
  return std::string(FLOWID_SOURCE_DIR) + "/fixtures";
#else
  return "fixtures";
#endif
}

}  // namespace flowid::replay
