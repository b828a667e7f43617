// Persistent plugin worker processes (see plugin_worker.h): the wire format, the worker's loop,
// flowid's side of a call, the pool and the resolver / launcher proxies.
#include "replay/plugin_worker.h"

#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace flowid::plugin {
namespace {

// ---------------------------------------------------------------------------------------------
// Wire format. A frame is a 32-bit length (host byte order: both ends are the same binary on the
// same machine) and a payload whose first byte is the message type.

enum class Msg : uint8_t {
  // flowid -> worker
  kCreate = 1,     // u64 instance id
  kDestroy = 2,    // u64 instance id
  kResolve = 3,    // u64 id, flow, u64 now_ns
  kDecide = 4,     // u64 id, flow, attribution
  kLaunch = 5,     // u64 id, str path, str requirement
  kSeamReply = 6,  // the answer to the worker's last kSeamCall
  // worker -> flowid
  kCreated = 16,    // u8 ok
  kDestroyed = 17,  //
  kResolved = 18,   // attribution
  kDecided = 19,    // i32 returned, u32 decision
  kLaunched = 20,   // launch result
  kSeamCall = 21,   // u8 call, arguments
};

enum class Call : uint8_t {
  kGuestByAuditToken = 1,
  kGuestByPid,
  kStaticCode,
  kCodePath,
  kCheckValidity,
  kSigningInformation,
  kAuditTokenToPid,
  kProcPidpath,
  kProcPidpathAudittoken,
  kTokenForPid,
  kKillZero,
  kResponsiblePid,
  // launch seam
  kCheckFile,
  kSpawn,
  kSpawnWithRequirement,
  kCopyToPrivate,
  kSpawnSuspended,
  kResume,
  kKill,
};

constexpr uint32_t kFrameBytesMax = 64u << 20;

class Writer {
 public:
  explicit Writer(Msg type) {
    buffer_.resize(4);
    u8(static_cast<uint8_t>(type));
  }
  void u8(uint8_t v) { buffer_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void i32(int32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void bytes(const void* data, std::size_t size) { raw(data, size); }
  void str(const char* data, std::size_t size) {
    if (data == nullptr) size = 0;
    u32(static_cast<uint32_t>(size));
    raw(data, size);
  }
  void cstr(const char* s) { str(s, s == nullptr ? 0 : std::strlen(s)); }
  void token(const flowid_audit_token& t) { raw(t.words, sizeof t.words); }
  void outcome(flowid_outcome o) {
    i32(o.domain);
    i32(o.code);
  }
  // The frame with its length filled in.
  const std::string& frame() {
    const uint32_t size = static_cast<uint32_t>(buffer_.size() - 4);
    std::memcpy(buffer_.data(), &size, sizeof size);
    return buffer_;
  }

 private:
  void raw(const void* data, std::size_t size) {
    if (size > 0) buffer_.append(static_cast<const char*>(data), size);
  }
  std::string buffer_;
};

// Reads a payload; any read past the end makes ok() false and answers zeros.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == data_.size(); }
  uint8_t u8() { return scalar<uint8_t>(); }
  uint32_t u32() { return scalar<uint32_t>(); }
  int32_t i32() { return scalar<int32_t>(); }
  uint64_t u64() { return scalar<uint64_t>(); }
  std::string_view take(std::size_t size) {
    if (!ok_ || data_.size() - at_ < size) {
      ok_ = false;
      return {};
    }
    std::string_view out = data_.substr(at_, size);
    at_ += size;
    return out;
  }
  std::string_view str() { return take(u32()); }
  flowid_audit_token token() {
    flowid_audit_token t{};
    const std::string_view raw = take(sizeof t.words);
    if (ok_) std::memcpy(t.words, raw.data(), sizeof t.words);
    return t;
  }
  flowid_outcome outcome() {
    flowid_outcome o{};
    o.domain = i32();
    o.code = i32();
    return o;
  }

 private:
  template <typename T>
  T scalar() {
    T value{};
    const std::string_view raw = take(sizeof value);
    if (ok_) std::memcpy(&value, raw.data(), sizeof value);
    return value;
  }
  std::string_view data_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

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

// A flow read from the wire; c points into the strings (do not copy or move the object).
struct DecodedFlow {
  std::string app_identifier, hostname, remote_hostname, remote_address;
  flowid_flow c{};
};

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

// An identity read from the wire; c points into the strings (NUL-terminated, as the ABI says).
struct DecodedIdentity {
  std::string path, signing_id, team_id;
  flowid_code_identity c{};
};

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

struct DecodedAttribution {
  DecodedIdentity identity;
  std::string method;
  flowid_attribution c{};
};

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

// ---------------------------------------------------------------------------------------------
// A socket carrying frames.

class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}

