// The simulated world: a deterministic model of the kernel, the filesystem of executables and
// the Security framework, answering the seam (DESIGN §2, "Sim").
//
// One World is one simulated machine driven by one 64-bit seed. Scenario code (tests, fault
// plans, the fuzzer) changes it through the mutators below (start_process, exec_process,
// exit_process, replace_file, open_flow, ...); resolvers and launchers question it only through
// Seam and LaunchSeam. Nothing here reads a clock, the OS or a global RNG.
//
// Model, and the decisions it makes (each one is what a resolver must cope with on macOS):
// - Executions. Every spawn and every exec creates a new execution with a fresh pidversion from
//   one global counter, so (pid, pidversion) names exactly one execution forever. An execution is
//   suspended (spawn_suspended: image mapped, no code ran), running, a zombie (exited, not
//   reaped: the pid is still held), reaped (the pid is free), or ended by an exec (same pid, new
//   pidversion). The world remembers, for every execution, whether its code ever RAN.
// - Images. Files hold immutable images (a CodeIdentity whose path is the file's path, plus a
//   content version). A running execution keeps the image it was started with; replacing,
//   removing or renaming the file later does not change what runs, but static_code() of that
//   execution then answers errSecCSStaticCodeChanged (the model is path-based: a renamed file
//   no longer backs the process either). A copy_to_private() file can only be changed by the
//   caller, so scenario mutators refuse it.
// - Lookups. Token lookups are kernel-checked against pidversion: a stale token (exec, exit,
//   pid reuse) answers ESRCH 100003. A zombie has no running code: guest lookups, proc_pidpath,
//   proc_pidpath_audittoken, responsible_pid answer ESRCH and token_for_pid KERN_FAILURE, while
//   kill(pid, 0) answers 0 ("alive"). A SecCode handle stays bound to its execution and image:
//   code_path / signing_information keep answering from the image after the execution died (the
//   object caches them), check_validity answers errSecCSGuestInvalid once it is not running.
// - Sandbox. When the caller is sandboxed, guest lookups (by token and by pid) of a process whose
//   image path starts with one of eperm_path_prefixes (default "/usr/libexec/") answer EPERM
//   100001 (seed 000). The simulator runtime copy of the same daemon lives under another prefix
//   and resolves (fault F10). proc_pidpath and proc_pidpath_audittoken are not refused.
// - Scheduler hook. Before every seam call (Seam and LaunchSeam) the world calls the hook, which
//   may run any mutator: that is how an exit, a pid reuse, an exec or a file swap lands between
//   two calls of one resolver. Seam calls made from inside the hook do not re-enter it.
// - F8. fail_next(call, n, outcome) makes the next n calls of that kind fail with outcome;
//   set_lookup_duration(call, ns) makes each such call advance the virtual clock.
// - Events. Every lifecycle, file and flow change is stamped with the virtual clock and, when
//   logging is on (or a listener is set), emitted as a flowid::Event, so a run can be written as a
//   trace and rebuilt with apply().
//
// Speed: executions live in a flat vector indexed by pidversion - 1 (the sim hands pidversions
// out densely from 1), the pid table is a flat vector, handles encode (kind, index) so they need
// no table, and no seam call allocates except for the strings and identities it returns.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>  // lint-allow(unordered): sparse_pidversions_ only.
#include <utility>
#include <vector>

#include "harness/caller_context.h"
#include "harness/model.h"
#include "harness/pid_allocator.h"
#include "harness/random.h"
#include "harness/requirement.h"
#include "harness/seam.h"

