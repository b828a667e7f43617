#include "recorder/proc_connector.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace flowid::recorder {

ProcConnector::~ProcConnector() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

int ProcConnector::open() {
  fd_ = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
  if (fd_ < 0) return errno;
  int buffer_bytes = kReceiveBufferBytes;
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof buffer_bytes) != 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
  }
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = CN_IDX_PROC;
  address.nl_pid = 0;
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int error = errno;
    ::close(fd_);
    fd_ = -1;
    return error;
  }
  // nlmsghdr | cn_msg | uint32 operation, laid out by hand (cn_msg ends in a flexible array).
  alignas(nlmsghdr) char request[NLMSG_SPACE(sizeof(cn_msg) + sizeof(uint32_t))] = {};
  auto* header = reinterpret_cast<nlmsghdr*>(request);
  header->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(uint32_t));
  header->nlmsg_type = NLMSG_DONE;
  auto* message = static_cast<cn_msg*>(NLMSG_DATA(header));
  message->id.idx = CN_IDX_PROC;
  message->id.val = CN_VAL_PROC;
  message->len = sizeof(uint32_t);
  uint32_t operation = PROC_CN_MCAST_LISTEN;
  std::memcpy(message->data, &operation, sizeof operation);
  if (::send(fd_, request, header->nlmsg_len, 0) < 0) {
    int error = errno;
    ::close(fd_);
    fd_ = -1;
    return error;
  }
  // The kernel refuses the subscription silently (no error on send) outside the initial
  // namespaces on some versions; an ack is not sent either. Callers learn it from silence,
  // which is harmless: the supervisor fallback always runs as well.
  return 0;
}

uint64_t ProcConnector::drain(std::vector<ProcEvent>* out) {
  uint64_t lost = 0;
  alignas(nlmsghdr) char buffer[16384];
  for (int reads = 0; reads < 4096; ++reads) {  // bounded: at most 4096 datagrams per drain.
    ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        overrun_pending_ = true;  // the sequence gap below says how many.
        continue;
      }
      break;  // EAGAIN: drained.
    }
    auto remaining = static_cast<std::size_t>(n);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, remaining);
         header = NLMSG_NEXT(header, remaining)) {
      if (header->nlmsg_type == NLMSG_NOOP || header->nlmsg_type == NLMSG_ERROR) continue;
      auto* message = static_cast<cn_msg*>(NLMSG_DATA(header));
      if (message->id.idx != CN_IDX_PROC || message->id.val != CN_VAL_PROC) continue;
      if (message->len < sizeof(proc_event) - sizeof(proc_event{}.event_data)) continue;
      // The event sits at a 4-byte boundary after cn_msg, but proc_event needs 8-byte alignment
      // (UBSan: misaligned access): copy it out, never more than the datagram holds.
      const std::size_t payload = NLMSG_PAYLOAD(header, 0);
      if (payload < sizeof(cn_msg)) continue;
      proc_event aligned_event{};
      std::memcpy(
          &aligned_event, message->data,
          std::min<std::size_t>({message->len, payload - sizeof(cn_msg), sizeof aligned_event}));
      const proc_event* event = &aligned_event;
      auto [it, inserted] = next_seq_by_cpu_.try_emplace(event->cpu, message->seq);
      if (!inserted && message->seq != it->second) {
        lost += static_cast<uint32_t>(message->seq - it->second);
      }
      it->second = message->seq + 1;
      ProcEvent parsed;
      parsed.timestamp_ns = event->timestamp_ns;
      switch (event->what) {
        case proc_event::PROC_EVENT_FORK:
          parsed.kind = ProcEvent::Kind::kFork;
          parsed.pid = event->event_data.fork.child_pid;
          parsed.tgid = event->event_data.fork.child_tgid;
          parsed.parent_pid = event->event_data.fork.parent_pid;
          parsed.parent_tgid = event->event_data.fork.parent_tgid;
          out->push_back(parsed);
          break;
        case proc_event::PROC_EVENT_EXEC:
          parsed.kind = ProcEvent::Kind::kExec;
          parsed.pid = event->event_data.exec.process_pid;
          parsed.tgid = event->event_data.exec.process_tgid;
          out->push_back(parsed);
          break;
        case proc_event::PROC_EVENT_EXIT:
          parsed.kind = ProcEvent::Kind::kExit;
          parsed.pid = event->event_data.exit.process_pid;
          parsed.tgid = event->event_data.exit.process_tgid;
          parsed.exit_code = event->event_data.exit.exit_code;
          out->push_back(parsed);
          break;
        default:
          break;
      }
    }
  }
  if (overrun_pending_ && lost == 0) lost = 1;  // an overrun with no visible gap: at least one.
  overrun_pending_ = false;
  return lost;
}

}  // namespace flowid::recorder