  // False when the peer is gone.
  bool send(const std::string& frame) {
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

  enum class Got : uint8_t { kFrame, kClosed, kTimeout, kBroken };

  // One frame's payload. With a deadline, kTimeout once it has passed.
  Got receive(std::string* payload, std::optional<std::chrono::steady_clock::time_point> deadline) {
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
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return Got::kTimeout;
        pollfd waiting{fd_, POLLIN, 0};
        const int ready = ::poll(&waiting, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
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

 private:
  int fd_;
  std::string buffer_;
  std::size_t start_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The worker process: runs the plugin; its seam asks flowid.

// Exit statuses of a worker that stops on its own (not the plugin's doing).
constexpr int kWorkerPeerGone = 0;
constexpr int kWorkerProtocolError = 113;

struct WorkerSide {
  Channel& channel;
  std::string lent;           // the string the last seam call lent.
  DecodedIdentity identity;   // the identity the last signing_information lent.
};

WorkerSide& side(void* context) { return *static_cast<WorkerSide*>(context); }

// Sends a seam call and returns the reply's payload reader (past the type byte). Leaves the
// process when flowid is gone or answers nonsense: the call cannot be completed.
struct Reply {
  std::string payload;
  Reader reader{std::string_view()};
};

void ask(WorkerSide& w, Writer& request, Reply& reply) {
  if (!w.channel.send(request.frame())) ::_exit(kWorkerPeerGone);
  const Channel::Got got = w.channel.receive(&reply.payload, std::nullopt);
  if (got == Channel::Got::kClosed) ::_exit(kWorkerPeerGone);
  if (got != Channel::Got::kFrame) ::_exit(kWorkerProtocolError);
  reply.reader = Reader(reply.payload);
  if (reply.reader.u8() != static_cast<uint8_t>(Msg::kSeamReply)) ::_exit(kWorkerProtocolError);
}

Writer seam_call(Call call) {
  Writer w(Msg::kSeamCall);
  w.u8(static_cast<uint8_t>(call));
  return w;
}

// A call answering an outcome and a code handle.
flowid_outcome answer_ref(WorkerSide& w, Writer& request, flowid_code_ref* out) {
  Reply reply;
  ask(w, request, reply);
  const flowid_outcome o = reply.reader.outcome();
  const uint64_t ref = reply.reader.u64();
  if (out != nullptr) *out = ref;
  return o;
}

// A call answering an outcome and a lent string.
flowid_outcome answer_string(WorkerSide& w, Writer& request, const char** data_out, std::size_t* size_out) {
  Reply reply;
  ask(w, request, reply);
  const flowid_outcome o = reply.reader.outcome();
  w.lent = std::string(reply.reader.str());
  if (data_out != nullptr) *data_out = w.lent.c_str();
  if (size_out != nullptr) *size_out = w.lent.size();
  return o;
}

flowid_outcome answer_token(WorkerSide& w, Writer& request, flowid_audit_token* out) {
  Reply reply;
  ask(w, request, reply);
  const flowid_outcome o = reply.reader.outcome();
  const flowid_audit_token token = reply.reader.token();
  if (out != nullptr) *out = token;
  return o;
}

flowid_outcome answer_outcome(WorkerSide& w, Writer& request) {
  Reply reply;
  ask(w, request, reply);
  return reply.reader.outcome();
}

flowid_outcome w_guest_by_audit_token(void* c, const flowid_audit_token* token, flowid_code_ref* out) {
  Writer w = seam_call(Call::kGuestByAuditToken);
  w.token(*token);
  return answer_ref(side(c), w, out);
}

flowid_outcome w_guest_by_pid(void* c, int32_t pid, flowid_code_ref* out) {
  Writer w = seam_call(Call::kGuestByPid);
  w.i32(pid);
  return answer_ref(side(c), w, out);
}

flowid_outcome w_static_code(void* c, flowid_code_ref code, flowid_code_ref* out) {
  Writer w = seam_call(Call::kStaticCode);
  w.u64(code);
  return answer_ref(side(c), w, out);
}

flowid_outcome w_code_path(void* c, flowid_code_ref code, const char** path_out, std::size_t* len_out) {
  Writer w = seam_call(Call::kCodePath);
  w.u64(code);
  return answer_string(side(c), w, path_out, len_out);
}

flowid_outcome w_check_validity(void* c, flowid_code_ref code, const char* requirement) {
  Writer w = seam_call(Call::kCheckValidity);
  w.u64(code);
  w.cstr(requirement);
  return answer_outcome(side(c), w);
}

flowid_outcome w_signing_information(void* c, flowid_code_ref code, flowid_code_identity* out) {
  Writer w = seam_call(Call::kSigningInformation);
  w.u64(code);
  WorkerSide& ws = side(c);
  Reply reply;
  ask(ws, w, reply);
  const flowid_outcome o = reply.reader.outcome();
  get_identity(reply.reader, ws.identity);
  if (out != nullptr) *out = ws.identity.c;
  return o;
}

int32_t w_audit_token_to_pid(void* c, const flowid_audit_token* token) {
  Writer w = seam_call(Call::kAuditTokenToPid);
  w.token(*token);
  Reply reply;
  ask(side(c), w, reply);
  return reply.reader.i32();
}

flowid_outcome w_proc_pidpath(void* c, int32_t pid, const char** path_out, std::size_t* len_out) {
  Writer w = seam_call(Call::kProcPidpath);
  w.i32(pid);
  return answer_string(side(c), w, path_out, len_out);
}

flowid_outcome w_proc_pidpath_audittoken(void* c, const flowid_audit_token* token, const char** path_out,
                                         std::size_t* len_out) {
  Writer w = seam_call(Call::kProcPidpathAudittoken);
  w.token(*token);
  return answer_string(side(c), w, path_out, len_out);
}

flowid_outcome w_token_for_pid(void* c, int32_t pid, flowid_audit_token* out) {
  Writer w = seam_call(Call::kTokenForPid);
  w.i32(pid);
  return answer_token(side(c), w, out);
}

flowid_outcome w_kill_zero(void* c, int32_t pid) {
  Writer w = seam_call(Call::kKillZero);
  w.i32(pid);
  return answer_outcome(side(c), w);
}

flowid_outcome w_responsible_pid(void* c, int32_t pid, int32_t* out) {
  Writer w = seam_call(Call::kResponsiblePid);
  w.i32(pid);
  Reply reply;
  ask(side(c), w, reply);
  const flowid_outcome o = reply.reader.outcome();
  const int32_t responsible = reply.reader.i32();
  if (out != nullptr) *out = responsible;
  return o;
}

flowid_outcome w_check_file(void* c, const char* path, const char* requirement) {
  Writer w = seam_call(Call::kCheckFile);
  w.cstr(path);
  w.cstr(requirement);
  return answer_outcome(side(c), w);
}

flowid_outcome w_spawn(void* c, const char* path, flowid_audit_token* out) {
  Writer w = seam_call(Call::kSpawn);
  w.cstr(path);
  return answer_token(side(c), w, out);
}

flowid_outcome w_spawn_with_requirement(void* c, const char* path, const char* requirement,
                                        flowid_audit_token* out) {
  Writer w = seam_call(Call::kSpawnWithRequirement);
  w.cstr(path);
  w.cstr(requirement);
  return answer_token(side(c), w, out);
}

flowid_outcome w_copy_to_private(void* c, const char* path, const char** path_out, std::size_t* len_out) {
  Writer w = seam_call(Call::kCopyToPrivate);
  w.cstr(path);
  return answer_string(side(c), w, path_out, len_out);
}

flowid_outcome w_spawn_suspended(void* c, const char* path, flowid_audit_token* out) {
  Writer w = seam_call(Call::kSpawnSuspended);
  w.cstr(path);
  return answer_token(side(c), w, out);
}

flowid_outcome w_resume(void* c, const flowid_audit_token* token) {
  Writer w = seam_call(Call::kResume);
  w.token(*token);
  return answer_outcome(side(c), w);
}

flowid_outcome w_kill(void* c, const flowid_audit_token* token) {
  Writer w = seam_call(Call::kKill);
  w.token(*token);
  return answer_outcome(side(c), w);
}

flowid_seam worker_seam(WorkerSide& w) {
  flowid_seam seam{};
  seam.abi_version = FLOWID_PLUGIN_ABI_VERSION;
  seam.context = &w;
  seam.guest_by_audit_token = w_guest_by_audit_token;
  seam.guest_by_pid = w_guest_by_pid;
  seam.static_code = w_static_code;
  seam.code_path = w_code_path;
  seam.check_validity = w_check_validity;
  seam.signing_information = w_signing_information;
  seam.audit_token_to_pid = w_audit_token_to_pid;
  seam.proc_pidpath = w_proc_pidpath;
  seam.proc_pidpath_audittoken = w_proc_pidpath_audittoken;
  seam.token_for_pid = w_token_for_pid;
  seam.kill_zero = w_kill_zero;
  seam.responsible_pid = w_responsible_pid;
  return seam;
}

flowid_launch_seam worker_launch_seam(WorkerSide& w) {
  flowid_launch_seam seam{};
  seam.context = &w;
  seam.check_file = w_check_file;
  seam.spawn = w_spawn;
  seam.spawn_with_requirement = w_spawn_with_requirement;
  seam.copy_to_private = w_copy_to_private;
  seam.spawn_suspended = w_spawn_suspended;
  seam.resume = w_resume;
  seam.kill = w_kill;
  return seam;
}

struct Instance {
  void* pointer = nullptr;
  bool ok = false;
};

// The worker's loop: one request at a time until flowid closes the socket.
[[noreturn]] void worker_main(int fd, const flowid_plugin& table) {
  Channel channel(fd);
  std::map<uint64_t, Instance> instances;
  std::string request;
  for (;;) {
    const Channel::Got got = channel.receive(&request, std::nullopt);
    if (got == Channel::Got::kClosed) ::_exit(kWorkerPeerGone);
    if (got != Channel::Got::kFrame) ::_exit(kWorkerProtocolError);
    Reader r(request);
    const auto type = static_cast<Msg>(r.u8());
    const uint64_t id = r.u64();
    if (type == Msg::kCreate) {
      Instance instance;
      if (table.create_instance == nullptr) {
        instance = {table.user_data, true};
      } else {
        instance.pointer = table.create_instance(table.user_data);
        instance.ok = instance.pointer != nullptr;
      }
      instances[id] = instance;
      Writer w(Msg::kCreated);
      w.u8(instance.ok ? 1 : 0);
      if (!channel.send(w.frame())) ::_exit(kWorkerPeerGone);
      continue;
    }
    auto it = instances.find(id);
    if (it == instances.end() || !r.ok()) ::_exit(kWorkerProtocolError);
    void* instance = it->second.pointer;
    WorkerSide ws{channel, {}, {}};
    switch (type) {
      case Msg::kDestroy: {
        if (it->second.ok && table.create_instance != nullptr && table.destroy_instance != nullptr) {
          table.destroy_instance(instance);
        }
        instances.erase(it);
        Writer w(Msg::kDestroyed);
        if (!channel.send(w.frame())) ::_exit(kWorkerPeerGone);
        break;
      }
      case Msg::kResolve: {
        DecodedFlow flow;
        get_flow(r, flow);
        const uint64_t now_ns = r.u64();
        if (!r.done()) ::_exit(kWorkerProtocolError);
        const flowid_seam seam = worker_seam(ws);
        flowid_attribution answer{};
        answer.status = FLOWID_STATUS_UNKNOWN;
        table.resolve(instance, &flow.c, now_ns, &seam, &answer);
        Writer w(Msg::kResolved);
        put_attribution(w, answer);
        if (!channel.send(w.frame())) ::_exit(kWorkerPeerGone);
        break;
      }
      case Msg::kDecide: {
        DecodedFlow flow;
        get_flow(r, flow);
        DecodedAttribution attribution;
        get_attribution(r, attribution);
        if (!r.done() || table.decide == nullptr) ::_exit(kWorkerProtocolError);
        uint32_t decision = FLOWID_DECISION_DROP;
        const int32_t returned = table.decide(instance, &flow.c, &attribution.c, &decision);
        Writer w(Msg::kDecided);
        w.i32(returned);
        w.u32(decision);
        if (!channel.send(w.frame())) ::_exit(kWorkerPeerGone);
        break;
      }
      case Msg::kLaunch: {
        const std::string path(r.str());
        const std::string requirement(r.str());
        if (!r.done() || table.launch == nullptr) ::_exit(kWorkerProtocolError);
        const flowid_seam seam = worker_seam(ws);
        const flowid_launch_seam launch_seam = worker_launch_seam(ws);
        flowid_launch_result answer{};
        table.launch(instance, path.c_str(), requirement.c_str(), &seam, &launch_seam, &answer);
        Writer w(Msg::kLaunched);
        put_launch_result(w, answer);
        if (!channel.send(w.frame())) ::_exit(kWorkerPeerGone);
        break;
      }
      default:
        ::_exit(kWorkerProtocolError);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// flowid's side.

// Answers one seam call of the worker through the C tables (which forward to the C++ seams and
// apply the abort rule). False when the call is malformed or needs a seam the call lacks.
bool serve_seam_call(Reader& r, const CSeamTables& tables, Writer& reply) {
  const flowid_seam& s = *tables.seam();
  const flowid_launch_seam* l = tables.launch();
  const auto call = static_cast<Call>(r.u8());
  const char* text = nullptr;
  std::size_t size = 0;
  flowid_code_ref ref = 0;
  flowid_audit_token token{};
  switch (call) {
    case Call::kGuestByAuditToken: {
      const flowid_audit_token t = r.token();
      reply.outcome(s.guest_by_audit_token(s.context, &t, &ref));
      reply.u64(ref);
      break;
    }
    case Call::kGuestByPid: {
      const int32_t pid = r.i32();
      reply.outcome(s.guest_by_pid(s.context, pid, &ref));
      reply.u64(ref);
      break;
    }
    case Call::kStaticCode: {
      const uint64_t code = r.u64();
      reply.outcome(s.static_code(s.context, code, &ref));
      reply.u64(ref);
      break;
    }
    case Call::kCodePath: {
      const uint64_t code = r.u64();
      reply.outcome(s.code_path(s.context, code, &text, &size));
      reply.str(text, size);
      break;
    }
    case Call::kCheckValidity: {
      const uint64_t code = r.u64();
      const std::string requirement(r.str());
      reply.outcome(s.check_validity(s.context, code, requirement.c_str()));
      break;
    }
    case Call::kSigningInformation: {
      const uint64_t code = r.u64();
      flowid_code_identity identity{};
      reply.outcome(s.signing_information(s.context, code, &identity));
      put_identity(reply, identity);
      break;
    }
    case Call::kAuditTokenToPid: {
      const flowid_audit_token t = r.token();
      reply.i32(s.audit_token_to_pid(s.context, &t));
      break;
    }
    case Call::kProcPidpath: {
      const int32_t pid = r.i32();
      reply.outcome(s.proc_pidpath(s.context, pid, &text, &size));
      reply.str(text, size);
      break;
    }
    case Call::kProcPidpathAudittoken: {
      const flowid_audit_token t = r.token();
      reply.outcome(s.proc_pidpath_audittoken(s.context, &t, &text, &size));
      reply.str(text, size);
      break;
    }
    case Call::kTokenForPid: {
      const int32_t pid = r.i32();
      reply.outcome(s.token_for_pid(s.context, pid, &token));
      reply.token(token);
      break;
    }
    case Call::kKillZero: {
      const int32_t pid = r.i32();
      reply.outcome(s.kill_zero(s.context, pid));
      break;
    }
    case Call::kResponsiblePid: {
      const int32_t pid = r.i32();
      int32_t responsible = 0;
      reply.outcome(s.responsible_pid(s.context, pid, &responsible));
      reply.i32(responsible);
      break;
    }
    case Call::kCheckFile:
    case Call::kSpawn:
    case Call::kSpawnWithRequirement:
    case Call::kCopyToPrivate:
    case Call::kSpawnSuspended:
    case Call::kResume:
    case Call::kKill: {
      if (l == nullptr) return false;
      if (call == Call::kResume || call == Call::kKill) {
        const flowid_audit_token t = r.token();
        reply.outcome(call == Call::kResume ? l->resume(l->context, &t) : l->kill(l->context, &t));
        break;
      }
      const std::string path(r.str());
      if (call == Call::kCheckFile || call == Call::kSpawnWithRequirement) {
        const std::string requirement(r.str());
        if (call == Call::kCheckFile) {
          reply.outcome(l->check_file(l->context, path.c_str(), requirement.c_str()));
        } else {
          reply.outcome(l->spawn_with_requirement(l->context, path.c_str(), requirement.c_str(), &token));
          reply.token(token);
        }
      } else if (call == Call::kCopyToPrivate) {
        reply.outcome(l->copy_to_private(l->context, path.c_str(), &text, &size));
        reply.str(text, size);
      } else {
        reply.outcome(call == Call::kSpawn ? l->spawn(l->context, path.c_str(), &token)
                                           : l->spawn_suspended(l->context, path.c_str(), &token));
        reply.token(token);
      }
      break;
    }
    default:
      return false;
  }
  return r.done();
}

std::atomic<uint64_t> g_workers_started{0};

// One worker process, as flowid sees it.
class Worker {
 public:
  Worker(std::shared_ptr<const PluginModule> module, IsolationOptions options)
      : module_(std::move(module)), options_(options) {
    int fds[2];
#ifdef SOCK_CLOEXEC
    const int type = SOCK_STREAM | SOCK_CLOEXEC;
#else
    const int type = SOCK_STREAM;
#endif
    if (::socketpair(AF_UNIX, type, 0, fds) != 0) {
      throw std::runtime_error(fmt::format("plugin isolation: socketpair: {}", std::strerror(errno)));
    }
    // Whatever flowid has buffered for stdout / stderr would otherwise also sit in the worker's
    // copy of the buffers, and be written a second time if the plugin flushes them.
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t child = ::fork();
    if (child < 0) {
      const int error = errno;
      ::close(fds[0]);
      ::close(fds[1]);
      throw std::runtime_error(fmt::format("plugin isolation: fork: {}", std::strerror(error)));
    }
    if (child == 0) {
      // Keep stdin/out/err and this worker's socket (as fd 3) only: a socket of another worker
      // left open here would hide that worker's death from flowid.
      if (fds[1] != 3 && ::dup2(fds[1], 3) != 3) ::_exit(kWorkerProtocolError);
#if defined(__linux__)
      ::close_range(4, ~0U, 0);
#else
      for (int fd = 4, end = static_cast<int>(::getdtablesize()); fd < end; ++fd) ::close(fd);
#endif
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
      int on = 1;
      ::setsockopt(3, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
      worker_main(3, *module_->table);
    }
    ::close(fds[1]);
#if !defined(MSG_NOSIGNAL) && defined(SO_NOSIGPIPE)
    int on = 1;
    ::setsockopt(fds[0], SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
    pid_ = child;
    fd_ = fds[0];
    channel_ = std::make_unique<Channel>(fd_);
    g_workers_started.fetch_add(1, std::memory_order_relaxed);
  }

  ~Worker() { stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool alive() const { return alive_.load(); }
  std::mutex& calls() { return calls_; }

  // Sends request and serves the worker's seam calls (through tables; none expected when null)
  // until the reply of type `expected` arrives; returns its payload, past the type byte. A dead,
  // hung or misbehaving worker makes this throw std::runtime_error (the worker is then gone).
  // The caller holds calls().
  std::string call(const std::string& request, Msg expected, const CSeamTables* tables, const std::string& doing,
                   const std::string& subject) {
    if (!alive()) fail(doing, "the worker was gone before the call");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.resolve_timeout_ms);
    if (!channel_->send(request)) died(doing, deadline);
    std::string payload;
    for (;;) {
      switch (channel_->receive(&payload, deadline)) {
        case Channel::Got::kFrame: break;
        case Channel::Got::kClosed: died(doing, deadline);
        case Channel::Got::kTimeout:
          stop();
          throw std::runtime_error(fmt::format("plugin {} hung: no answer for {} within {} ms (killed)", module_->file,
                                               subject, options_.resolve_timeout_ms));
        case Channel::Got::kBroken: fail(doing, "an unreadable frame");
      }
      Reader r(payload);
      const auto type = static_cast<Msg>(r.u8());
      if (type == expected) return payload.substr(1);
      if (type != Msg::kSeamCall || tables == nullptr) fail(doing, fmt::format("unexpected message {}", static_cast<int>(type)));
      Writer reply(Msg::kSeamReply);
      if (!serve_seam_call(r, *tables, reply)) fail(doing, "a malformed seam call");
      if (!channel_->send(reply.frame())) died(doing, deadline);
    }
  }

  // Ends the worker (killed if it still runs) and reaps it; returns its wait status, or -1 when it
  // had already been reaped.
  int stop() {
    if (!alive_.exchange(false)) return -1;
    ::kill(pid_, SIGKILL);
    ::close(fd_);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  }

  // The protocol went wrong: kill the worker and say so.
  [[noreturn]] void fail(const std::string& doing, const std::string& what) {
    stop();
    throw std::runtime_error(fmt::format("plugin {} broke the worker protocol ({}) {}", module_->file, what, doing));
  }

 private:
  // The worker went away during a call: how it ended.
  [[noreturn]] void died(const std::string& doing, std::chrono::steady_clock::time_point deadline) {
    // The socket closed: the process is exiting or has exited. Wait for it without killing it
    // first, so that its status says why it ended, but not past the deadline: a plugin that
    // closed the socket itself may still be running.
    alive_ = false;
    ::close(fd_);
    int status = 0;
    for (;;) {
      const pid_t reaped = ::waitpid(pid_, &status, WNOHANG);
      if (reaped == pid_) break;
      if (reaped < 0 && errno == EINTR) continue;
      if (reaped < 0) {
        throw std::runtime_error(fmt::format("plugin {} worker ended (status unknown: {}) {}", module_->file,
                                             std::strerror(errno), doing));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        throw std::runtime_error(fmt::format("plugin {} closed its connection to flowid and kept running {} (killed)",
                                             module_->file, doing));
      }
      const timespec pause{0, 100000};  // 0.1 ms: a crashed worker is reapable almost at once.
      ::nanosleep(&pause, nullptr);
    }
    if (WIFSIGNALED(status)) {
      const int signal = WTERMSIG(status);
      const char* description = ::strsignal(signal);
      throw std::runtime_error(fmt::format("plugin {} crashed with signal {} ({}) {}", module_->file, signal,
                                           description != nullptr ? description : "?", doing));
    }
    throw std::runtime_error(fmt::format("plugin {} exited the process with status {} {}", module_->file,
                                         WIFEXITED(status) ? WEXITSTATUS(status) : -1, doing));
  }

  std::shared_ptr<const PluginModule> module_;
  IsolationOptions options_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::atomic<bool> alive_{true};
  std::unique_ptr<Channel> channel_;
  std::mutex calls_;
  friend class Pool;
  uint32_t bound_ = 0;  // resolvers bound to this worker; guarded by the pool's mutex.
};

// The workers of one plugin file (and isolation options).
class Pool {
 public:
  Pool(std::shared_ptr<const PluginModule> module, IsolationOptions options)
      : module_(std::move(module)), options_(options) {}

  const std::shared_ptr<const PluginModule>& module() const { return module_; }
  uint64_t next_instance_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  // A live worker for a new binding: an unbound one, else a new one, else (at max_workers) the
  // least bound one.
  std::shared_ptr<Worker> bind() {
    std::lock_guard lock(mutex_);
    std::erase_if(workers_, [](const std::shared_ptr<Worker>& w) { return !w->alive(); });
    std::shared_ptr<Worker> chosen;
    for (const auto& w : workers_) {
      if (!chosen || w->bound_ < chosen->bound_) chosen = w;
    }
    if (!chosen || (chosen->bound_ > 0 && workers_.size() < std::max<uint32_t>(options_.max_workers, 1))) {
      chosen = std::make_shared<Worker>(module_, options_);
      workers_.push_back(chosen);
    }
    ++chosen->bound_;
    return chosen;
  }

  void unbind(const std::shared_ptr<Worker>& worker) {
    std::lock_guard lock(mutex_);
    if (worker->bound_ > 0) --worker->bound_;
  }

 private:
  std::shared_ptr<const PluginModule> module_;
  IsolationOptions options_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Worker>> workers_;
  std::atomic<uint64_t> next_id_{1};
};

// The process-wide pools, one per plugin file and options; workers stay until exit.
std::shared_ptr<Pool> pool_for(std::shared_ptr<const PluginModule> module, const IsolationOptions& options) {
  static std::mutex mutex;
  static auto* pools = new std::map<std::tuple<std::string, uint32_t, uint32_t>, std::shared_ptr<Pool>>();
  std::lock_guard lock(mutex);
  auto& pool = (*pools)[{module->file, options.resolve_timeout_ms, options.max_workers}];
  if (!pool) pool = std::make_shared<Pool>(std::move(module), options);
  return pool;
}

// One plugin instance in some worker, for the lifetime of a resolver or launcher.
class RemoteInstance {
 public:
  explicit RemoteInstance(std::shared_ptr<Pool> pool) : pool_(std::move(pool)), id_(pool_->next_instance_id()) {}

  ~RemoteInstance() {
    if (!worker_) return;
    if (created_ && worker_->alive()) {
      std::lock_guard lock(worker_->calls());
      try {
        Writer w(Msg::kDestroy);
        w.u64(id_);
        (void)worker_->call(w.frame(), Msg::kDestroyed, nullptr, "in destroy_instance", "destroy_instance");
      } catch (const std::exception&) {
        // The worker is gone (the plugin crashed in destroy_instance): nothing is left to free,
        // and no flow to report it against; the next user gets a new worker.
      }
    }
    pool_->unbind(worker_);
  }
  RemoteInstance(const RemoteInstance&) = delete;
  RemoteInstance& operator=(const RemoteInstance&) = delete;

  const PluginModule& module() const { return *pool_->module(); }
  uint64_t id() const { return id_; }

  // Runs one call on this instance: binds a worker and creates the instance there first when
  // needed (again after the last worker died). nullopt when create_instance returned NULL.
  std::optional<std::string> call(Writer& request, Msg expected, const CSeamTables* tables, const std::string& doing,
                                  const std::string& subject) {
    if (worker_ && !worker_->alive()) {
      pool_->unbind(worker_);
      worker_.reset();
      created_ = false;
    }
    if (!worker_) worker_ = pool_->bind();
    std::lock_guard lock(worker_->calls());
    if (!created_) {
      Writer create(Msg::kCreate);
      create.u64(id_);
      const std::string reply = worker_->call(create.frame(), Msg::kCreated, nullptr, "in create_instance before " + doing,
                                              "create_instance before " + subject);
      Reader r(reply);
      instance_ok_ = r.u8() != 0;
      if (!r.done()) worker_->fail(doing, "a malformed create reply");
      created_ = true;
    }
    if (!instance_ok_) return std::nullopt;
    return worker_->call(request.frame(), expected, tables, doing, subject);
  }

  // A reply that does not decode: the worker is killed and the call fails.
  [[noreturn]] void malformed(const std::string& doing) { worker_->fail(doing, "a malformed reply"); }

 private:
  std::shared_ptr<Pool> pool_;
  uint64_t id_;
  std::shared_ptr<Worker> worker_;
  bool created_ = false;
  bool instance_ok_ = false;
};

class WorkerResolver final : public Resolver {
 public:
  explicit WorkerResolver(std::shared_ptr<Pool> pool)
      : remote_(std::move(pool)), name_(display_name(remote_.module())) {}

  std::string_view name() const override { return name_; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    const std::string subject = fmt::format("flow {}", flow.flow_id);
    const std::string doing = "resolving " + subject;
    Writer w(Msg::kResolve);
    w.u64(remote_.id());
    put_flow(w, flow_to_c(flow));
    w.u64(now_ns);
    const CSeamTables tables(seam, nullptr);
    const std::optional<std::string> reply = remote_.call(w, Msg::kResolved, &tables, doing, subject);
    tables.rethrow_if_aborted();
    if (!reply) {
      Attribution failed;
      failed.method = "plugin-no-instance";
      return failed;
    }
    Reader r(*reply);
    DecodedAttribution answer;
    get_attribution(r, answer);
    if (!r.done()) remote_.malformed(doing);
    return from_c(answer.c);
  }

  std::optional<Decision> decide(const Flow& flow, const Attribution& attribution) override {
    if (remote_.module().table->decide == nullptr) return std::nullopt;
    const std::string doing = fmt::format("deciding flow {}", flow.flow_id);
    Writer w(Msg::kDecide);
    w.u64(remote_.id());
    put_flow(w, flow_to_c(flow));
    put_attribution(w, attribution_to_c(attribution));
    const std::optional<std::string> reply =
        remote_.call(w, Msg::kDecided, nullptr, doing, fmt::format("the decision on flow {}", flow.flow_id));
    if (!reply) return std::nullopt;
    Reader r(*reply);
    const int32_t returned = r.i32();
    const uint32_t decision = r.u32();
    if (!r.done()) remote_.malformed(doing);
    return decision_from_c(returned, decision, remote_.module(), flow.flow_id);
  }

 private:
  RemoteInstance remote_;
  std::string name_;
};

class WorkerLauncher final : public Launcher {
 public:
  explicit WorkerLauncher(std::shared_ptr<Pool> pool)
      : remote_(std::move(pool)), name_(display_name(remote_.module())) {}

  std::string_view name() const override { return name_; }

  LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                      LaunchSeam& launch_seam) override {
    const std::string doing = fmt::format("launching {}", path);
    Writer w(Msg::kLaunch);
    w.u64(remote_.id());
    w.str(path.data(), path.size());
    w.str(requirement.data(), requirement.size());
    const CSeamTables tables(seam, &launch_seam);
    const std::optional<std::string> reply =
        remote_.call(w, Msg::kLaunched, &tables, doing, fmt::format("the launch of {}", path));
    tables.rethrow_if_aborted();
    if (!reply) {
      LaunchResult failed;
      failed.method = "plugin-no-instance";
      return failed;
    }
    Reader r(*reply);
    flowid_launch_result answer{};
    answer.launched = r.u32();
    answer.has_execution = r.u32();
    answer.execution = r.token();
    answer.refusal = r.outcome();
    const bool has_method = r.u8() != 0;
    const std::string method(r.str());
    answer.method = has_method ? method.c_str() : nullptr;
    if (!r.done()) remote_.malformed(doing);
    return launch_result_from_c(answer);
  }

 private:
  RemoteInstance remote_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Resolver> make_worker_resolver(std::shared_ptr<const PluginModule> module,
                                               const IsolationOptions& options) {
  return std::make_unique<WorkerResolver>(pool_for(std::move(module), options));
}

std::unique_ptr<Launcher> make_worker_launcher(std::shared_ptr<const PluginModule> module,
                                               const IsolationOptions& options) {
  return std::make_unique<WorkerLauncher>(pool_for(std::move(module), options));
}

uint64_t worker_processes_started() { return g_workers_started.load(std::memory_order_relaxed); }

}  // namespace flowid::plugin