namespace flowid {

class World;

// Called before every seam call with the call about to be made. May mutate the world.
using SchedulerHook = std::function<void(LookupCall call, World& world)>;
// Receives every event the world emits (e.g. to forward exits to Resolver::observe).
using EventListener = std::function<void(const Event& event)>;

// Why a scenario mutator refused. Mutators are called by scenario code (tests, fault plans,
// model replay of an untrusted trace), so refusals are values, never exceptions.
enum class WorldError : uint8_t {
  kNone = 0,
  kNoSuchExecution,  // the token names no execution, or not the current one of its pid.
  kNotRunning,       // the execution exists but is not in the state the operation needs.
  kPidTableFull,     // every pid in [pid_min, pid_max] is in use (fork's EAGAIN).
  kPidInUse,         // apply(): the event's pid is held by another execution.
  kPidversionUsed,   // apply(): the event's pidversion already names an execution.
  kNoSuchFile,
  kFileExists,
  kReadOnlyFile,      // a private copy: only the caller that made it may change it.
  kBadPath,           // an empty path, or an image whose path is not the file's path.
  kUnsupportedEvent,  // apply(): an event kind that does not change the world.
};
std::string_view name_of(WorldError error);

template <typename T>
struct WorldResult {
  WorldError error = WorldError::kNone;
  T value{};
  bool ok() const { return error == WorldError::kNone; }
};

enum class ExecutionState : uint8_t {
  kSuspended = 0,  // spawned suspended: image mapped, no code has run.
  kRunning = 1,
  kZombie = 2,         // exited, not reaped: still holds its pid (F9).
  kReaped = 3,         // exited and reaped: the pid is free.
  kReplacedByExec = 4  // the process exec'd: same pid, a newer execution runs now (F4).
};
std::string_view name_of(ExecutionState state);

using ImageId = uint32_t;

// An executable's content as installed at one path. Immutable once created.
struct Image {
  CodeIdentity identity;            // identity.path is the path the content was installed at.
  uint32_t content_version = 0;     // a world-wide counter: every create/replace is a new content.
  bool on_disk = false;             // still the content at identity.path.
  bool sandbox_restricted = false;  // matches an EPERM prefix (cached; see set_sandbox_rules).
  bool private_copy = false;        // made by copy_to_private.
};

// One execution: what the kernel knows of it, and the ground truth the oracle needs.
struct Execution {
  AuditToken token;
  ImageId image = 0;
  ExecutionState state = ExecutionState::kRunning;
  bool ran_code = false;            // some of its code executed (false for suspended-then-killed).
  bool launched_by_caller = false;  // created through LaunchSeam (a launcher's own child).
  std::optional<AuditToken> parent;
  // The responsible app's token at spawn (absent: the execution is its own responsible process).
  std::optional<AuditToken> responsible;
  uint64_t started_ns = 0;
  uint64_t ended_ns = 0;   // when it stopped running (exit or exec); 0 while alive.
  uint64_t reaped_ns = 0;  // when its pid was freed (reap, or exec hand-over: 0).
  int32_t exit_status = 0;
  bool live() const {
    return state == ExecutionState::kRunning || state == ExecutionState::kSuspended;
  }
  // Holds its pid (running, suspended or zombie).
  bool holds_pid() const { return live() || state == ExecutionState::kZombie; }
};

// Options for a scenario spawn.
struct SpawnOptions {
  // The parent; absent = launchd (pid 1).
  std::optional<AuditToken> parent;
  // The responsible app (a helper started on an app's behalf); absent = itself.
  std::optional<AuditToken> responsible;
  uint32_t uid = 501;
  uint32_t gid = 20;
  uint32_t asid = 100000;
  bool suspended = false;
};

// How a flow token is shaped (F7).
enum class TokenShape : uint8_t { kWellFormed = 0, kAbsent = 1, kMalformed = 2 };

struct FlowOptions {
  // The app on whose behalf the process works (F6 delegation); absent = the process itself.
  std::optional<AuditToken> app;
  TokenShape app_token_shape = TokenShape::kWellFormed;
  TokenShape process_token_shape = TokenShape::kWellFormed;
  uint32_t malformed_size_bytes = 20;  // kMalformed: the token's size (not 32).
  std::string_view hostname = "example.com";
  uint16_t remote_port = 443;
  bool udp = false;
  bool ipv6 = false;
  FlowDirection direction = FlowDirection::kOutbound;
};

// The ground truth of one flow.
struct FlowTruth {
  uint64_t flow_id = 0;
  ExecutionId execution;      // the execution that really created the socket.
  ExecutionId app_execution;  // the app it worked for (== execution without delegation).
  uint64_t opened_ns = 0;
};

struct WorldConfig {
  uint64_t seed = 1;
  PidPolicy pid_policy = PidPolicy::kSequential;
  int32_t pid_min = 100;    // pids below are reserved (launchd is pid 1).
  int32_t pid_max = 99998;  // macOS PID_MAX is 99999.
  // The caller asking the questions; the default is a content filter's system extension, which
  // runs sandboxed as root (seed 000).
  CallerContext caller{true, true, 0, "NE system extension"};
  // Guest lookups of images under these prefixes answer EPERM to a sandboxed caller.
  std::vector<std::string> eperm_path_prefixes{"/usr/libexec/"};
  // Where copy_to_private puts its copies.
  std::string private_dir = "/private/var/db/flowid-launcher";
  bool start_launchd = true;  // install /sbin/launchd and run it as pid 1 at time 0.
  bool log_events = true;
};

class World final : public Seam, public LaunchSeam {
 public:
  explicit World(WorldConfig config = {});

