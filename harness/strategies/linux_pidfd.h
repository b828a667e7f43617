// The Linux recorders' decisions (linux_pidfd.cc), which they call directly with their own
// LinuxSeam: linux-pidfd for the tree recorder (everything else reaches it as the `linux-pidfd`
// Resolver, strategies.h), and the bare-pid decision of the system recorder.
#pragma once

#include "harness/model.h"
#include "harness/resolver.h"
#include "harness/seam.h"

namespace flowid::strategies {

// Resolves flow (its proc_pid names the notifying task) with the Linux lookups alone, asking
// seam pidfd_open, notif_id_valid, proc_stat, proc_exe, exe_hash (when proc_exe succeeded) and
// notif_id_valid, in that order.
Attribution resolve_linux_pidfd(const Flow& flow, LinuxSeam& seam);

// The system recorder's (`flowid record --system`): it finds a socket's owner by bare pid (the
// socket's inode among /proc/*/fd) long after the connect, so nothing binds the answer to the
// flow's execution and it is at most unverified. Asks proc_stat, then proc_exe, then exe_hash
// about flow.proc_pid, each only when the one before succeeded: unverified with the executable's
// identity (its path alone when it could not be hashed), unknown when it could not be read.
Attribution resolve_linux_by_pid(const Flow& flow, LinuxSeam& seam);

}  // namespace flowid::strategies
