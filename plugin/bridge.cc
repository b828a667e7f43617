// The C seam table forwarding to the C++ Seam, and the conversions between the plugin ABI's C
// structs and the model types.
#include "plugin/bridge.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

namespace flowid::plugin {

// The plugin ABI's C tables hold exactly the calls of harness/seam_calls.h's macOS and launch
// lists, as function pointers in list order right after the table's header fields, and nothing
// after them: a call added to a list without its C member, or the other way round, does not
// compile, and the ABI's layout stays byte-identical.
namespace abi_layout {
constexpr std::size_t kPointerBytes = sizeof(void (*)());
#define FLOWID_SEAM_OFFSET(enumerator, number, name, method, capnp) offsetof(flowid_seam, method),
#define FLOWID_LAUNCH_OFFSET(enumerator, number, name, method, capnp) \
  offsetof(flowid_launch_seam, method),
constexpr std::size_t kSeamOffsets[] = {FLOWID_MACOS_LOOKUP_CALLS(FLOWID_SEAM_OFFSET)};
constexpr std::size_t kLaunchOffsets[] = {FLOWID_LAUNCH_CALLS(FLOWID_LAUNCH_OFFSET)};
#undef FLOWID_SEAM_OFFSET
#undef FLOWID_LAUNCH_OFFSET
template <std::size_t N>
constexpr bool consecutive(const std::size_t (&offsets)[N], std::size_t first,
                           std::size_t table_bytes) {
  for (std::size_t i = 0; i < N; ++i) {
    if (offsets[i] != first + i * kPointerBytes) return false;
  }
  return table_bytes == first + N * kPointerBytes;
}
static_assert(consecutive(kSeamOffsets, offsetof(flowid_seam, context) + sizeof(void*),
                          sizeof(flowid_seam)),
              "flowid_seam must hold the macOS lookup calls in list order, and nothing more");
static_assert(consecutive(kLaunchOffsets, offsetof(flowid_launch_seam, context) + sizeof(void*),
                          sizeof(flowid_launch_seam)),
              "flowid_launch_seam must hold the launch calls in list order, and nothing more");
// ABI version 1's layout on LP64: 12 + 7 calls.
static_assert(sizeof(void*) != 8 ||
                  (sizeof(flowid_seam) == 112 && sizeof(flowid_launch_seam) == 64),
              "the plugin ABI's seam tables changed size: that needs a new ABI version");

// The ABI's numbers are the model's (the bridge converts by casting).
template <typename Enum>
constexpr int number(Enum value) {
  return static_cast<int>(value);
}
static_assert(number(OutcomeDomain::kOsStatus) == FLOWID_DOMAIN_OSSTATUS &&
              number(OutcomeDomain::kErrno) == FLOWID_DOMAIN_ERRNO &&
              number(OutcomeDomain::kKernReturn) == FLOWID_DOMAIN_KERN_RETURN);
static_assert(number(AttributionStatus::kVerified) == FLOWID_STATUS_VERIFIED &&
              number(AttributionStatus::kUnverified) == FLOWID_STATUS_UNVERIFIED &&
              number(AttributionStatus::kGone) == FLOWID_STATUS_GONE &&
              number(AttributionStatus::kUnknown) == FLOWID_STATUS_UNKNOWN);
static_assert(number(Decision::kAllow) == FLOWID_DECISION_ALLOW &&
              number(Decision::kDrop) == FLOWID_DECISION_DROP &&
              number(Decision::kAsk) == FLOWID_DECISION_ASK);
static_assert(number(SignatureKind::kUnsigned) == FLOWID_SIGNATURE_UNSIGNED &&
              number(SignatureKind::kAdHoc) == FLOWID_SIGNATURE_AD_HOC &&
              number(SignatureKind::kDeveloperId) == FLOWID_SIGNATURE_DEVELOPER_ID &&
              number(SignatureKind::kAppStore) == FLOWID_SIGNATURE_APP_STORE &&
              number(SignatureKind::kPlatform) == FLOWID_SIGNATURE_PLATFORM);
static_assert(number(AuditToken::kPid) == FLOWID_TOKEN_PID &&
              number(AuditToken::kPidversion) == FLOWID_TOKEN_PIDVERSION &&
              AuditToken::kByteSize == FLOWID_AUDIT_TOKEN_SIZE_BYTES);
static_assert(codes::kOsStatusEperm == FLOWID_OSSTATUS_EPERM &&
              codes::kOsStatusEsrch == FLOWID_OSSTATUS_ESRCH &&
              codes::kSecCsNoSuchCode == FLOWID_SECCS_NO_SUCH_CODE &&
              codes::kSecCsStaticCodeChanged == FLOWID_SECCS_STATIC_CODE_CHANGED &&
              codes::kSecCsReqFailed == FLOWID_SECCS_REQ_FAILED &&
              codes::kSecCsUnsigned == FLOWID_SECCS_UNSIGNED &&
              codes::kSecCsInvalidObjectRef == FLOWID_SECCS_INVALID_OBJECT_REF &&
              codes::kSecCsGuestInvalid == FLOWID_SECCS_GUEST_INVALID &&
              codes::kSecCsReqInvalid == FLOWID_SECCS_REQ_INVALID &&
              codes::kSecCsStaticCodeNotFound == FLOWID_SECCS_STATIC_CODE_NOT_FOUND &&
              codes::kKernFailure == FLOWID_KERN_FAILURE &&
              codes::kKernInvalidArgument == FLOWID_KERN_INVALID_ARGUMENT);
}  // namespace abi_layout

// What one call into the plugin needs: the C++ seams, and storage for strings the C side borrows
// until the next seam call.
//
// No C++ exception may cross the plugin's C frames, so each bridge function runs the C++ seam
// through guarded(): an exception (the oracle's seam call budget, a bug) is kept in `aborted`,
// the call answers FLOWID_KERN_ABORTED, every later call of the same resolve answers it at once,
// and the caller rethrows the exception once the plugin has returned (rethrow_if_aborted).
struct SeamBridge {
  Seam& seam;
  std::string path;
  CodeIdentity identity;
  std::exception_ptr aborted;
  LaunchSeam* launch = nullptr;  // set for a launch.
};

namespace {

std::string_view view(const char* data, std::size_t size) {
  if (data == nullptr) return {};
  return std::string_view(data, size);
}

flowid_flow_token flow_token_to_c(const FlowToken& token) {
  flowid_flow_token out{};
  out.present = token.present ? 1u : 0u;
  out.size_bytes = token.size_bytes;
  out.token = plugin::to_c(token.token);
  return out;
}

SeamBridge& bridge(void* context) { return *static_cast<SeamBridge*>(context); }

constexpr flowid_outcome kAbortedOutcome{FLOWID_DOMAIN_KERN_RETURN, FLOWID_KERN_ABORTED};

// Runs call(seam) unless the resolve was aborted; returns its outcome or kAbortedOutcome.
template <typename Call>
flowid_outcome guarded(void* context, Call&& call) {
  SeamBridge& b = bridge(context);
  if (b.aborted) return kAbortedOutcome;
  try {
    return call(b);
  } catch (...) {
    b.aborted = std::current_exception();
    return kAbortedOutcome;
  }
}

// Hands out a string that lives in the bridge until the next call.
void lend(std::string& slot, std::string value, const char** data_out, std::size_t* size_out) {
  slot = std::move(value);
  if (data_out != nullptr) *data_out = slot.c_str();
  if (size_out != nullptr) *size_out = slot.size();
}

// The C view of an identity; the strings point into `identity`.
flowid_code_identity identity_to_c(const CodeIdentity& identity) {
  flowid_code_identity out{};
  out.path = identity.path.c_str();
  out.path_len = identity.path.size();
  out.signing_id = identity.signing_id.c_str();
  out.signing_id_len = identity.signing_id.size();
  out.team_id = identity.team_id.c_str();
  out.team_id_len = identity.team_id.size();
  out.has_cdhash = identity.cdhash ? 1u : 0u;
  if (identity.cdhash) std::memcpy(out.cdhash, identity.cdhash->data(), sizeof out.cdhash);
  out.platform = identity.platform ? 1u : 0u;
  out.signature = static_cast<uint32_t>(identity.signature);
  out.hardened_runtime = identity.hardened_runtime ? 1u : 0u;
  return out;
}

void lend_identity(SeamBridge& b, CodeIdentity identity, flowid_code_identity* out) {
  b.identity = std::move(identity);
  if (out != nullptr) *out = identity_to_c(b.identity);
}

flowid_outcome c_guest_by_audit_token(void* context, const flowid_audit_token* token,
                                      flowid_code_ref* code_out) {
  if (code_out != nullptr) *code_out = 0;
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.guest_by_audit_token(from_c(*token));
    if (code_out != nullptr && result.ok()) *code_out = result.value;
    return to_c(result.outcome);
  });
}

