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
    switch (step.kind()) {
      case StepKind::kReplace:
      case StepKind::kRemove: {
        const std::string& path = step.kind() == StepKind::kRemove
                                      ? step.as<scenario::step::RemoveFile>()->path
                                      : step.as<scenario::step::ReplaceFile>()->file.path;
        if (is_protected_path(path))
          return broken(step, fmt::format("R1: {} is protected by SIP and cannot change", path));
        break;
      }
      case StepKind::kRename:
        for (const auto& path : step.operands()) {
          if (is_protected_path(path)) {
            return broken(step,
                          fmt::format("R1: {} is protected by SIP and cannot be renamed", path));
          }
        }
        break;
      case StepKind::kSpawn: {
        const auto* spawn = step.as<scenario::step::Spawn>();
        responsible_[spawn->name] = spawn->responsible.value_or("");
        break;
      }
      case StepKind::kFlow: {
        const auto* flow = step.as<scenario::step::OpenFlow>();
        const std::optional<std::string>& app = flow->app;
        if (!app || *app == flow->process) break;
        auto it = responsible_.find(flow->process);
        const std::string acts_for = it == responsible_.end() ? std::string() : it->second;
        if (acts_for != *app) {
          return broken(step,
                        fmt::format("R2: {} opens a flow for app {} but {}", flow->process, *app,
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
