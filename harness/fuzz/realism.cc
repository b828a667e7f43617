#include "harness/fuzz/realism.h"

#include <fmt/format.h>

#include <array>
#include <map>

namespace flowid::fuzz {

bool is_protected_path(std::string_view path) {
  static constexpr std::array<std::string_view, 6> kProtected = {
      "/System/", "/usr/", "/bin/", "/sbin/", "/Applications/Safari.app/", "/private/var/db/"};
  if (path.starts_with("/usr/local/")) return false;
  for (std::string_view prefix : kProtected) {
    if (path.starts_with(prefix)) return true;
  }
  return false;
}

namespace {

using scenario::Step;
using scenario::StepKind;

class RealismChecker {
 public:
  explicit RealismChecker(const scenario::Scenario& scenario) : scenario_(scenario) {}

  std::optional<std::string> run() {
    for (const Step& step : scenario_.steps) {
      if (auto broken = check(step)) return broken;
      for (const auto& race : step.races) {
        if (auto broken = check(race.step)) return broken;
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<std::string> broken(const Step& step, std::string what) const {
    return fmt::format("{}:{}: {}", scenario_.file, step.line, what);
  }

  std::optional<std::string> check(const Step& step) {
    switch (step.kind) {
      case StepKind::kReplace:
      case StepKind::kRemove:
        if (is_protected_path(step.args[0])) {
          return broken(step,
                        fmt::format("R1: {} is protected by SIP and cannot change", step.args[0]));
        }
        break;
      case StepKind::kRename:
        for (const auto& path : step.args) {
          if (is_protected_path(path)) {
            return broken(step,
                          fmt::format("R1: {} is protected by SIP and cannot be renamed", path));
          }
        }
        break;
      case StepKind::kSpawn: {
        const std::string* responsible = step.option("responsible");
        responsible_[step.args[0]] = responsible != nullptr ? *responsible : std::string();
        break;
      }
      case StepKind::kFlow: {
        const std::string* app = step.option("app");
        if (app == nullptr || *app == step.args[1]) break;
        auto it = responsible_.find(step.args[1]);
        const std::string acts_for = it == responsible_.end() ? std::string() : it->second;
        if (acts_for != *app) {
          return broken(step,
                        fmt::format("R2: {} opens a flow for app {} but {}", step.args[1], *app,
                                    acts_for.empty() ? std::string("acts for no app")
                                                     : fmt::format("acts for {}", acts_for)));
        }
        break;
      }
      default:
        break;
    }
    return std::nullopt;
  }

  const scenario::Scenario& scenario_;
  std::map<std::string, std::string> responsible_;  // process name -> the app it acts for.
};

}  // namespace

std::optional<std::string> check_realism(const scenario::Scenario& scenario) {
  return RealismChecker(scenario).run();
}

}  // namespace flowid::fuzz