  // ---- Clock. All times are virtual nanoseconds since the world began.
  uint64_t now_ns() const { return now_ns_; }
  void advance(uint64_t delta_ns) { now_ns_ += delta_ns; }

  // ---- Configuration that may change mid-run.
  const WorldConfig& config() const { return config_; }
  void set_caller(const CallerContext& caller) { config_.caller = caller; }
  void set_sandbox_rules(std::vector<std::string> eperm_path_prefixes);
  void set_scheduler_hook(SchedulerHook hook) { hook_ = std::move(hook); }
  void clear_scheduler_hook() { hook_ = nullptr; }
  // F8: the next `count` calls of `call` fail with `outcome` (calls that cannot fail, i.e.
  // audit_token_to_pid, only consume the count). count 0 cancels.
  void fail_next(LookupCall call, uint32_t count, LookupOutcome outcome);
  // F8: every call of `call` takes duration_ns of virtual time (advances the clock).
  void set_lookup_duration(LookupCall call, uint64_t duration_ns);
  // The deterministic generator scenario code may share (seeded from config.seed).
  SplitMix64& random() { return random_; }
  const SplitMix64& random() const { return random_; }

  // ---- Filesystem (scenario side).
  // Creates a file holding `identity` at identity.path (kFileExists if there is one).
  WorldError install_file(const CodeIdentity& identity);
  // New content at an existing path (identity.path); running processes keep their image.
  WorldError replace_file(const CodeIdentity& identity);
  WorldError remove_file(std::string_view path);
  // Moves a file (overwriting `to`, like rename(2)); its content keeps its cdhash.
  WorldError rename_file(std::string_view from, std::string_view to);
  // The image at path now, if any.
  std::optional<ImageId> file_at(std::string_view path) const;

  // ---- Processes (scenario side).
  WorldResult<AuditToken> start_process(std::string_view path, const SpawnOptions& options = {});
  // Execs the file at path in the running execution `token`: same pid, new pidversion.
  WorldResult<AuditToken> exec_process(const AuditToken& token, std::string_view path);
  // Ends a running or suspended execution. stage kExited leaves a zombie holding the pid (F9);
  // kReaped frees the pid at once.
  WorldError exit_process(const AuditToken& token, int32_t status = 0,
                          ExitStage stage = ExitStage::kReaped);
  // Reaps a zombie: the pid becomes free for reuse.
  WorldError reap_process(const AuditToken& token);
  // The current token of whatever holds pid (running, suspended or zombie).
  std::optional<AuditToken> holder_of(int32_t pid) const;
  // The launchd execution started at time 0 (when config.start_launchd).
  std::optional<AuditToken> launchd() const { return launchd_; }

  // ---- Flows (scenario side).
  // A flow created by the running execution `process`, every field filled plausibly; its
  // ground truth is recorded. kNotRunning when `process` is not running.
  WorldResult<Flow> open_flow(const AuditToken& process, const FlowOptions& options = {});
  // The same, reusing `out`'s storage (hot loops).
  WorldError open_flow_into(const AuditToken& process, const FlowOptions& options, Flow& out);

