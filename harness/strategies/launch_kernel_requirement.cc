// kernel-launch-requirement: spawn_with_requirement(path, requirement), one call.
//
// The kernel opens the file, checks the requirement against what it opened and execs that same
// file (Process.launchRequirement / a posix_spawn attribute, macOS 14.4+; on Linux the same shape
// is a sealed memfd, verify, fexecve). A file swapped before the open is caught by the check; one
// swapped after the open is not what runs. Sound; the refusal is the kernel's
// errSecCSReqFailed.
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class KernelLaunchRequirement final : public Launcher {
 public:
  std::string_view name() const override { return "kernel-launch-requirement"; }

  LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                      LaunchSeam& launch_seam) override {
    (void)seam;
    LaunchResult result;
    result.method = "kernel-launch-requirement";
    const SeamResult<AuditToken> spawned = launch_seam.spawn_with_requirement(path, requirement);
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

std::unique_ptr<Launcher> make_kernel_launch_requirement() {
  return std::make_unique<KernelLaunchRequirement>();
}

}  // namespace flowid::strategies