flowid_outcome c_guest_by_pid(void* context, int32_t pid, flowid_code_ref* code_out) {
  if (code_out != nullptr) *code_out = 0;
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.guest_by_pid(pid);
    if (code_out != nullptr && result.ok()) *code_out = result.value;
    return to_c(result.outcome);
  });
}

flowid_outcome c_static_code(void* context, flowid_code_ref code, flowid_code_ref* static_out) {
  if (static_out != nullptr) *static_out = 0;
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.static_code(code);
    if (static_out != nullptr && result.ok()) *static_out = result.value;
    return to_c(result.outcome);
  });
}

flowid_outcome c_code_path(void* context, flowid_code_ref code, const char** path_out,
                           std::size_t* path_len_out) {
  lend(bridge(context).path, std::string(), path_out, path_len_out);
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.code_path(code);
    if (result.ok()) lend(b.path, std::move(result.value), path_out, path_len_out);
    return to_c(result.outcome);
  });
}

flowid_outcome c_check_validity(void* context, flowid_code_ref code, const char* requirement) {
  return guarded(context, [&](SeamBridge& b) {
    return to_c(b.seam.check_validity(code, requirement == nullptr ? "" : requirement));
  });
}

flowid_outcome c_signing_information(void* context, flowid_code_ref code,
                                     flowid_code_identity* identity_out) {
  lend_identity(bridge(context), CodeIdentity{}, identity_out);
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.signing_information(code);
    if (result.ok()) lend_identity(b, std::move(result.value), identity_out);
    return to_c(result.outcome);
  });
}

