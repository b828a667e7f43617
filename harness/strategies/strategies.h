// Constructors for the reference resolver and launcher strategies flowid ships (DESIGN §1,
// "Reference strategies"). Each strategy lives in its own file under harness/strategies/, with a
// header comment that says what it calls, where it is sound and where it breaks. The classes
// themselves are private to their files: callers hold them through the Resolver / Launcher
// interfaces. catalog.h maps the names used on the command line to these functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "harness/resolver.h"

namespace flowid::strategies {

// Resolvers.
std::unique_ptr<Resolver> make_pid_path();
std::unique_ptr<Resolver> make_token();
std::unique_ptr<Resolver> make_token_pid_fallback();
std::unique_ptr<Resolver> make_token_recheck();
// What `flowid record` decides on Linux, for replaying its recordings (linux_pidfd.cc).
std::unique_ptr<Resolver> make_linux_pidfd();

struct LuluModelOptions {
  // Bound on the pid-keyed process cache; when full, the oldest entry is evicted.
  std::size_t cache_entries_max = 1024;
};
std::unique_ptr<Resolver> make_lulu_model(LuluModelOptions options = {});

struct OpensnitchModelOptions {
  // How long a cache entry stays valid after its pid was seen exiting, in virtual ns. A pid
  // reused within this window is answered from the old entry (OpenSnitch #1447).
  uint64_t exit_grace_period_ns = 1'000'000'000;
  // Bound on the pid-keyed cache; when full, expired entries go first, then the oldest.
  std::size_t cache_entries_max = 4096;
};
std::unique_ptr<Resolver> make_opensnitch_model(OpensnitchModelOptions options = {});

// Launchers (seed 003).
std::unique_ptr<Launcher> make_check_path_then_spawn();
std::unique_ptr<Launcher> make_kernel_launch_requirement();
std::unique_ptr<Launcher> make_copy_check_run();
std::unique_ptr<Launcher> make_spawn_suspended_check_resume();

}  // namespace flowid::strategies
