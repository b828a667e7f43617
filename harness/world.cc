#include "harness/world.h"
#include "harness/state_hash.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/assert.h"

namespace flowid {
namespace {

constexpr std::array<std::string_view, 11> kWorldErrorNames = {
    "none",           "no-such-execution", "not-running",      "pid-table-full",
    "pid-in-use",     "pidversion-used",   "no-such-file",     "file-exists",
    "read-only-file", "bad-path",          "unsupported-event"};
constexpr std::array<std::string_view, 5> kExecutionStateNames = {"suspended", "running", "zombie",
                                                                  "reaped", "replaced-by-exec"};

constexpr LookupOutcome osstatus(int32_t code) { return {OutcomeDomain::kOsStatus, code}; }
constexpr LookupOutcome posix(int32_t code) { return {OutcomeDomain::kErrno, code}; }
constexpr LookupOutcome kern(int32_t code) { return {OutcomeDomain::kKernReturn, code}; }

constexpr std::size_t call_index(LookupCall call) { return static_cast<std::size_t>(call); }

// Requirement texts a run checks are few (a launcher's one, a resolver's pinned ones); the cache
// is a small vector searched linearly and cleared when it passes this bound.
constexpr std::size_t kRequirementCacheMax = 32;

bool blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

AuditToken make_token(const AuditToken& uid_template, int32_t pid, uint32_t pidversion) {
  AuditToken t = uid_template;
  t.words[AuditToken::kPid] = static_cast<uint32_t>(pid);
  t.words[AuditToken::kPidversion] = pidversion;
  return t;
}

AuditToken token_for_options(const SpawnOptions& options) {
  AuditToken t;
  t.words = {options.uid, options.uid, options.gid, options.uid, options.gid, 0, options.asid, 0};
  return t;
}

// A Mach-O-like UUID for an image: the first 16 bytes of its cdhash, or a mix of its content
// version for unsigned code.
Uuid image_uuid(const Image& image) {
  Uuid u{};
  if (image.identity.cdhash) {
    std::copy_n(image.identity.cdhash->begin(), u.size(), u.begin());
  } else {
    uint64_t a = mix64(image.content_version);
    uint64_t b = mix64(a);
    for (int i = 0; i < 8; ++i) {
      u[static_cast<std::size_t>(i)] = static_cast<uint8_t>(a >> (i * 8));
      u[static_cast<std::size_t>(i + 8)] = static_cast<uint8_t>(b >> (i * 8));
    }
  }
  return u;
}

void set_flow_token(FlowToken& out, const AuditToken& token, TokenShape shape,
                    uint32_t malformed_size_bytes) {
  out.token = AuditToken{};
  switch (shape) {
    case TokenShape::kWellFormed:
      out.present = true;
      out.size_bytes = AuditToken::kByteSize;
      out.token = token;
      return;
    case TokenShape::kAbsent:
      out.present = false;
      out.size_bytes = 0;
      return;
    case TokenShape::kMalformed:
      out.present = true;
      out.size_bytes = malformed_size_bytes;
      for (std::size_t i = 0; i < AuditToken::kWordCount && (i + 1) * 4 <= malformed_size_bytes;
           ++i) {
        out.token.words[i] = token.words[i];
      }
      return;
  }
}

// Runs the scheduler hook with re-entry blocked, also when the hook throws.
class HookGuard final {
 public:
  explicit HookGuard(bool& flag) : flag_(flag) { flag_ = true; }
  ~HookGuard() { flag_ = false; }
  HookGuard(const HookGuard&) = delete;
  HookGuard& operator=(const HookGuard&) = delete;

