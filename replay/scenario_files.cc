#include "replay/scenario_files.h"

#if defined(__APPLE__)
#include <mach-o/dyld.h>
#endif

#include <algorithm>
#include <cstdint>
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

namespace {

// The directory of the running executable, or empty when the system cannot say.
std::filesystem::path executable_dir() {
#if defined(__APPLE__)
  char buffer[4096];
  uint32_t size = sizeof buffer;
  if (_NSGetExecutablePath(buffer, &size) != 0) return {};
  std::error_code ec;
  auto exe = std::filesystem::weakly_canonical(buffer, ec);
  return ec ? std::filesystem::path() : exe.parent_path();
#else
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
#endif
}

}  // namespace

std::string default_fixtures_dir() {
  if (const char* dir = std::getenv("FLOWID_FIXTURES"); dir != nullptr && *dir != '\0') return dir;
#ifdef FLOWID_INSTALLED_FIXTURES_FROM_BINDIR
  // An installed flowid: BINDIR/<relative path to DATADIR/flowid/fixtures>, as cmake --install
  // lays it out (wherever the prefix was moved since).
  if (const std::filesystem::path bin = executable_dir(); !bin.empty()) {
    const std::filesystem::path installed =
        (bin / FLOWID_INSTALLED_FIXTURES_FROM_BINDIR).lexically_normal();
    std::error_code ec;
    if (std::filesystem::is_directory(installed / "scenarios", ec)) return installed.string();
  }
#endif
#ifdef FLOWID_SOURCE_DIR
  return std::string(FLOWID_SOURCE_DIR) + "/fixtures";
#else
  return "fixtures";
#endif
}

}  // namespace flowid::replay
