// spawn-suspended-check-resume: spawn_suspended(path), then guest_by_audit_token on the new
// execution and check_validity(code, requirement) on the running image; resume when it passes,
// kill otherwise.
//
// The check looks at the image the suspended process actually maps, so swapping the file on disk
// after the spawn changes nothing. Sound in the model, where no code runs before resume. Seed 003
// lists the real caveats the model leaves out: the process stops at dyld's first instruction,
// before the main executable may be mapped, and the hardened runtime may refuse the inspection.
// Any failure after the spawn (lookup refused, requirement failed, resume failed) kills the
// suspended process; launched stays false and refusal carries the first failure.
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class SpawnSuspendedCheckResume final : public Launcher {
 public:
  std::string_view name() const override { return "spawn-suspended-check-resume"; }

  LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                      LaunchSeam& launch_seam) override {
    LaunchResult result;
    result.method = "spawn-suspended-check-resume";
    const SeamResult<AuditToken> spawned = launch_seam.spawn_suspended(path);
    if (!spawned.ok()) {
      result.refusal = spawned.outcome;
      return result;
    }
    const AuditToken& token = spawned.value;
    const LookupOutcome verdict = check_running_image(token, requirement, seam);
    if (!verdict.ok()) {
      refuse(token, verdict, launch_seam, result);
      return result;
    }
    const LookupOutcome resumed = launch_seam.resume(token);
    if (!resumed.ok()) {
      refuse(token, resumed, launch_seam, result);
      return result;
    }
    result.launched = true;
    result.execution = token;
    return result;
  }

 private:
  static LookupOutcome check_running_image(const AuditToken& token, std::string_view requirement,
                                           Seam& seam) {
    const SeamResult<CodeRef> code = seam.guest_by_audit_token(token);
    if (!code.ok()) return code.outcome;
    return seam.check_validity(code.value, requirement);
  }

  // Kills the suspended process. A failed kill is not reported separately: the process never
  // ran any code, and the refusal that matters is the one that caused the kill.
  static void refuse(const AuditToken& token, const LookupOutcome& why, LaunchSeam& launch_seam,
                     LaunchResult& result) {
    (void)launch_seam.kill(token);
    result.refusal = why;
  }
};

}  // namespace

std::unique_ptr<Launcher> make_spawn_suspended_check_resume() {
  return std::make_unique<SpawnSuspendedCheckResume>();
}

}  // namespace flowid::strategies