int32_t c_audit_token_to_pid(void* context, const flowid_audit_token* token) {
  // Never fails; after an abort it answers from the token itself without asking the seam.
  int32_t pid = static_cast<int32_t>(token->words[FLOWID_TOKEN_PID]);
  guarded(context, [&](SeamBridge& b) {
    pid = b.seam.audit_token_to_pid(from_c(*token));
    return flowid_outcome{};
  });
  return pid;
}

flowid_outcome c_proc_pidpath(void* context, int32_t pid, const char** path_out,
                              std::size_t* path_len_out) {
  lend(bridge(context).path, std::string(), path_out, path_len_out);
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.proc_pidpath(pid);
    if (result.ok()) lend(b.path, std::move(result.value), path_out, path_len_out);
    return to_c(result.outcome);
  });
}

flowid_outcome c_proc_pidpath_audittoken(void* context, const flowid_audit_token* token,
                                         const char** path_out, std::size_t* path_len_out) {
  lend(bridge(context).path, std::string(), path_out, path_len_out);
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.proc_pidpath_audittoken(from_c(*token));
    if (result.ok()) lend(b.path, std::move(result.value), path_out, path_len_out);
    return to_c(result.outcome);
  });
}

flowid_outcome c_token_for_pid(void* context, int32_t pid, flowid_audit_token* token_out) {
  if (token_out != nullptr) *token_out = flowid_audit_token{};
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.token_for_pid(pid);
    if (token_out != nullptr && result.ok()) *token_out = to_c(result.value);
    return to_c(result.outcome);
  });
}

flowid_outcome c_kill_zero(void* context, int32_t pid) {
  return guarded(context, [&](SeamBridge& b) { return to_c(b.seam.kill_zero(pid)); });
}

flowid_outcome c_responsible_pid(void* context, int32_t pid, int32_t* pid_out) {
  if (pid_out != nullptr) *pid_out = 0;
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.seam.responsible_pid(pid);
    if (pid_out != nullptr && result.ok()) *pid_out = result.value;
    return to_c(result.outcome);
  });
}

