// copy-check-run: copy_to_private(path), check_file(copy, requirement), spawn(copy).
//
// The canonical pre-14.4 answer in seed 003: once the bytes sit where only the caller can write,
// no one can swap them between the check and the exec. A swap of the original after the copy does
// not matter; a swap before the copy is caught by the check on the copy. Sound as long as the
// private location really is private (the seam's contract).
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class CopyCheckRun final : public Launcher {
 public:
  std::string_view name() const override { return "copy-check-run"; }

  LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                      LaunchSeam& launch_seam) override {
    (void)seam;
    LaunchResult result;
    result.method = "copy-check-run";
    const SeamResult<std::string> copy = launch_seam.copy_to_private(path);
    if (!copy.ok()) {
      result.refusal = copy.outcome;
      return result;
    }
    const LookupOutcome check = launch_seam.check_file(copy.value, requirement);
    if (!check.ok()) {
      result.refusal = check;
      return result;
    }
    const SeamResult<AuditToken> spawned = launch_seam.spawn(copy.value);
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

std::unique_ptr<Launcher> make_copy_check_run() { return std::make_unique<CopyCheckRun>(); }

}  // namespace flowid::strategies
