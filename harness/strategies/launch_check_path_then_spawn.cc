// check-path-then-spawn: check_file(path, requirement), then spawn(path).
//
// The check and the exec open the file separately, so whatever is at the path between the two
// calls is what runs: a time-of-check / time-of-use hole (F11, seed 003). Sound only when no one
// else can write the path or any directory above it. It ships as the baseline the oracle's I5
// (no code that fails the requirement ever runs) is expected to catch.
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class CheckPathThenSpawn final : public Launcher {
 public:
  std::string_view name() const override { return "check-path-then-spawn"; }

  LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                      LaunchSeam& launch_seam) override {
    (void)seam;
    LaunchResult result;
    result.method = "check-path-then-spawn";
    const LookupOutcome check = launch_seam.check_file(path, requirement);
    if (!check.ok()) {
      result.refusal = check;
      return result;
    }
    const SeamResult<AuditToken> spawned = launch_seam.spawn(path);
    if (!spawned.ok()) {
      result.refusal = spawned.outcome;
      return result;
    }
    result.launched = true;
    result.execution = spawned.value;
    return result;
  }
};

}  // namespace

std::unique_ptr<Launcher> make_check_path_then_spawn() {
  return std::make_unique<CheckPathThenSpawn>();
}

}  // namespace flowid::strategies