flowid_seam make_seam_table(SeamBridge& b) {
  flowid_seam table{};
  table.abi_version = FLOWID_PLUGIN_ABI_VERSION;
  table.context = &b;
#define FLOWID_BRIDGE_CALL(enumerator, number, name, method, capnp) table.method = c_##method;
  FLOWID_MACOS_LOOKUP_CALLS(FLOWID_BRIDGE_CALL)
  return table;
}

// The launch seam's C functions; the same bridge (and abort rule) as the resolver seam's.
std::string_view text(const char* s) {
  return s == nullptr ? std::string_view() : std::string_view(s);
}

flowid_outcome c_check_file(void* context, const char* path, const char* requirement) {
  return guarded(context, [&](SeamBridge& b) {
    return to_c(b.launch->check_file(text(path), text(requirement)));
  });
}

template <typename Spawn>
flowid_outcome spawn_call(void* context, flowid_audit_token* token_out, Spawn&& spawn) {
  if (token_out != nullptr) *token_out = flowid_audit_token{};
  return guarded(context, [&](SeamBridge& b) {
    SeamResult<AuditToken> result = spawn(*b.launch);
    if (token_out != nullptr && result.ok()) *token_out = to_c(result.value);
    return to_c(result.outcome);
  });
}

flowid_outcome c_spawn(void* context, const char* path, flowid_audit_token* token_out) {
  return spawn_call(context, token_out, [&](LaunchSeam& l) { return l.spawn(text(path)); });
}

flowid_outcome c_spawn_with_requirement(void* context, const char* path, const char* requirement,
                                        flowid_audit_token* token_out) {
  return spawn_call(context, token_out, [&](LaunchSeam& l) {
    return l.spawn_with_requirement(text(path), text(requirement));
  });
}

flowid_outcome c_spawn_suspended(void* context, const char* path, flowid_audit_token* token_out) {
  return spawn_call(context, token_out,
                    [&](LaunchSeam& l) { return l.spawn_suspended(text(path)); });
}

flowid_outcome c_copy_to_private(void* context, const char* path, const char** path_out,
                                 std::size_t* path_len_out) {
  lend(bridge(context).path, std::string(), path_out, path_len_out);
  return guarded(context, [&](SeamBridge& b) {
    auto result = b.launch->copy_to_private(text(path));
    if (result.ok()) lend(b.path, std::move(result.value), path_out, path_len_out);
    return to_c(result.outcome);
  });
}

flowid_outcome c_resume(void* context, const flowid_audit_token* token) {
  return guarded(context, [&](SeamBridge& b) { return to_c(b.launch->resume(from_c(*token))); });
}

flowid_outcome c_kill(void* context, const flowid_audit_token* token) {
  return guarded(context, [&](SeamBridge& b) { return to_c(b.launch->kill(from_c(*token))); });
}

flowid_launch_seam make_launch_seam_table(SeamBridge& b) {
  flowid_launch_seam table{};
  table.context = &b;
  FLOWID_LAUNCH_CALLS(FLOWID_BRIDGE_CALL)
#undef FLOWID_BRIDGE_CALL
  return table;
}

// create_instance (or user_data when the plugin has none); *ok false when it returned NULL.
void* create(const flowid_plugin& table, bool* ok) {
  if (table.create_instance == nullptr) {
    *ok = true;
    return table.user_data;
  }
  void* instance = table.create_instance(table.user_data);
  *ok = instance != nullptr;
  return instance;
}

void destroy(const flowid_plugin& table, void* instance, bool ok) {
  if (ok && table.create_instance != nullptr && table.destroy_instance != nullptr) {
    table.destroy_instance(instance);
  }
}

CodeIdentity identity_from_c(const flowid_code_identity& in) {
  CodeIdentity out;
  out.path = std::string(view(in.path, in.path_len));
  out.signing_id = std::string(view(in.signing_id, in.signing_id_len));
  out.team_id = std::string(view(in.team_id, in.team_id_len));
  if (in.has_cdhash != 0) {
    Cdhash cdhash{};
    std::memcpy(cdhash.data(), in.cdhash, cdhash.size());
    out.cdhash = cdhash;
  }
  out.platform = in.platform != 0;
  out.signature = in.signature < static_cast<uint32_t>(kSignatureKindCount)
                      ? static_cast<SignatureKind>(in.signature)
                      : SignatureKind::kUnsigned;
  out.hardened_runtime = in.hardened_runtime != 0;
  return out;
}

}  // namespace