  // ---- Ground truth (oracle side).
  const Execution* execution(ExecutionId id) const;
  const Execution* execution(const AuditToken& token) const { return execution(token.execution()); }
  const Image& image(ImageId id) const { return images_[id]; }
  // The image an execution runs (or ran).
  const CodeIdentity* image_of(ExecutionId id) const;
  const FlowTruth* flow_truth(uint64_t flow_id) const;
  // Every execution, in creation order (index = creation order; useful for launch checks).
  const std::vector<Execution>& executions() const { return executions_; }
  std::size_t execution_count() const { return executions_.size(); }
  // Forget flow ground truth (hot loops that check each flow right away).
  void clear_flow_truth();
  // Checks the world's own invariants (one pid holder per pid, pid table vs states, unique
  // pidversions, every token naming a known execution, files vs images). Returns a description
  // of the first broken one. The scenario runner calls it after every step when
  // kConsistencyChecks is on (debug and fuzzing builds: harness/assert.h).
  std::optional<std::string> check_consistency() const;
  // A hash of everything that decides what the world does next: clock, pid allocator, files,
  // images, executions, flow ground truth, injected failures and delays, the generator's state.
  // Two worlds with the same digest behave the same from here on (flowid explore prunes on it).
  uint64_t state_digest() const;

  // ---- Events.
  void set_logging(bool on) { config_.log_events = on; }
  const std::vector<Event>& log() const { return log_; }
  std::vector<Event> take_log();
  void clear_log() { log_.clear(); }
  void set_event_listener(EventListener listener) { listener_ = std::move(listener); }
  // Model replay: applies a lifecycle, file or flow event as recorded (its token, pid and
  // pidversion are used as they are; the clock moves to the event's time if later). Lookup,
  // verdict, marker and dropped events answer kUnsupportedEvent.
  WorldError apply(const Event& event);

  // ---- Statistics.
  uint64_t seam_call_count() const { return seam_call_count_; }
  uint64_t last_call_duration_ns() const { return last_call_duration_ns_; }

  // ---- Seam.
  SeamResult<CodeRef> guest_by_audit_token(const AuditToken& token) override;
  SeamResult<CodeRef> guest_by_pid(int32_t pid) override;
  SeamResult<CodeRef> static_code(CodeRef code) override;
  SeamResult<std::string> code_path(CodeRef code) override;
  LookupOutcome check_validity(CodeRef code, std::string_view requirement) override;
  SeamResult<CodeIdentity> signing_information(CodeRef code) override;
  int32_t audit_token_to_pid(const AuditToken& token) override;
  SeamResult<std::string> proc_pidpath(int32_t pid) override;
  SeamResult<std::string> proc_pidpath_audittoken(const AuditToken& token) override;
  SeamResult<AuditToken> token_for_pid(int32_t pid) override;
  LookupOutcome kill_zero(int32_t pid) override;
  SeamResult<int32_t> responsible_pid(int32_t pid) override;
  // The simulated world is a macOS one: no Linux lookups.
  LinuxSeam* linux_lookups() override { return nullptr; }

  // ---- LaunchSeam. Launched processes are children of launchd and run as uid 501.
  LookupOutcome check_file(std::string_view path, std::string_view requirement) override;
  SeamResult<AuditToken> spawn(std::string_view path) override;
  SeamResult<AuditToken> spawn_with_requirement(std::string_view path,
                                                std::string_view requirement) override;
  SeamResult<std::string> copy_to_private(std::string_view path) override;
  SeamResult<AuditToken> spawn_suspended(std::string_view path) override;
  LookupOutcome resume(const AuditToken& token) override;
  LookupOutcome kill(const AuditToken& token) override;

