// The worker process (see worker.h): the plugin's C seam tables, each call a message to flowid,
// and the request loop.
#include "plugin/worker.h"

#include <unistd.h>

#include <map>
#include <string>

#include "harness/fuzz/campaign.h"
#include "harness/fuzz/property.h"
#include "harness/scenario.h"
#include "plugin/bridge.h"
#include "plugin/wire.h"

namespace flowid::plugin {
namespace {

using namespace wire;  // NOLINT(google-build-using-namespace): this file speaks the wire format.

// ---------------------------------------------------------------------------------------------
// The plugin's seam in the worker: every call is a kSeamCall to flowid, answered by flowid's own
// seams (so the world, the observer and the seam call budget stay in flowid).

struct WorkerSide {
  Channel& channel;
  std::string lent;          // the string the last seam call lent.
  DecodedIdentity identity;  // the identity the last signing_information lent.
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
flowid_outcome answer_string(WorkerSide& w, Writer& request, const char** data_out,
                             std::size_t* size_out) {
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

flowid_outcome w_guest_by_audit_token(void* c, const flowid_audit_token* token,
                                      flowid_code_ref* out) {
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

flowid_outcome w_code_path(void* c, flowid_code_ref code, const char** path_out,
                           std::size_t* len_out) {
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

flowid_outcome w_proc_pidpath_audittoken(void* c, const flowid_audit_token* token,
                                         const char** path_out, std::size_t* len_out) {
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

flowid_outcome w_copy_to_private(void* c, const char* path, const char** path_out,
                                 std::size_t* len_out) {
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
#define FLOWID_WORKER_CALL(enumerator, number, name, method, capnp) seam.method = w_##method;
  FLOWID_MACOS_LOOKUP_CALLS(FLOWID_WORKER_CALL)
  return seam;
}

flowid_launch_seam worker_launch_seam(WorkerSide& w) {
  flowid_launch_seam seam{};
  seam.context = &w;
  FLOWID_LAUNCH_CALLS(FLOWID_WORKER_CALL)
#undef FLOWID_WORKER_CALL
  return seam;
}

// ---------------------------------------------------------------------------------------------
// The request loop.

struct Instance {
  void* pointer = nullptr;
  bool ok = false;
};

class WorkerLoop {
 public:
  WorkerLoop(int fd, std::shared_ptr<const PluginModule> module)
      : channel_(fd), module_(std::move(module)), table_(*module_->table) {}

  [[noreturn]] void run() {
    std::string request;
    for (;;) {
      const Channel::Got got = channel_.receive(&request, std::nullopt);
      if (got == Channel::Got::kClosed) ::_exit(kWorkerPeerGone);
      if (got != Channel::Got::kFrame) ::_exit(kWorkerProtocolError);
      Reader r(request);
      const auto type = static_cast<Msg>(r.u8());
      if (type == Msg::kCase) {
        reply(check_case(r));
        continue;
      }
      if (type == Msg::kGenerate) {
        reply(generate_cases(r));
        continue;
      }
      const uint64_t id = r.u64();
      if (type == Msg::kCreate) {
        reply(create(id));
        continue;
      }
      auto it = instances_.find(id);
      if (it == instances_.end() || !r.ok()) ::_exit(kWorkerProtocolError);
      reply(call(type, it, r));
    }
  }

 private:
  void reply(Writer& w) {
    if (!channel_.send(w.frame())) ::_exit(kWorkerPeerGone);
  }
  void reply(Writer&& w) { reply(w); }

  Writer create(uint64_t id) {
    Instance instance;
    if (table_.create_instance == nullptr) {
      instance = {table_.user_data, true};
    } else {
      instance.pointer = table_.create_instance(table_.user_data);
      instance.ok = instance.pointer != nullptr;
    }
    instances_[id] = instance;
    Writer w(Msg::kCreated);
    w.u8(instance.ok ? 1 : 0);
    return w;
  }

  Writer call(Msg type, std::map<uint64_t, Instance>::iterator it, Reader& r) {
    void* instance = it->second.pointer;
    switch (type) {
      case Msg::kDestroy:
        if (it->second.ok && table_.create_instance != nullptr &&
            table_.destroy_instance != nullptr) {
          table_.destroy_instance(instance);
        }
        instances_.erase(it);
        return Writer(Msg::kDestroyed);
      case Msg::kResolve:
        return resolve(instance, r);
      case Msg::kDecide:
        return decide(instance, r);
      case Msg::kLaunch:
        return launch(instance, r);
      default:
        ::_exit(kWorkerProtocolError);
    }
  }

  Writer resolve(void* instance, Reader& r) {
    DecodedFlow flow;
    get_flow(r, flow);
    const uint64_t now_ns = r.u64();
    if (!r.done()) ::_exit(kWorkerProtocolError);
    WorkerSide ws{channel_, {}, {}};
    const flowid_seam seam = worker_seam(ws);
    flowid_attribution answer{};
    answer.status = FLOWID_STATUS_UNKNOWN;
    table_.resolve(instance, &flow.c, now_ns, &seam, &answer);
    Writer w(Msg::kResolved);
    put_attribution(w, answer);
    return w;
  }

  Writer decide(void* instance, Reader& r) {
    DecodedFlow flow;
    get_flow(r, flow);
    DecodedAttribution attribution;
    get_attribution(r, attribution);
    if (!r.done() || table_.decide == nullptr) ::_exit(kWorkerProtocolError);
    uint32_t decision = FLOWID_DECISION_DROP;
    const int32_t returned = table_.decide(instance, &flow.c, &attribution.c, &decision);
    Writer w(Msg::kDecided);
    w.i32(returned);
    w.u32(decision);
    return w;
  }

  Writer launch(void* instance, Reader& r) {
    const std::string path(r.str());
    const std::string requirement(r.str());
    if (!r.done() || table_.launch == nullptr) ::_exit(kWorkerProtocolError);
    WorkerSide ws{channel_, {}, {}};
    const flowid_seam seam = worker_seam(ws);
    const flowid_launch_seam launch_seam = worker_launch_seam(ws);
    flowid_launch_result answer{};
    table_.launch(instance, path.c_str(), requirement.c_str(), &seam, &launch_seam, &answer);
    Writer w(Msg::kLaunched);
    put_launch_result(w, answer);
    return w;
  }

  // A whole fuzz case: the scenario runs here against the simulated world, with the plugin in
  // this process (a fresh instance, as for every case), and only the verdict goes back. A crash
  // or hang kills this process; flowid then checks the case call by call to find the flow.
  Writer check_case(Reader& r) {
    const bool launcher = r.u8() != 0;
    const OracleOptions oracle = get_oracle_options(r);
    const uint32_t count = r.u32();
    const fuzz::StrategyUnderTest strategy = in_process_strategy(module_, launcher);
    Writer w(Msg::kCaseChecked);
    for (uint32_t i = 0; i < count && r.ok(); ++i) {
      const std::string_view text = r.str();
      std::string error;
      const std::optional<scenario::Scenario> parsed =
          scenario::parse_scenario(text, "fuzz case", &error);
      if (!parsed) {
        w.u8(0);  // flowid checks it itself (and reports the error as it would).
        continue;
      }
      w.u8(1);
      put_verdict(w, fuzz::check_scenario(*parsed, strategy, oracle));
    }
    if (!r.done()) ::_exit(kWorkerProtocolError);
    return w;
  }

  // Cases of a campaign generated and run here, from its parameters: the same generator and the
  // same checking code as flowid's, so each verdict is the one flowid would compute in process.
  Writer generate_cases(Reader& r) {
    const fuzz::CaseBatch batch = get_case_batch(r);
    if (!r.done() || batch.count > kGenerateBatchMax) ::_exit(kWorkerProtocolError);
    fuzz::CampaignOptions options;
    options.strategy = in_process_strategy(module_, batch.generator.launchers);
    options.strategy.name = batch.name;
    options.generator = batch.generator;
    options.seed = batch.seed;
    options.oracle = batch.oracle;
    Writer w(Msg::kGenerated);
    for (uint64_t k = batch.first; k < batch.first + batch.count; ++k) {
      const fuzz::CaseRecord record = fuzz::run_case(options, k);
      w.u32(record.generated.enabled);
      w.u32(record.generated.injected);
      put_verdict(w, record.verdict);
    }
    return w;
  }

  Channel channel_;
  std::shared_ptr<const PluginModule> module_;
  const flowid_plugin& table_;
  std::map<uint64_t, Instance> instances_;
};

}  // namespace

fuzz::StrategyUnderTest in_process_strategy(std::shared_ptr<const PluginModule> module,
                                            bool launcher) {
  fuzz::StrategyUnderTest strategy;
  strategy.name = module->file;
  strategy.launcher = launcher;
  if (launcher) {
    strategy.make_launcher = [module] { return std::make_unique<PluginLauncher>(module); };
  } else {
    strategy.make_resolver = [module] { return std::make_unique<PluginResolver>(module); };
  }
  return strategy;
}

void worker_main(int fd, std::shared_ptr<const PluginModule> module) {
  WorkerLoop(fd, std::move(module)).run();
}

}  // namespace flowid::plugin
