// The fork server: the one process that forks plugin workers, so that flowid never forks from a
// thread (plugin/pool.h).
//
// ForkServer's constructor forks it from flowid (call it while flowid has one thread). The server
// keeps only stdin/out/err and its control socket, and serves one request at a time over that
// socket (SOCK_SEQPACKET: a request or reply is one packet):
// - spawn PATH: load the plugin file (once per path), fork a worker from the server, hand flowid
//   the worker's socket (SCM_RIGHTS) and pid. The worker runs worker_main (plugin/worker.h).
// - reap PID WAIT_MS: wait up to WAIT_MS for the worker to end (then kill it), answer its wait
//   status. Until the server reaps a worker its pid cannot be reused, so flowid may kill it
//   directly by pid.
// The server ends when flowid closes the control socket (or exits).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <string>

namespace flowid::plugin {

class ForkServer {
 public:
  ForkServer();  // throws std::runtime_error when it cannot fork.
  ~ForkServer();
  ForkServer(const ForkServer&) = delete;
  ForkServer& operator=(const ForkServer&) = delete;

  struct Spawned {
    pid_t pid = -1;
    int fd = -1;  // flowid's end of the worker's socket (close-on-exec); the caller owns it.
  };
  // A new worker for the plugin at path. Throws std::runtime_error with the server's reason.
  Spawned spawn(const std::string& path);

  struct Ended {
    int status = 0;       // the wait status.
    bool killed = false;  // still running at the end of the wait: killed by the server.
  };
  // Waits for a worker to end (killing it after wait_ms) and reaps it.
  Ended reap(pid_t pid, uint32_t wait_ms);

 private:
  std::string request(const std::string& packet, int* fd);
  std::mutex mutex_;  // one request at a time.
  int control_ = -1;
  pid_t pid_ = -1;
};

}  // namespace flowid::plugin