  // Handle encoding, public so that tests and the oracle can read evidence: the top byte says
  // the kind ('G' running code, 'S' static code), the low 32 bits hold index + 1.
  static constexpr uint64_t kGuestHandleTag = 0x47ULL << 56;
  static constexpr uint64_t kStaticHandleTag = 0x53ULL << 56;

 private:
  struct FileEntry {
    ImageId image = 0;
  };
  struct InjectedFailure {
    uint32_t remaining = 0;
    LookupOutcome outcome;
  };
  struct CachedRequirement {
    std::string text;
    std::optional<Requirement> requirement;  // nullopt: the text does not parse.
  };

  // Runs the hook, the F8 delay and the F8 failure for one seam call. Returns the injected
  // failure, if any (ok otherwise).
  LookupOutcome before_call(LookupCall call);

  uint32_t* pid_slot(int32_t pid);
  const uint32_t* pid_slot(int32_t pid) const;
  // The execution index + 1 holding pid, 0 if none.
  uint32_t holder_index(int32_t pid) const;
  // Index of the execution a token names (whether or not it is current); -1 if none.
  int64_t index_of(ExecutionId id) const;
  Execution* mutable_execution(const AuditToken& token);
  // The execution a token names if it is live (running or suspended) and current.
  const Execution* live_execution(const AuditToken& token) const;
  const Execution* live_holder(int32_t pid) const;

  ImageId add_image(CodeIdentity identity, uint32_t content_version, bool private_copy);
  bool restricted(const CodeIdentity& identity) const;
  // Creates an execution record (new pidversion unless forced) and registers it.
  // uid_template supplies every token word except pid and pidversion.
  uint32_t add_execution(int32_t pid, std::optional<uint32_t> forced_pidversion, ImageId image,
                         const AuditToken& uid_template, std::optional<AuditToken> parent,
                         std::optional<AuditToken> responsible, ExecutionState state);
  WorldResult<AuditToken> spawn_image(ImageId image, const SpawnOptions& options, bool log);
  void end_execution(Execution& e, ExecutionState state, int32_t status);
  void free_pid(int32_t pid);

  SeamResult<CodeRef> guest_result(const Execution& e) const;
  // Decodes a handle: the guest execution or the static image; both null for a bad handle.
  const Execution* guest_of(CodeRef code) const;
  const Image* static_of(CodeRef code) const;
  const Requirement* requirement_for(std::string_view text, bool* parse_failed);
  // Spawns an image for the LaunchSeam (parent launchd).
  SeamResult<AuditToken> launch_image(ImageId image, bool suspended);

  bool wants_events() const { return config_.log_events || listener_ != nullptr; }
  void emit(EventBody body);

  WorldConfig config_;
  SplitMix64 random_;
  PidAllocator pids_;
  uint64_t now_ns_ = 0;
  uint32_t next_pidversion_ = 1;
  uint32_t next_content_version_ = 1;
  uint64_t next_flow_id_ = 1;
  uint64_t private_copy_count_ = 0;

  std::vector<Image> images_;
  std::map<std::string, FileEntry, std::less<>> files_;
  std::vector<Execution> executions_;
  // Executions whose pidversion is not index + 1 (replayed from a trace): pidversion -> index.
  // lint-allow(unordered): looked up by key only, never iterated, so its order decides nothing.
  std::unordered_map<uint32_t, uint32_t> sparse_pidversions_;
  // exec index + 1 of the execution holding each pid; 0 = free. Grows for replayed pids.
  std::vector<uint32_t> pid_holders_;
  std::optional<AuditToken> launchd_;

  std::vector<FlowTruth> flow_truth_;
  uint64_t flow_truth_base_ = 1;  // flow id of flow_truth_[0].

  SchedulerHook hook_;
  bool in_hook_ = false;
  std::array<InjectedFailure, kLookupCallCount> injected_{};
  std::array<uint64_t, kLookupCallCount> call_duration_ns_{};
  uint64_t seam_call_count_ = 0;
  uint64_t last_call_duration_ns_ = 0;
  std::vector<CachedRequirement> requirement_cache_;

  std::vector<Event> log_;
  EventListener listener_;
};

}  // namespace flowid
