#include "harness/strategies/catalog.h"

#include <array>

#include "harness/strategies/strategies.h"

namespace flowid {
namespace {

constexpr std::array<StrategyInfo, 6> kResolvers = {{
    {"pid-path", "audit_token_to_pid + proc_pidpath only; naively claims verified (baseline)"},
    {"token", "token-bound SecCode lookups only; fails closed (EPERM -> unknown, ESRCH -> gone)"},
    {"token+pid-fallback",
     "seed 000: token lookups, falling back to proc_pidpath by pid, labelled unverified"},
    {"token+recheck",
     "token lookups; fallback re-checked against pidversion, never names another execution"},
    {"lulu-model", "model of LuLu: app token, pid-keyed cache, kill(pid,0), fail-open as unsigned"},
    {"opensnitch-model",
     "model of OpenSnitch /proc: pid-keyed cache with an exit grace period, kill(pid,0)"},
}};

constexpr std::array<StrategyInfo, 4> kLaunchers = {{
    {"check-path-then-spawn", "check the file at the path, then spawn the path (TOCTOU hole)"},
    {"kernel-launch-requirement", "spawn with a kernel-checked launch requirement (one step)"},
    {"copy-check-run", "copy to a private location, check the copy, run the copy"},
    {"spawn-suspended-check-resume",
     "spawn suspended, check the running image, then resume or kill"},
}};

std::vector<std::string_view> names_of(std::span<const StrategyInfo> catalog) {
  std::vector<std::string_view> names;
  names.reserve(catalog.size());
  for (const StrategyInfo& info : catalog) names.push_back(info.name);
  return names;
}

std::string_view description_in(std::span<const StrategyInfo> catalog, std::string_view name) {
  for (const StrategyInfo& info : catalog) {
    if (info.name == name) return info.description;
  }
  return {};
}

}  // namespace

std::span<const StrategyInfo> resolver_catalog() { return kResolvers; }
std::span<const StrategyInfo> launcher_catalog() { return kLaunchers; }

std::vector<std::string_view> resolver_names() { return names_of(kResolvers); }
std::vector<std::string_view> launcher_names() { return names_of(kLaunchers); }

std::string_view resolver_description(std::string_view name) {
  return description_in(kResolvers, name);
}
std::string_view launcher_description(std::string_view name) {
  return description_in(kLaunchers, name);
}

std::unique_ptr<Resolver> make_resolver(std::string_view name) {
  if (name == "pid-path") return strategies::make_pid_path();
  if (name == "token") return strategies::make_token();
  if (name == "token+pid-fallback") return strategies::make_token_pid_fallback();
  if (name == "token+recheck") return strategies::make_token_recheck();
  if (name == "lulu-model") return strategies::make_lulu_model();
  if (name == "opensnitch-model") return strategies::make_opensnitch_model();
  // Not listed in kResolvers on purpose: it is the baseline for replaying Linux recordings
  // (`flowid record` traces), not a reference strategy compared across the simulated scenarios,
  // fixtures and fuzz campaigns, which need an expectation or a golden file for every listed one.
  if (name == "linux-pidfd") return strategies::make_linux_pidfd();
  return nullptr;
}

std::unique_ptr<Launcher> make_launcher(std::string_view name) {
  if (name == "check-path-then-spawn") return strategies::make_check_path_then_spawn();
  if (name == "kernel-launch-requirement") return strategies::make_kernel_launch_requirement();
  if (name == "copy-check-run") return strategies::make_copy_check_run();
  if (name == "spawn-suspended-check-resume")
    return strategies::make_spawn_suspended_check_resume();
  return nullptr;
}

}  // namespace flowid
