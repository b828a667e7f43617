// The isolation worker's wire codec and socket (see wire.h).
#include "plugin/wire.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace flowid::plugin::wire {

namespace {

void put_flow_token(Writer& w, const flowid_flow_token& t) {
  w.u32(t.present);
  w.u32(t.size_bytes);
  w.token(t.token);
}

flowid_flow_token get_flow_token(Reader& r) {
  flowid_flow_token t{};
  t.present = r.u32();
  t.size_bytes = r.u32();
  t.token = r.token();
  return t;
}

}  // namespace

void put_flow(Writer& w, const flowid_flow& f) {
  w.u64(f.flow_id);
  w.bytes(f.identifier, sizeof f.identifier);
  put_flow_token(w, f.source_app_audit_token);
  put_flow_token(w, f.source_process_audit_token);
  w.cstr(f.source_app_identifier);
  w.cstr(f.hostname);
  w.cstr(f.remote_hostname);
  w.cstr(f.remote_address);
  w.u32(f.remote_port);
  w.u32(f.local_port);
  w.u32(f.direction);
  w.u32(f.protocol);
  w.u32(f.family);
  w.u32(f.type);
  w.i32(f.proc_pid);
  w.i32(f.eproc_pid);
}

void get_flow(Reader& r, DecodedFlow& out) {
  out.c.flow_id = r.u64();
  const std::string_view identifier = r.take(sizeof out.c.identifier);
  if (r.ok()) std::memcpy(out.c.identifier, identifier.data(), sizeof out.c.identifier);
  out.c.source_app_audit_token = get_flow_token(r);
  out.c.source_process_audit_token = get_flow_token(r);
  out.app_identifier = std::string(r.str());
  out.hostname = std::string(r.str());
  out.remote_hostname = std::string(r.str());
  out.remote_address = std::string(r.str());
  out.c.remote_port = static_cast<uint16_t>(r.u32());
  out.c.local_port = static_cast<uint16_t>(r.u32());
  out.c.direction = r.u32();
  out.c.protocol = r.u32();
  out.c.family = r.u32();
  out.c.type = r.u32();
  out.c.proc_pid = r.i32();
  out.c.eproc_pid = r.i32();
  out.c.source_app_identifier = out.app_identifier.c_str();
  out.c.hostname = out.hostname.c_str();
  out.c.remote_hostname = out.remote_hostname.c_str();
  out.c.remote_address = out.remote_address.c_str();
}

void put_identity(Writer& w, const flowid_code_identity& id) {
  w.str(id.path, id.path_len);
  w.str(id.signing_id, id.signing_id_len);
  w.str(id.team_id, id.team_id_len);
  w.u32(id.has_cdhash);
  w.bytes(id.cdhash, sizeof id.cdhash);
  w.u32(id.platform);
  w.u32(id.signature);
  w.u32(id.hardened_runtime);
}

void get_identity(Reader& r, DecodedIdentity& out) {
  out.path = std::string(r.str());
  out.signing_id = std::string(r.str());
  out.team_id = std::string(r.str());
  out.c = flowid_code_identity{};
  out.c.has_cdhash = r.u32();
  const std::string_view cdhash = r.take(sizeof out.c.cdhash);
  if (r.ok()) std::memcpy(out.c.cdhash, cdhash.data(), sizeof out.c.cdhash);
  out.c.platform = r.u32();
  out.c.signature = r.u32();
  out.c.hardened_runtime = r.u32();
  out.c.path = out.path.c_str();
  out.c.path_len = out.path.size();
  out.c.signing_id = out.signing_id.c_str();
  out.c.signing_id_len = out.signing_id.size();
  out.c.team_id = out.team_id.c_str();
  out.c.team_id_len = out.team_id.size();
}

void put_attribution(Writer& w, const flowid_attribution& a) {
  w.u32(a.status);
  w.u32(a.has_identity);
  if (a.has_identity != 0) put_identity(w, a.identity);
  w.u32(a.has_claimed_execution);
  w.i32(a.claimed_pid);
  w.u32(a.claimed_pidversion);
  w.u8(a.method != nullptr ? 1 : 0);
  w.cstr(a.method);
}

void get_attribution(Reader& r, DecodedAttribution& out) {
  out.c = flowid_attribution{};
  out.c.status = r.u32();
  out.c.has_identity = r.u32();
  if (out.c.has_identity != 0) {
    get_identity(r, out.identity);
    out.c.identity = out.identity.c;
  }
  out.c.has_claimed_execution = r.u32();
  out.c.claimed_pid = r.i32();
  out.c.claimed_pidversion = r.u32();
  const bool has_method = r.u8() != 0;
  out.method = std::string(r.str());
  out.c.method = has_method ? out.method.c_str() : nullptr;
}

void put_launch_result(Writer& w, const flowid_launch_result& l) {
  w.u32(l.launched);
  w.u32(l.has_execution);
  w.token(l.execution);
  w.outcome(l.refusal);
  w.u8(l.method != nullptr ? 1 : 0);
  w.cstr(l.method);
}

void get_launch_result(Reader& r, DecodedLaunchResult& out) {
  out.c = flowid_launch_result{};
  out.c.launched = r.u32();
  out.c.has_execution = r.u32();
  out.c.execution = r.token();
  out.c.refusal = r.outcome();
  const bool has_method = r.u8() != 0;
  out.method = std::string(r.str());
  out.c.method = has_method ? out.method.c_str() : nullptr;
}