 private:
  bool& flag_;
};

}  // namespace

std::string_view name_of(WorldError error) {
  auto i = static_cast<std::size_t>(error);
  return i < kWorldErrorNames.size() ? kWorldErrorNames[i] : std::string_view("invalid");
}

std::string_view name_of(ExecutionState state) {
  auto i = static_cast<std::size_t>(state);
  return i < kExecutionStateNames.size() ? kExecutionStateNames[i] : std::string_view("invalid");
}

World::World(WorldConfig config)
    : config_(std::move(config)),
      random_(config_.seed),
      pids_(config_.pid_policy, config_.pid_min, config_.pid_max) {
  // pid_holders_ starts empty and grows with the highest pid held (add_execution): filling
  // pid_max + 1 slots on every construction was about 40% of schedule_fuzz's time under ASan.
  if (config_.start_launchd) {
    CodeIdentity launchd_image;
    launchd_image.path = "/sbin/launchd";
    Cdhash h{};
    for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(0x1d + i);
    launchd_image.cdhash = h;
    launchd_image.signing_id = "com.apple.xpc.launchd";
    launchd_image.platform = true;
    launchd_image.signature = SignatureKind::kPlatform;
    launchd_image.hardened_runtime = true;
    install_file(launchd_image);
    pids_.mark_used(1);
    SpawnOptions root;
    root.uid = 0;
    root.gid = 0;
    root.asid = 0;
    uint32_t index =
        add_execution(1, std::nullopt, *file_at("/sbin/launchd"), token_for_options(root),
                      std::nullopt, std::nullopt, ExecutionState::kRunning);
    launchd_ = executions_[index].token;
    if (wants_events()) {
      emit(ProcessSpawn{*launchd_, AuditToken{}, std::nullopt, launchd_image});
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Internals.

void World::emit(EventBody body) {
  Event event{now_ns_, std::move(body)};
  if (listener_) listener_(event);
  if (config_.log_events) log_.push_back(std::move(event));
}

std::vector<Event> World::take_log() {
  std::vector<Event> out;
  out.swap(log_);
  return out;
}

uint32_t* World::pid_slot(int32_t pid) {
  if (pid < 0 || static_cast<std::size_t>(pid) >= pid_holders_.size()) return nullptr;
  return &pid_holders_[static_cast<std::size_t>(pid)];
}
const uint32_t* World::pid_slot(int32_t pid) const {
  if (pid < 0 || static_cast<std::size_t>(pid) >= pid_holders_.size()) return nullptr;
  return &pid_holders_[static_cast<std::size_t>(pid)];
}

uint32_t World::holder_index(int32_t pid) const {
  const uint32_t* slot = pid_slot(pid);
  return slot == nullptr ? 0 : *slot;
}

int64_t World::index_of(ExecutionId id) const {
  // Fast path: the sim hands pidversions out densely, so pidversion - 1 is the index.
  if (id.pidversion >= 1 && id.pidversion - 1 < executions_.size()) {
    const Execution& e = executions_[id.pidversion - 1];
    if (e.token.pidversion() == id.pidversion) {
      return e.token.pid() == id.pid ? static_cast<int64_t>(id.pidversion - 1) : -1;
    }
  }
  if (sparse_pidversions_.empty()) return -1;
  auto it = sparse_pidversions_.find(id.pidversion);
  if (it == sparse_pidversions_.end()) return -1;
  return executions_[it->second].token.pid() == id.pid ? static_cast<int64_t>(it->second) : -1;
}

const Execution* World::execution(ExecutionId id) const {
  int64_t i = index_of(id);
  return i < 0 ? nullptr : &executions_[static_cast<std::size_t>(i)];
}

Execution* World::mutable_execution(const AuditToken& token) {
  int64_t i = index_of(token.execution());
  return i < 0 ? nullptr : &executions_[static_cast<std::size_t>(i)];
}

const Execution* World::live_execution(const AuditToken& token) const {
  const Execution* e = execution(token.execution());
  return e != nullptr && e->live() ? e : nullptr;
}

const Execution* World::live_holder(int32_t pid) const {
  uint32_t h = holder_index(pid);
  if (h == 0) return nullptr;
  const Execution& e = executions_[h - 1];
  return e.live() ? &e : nullptr;
}

std::optional<AuditToken> World::holder_of(int32_t pid) const {
  uint32_t h = holder_index(pid);
  if (h == 0) return std::nullopt;
  return executions_[h - 1].token;
}

const CodeIdentity* World::image_of(ExecutionId id) const {
  const Execution* e = execution(id);
  return e == nullptr ? nullptr : &images_[e->image].identity;
}

bool World::restricted(const CodeIdentity& identity) const {
  for (const std::string& prefix : config_.eperm_path_prefixes) {
    if (!prefix.empty() && identity.path.starts_with(prefix)) return true;
  }
  return false;
}

void World::set_sandbox_rules(std::vector<std::string> eperm_path_prefixes) {
  config_.eperm_path_prefixes = std::move(eperm_path_prefixes);
  for (Image& image : images_) image.sandbox_restricted = restricted(image.identity);
}

ImageId World::add_image(CodeIdentity identity, uint32_t content_version, bool private_copy) {
  Image image;
  image.sandbox_restricted = restricted(identity);
  image.identity = std::move(identity);
  image.content_version = content_version;
  image.private_copy = private_copy;
  images_.push_back(std::move(image));
  return static_cast<ImageId>(images_.size() - 1);
}

std::optional<ImageId> World::file_at(std::string_view path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second.image;
}

uint32_t World::add_execution(int32_t pid, std::optional<uint32_t> forced_pidversion, ImageId image,
                              const AuditToken& uid_template, std::optional<AuditToken> parent,
                              std::optional<AuditToken> responsible, ExecutionState state) {
  uint32_t pidversion = forced_pidversion ? *forced_pidversion : next_pidversion_++;
  if (forced_pidversion && *forced_pidversion >= next_pidversion_) {
    next_pidversion_ = *forced_pidversion + 1;
  }
  FLOWID_ASSERT(pid > 0, fmt::format("execution of pid {}", pid));
  const uint32_t* held = pid_slot(pid);
  FLOWID_ASSERT(held == nullptr || *held == 0 || !executions_[*held - 1].holds_pid(),
                fmt::format("pid {} is already held by pidversion {}", pid,
                            executions_[*held - 1].token.pidversion()));
  Execution e;
  e.token = make_token(uid_template, pid, pidversion);
  e.image = image;
  e.state = state;
  e.ran_code = state == ExecutionState::kRunning;
  e.parent = parent;
  e.responsible = responsible;
  e.started_ns = now_ns_;
  auto index = static_cast<uint32_t>(executions_.size());
  executions_.push_back(std::move(e));
  if (pidversion != index + 1) sparse_pidversions_[pidversion] = index;
  if (static_cast<std::size_t>(pid) >= pid_holders_.size()) {
    pid_holders_.resize(static_cast<std::size_t>(pid) + 1, 0);
  }
  pid_holders_[static_cast<std::size_t>(pid)] = index + 1;
  return index;
}

WorldResult<AuditToken> World::spawn_image(ImageId image, const SpawnOptions& options, bool log) {
  WorldResult<AuditToken> result;
  std::optional<int32_t> pid = pids_.allocate();
  if (!pid) {
    result.error = WorldError::kPidTableFull;
    return result;
  }
  std::optional<AuditToken> parent = options.parent ? options.parent : launchd_;
  uint32_t index = add_execution(
      *pid, std::nullopt, image, token_for_options(options), parent, options.responsible,
      options.suspended ? ExecutionState::kSuspended : ExecutionState::kRunning);
  result.value = executions_[index].token;
  if (log && wants_events()) {
    emit(ProcessSpawn{result.value, parent.value_or(AuditToken{}), options.responsible,
                      images_[image].identity});
  }
  return result;
}

void World::free_pid(int32_t pid) {
  pids_.release(pid);
  if (uint32_t* slot = pid_slot(pid)) *slot = 0;
}

void World::end_execution(Execution& e, ExecutionState state, int32_t status) {
  e.state = state;
  e.ended_ns = now_ns_;
  e.exit_status = status;
  if (state == ExecutionState::kReaped) {
    e.reaped_ns = now_ns_;
    free_pid(e.token.pid());
  }
}

// ---------------------------------------------------------------------------------------------
// Scenario mutators: filesystem.

WorldError World::install_file(const CodeIdentity& identity) {
  if (identity.path.empty()) return WorldError::kBadPath;
  if (files_.find(identity.path) != files_.end()) return WorldError::kFileExists;
  ImageId id = add_image(identity, next_content_version_++, false);
  images_[id].on_disk = true;
  files_.emplace(identity.path, FileEntry{id});
  if (wants_events()) emit(FileChange{FileOp::kCreate, identity.path, "", identity});
  return WorldError::kNone;
}

WorldError World::replace_file(const CodeIdentity& identity) {
  auto it = files_.find(identity.path);
  if (it == files_.end()) return WorldError::kNoSuchFile;
  if (images_[it->second.image].private_copy) return WorldError::kReadOnlyFile;
  images_[it->second.image].on_disk = false;
  ImageId id = add_image(identity, next_content_version_++, false);
  images_[id].on_disk = true;
  it->second.image = id;
  if (wants_events()) emit(FileChange{FileOp::kReplace, identity.path, "", identity});
  return WorldError::kNone;
}

WorldError World::remove_file(std::string_view path) {
  auto it = files_.find(path);
  if (it == files_.end()) return WorldError::kNoSuchFile;
  if (images_[it->second.image].private_copy) return WorldError::kReadOnlyFile;
  images_[it->second.image].on_disk = false;
  files_.erase(it);
  if (wants_events()) emit(FileChange{FileOp::kRemove, std::string(path), "", std::nullopt});
  return WorldError::kNone;
}

WorldError World::rename_file(std::string_view from, std::string_view to) {
  if (to.empty()) return WorldError::kBadPath;
  auto it = files_.find(from);
  if (it == files_.end()) return WorldError::kNoSuchFile;
  if (from == to) return WorldError::kNone;
  auto target = files_.find(to);
  if (images_[it->second.image].private_copy ||
      (target != files_.end() && images_[target->second.image].private_copy)) {
    return WorldError::kReadOnlyFile;
  }
  ImageId old_id = it->second.image;
  CodeIdentity moved = images_[old_id].identity;
  moved.path = std::string(to);
  uint32_t content_version = images_[old_id].content_version;
  images_[old_id].on_disk = false;
  files_.erase(it);
  ImageId id = add_image(std::move(moved), content_version, false);
  images_[id].on_disk = true;
  if (target != files_.end()) {
    images_[target->second.image].on_disk = false;
    target->second.image = id;
  } else {
    files_.emplace(std::string(to), FileEntry{id});
  }
  if (wants_events()) {
    emit(FileChange{FileOp::kRename, std::string(from), std::string(to), std::nullopt});
  }
  return WorldError::kNone;
}

// ---------------------------------------------------------------------------------------------
// Scenario mutators: processes.

WorldResult<AuditToken> World::start_process(std::string_view path, const SpawnOptions& options) {
  std::optional<ImageId> image = file_at(path);
  if (!image) return {WorldError::kNoSuchFile, {}};
  return spawn_image(*image, options, true);
}

WorldResult<AuditToken> World::exec_process(const AuditToken& token, std::string_view path) {
  Execution* old = mutable_execution(token);
  if (old == nullptr || !old->holds_pid()) return {WorldError::kNoSuchExecution, {}};
  if (old->state != ExecutionState::kRunning) return {WorldError::kNotRunning, {}};
  std::optional<ImageId> image = file_at(path);
  if (!image) return {WorldError::kNoSuchFile, {}};
  AuditToken previous = old->token;
  std::optional<AuditToken> parent = old->parent;
  std::optional<AuditToken> responsible = old->responsible;
  old->state = ExecutionState::kReplacedByExec;
  old->ended_ns = now_ns_;
  // add_execution may reallocate executions_: `old` is not used after this line.
  uint32_t index = add_execution(previous.pid(), std::nullopt, *image, previous, parent,
                                 responsible, ExecutionState::kRunning);
  AuditToken next = executions_[index].token;
  if (wants_events()) emit(ProcessExec{previous, next, images_[*image].identity});
  return {WorldError::kNone, next};
}

WorldError World::exit_process(const AuditToken& token, int32_t status, ExitStage stage) {
  Execution* e = mutable_execution(token);
  if (e == nullptr) return WorldError::kNoSuchExecution;
  if (!e->live()) return WorldError::kNotRunning;
  end_execution(*e, stage == ExitStage::kExited ? ExecutionState::kZombie : ExecutionState::kReaped,
                status);
  if (wants_events()) emit(ProcessExit{e->token, status, stage});
  return WorldError::kNone;
}

WorldError World::reap_process(const AuditToken& token) {
  Execution* e = mutable_execution(token);
  if (e == nullptr) return WorldError::kNoSuchExecution;
  if (e->state != ExecutionState::kZombie) return WorldError::kNotRunning;
  e->state = ExecutionState::kReaped;
  e->reaped_ns = now_ns_;
  free_pid(e->token.pid());
  if (wants_events()) emit(ProcessExit{e->token, e->exit_status, ExitStage::kReaped});
  return WorldError::kNone;
}

// ---------------------------------------------------------------------------------------------
// Flows.

WorldResult<Flow> World::open_flow(const AuditToken& process, const FlowOptions& options) {
  WorldResult<Flow> result;
  result.error = open_flow_into(process, options, result.value);
  return result;
}

WorldError World::open_flow_into(const AuditToken& process, const FlowOptions& options, Flow& out) {
  const Execution* p = execution(process.execution());
  if (p == nullptr) return WorldError::kNoSuchExecution;
  if (p->state != ExecutionState::kRunning) return WorldError::kNotRunning;
  // The app may have exited already: a helper finishing a download for an app that quit.
  const Execution* app = options.app ? execution(options.app->execution()) : p;
  if (app == nullptr) return WorldError::kNoSuchExecution;
  const Image& process_image = images_[p->image];
  const Image& app_image = images_[app->image];

  uint64_t flow_id = next_flow_id_++;
  out.flow_id = flow_id;
  uint64_t a = random_.next();
  uint64_t b = random_.next();
  for (int i = 0; i < 8; ++i) {
    out.identifier[static_cast<std::size_t>(i)] = static_cast<uint8_t>(a >> (i * 8));
    out.identifier[static_cast<std::size_t>(i + 8)] = static_cast<uint8_t>(b >> (i * 8));
  }
  out.identifier[6] = static_cast<uint8_t>((out.identifier[6] & 0x0f) | 0x40);  // UUID v4.
  out.identifier[8] = static_cast<uint8_t>((out.identifier[8] & 0x3f) | 0x80);
  set_flow_token(out.source_app_audit_token, app->token, options.app_token_shape,
                 options.malformed_size_bytes);
  set_flow_token(out.source_process_audit_token, p->token, options.process_token_shape,
                 options.malformed_size_bytes);
  const CodeIdentity& app_id = app_image.identity;
  // An App ID: "TEAMID.bundle" for team-signed code, ".bundle" for Apple's own (seed 000).
  out.source_app_identifier.clear();
  if (app_id.signature != SignatureKind::kUnsigned) {
    if (app_id.platform) {
      out.source_app_identifier += '.';
    } else if (!app_id.team_id.empty()) {
      out.source_app_identifier += app_id.team_id;
      out.source_app_identifier += '.';
    }
    out.source_app_identifier += app_id.signing_id;
  }
  out.source_app_version = "1.0";
  out.source_app_unique_identifier.clear();
  if (app_id.cdhash)
    out.source_app_unique_identifier.assign(app_id.cdhash->begin(), app_id.cdhash->end());
  out.hostname = options.hostname;
  out.remote_hostname = options.hostname;
  out.local_endpoint.address = options.ipv6 ? "fe80::1c2a:5bff:fe11:8e4" : "192.168.1.6";
  out.local_endpoint.port = static_cast<uint16_t>(49152 + random_.below(16384));
  out.remote_endpoint.address =
      options.ipv6 ? "2606:2800:220:1:248:1893:25c8:1946" : "93.184.216.34";
  out.remote_endpoint.port = options.remote_port;
  out.direction = options.direction;
  out.protocol = options.udp ? 17 : 6;  // IPPROTO_UDP / IPPROTO_TCP
  out.family = options.ipv6 ? 30 : 2;   // AF_INET6 (macOS) / AF_INET
  out.type = options.udp ? 2 : 1;       // SOCK_DGRAM / SOCK_STREAM
  out.proc_pid = p->token.pid();
  out.eproc_pid = app->token.pid();
  out.proc_uuid = image_uuid(process_image);
  out.eproc_uuid = image_uuid(app_image);
  out.in_bytes = 0;
  out.out_bytes = 0;

  if (flow_truth_.empty()) flow_truth_base_ = flow_id;
  flow_truth_.push_back(FlowTruth{flow_id, p->token.execution(), app->token.execution(), now_ns_});
  if (wants_events()) emit(out);
  return WorldError::kNone;
}

const FlowTruth* World::flow_truth(uint64_t flow_id) const {
  if (flow_truth_.empty() || flow_id < flow_truth_base_) return nullptr;
  uint64_t offset = flow_id - flow_truth_base_;
  if (offset < flow_truth_.size() && flow_truth_[offset].flow_id == flow_id) {
    return &flow_truth_[offset];
  }
  // Replayed flows may have gaps or arrive out of order: fall back to a scan.
  for (const FlowTruth& t : flow_truth_) {
    if (t.flow_id == flow_id) return &t;
  }
  return nullptr;
}

void World::clear_flow_truth() {
  flow_truth_.clear();
  flow_truth_base_ = next_flow_id_;
}

// ---------------------------------------------------------------------------------------------
// Seam.

void World::fail_next(LookupCall call, uint32_t count, LookupOutcome outcome) {
  injected_[call_index(call)] = InjectedFailure{count, outcome};
}

void World::set_lookup_duration(LookupCall call, uint64_t duration_ns) {
  call_duration_ns_[call_index(call)] = duration_ns;
}

LookupOutcome World::before_call(LookupCall call) {
  ++seam_call_count_;
  if (hook_ && !in_hook_) {
    HookGuard guard(in_hook_);
    hook_(call, *this);
  }
  std::size_t i = call_index(call);
  last_call_duration_ns_ = call_duration_ns_[i];
  now_ns_ += last_call_duration_ns_;
  InjectedFailure& injected = injected_[i];
  if (injected.remaining > 0) {
    --injected.remaining;
    return injected.outcome;
  }
  return {};
}

SeamResult<CodeRef> World::guest_result(const Execution& e) const {
  if (config_.caller.sandboxed && images_[e.image].sandbox_restricted) {
    return {osstatus(codes::kOsStatusEperm), 0};
  }
  auto index = static_cast<uint64_t>(&e - executions_.data());
  return {{}, kGuestHandleTag | (index + 1)};
}

const Execution* World::guest_of(CodeRef code) const {
  if ((code & (0xffULL << 56)) != kGuestHandleTag) return nullptr;
  uint64_t n = code & 0xffffffffULL;
  if (n == 0 || n > executions_.size() || (code & 0x00ffffff00000000ULL) != 0) return nullptr;
  return &executions_[n - 1];
}

const Image* World::static_of(CodeRef code) const {
  if ((code & (0xffULL << 56)) != kStaticHandleTag) return nullptr;
  uint64_t n = code & 0xffffffffULL;
  if (n == 0 || n > images_.size() || (code & 0x00ffffff00000000ULL) != 0) return nullptr;
  return &images_[n - 1];
}

const Requirement* World::requirement_for(std::string_view text, bool* parse_failed) {
  *parse_failed = false;
  for (const CachedRequirement& c : requirement_cache_) {
    if (c.text == text) {
      *parse_failed = !c.requirement.has_value();
      return c.requirement ? &*c.requirement : nullptr;
    }
  }
  if (requirement_cache_.size() >= kRequirementCacheMax) requirement_cache_.clear();
  auto parsed = Requirement::parse(text);
  requirement_cache_.push_back(CachedRequirement{std::string(text), std::move(parsed.requirement)});
  const CachedRequirement& c = requirement_cache_.back();
  *parse_failed = !c.requirement.has_value();
  return c.requirement ? &*c.requirement : nullptr;
}

SeamResult<CodeRef> World::guest_by_audit_token(const AuditToken& token) {
  if (LookupOutcome f = before_call(LookupCall::kGuestByAuditToken); !f.ok()) return {f, 0};
  const Execution* e = live_execution(token);
  if (e == nullptr) return {osstatus(codes::kOsStatusEsrch), 0};
  return guest_result(*e);
}

SeamResult<CodeRef> World::guest_by_pid(int32_t pid) {
  if (LookupOutcome f = before_call(LookupCall::kGuestByPid); !f.ok()) return {f, 0};
  const Execution* e = live_holder(pid);
  if (e == nullptr) return {osstatus(codes::kOsStatusEsrch), 0};
  return guest_result(*e);
}

SeamResult<CodeRef> World::static_code(CodeRef code) {
  if (LookupOutcome f = before_call(LookupCall::kStaticCode); !f.ok()) return {f, 0};
  const Execution* e = guest_of(code);
  if (e == nullptr) return {osstatus(codes::kSecCsInvalidObjectRef), 0};
  const Image& running = images_[e->image];
  if (running.on_disk) return {{}, kStaticHandleTag | (uint64_t{e->image} + 1)};
  // The file was replaced, removed or renamed. Identical content written back still matches.
  std::optional<ImageId> now = file_at(running.identity.path);
  if (now && images_[*now].identity == running.identity) {
    return {{}, kStaticHandleTag | (uint64_t{*now} + 1)};
  }
  return {osstatus(codes::kSecCsStaticCodeChanged), 0};
}

SeamResult<std::string> World::code_path(CodeRef code) {
  if (LookupOutcome f = before_call(LookupCall::kCodePath); !f.ok()) return {f, {}};
  if (const Execution* e = guest_of(code)) return {{}, images_[e->image].identity.path};
  if (const Image* s = static_of(code)) return {{}, s->identity.path};
  return {osstatus(codes::kSecCsInvalidObjectRef), {}};
}

LookupOutcome World::check_validity(CodeRef code, std::string_view requirement) {
  if (LookupOutcome f = before_call(LookupCall::kCheckValidity); !f.ok()) return f;
  const CodeIdentity* identity = nullptr;
  if (const Execution* e = guest_of(code)) {
    if (!e->live()) return osstatus(codes::kSecCsGuestInvalid);
    identity = &images_[e->image].identity;
  } else if (const Image* s = static_of(code)) {
    identity = &s->identity;
  } else {
    return osstatus(codes::kSecCsInvalidObjectRef);
  }
  if (identity->signature == SignatureKind::kUnsigned) return osstatus(codes::kSecCsUnsigned);
  if (blank(requirement)) return {};
  bool parse_failed = false;
  const Requirement* r = requirement_for(requirement, &parse_failed);
  if (r == nullptr) return osstatus(codes::kSecCsReqInvalid);
  return r->check(*identity);
}

SeamResult<CodeIdentity> World::signing_information(CodeRef code) {
  if (LookupOutcome f = before_call(LookupCall::kSigningInformation); !f.ok()) return {f, {}};
  if (const Execution* e = guest_of(code)) return {{}, images_[e->image].identity};
  if (const Image* s = static_of(code)) return {{}, s->identity};
  return {osstatus(codes::kSecCsInvalidObjectRef), {}};
}

int32_t World::audit_token_to_pid(const AuditToken& token) {
  // Cannot fail; an injected failure only consumes its count.
  (void)before_call(LookupCall::kAuditTokenToPid);
  return token.pid();
}

SeamResult<std::string> World::proc_pidpath(int32_t pid) {
  if (LookupOutcome f = before_call(LookupCall::kProcPidpath); !f.ok()) return {f, {}};
  const Execution* e = live_holder(pid);
  if (e == nullptr) return {posix(ESRCH), {}};
  return {{}, images_[e->image].identity.path};
}

SeamResult<std::string> World::proc_pidpath_audittoken(const AuditToken& token) {
  if (LookupOutcome f = before_call(LookupCall::kProcPidpathAudittoken); !f.ok()) return {f, {}};
  const Execution* e = live_execution(token);
  if (e == nullptr) return {posix(ESRCH), {}};
  return {{}, images_[e->image].identity.path};
}

SeamResult<AuditToken> World::token_for_pid(int32_t pid) {
  if (LookupOutcome f = before_call(LookupCall::kTokenForPid); !f.ok()) return {f, {}};
  const Execution* e = live_holder(pid);
  if (e == nullptr) return {kern(codes::kKernFailure), {}};
  const CallerContext& caller = config_.caller;
  if (!caller.root && caller.uid != 0 && caller.uid != e->token.euid()) {
    return {kern(codes::kKernFailure), {}};
  }
  return {{}, e->token};
}

LookupOutcome World::kill_zero(int32_t pid) {
  if (LookupOutcome f = before_call(LookupCall::kKillZero); !f.ok()) return f;
  uint32_t h = holder_index(pid);
  if (h == 0) return posix(ESRCH);
  const CallerContext& caller = config_.caller;
  if (!caller.root && caller.uid != 0 && caller.uid != executions_[h - 1].token.euid()) {
    return posix(EPERM);  // it exists, but this caller may not signal it.
  }
  return {};
}

SeamResult<int32_t> World::responsible_pid(int32_t pid) {
  if (LookupOutcome f = before_call(LookupCall::kResponsiblePid); !f.ok()) return {f, 0};
  const Execution* e = live_holder(pid);
  if (e == nullptr) return {posix(ESRCH), 0};
  return {{}, e->responsible ? e->responsible->pid() : pid};
}

// ---------------------------------------------------------------------------------------------
// LaunchSeam.

SeamResult<AuditToken> World::launch_image(ImageId image, bool suspended) {
  SpawnOptions options;
  options.suspended = suspended;
  WorldResult<AuditToken> r = spawn_image(image, options, true);
  if (!r.ok()) return {posix(EAGAIN), {}};
  executions_.back().launched_by_caller = true;
  return {{}, r.value};
}

LookupOutcome World::check_file(std::string_view path, std::string_view requirement) {
  if (LookupOutcome f = before_call(LookupCall::kCheckFile); !f.ok()) return f;
  std::optional<ImageId> image = file_at(path);
  if (!image) return osstatus(codes::kSecCsStaticCodeNotFound);
  const CodeIdentity& identity = images_[*image].identity;
  if (identity.signature == SignatureKind::kUnsigned) return osstatus(codes::kSecCsUnsigned);
  if (blank(requirement)) return {};
  bool parse_failed = false;
  const Requirement* r = requirement_for(requirement, &parse_failed);
  if (r == nullptr) return osstatus(codes::kSecCsReqInvalid);
  return r->check(identity);
}

SeamResult<AuditToken> World::spawn(std::string_view path) {
  if (LookupOutcome f = before_call(LookupCall::kSpawn); !f.ok()) return {f, {}};
  std::optional<ImageId> image = file_at(path);
  if (!image) return {posix(ENOENT), {}};
  return launch_image(*image, false);
}

SeamResult<AuditToken> World::spawn_with_requirement(std::string_view path,
                                                     std::string_view requirement) {
  if (LookupOutcome f = before_call(LookupCall::kSpawnWithRequirement); !f.ok()) return {f, {}};
  // From here on nothing can interleave: the kernel opens the file, checks what it opened and
  // execs that same content (seed 003). A swap before this call is caught by the check.
  std::optional<ImageId> image = file_at(path);
  if (!image) return {posix(ENOENT), {}};
  const CodeIdentity& identity = images_[*image].identity;
  if (identity.signature == SignatureKind::kUnsigned) return {osstatus(codes::kSecCsUnsigned), {}};
  if (!blank(requirement)) {
    bool parse_failed = false;
    const Requirement* r = requirement_for(requirement, &parse_failed);
    if (r == nullptr) return {osstatus(codes::kSecCsReqInvalid), {}};
    if (LookupOutcome check = r->check(identity); !check.ok()) return {check, {}};
  }
  return launch_image(*image, false);
}

SeamResult<std::string> World::copy_to_private(std::string_view path) {
  if (LookupOutcome f = before_call(LookupCall::kCopyToPrivate); !f.ok()) return {f, {}};
  std::optional<ImageId> source = file_at(path);
  if (!source) return {posix(ENOENT), {}};
  std::string_view base =
      path.substr(path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/') + 1);
  std::string copy_path = fmt::format("{}/{}/{}", config_.private_dir, ++private_copy_count_, base);
  CodeIdentity identity = images_[*source].identity;
  identity.path = copy_path;
  uint32_t content_version = images_[*source].content_version;
  ImageId id = add_image(identity, content_version, true);
  images_[id].on_disk = true;
  files_[copy_path] = FileEntry{id};
  if (wants_events()) emit(FileChange{FileOp::kCreate, copy_path, "", identity});
  return {{}, copy_path};
}

SeamResult<AuditToken> World::spawn_suspended(std::string_view path) {
  if (LookupOutcome f = before_call(LookupCall::kSpawnSuspended); !f.ok()) return {f, {}};
  std::optional<ImageId> image = file_at(path);
  if (!image) return {posix(ENOENT), {}};
  return launch_image(*image, true);
}

LookupOutcome World::resume(const AuditToken& token) {
  if (LookupOutcome f = before_call(LookupCall::kResume); !f.ok()) return f;
  Execution* e = mutable_execution(token);
  if (e == nullptr || !e->live()) return posix(ESRCH);
  if (e->state == ExecutionState::kSuspended) {
    e->state = ExecutionState::kRunning;
    e->ran_code = true;
  }
  return {};
}

LookupOutcome World::kill(const AuditToken& token) {
  if (LookupOutcome f = before_call(LookupCall::kKill); !f.ok()) return f;
  Execution* e = mutable_execution(token);
  if (e == nullptr || !e->live()) return posix(ESRCH);
  constexpr int32_t kSigkillStatus = 9;  // wait status of a process killed by SIGKILL.
  // The launcher waits for what it killed: the pid is reaped at once.
  end_execution(*e, ExecutionState::kReaped, kSigkillStatus);
  if (wants_events()) emit(ProcessExit{e->token, kSigkillStatus, ExitStage::kReaped});
  return {};
}

// ---------------------------------------------------------------------------------------------
// Model replay.

WorldError World::apply(const Event& event) {
  if (event.time_ns > now_ns_) now_ns_ = event.time_ns;
  // The image an event names: the file's current image when identical, else a new image (not on
  // disk when another content is at that path; installed silently when nothing is).
  auto image_for = [this](const CodeIdentity& identity) -> ImageId {
    std::optional<ImageId> at = file_at(identity.path);
    if (at && images_[*at].identity == identity) return *at;
    ImageId id = add_image(identity, next_content_version_++, false);
    if (!at && !identity.path.empty()) {
      images_[id].on_disk = true;
      files_.emplace(identity.path, FileEntry{id});
    }
    return id;
  };
  auto pidversion_used = [this](uint32_t pidversion) {
    if (pidversion >= 1 && pidversion - 1 < executions_.size() &&
        executions_[pidversion - 1].token.pidversion() == pidversion) {
      return true;
    }
    return sparse_pidversions_.count(pidversion) != 0;
  };
  return std::visit(
      [&](const auto& body) -> WorldError {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, ProcessSpawn>) {
          int32_t pid = body.token.pid();
          if (pid <= 0) return WorldError::kNoSuchExecution;
          if (holder_index(pid) != 0) return WorldError::kPidInUse;
          if (pidversion_used(body.token.pidversion())) return WorldError::kPidversionUsed;
          ImageId image = image_for(body.image);
          pids_.mark_used(pid);
          add_execution(pid, body.token.pidversion(), image, body.token, body.parent,
                        body.responsible, ExecutionState::kRunning);
          if (wants_events()) emit(body);
          return WorldError::kNone;
        } else if constexpr (std::is_same_v<T, ProcessExec>) {
          Execution* old = mutable_execution(body.previous);
          if (old == nullptr || old->state != ExecutionState::kRunning) {
            return WorldError::kNoSuchExecution;
          }
          if (body.token.pid() != body.previous.pid()) return WorldError::kNoSuchExecution;
          if (pidversion_used(body.token.pidversion())) return WorldError::kPidversionUsed;
          old->state = ExecutionState::kReplacedByExec;
          old->ended_ns = now_ns_;
          std::optional<AuditToken> parent = old->parent;
          std::optional<AuditToken> responsible = old->responsible;
          ImageId image = image_for(body.image);
          add_execution(body.token.pid(), body.token.pidversion(), image, body.token, parent,
                        responsible, ExecutionState::kRunning);
          if (wants_events()) emit(body);
          return WorldError::kNone;
        } else if constexpr (std::is_same_v<T, ProcessExit>) {
          const Execution* e = execution(body.token.execution());
          if (e != nullptr && e->state == ExecutionState::kZombie &&
              body.stage == ExitStage::kReaped) {
            return reap_process(body.token);
          }
          return exit_process(body.token, body.status, body.stage);
        } else if constexpr (std::is_same_v<T, FileChange>) {
          switch (body.op) {
            case FileOp::kCreate: {
              if (!body.image) return WorldError::kBadPath;
              std::optional<ImageId> at = file_at(body.path);
              if (at && images_[*at].identity == *body.image) return WorldError::kNone;
              if (body.image->path != body.path) return WorldError::kBadPath;
              return install_file(*body.image);
            }
            case FileOp::kReplace:
              if (!body.image || body.image->path != body.path) return WorldError::kBadPath;
              return replace_file(*body.image);
            case FileOp::kRemove:
              return remove_file(body.path);
            case FileOp::kRename:
              return rename_file(body.path, body.new_path);
          }
          return WorldError::kUnsupportedEvent;
        } else if constexpr (std::is_same_v<T, Flow>) {
          // The truth is the process token when it is whole, else whatever held proc_pid.
          std::optional<ExecutionId> creator;
          if (body.source_process_audit_token.well_formed()) {
            creator = body.source_process_audit_token.token.execution();
          } else if (auto holder = holder_of(body.proc_pid)) {
            creator = holder->execution();
          }
          if (!creator || execution(*creator) == nullptr) return WorldError::kNoSuchExecution;
          ExecutionId app = *creator;
          if (body.source_app_audit_token.well_formed() &&
              execution(body.source_app_audit_token.token.execution()) != nullptr) {
            app = body.source_app_audit_token.token.execution();
          }
          if (flow_truth_.empty()) flow_truth_base_ = body.flow_id;
          flow_truth_.push_back(FlowTruth{body.flow_id, *creator, app, now_ns_});
          if (body.flow_id >= next_flow_id_) next_flow_id_ = body.flow_id + 1;
          if (wants_events()) emit(body);
          return WorldError::kNone;
        } else {
          return WorldError::kUnsupportedEvent;
        }
      },
      event.body);
}

// ---------------------------------------------------------------------------------------------
// Self-check.

std::optional<std::string> World::check_consistency() const {
  // Up to pid_max too: a pid allocated beyond the highest one ever held is held by nobody.
  const std::size_t pids_end =
      std::max(pid_holders_.size(), static_cast<std::size_t>(std::max(config_.pid_max, 0)) + 1);
  for (std::size_t pid = 0; pid < pids_end; ++pid) {
    uint32_t h = pid < pid_holders_.size() ? pid_holders_[pid] : 0;
    if (h == 0) {
      if (pids_.in_use(static_cast<int32_t>(pid)) && static_cast<int32_t>(pid) >= pids_.pid_min()) {
        return fmt::format("pid {} is allocated but no execution holds it", pid);
      }
      continue;
    }
    if (h > executions_.size())
      return fmt::format("pid {} names execution #{} beyond the table", pid, h);
    const Execution& e = executions_[h - 1];
    if (!e.holds_pid()) {
      return fmt::format("pid {} is held by execution pidversion {} in state {}", pid,
                         e.token.pidversion(), name_of(e.state));
    }
    if (static_cast<std::size_t>(e.token.pid()) != pid) {
      return fmt::format("pid slot {} holds an execution of pid {}", pid, e.token.pid());
    }
    if (!pids_.in_use(static_cast<int32_t>(pid))) {
      return fmt::format("pid {} is held by an execution but free in the allocator", pid);
    }
  }
  std::vector<uint32_t> pidversions;
  pidversions.reserve(executions_.size());
  for (std::size_t i = 0; i < executions_.size(); ++i) {
    const Execution& e = executions_[i];
    pidversions.push_back(e.token.pidversion());
    if (e.holds_pid() && holder_index(e.token.pid()) != i + 1) {
      return fmt::format("execution ({}, {}) in state {} does not hold its pid", e.token.pid(),
                         e.token.pidversion(), name_of(e.state));
    }
    if (index_of(e.token.execution()) != static_cast<int64_t>(i)) {
      return fmt::format("execution ({}, {}) is not found by its token", e.token.pid(),
                         e.token.pidversion());
    }
  }
  if (launchd_ && execution(launchd_->execution()) == nullptr) {
    return fmt::format("launchd's token ({}, {}) names no execution", launchd_->pid(),
                       launchd_->pidversion());
  }
  for (const FlowTruth& truth : flow_truth_) {
    for (ExecutionId id : {truth.execution, truth.app_execution}) {
      if (execution(id) == nullptr) {
        return fmt::format("flow {} names execution ({}, {}), which the world never ran",
                           truth.flow_id, id.pid, id.pidversion);
      }
    }
  }
  for (const Execution& e : executions_) {
    if (e.image >= images_.size()) {
      return fmt::format("execution ({}, {}) runs image #{} beyond the table", e.token.pid(),
                         e.token.pidversion(), e.image);
    }
  }
  std::sort(pidversions.begin(), pidversions.end());
  if (std::adjacent_find(pidversions.begin(), pidversions.end()) != pidversions.end()) {
    return std::string("two executions share a pidversion");
  }
  std::size_t on_disk = 0;
  for (const Image& image : images_) on_disk += image.on_disk ? 1 : 0;
  if (on_disk != files_.size()) {
    return fmt::format("{} images on disk but {} files", on_disk, files_.size());
  }
  for (const auto& [path, file] : files_) {
    const Image& image = images_[file.image];
    if (!image.on_disk || image.identity.path != path) {
      return fmt::format("file {} holds an image of {} (on_disk={})", path, image.identity.path,
                         image.on_disk);
    }
  }
  return std::nullopt;
}

uint64_t World::state_digest() const {
  StateHash h;
  h.add(now_ns_).add(random_.state()).add(pids_.digest());
  h.add((static_cast<uint64_t>(next_pidversion_) << 32) | next_content_version_);
  h.add(next_flow_id_).add(private_copy_count_);
  h.add((static_cast<uint64_t>(config_.caller.sandboxed) << 40) |
        (static_cast<uint64_t>(config_.caller.root) << 32) | config_.caller.uid);
  h.add(images_.size());
  for (const Image& image : images_) {
    h.add(image.identity).add(image.content_version);
    h.add((static_cast<uint64_t>(image.on_disk) << 2) |
          (static_cast<uint64_t>(image.sandbox_restricted) << 1) |
          static_cast<uint64_t>(image.private_copy));
  }
  h.add(files_.size());
  for (const auto& [path, file] : files_) h.add(path).add(file.image);
  h.add(executions_.size());
  for (const Execution& e : executions_) {
    h.add(e.token).add(e.image).add(e.parent).add(e.responsible);
    h.add((static_cast<uint64_t>(e.state) << 16) | (static_cast<uint64_t>(e.ran_code) << 8) |
          static_cast<uint64_t>(e.launched_by_caller));
    h.add(e.started_ns)
        .add(e.ended_ns)
        .add(e.reaped_ns)
        .add(static_cast<uint64_t>(static_cast<uint32_t>(e.exit_status)));
  }
  h.add(launchd_);
  h.add(flow_truth_base_).add(flow_truth_.size());
  for (const FlowTruth& f : flow_truth_) {
    h.add(f.flow_id).add(static_cast<uint32_t>(f.execution.pid)).add(f.execution.pidversion);
    h.add(static_cast<uint32_t>(f.app_execution.pid))
        .add(f.app_execution.pidversion)
        .add(f.opened_ns);
  }
  for (const InjectedFailure& failure : injected_) h.add(failure.remaining).add(failure.outcome);
  for (uint64_t duration : call_duration_ns_) h.add(duration);
  return h.value();
}

}  // namespace flowid