flowid_audit_token to_c(const AuditToken& token) {
  flowid_audit_token out{};
  std::copy(token.words.begin(), token.words.end(), out.words);
  return out;
}

AuditToken from_c(const flowid_audit_token& token) {
  AuditToken out;
  std::copy(std::begin(token.words), std::end(token.words), out.words.begin());
  return out;
}

flowid_outcome to_c(const LookupOutcome& outcome) {
  return flowid_outcome{static_cast<int32_t>(outcome.domain), outcome.code};
}

Attribution from_c(const flowid_attribution& attribution) {
  Attribution out;
  if (attribution.status > static_cast<uint32_t>(AttributionStatus::kUnknown)) {
    out.status = AttributionStatus::kUnknown;
    out.method = "plugin-bad-status-" + std::to_string(attribution.status);
    return out;
  }
  out.status = static_cast<AttributionStatus>(attribution.status);
  if (attribution.has_identity != 0) out.identity = identity_from_c(attribution.identity);
  if (attribution.has_claimed_execution != 0) {
    out.claimed_execution = ExecutionId{attribution.claimed_pid, attribution.claimed_pidversion};
  }
  if (attribution.method != nullptr) out.method = attribution.method;
  return out;
}

bool validate_table(const flowid_plugin* table, uint32_t host_abi_version, std::string* error) {
  if (table == nullptr) {
    *error = "flowid_plugin_entry returned NULL (the plugin does not speak plugin ABI " +
             std::to_string(host_abi_version) + ")";
    return false;
  }
  if (table->abi_version != host_abi_version) {
    *error = "plugin ABI " + std::to_string(table->abi_version) + ", this flowid speaks " +
             std::to_string(host_abi_version);
    return false;
  }
  if (table->resolve == nullptr) {
    *error = "the plugin table has no resolve function";
    return false;
  }
  return true;
}

std::string display_name(const PluginModule& module) {
  const flowid_plugin& table = *module.table;
  return table.name != nullptr && table.name[0] != '\0' ? std::string(table.name) : module.file;
}

bool has_launch(const PluginModule& module) { return module.table->launch != nullptr; }

flowid_flow flow_to_c(const Flow& flow) {
  flowid_flow c_flow{};
  c_flow.flow_id = flow.flow_id;
  std::copy(flow.identifier.begin(), flow.identifier.end(), c_flow.identifier);
  c_flow.source_app_audit_token = flow_token_to_c(flow.source_app_audit_token);
  c_flow.source_process_audit_token = flow_token_to_c(flow.source_process_audit_token);
  c_flow.source_app_identifier = flow.source_app_identifier.c_str();
  c_flow.hostname = flow.hostname.c_str();
  c_flow.remote_hostname = flow.remote_hostname.c_str();
  c_flow.remote_address = flow.remote_endpoint.address.c_str();
  c_flow.remote_port = flow.remote_endpoint.port;
  c_flow.local_port = flow.local_endpoint.port;
  c_flow.direction = static_cast<uint32_t>(flow.direction);
  c_flow.protocol = flow.protocol;
  c_flow.family = flow.family;
  c_flow.type = flow.type;
  c_flow.proc_pid = flow.proc_pid;
  c_flow.eproc_pid = flow.eproc_pid;
  return c_flow;
}

flowid_attribution attribution_to_c(const Attribution& attribution) {
  flowid_attribution out{};
  out.status = static_cast<uint32_t>(attribution.status);
  if (attribution.identity) {
    out.has_identity = 1;
    out.identity = identity_to_c(*attribution.identity);
  }
  if (attribution.claimed_execution) {
    out.has_claimed_execution = 1;
    out.claimed_pid = attribution.claimed_execution->pid;
    out.claimed_pidversion = attribution.claimed_execution->pidversion;
  }
  out.method = attribution.method.c_str();
  return out;
}