void put_oracle_options(Writer& w, const OracleOptions& options) {
  w.u8(options.accept_app_attribution ? 1 : 0);
  w.u32(options.seam_call_budget);
}

OracleOptions get_oracle_options(Reader& r) {
  OracleOptions options;
  options.accept_app_attribution = r.u8() != 0;
  options.seam_call_budget = r.u32();
  return options;
}

void put_verdict(Writer& w, const fuzz::CaseVerdict& v) {
  w.str(v.error.data(), v.error.size());
  w.u32(static_cast<uint32_t>(v.cell));
  w.u8(v.violated);
  w.u32(v.violations);
  w.u32(v.warnings);
  w.str(v.first_violation.data(), v.first_violation.size());
  w.u64(v.digest);
  w.u32(v.event_count);
}

fuzz::CaseVerdict get_verdict(Reader& r) {
  fuzz::CaseVerdict v;
  v.error = std::string(r.str());
  v.cell = static_cast<Cell>(r.u32());
  v.violated = r.u8();
  v.violations = r.u32();
  v.warnings = r.u32();
  v.first_violation = std::string(r.str());
  v.digest = r.u64();
  v.event_count = r.u32();
  return v;
}

void put_case_batch(Writer& w, const fuzz::CaseBatch& batch) {
  const auto& g = batch.generator;
  w.u32(g.faults);
  w.u8(g.swarm ? 1 : 0);
  w.u8(g.launchers ? 1 : 0);
  w.u32(g.episodes_max);
  w.u32(g.fault_episode_percent);
  w.u32(static_cast<uint32_t>(g.borrowed_signing_ids.size()));
  for (const auto& id : g.borrowed_signing_ids) w.str(id.data(), id.size());
  w.u64(batch.seed);
  w.str(batch.name.data(), batch.name.size());
  put_oracle_options(w, batch.oracle);
  w.u64(batch.first);
  w.u64(batch.count);
}

fuzz::CaseBatch get_case_batch(Reader& r) {
  fuzz::CaseBatch batch;
  auto& g = batch.generator;
  g.faults = static_cast<fuzz::FaultSet>(r.u32());
  g.swarm = r.u8() != 0;
  g.launchers = r.u8() != 0;
  g.episodes_max = r.u32();
  g.fault_episode_percent = r.u32();
  const uint32_t ids = r.u32();
  // Bounded by the frame: each identifier takes at least its 4-byte length.
  for (uint32_t i = 0; i < ids && r.ok(); ++i) g.borrowed_signing_ids.emplace_back(r.str());
  batch.seed = r.u64();
  batch.name = std::string(r.str());
  batch.oracle = get_oracle_options(r);
  batch.first = r.u64();
  batch.count = r.u64();
  return batch;
}

bool Channel::send(const std::string& frame) {
  std::size_t sent = 0;
  while (sent < frame.size()) {
#ifdef MSG_NOSIGNAL
    const ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
#else
    const ssize_t n = ::send(fd_, frame.data() + sent, frame.size() - sent, 0);
#endif
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

Channel::Got Channel::receive(std::string* payload,
                              std::optional<std::chrono::steady_clock::time_point> deadline) {
  for (;;) {
    if (buffer_.size() - start_ >= 4) {
      uint32_t size = 0;
      std::memcpy(&size, buffer_.data() + start_, sizeof size);
      if (size == 0 || size > kFrameBytesMax) return Got::kBroken;
      if (buffer_.size() - start_ - 4 >= size) {
        payload->assign(buffer_, start_ + 4, size);
        start_ += 4 + size;
        if (start_ == buffer_.size()) {
          buffer_.clear();
          start_ = 0;
        }
        return Got::kFrame;
      }
    }
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          *deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Got::kTimeout;
      pollfd waiting{fd_, POLLIN, 0};
      const int ready =
          ::poll(&waiting, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return Got::kBroken;
      if (ready == 0) continue;  // the loop re-checks the deadline.
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ECONNRESET) return Got::kClosed;
    if (n < 0) return Got::kBroken;
    if (n == 0) return Got::kClosed;
    if (start_ > 0 && start_ == buffer_.size()) {
      buffer_.clear();
      start_ = 0;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

bool send_fd(int socket, int fd, const std::string& payload) {
  iovec data{const_cast<char*>(payload.data()), payload.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  for (;;) {
    const ssize_t sent = ::sendmsg(socket, &message, 0);
    if (sent < 0 && errno == EINTR) continue;
    return sent == static_cast<ssize_t>(payload.size());
  }
}

int receive_fd(int socket, std::string* payload) {
  char buffer[256];
  iovec data{buffer, sizeof buffer};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got = 0;
  do {
#ifdef MSG_CMSG_CLOEXEC
    got = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
#else
    got = ::recvmsg(socket, &message, 0);
#endif
  } while (got < 0 && errno == EINTR);
  if (got <= 0) return -1;
  payload->assign(buffer, static_cast<std::size_t>(got));
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
#ifndef MSG_CMSG_CLOEXEC
      ::fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
      return fd;
    }
  }
  return -1;
}

}  // namespace flowid::plugin::wire
