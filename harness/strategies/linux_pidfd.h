// The linux-pidfd decision (linux_pidfd.cc), for the live recorder, which calls it directly with
// its own LinuxSeam; everything else reaches it as the `linux-pidfd` Resolver (strategies.h).
#pragma once

#include "harness/model.h"
#include "harness/resolver.h"
#include "harness/seam.h"

namespace flowid::strategies {

// Resolves flow (its proc_pid names the notifying task) with the Linux lookups alone, asking
// seam pidfd_open, notif_id_valid, proc_stat, proc_exe, exe_hash (when proc_exe succeeded) and
// notif_id_valid, in that order.
Attribution resolve_linux_pidfd(const Flow& flow, LinuxSeam& seam);

}  // namespace flowid::strategies