LaunchResult launch_result_from_c(const flowid_launch_result& result) {
  LaunchResult out;
  out.launched = result.launched != 0;
  if (result.has_execution != 0) out.execution = from_c(result.execution);
  // The refusal is informational (the oracle judges what ran); an unknown domain reads as OSStatus.
  const bool known_domain = result.refusal.domain >= FLOWID_DOMAIN_OSSTATUS &&
                            result.refusal.domain <= FLOWID_DOMAIN_KERN_RETURN;
  out.refusal = LookupOutcome{
      known_domain ? static_cast<OutcomeDomain>(result.refusal.domain) : OutcomeDomain::kOsStatus,
      result.refusal.code};
  if (result.method != nullptr) out.method = result.method;
  return out;
}

CSeamTables::CSeamTables(Seam& seam, LaunchSeam* launch_seam)
    : bridge_(std::make_unique<SeamBridge>(SeamBridge{seam, {}, {}, nullptr, launch_seam})),
      seam_(make_seam_table(*bridge_)),
      launch_(make_launch_seam_table(*bridge_)),
      has_launch_(launch_seam != nullptr) {}

CSeamTables::~CSeamTables() = default;

void CSeamTables::rethrow_if_aborted() const {
  if (bridge_->aborted) std::rethrow_exception(bridge_->aborted);
}

PluginResolver::PluginResolver(std::shared_ptr<const PluginModule> module)
    : module_(std::move(module)), name_(display_name(*module_)) {
  instance_ = create(*module_->table, &instance_ok_);
}

PluginResolver::~PluginResolver() { destroy(*module_->table, instance_, instance_ok_); }

Attribution PluginResolver::resolve(const Flow& flow, uint64_t now_ns, Seam& seam) {
  if (!instance_ok_) {
    Attribution failed;
    failed.method = "plugin-no-instance";
    return failed;
  }
  const flowid_flow c_flow = flow_to_c(flow);
  const CSeamTables tables(seam, nullptr);
  flowid_attribution answer{};
  answer.status = FLOWID_STATUS_UNKNOWN;
  module_->table->resolve(instance_, &c_flow, now_ns, tables.seam(), &answer);
  tables.rethrow_if_aborted();
  return from_c(answer);
}

std::optional<Decision> PluginResolver::decide(const Flow& flow, const Attribution& attribution) {
  const flowid_plugin& table = *module_->table;
  if (table.decide == nullptr || !instance_ok_) return std::nullopt;
  const flowid_flow c_flow = flow_to_c(flow);
  const flowid_attribution c_attribution = attribution_to_c(attribution);
  uint32_t decision = FLOWID_DECISION_DROP;
  const int32_t returned = table.decide(instance_, &c_flow, &c_attribution, &decision);
  return decision_from_c(returned, decision, *module_, flow.flow_id);
}

std::optional<Decision> decision_from_c(int32_t returned, uint32_t decision,
                                        const PluginModule& module, uint64_t flow_id) {
  if (returned == 0) return std::nullopt;
  switch (decision) {
    case FLOWID_DECISION_ALLOW:
      return Decision::kAllow;
    case FLOWID_DECISION_DROP:
      return Decision::kDrop;
    case FLOWID_DECISION_ASK:
      return Decision::kAsk;
    default:
      throw std::runtime_error(module.file + ": decide answered decision " +
                               std::to_string(decision) + " for flow " + std::to_string(flow_id) +
                               " (expected FLOWID_DECISION_ALLOW 0, DROP 1 or ASK 2)");
  }
}

PluginLauncher::PluginLauncher(std::shared_ptr<const PluginModule> module)
    : module_(std::move(module)), name_(display_name(*module_)) {
  instance_ = create(*module_->table, &instance_ok_);
}

PluginLauncher::~PluginLauncher() { destroy(*module_->table, instance_, instance_ok_); }

LaunchResult PluginLauncher::launch(std::string_view path, std::string_view requirement, Seam& seam,
                                    LaunchSeam& launch_seam) {
  LaunchResult result;
  if (!instance_ok_ || module_->table->launch == nullptr) {
    result.method = instance_ok_ ? "plugin-no-launch" : "plugin-no-instance";
    return result;
  }
  const std::string c_path(path);
  const std::string c_requirement(requirement);
  const CSeamTables tables(seam, &launch_seam);
  flowid_launch_result answer{};
  module_->table->launch(instance_, c_path.c_str(), c_requirement.c_str(), tables.seam(),
                         tables.launch(), &answer);
  tables.rethrow_if_aborted();
  return launch_result_from_c(answer);
}

}  // namespace flowid::plugin
