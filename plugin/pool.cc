// Plugin isolation, flowid's side (see pool.h): the workers as flowid sees them, the pool, the
// resolver / launcher proxies and whole-case checks.
#include "plugin/pool.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "plugin/fork_server.h"
#include "plugin/wire.h"
#include "plugin/worker.h"

namespace flowid::plugin {
namespace {

using namespace wire;  // NOLINT(google-build-using-namespace): this file speaks the wire format.

// Answers a launch call of the worker through the launch seam's C table. False when call is not
// a launch call.
bool serve_launch_call(Call call, Reader& r, const flowid_launch_seam& l, Writer& reply) {
  if (call == Call::kResume || call == Call::kKill) {
    const flowid_audit_token t = r.token();
    reply.outcome(call == Call::kResume ? l.resume(l.context, &t) : l.kill(l.context, &t));
    return true;
  }
  const std::string path(r.str());
  flowid_audit_token token{};
  if (call == Call::kCheckFile || call == Call::kSpawnWithRequirement) {
    const std::string requirement(r.str());
    if (call == Call::kCheckFile) {
      reply.outcome(l.check_file(l.context, path.c_str(), requirement.c_str()));
    } else {
      reply.outcome(l.spawn_with_requirement(l.context, path.c_str(), requirement.c_str(), &token));
      reply.token(token);
    }
  } else if (call == Call::kCopyToPrivate) {
    const char* text = nullptr;
    std::size_t size = 0;
    reply.outcome(l.copy_to_private(l.context, path.c_str(), &text, &size));
    reply.str(text, size);
  } else if (call == Call::kSpawn || call == Call::kSpawnSuspended) {
    reply.outcome(call == Call::kSpawn ? l.spawn(l.context, path.c_str(), &token)
                                       : l.spawn_suspended(l.context, path.c_str(), &token));
    reply.token(token);
  } else {
    return false;
  }
  return true;
}

// Answers one seam call of the worker through the C tables (which forward to the C++ seams and
// apply the abort rule). False when the call is malformed or needs a seam the call lacks.
bool serve_seam_call(Reader& r, const CSeamTables& tables, Writer& reply) {
  const flowid_seam& s = *tables.seam();
  const flowid_launch_seam* l = tables.launch();
  const uint8_t call_number = r.u8();
  if (call_number >= static_cast<uint8_t>(Call::kEnd)) return false;
  const auto call = static_cast<Call>(call_number);
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
    case Call::kKill:
      if (l == nullptr || !serve_launch_call(call, r, *l, reply)) return false;
      break;
    case Call::kNone:
    case Call::kEnd:
      return false;
  }
  return r.done();
}

// One worker process, as flowid sees it.
class Worker {
 public:
  Worker(std::shared_ptr<const PluginModule> module, IsolationOptions options, ForkServer& server)
      : module_(std::move(module)), options_(options), server_(server) {
    const ForkServer::Spawned spawned = server_.spawn(module_->file);
    pid_ = spawned.pid;
    fd_ = spawned.fd;
    channel_ = std::make_unique<Channel>(fd_);
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
  std::string call(const std::string& request, Msg expected, const CSeamTables* tables,
                   const std::string& doing, const std::string& subject) {
    if (!alive()) fail(doing, "the worker was gone before the call");
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.call_timeout_ms);
    if (!channel_->send(request)) died(doing, deadline);
    std::string payload;
    for (;;) {
      switch (channel_->receive(&payload, deadline)) {
        case Channel::Got::kFrame:
          break;
        case Channel::Got::kClosed:
          died(doing, deadline);
        case Channel::Got::kTimeout:
          stop();
          throw std::runtime_error(
              fmt::format("plugin {} hung: no answer for {} within {} ms (killed)", module_->file,
                          subject, options_.call_timeout_ms));
        case Channel::Got::kBroken:
          fail(doing, "an unreadable frame");
      }
      Reader r(payload);
      const auto type = static_cast<Msg>(r.u8());
      if (type == expected) return payload.substr(1);
      if (type != Msg::kSeamCall || tables == nullptr)
        fail(doing, fmt::format("unexpected message {}", static_cast<int>(type)));
      Writer reply(Msg::kSeamReply);
      if (!serve_seam_call(r, *tables, reply)) fail(doing, "a malformed seam call");
      if (!channel_->send(reply.frame())) died(doing, deadline);
    }
  }

  // Ends the worker (killed if it still runs) and has it reaped.
  void stop() {
    if (!alive_.exchange(false)) return;
    ::kill(pid_, SIGKILL);  // the pid is still ours: the fork server reaps only when asked.
    ::close(fd_);
    try {
      (void)server_.reap(pid_, 0);
    } catch (const std::exception&) {
      // The server is gone (flowid is ending): nothing is left to reap.
    }
  }

  // The protocol went wrong: kill the worker and say so.
  [[noreturn]] void fail(const std::string& doing, const std::string& what) {
    stop();
    throw std::runtime_error(
        fmt::format("plugin {} broke the worker protocol ({}) {}", module_->file, what, doing));
  }

 private:
  // The worker went away during a call: how it ended. The socket closed, so the process is
  // exiting or has exited: the server waits for it without killing it first, so that its status
  // says why it ended, but not past the deadline (a plugin that closed the socket itself may
  // still be running).
  [[noreturn]] void died(const std::string& doing, std::chrono::steady_clock::time_point deadline) {
    alive_ = false;
    ::close(fd_);
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const ForkServer::Ended ended =
        server_.reap(pid_, static_cast<uint32_t>(std::max<int64_t>(left.count(), 0)));
    if (ended.killed) {
      throw std::runtime_error(
          fmt::format("plugin {} closed its connection to flowid and kept running {} (killed)",
                      module_->file, doing));
    }
    if (ended.status == -1) {
      throw std::runtime_error(
          fmt::format("plugin {} worker ended (status unknown) {}", module_->file, doing));
    }
    if (WIFSIGNALED(ended.status)) {
      const int signal = WTERMSIG(ended.status);
      const char* description = ::strsignal(signal);
      throw std::runtime_error(fmt::format("plugin {} crashed with signal {} ({}) {}",
                                           module_->file, signal,
                                           description != nullptr ? description : "?", doing));
    }
    throw std::runtime_error(
        fmt::format("plugin {} exited the process with status {} {}", module_->file,
                    WIFEXITED(ended.status) ? WEXITSTATUS(ended.status) : -1, doing));
  }

  std::shared_ptr<const PluginModule> module_;
  IsolationOptions options_;
  ForkServer& server_;
  pid_t pid_ = -1;
  int fd_ = -1;
  std::atomic<bool> alive_{true};
  std::unique_ptr<Channel> channel_;
  std::mutex calls_;
  friend class ModulePool;
  uint32_t bound_ = 0;  // users bound to this worker; guarded by the pool's mutex.
};

// The workers of one plugin file; owned by the pool's state, which users keep alive (pool_for).
class ModulePool {
 public:
  ModulePool(std::shared_ptr<const PluginModule> module, WorkerPool::State& state);

  const std::shared_ptr<const PluginModule>& module() const { return module_; }
  uint64_t next_instance_id() { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  // A live worker for a new binding: an unbound one, else a new one, else (at max_workers) the
  // least bound one.
  std::shared_ptr<Worker> bind();
  void unbind(const std::shared_ptr<Worker>& worker) {
    std::lock_guard lock(mutex_);
    if (worker->bound_ > 0) --worker->bound_;
  }

 private:
  std::shared_ptr<const PluginModule> module_;
  WorkerPool::State& state_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<Worker>> workers_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace

struct WorkerPool::State {
  explicit State(IsolationOptions o) : options(o) {}
  IsolationOptions options;
  ForkServer server;  // declared before the workers' pools: destroyed after them.
  std::atomic<uint64_t> workers_started{0};
  std::atomic<uint64_t> whole_cases{0};
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<ModulePool>> pools;  // by plugin file; workers stay.

  // The pool of a plugin file, as a pointer that keeps the whole state (and so the fork server
  // and the workers) alive: a resolver may outlive the WorkerPool object.
  static std::shared_ptr<ModulePool> pool_for(const std::shared_ptr<State>& state,
                                              std::shared_ptr<const PluginModule> module) {
    std::lock_guard lock(state->mutex);
    auto& slot = state->pools[module->file];
    if (!slot) slot = std::make_unique<ModulePool>(std::move(module), *state);
    return std::shared_ptr<ModulePool>(state, slot.get());
  }
};

namespace {

ModulePool::ModulePool(std::shared_ptr<const PluginModule> module, WorkerPool::State& state)
    : module_(std::move(module)), state_(state) {}

std::shared_ptr<Worker> ModulePool::bind() {
  std::lock_guard lock(mutex_);
  std::erase_if(workers_, [](const std::shared_ptr<Worker>& w) { return !w->alive(); });
  std::shared_ptr<Worker> chosen;
  for (const auto& w : workers_) {
    if (!chosen || w->bound_ < chosen->bound_) chosen = w;
  }
  if (!chosen ||
      (chosen->bound_ > 0 && workers_.size() < std::max<uint32_t>(state_.options.max_workers, 1))) {
    chosen = std::make_shared<Worker>(module_, state_.options, state_.server);
    state_.workers_started.fetch_add(1, std::memory_order_relaxed);
    workers_.push_back(chosen);
  }
  ++chosen->bound_;
  return chosen;
}

// One plugin instance in some worker, for the lifetime of a resolver or launcher.
class RemoteInstance {
 public:
  explicit RemoteInstance(std::shared_ptr<ModulePool> pool)
      : pool_(std::move(pool)), id_(pool_->next_instance_id()) {}

  ~RemoteInstance() {
    if (!worker_) return;
    if (created_ && worker_->alive()) {
      std::lock_guard lock(worker_->calls());
      try {
        Writer w(Msg::kDestroy);
        w.u64(id_);
        (void)worker_->call(w.frame(), Msg::kDestroyed, nullptr, "in destroy_instance",
                            "destroy_instance");
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
  std::optional<std::string> call(Writer& request, Msg expected, const CSeamTables* tables,
                                  const std::string& doing, const std::string& subject) {
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
      const std::string reply =
          worker_->call(create.frame(), Msg::kCreated, nullptr,
                        "in create_instance before " + doing, "create_instance before " + subject);
      Reader r(reply);
      instance_ok_ = r.u8() != 0;
      if (!r.done()) worker_->fail(doing, "a malformed create reply");
      created_ = true;
    }
    if (!instance_ok_) return std::nullopt;
    return worker_->call(request.frame(), expected, tables, doing, subject);
  }

  // A reply that does not decode: the worker is killed and the call fails.
  [[noreturn]] void malformed(const std::string& doing) {
    worker_->fail(doing, "a malformed reply");
  }

 private:
  std::shared_ptr<ModulePool> pool_;
  uint64_t id_;
  std::shared_ptr<Worker> worker_;
  bool created_ = false;
  bool instance_ok_ = false;
};

class WorkerResolver final : public Resolver {
 public:
  explicit WorkerResolver(std::shared_ptr<ModulePool> pool)
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
    const std::optional<std::string> reply =
        remote_.call(w, Msg::kResolved, &tables, doing, subject);
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
    const std::optional<std::string> reply = remote_.call(
        w, Msg::kDecided, nullptr, doing, fmt::format("the decision on flow {}", flow.flow_id));
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
  explicit WorkerLauncher(std::shared_ptr<ModulePool> pool)
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
    DecodedLaunchResult answer;
    get_launch_result(r, answer);
    if (!r.done()) remote_.malformed(doing);
    return launch_result_from_c(answer.c);
  }

 private:
  RemoteInstance remote_;
  std::string name_;
};

// A worker bound for one whole case.
class Lease {
 public:
  explicit Lease(std::shared_ptr<ModulePool> pool)
      : pool_(std::move(pool)), worker_(pool_->bind()) {}
  ~Lease() { pool_->unbind(worker_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Worker& worker() { return *worker_; }

 private:
  std::shared_ptr<ModulePool> pool_;
  std::shared_ptr<Worker> worker_;
};

}  // namespace

WorkerPool::WorkerPool(IsolationOptions options) : state_(std::make_shared<State>(options)) {}
WorkerPool::~WorkerPool() = default;

const IsolationOptions& WorkerPool::options() const { return state_->options; }
uint64_t WorkerPool::workers_started() const {
  return state_->workers_started.load(std::memory_order_relaxed);
}
uint64_t WorkerPool::whole_cases_checked() const {
  return state_->whole_cases.load(std::memory_order_relaxed);
}

std::unique_ptr<Resolver> WorkerPool::make_resolver(std::shared_ptr<const PluginModule> module) {
  return std::make_unique<WorkerResolver>(State::pool_for(state_, std::move(module)));
}

std::unique_ptr<Launcher> WorkerPool::make_launcher(std::shared_ptr<const PluginModule> module) {
  return std::make_unique<WorkerLauncher>(State::pool_for(state_, std::move(module)));
}

std::optional<fuzz::CaseVerdict> WorkerPool::check_case(std::shared_ptr<const PluginModule> module,
                                                        const scenario::Scenario& scenario,
                                                        bool launcher,
                                                        const OracleOptions& oracle) {
  return std::move(
      check_cases(std::move(module), std::span(&scenario, 1), launcher, oracle).front());
}

bool WorkerPool::round_trip(const std::shared_ptr<const PluginModule>& module, Writer& request,
                            Msg reply, const std::function<bool(Reader&)>& decode) {
  try {
    Lease lease(State::pool_for(state_, module));
    std::lock_guard lock(lease.worker().calls());
    const std::string text =
        lease.worker().call(request.frame(), reply, nullptr, "checking cases", "a batch of cases");
    Reader r(text);
    if (!decode(r) || !r.done()) lease.worker().fail("checking cases", "a malformed reply");
    return true;
  } catch (const std::runtime_error&) {
    return false;  // it crashed or hung in one of the cases, or could not start.
  }
}

std::vector<std::optional<fuzz::CaseVerdict>> WorkerPool::check_cases(
    std::shared_ptr<const PluginModule> module, std::span<const scenario::Scenario> scenarios,
    bool launcher, const OracleOptions& oracle) {
  std::vector<std::optional<fuzz::CaseVerdict>> verdicts(scenarios.size());
  if (scenarios.empty()) return verdicts;
  Writer request(Msg::kCase);
  request.u8(launcher ? 1 : 0);
  put_oracle_options(request, oracle);
  request.u32(static_cast<uint32_t>(scenarios.size()));
  for (const auto& scenario : scenarios) {
    const std::string text = scenario::format_scenario(scenario);
    request.str(text.data(), text.size());
  }
  const bool answered = round_trip(module, request, Msg::kCaseChecked, [&](Reader& r) {
    for (auto& verdict : verdicts) {
      if (r.u8() != 0) verdict = get_verdict(r);
    }
    return r.ok();
  });
  if (!answered) {
    std::fill(verdicts.begin(), verdicts.end(), std::nullopt);
    // One case of the batch crashed or hung: each goes again on its own, so that only that one
    // is checked call by call.
    if (scenarios.size() > 1) {
      for (std::size_t i = 0; i < scenarios.size(); ++i)
        verdicts[i] = check_case(module, scenarios[i], launcher, oracle);
    }
    return verdicts;
  }
  for (auto& verdict : verdicts) {
    // A case that did not run: its error names this process's text, so flowid says it itself.
    if (verdict && !verdict->ran()) verdict.reset();
    if (verdict) state_->whole_cases.fetch_add(1, std::memory_order_relaxed);
  }
  return verdicts;
}

std::vector<std::optional<fuzz::CaseAnswer>> WorkerPool::generate_cases(
    std::shared_ptr<const PluginModule> module, const fuzz::CaseBatch& batch) {
  std::vector<std::optional<fuzz::CaseAnswer>> answers(batch.count);
  if (batch.count == 0) return answers;
  if (batch.count > kGenerateBatchMax) {
    // Never sent: the worker would refuse it. Halves, in order.
    fuzz::CaseBatch half = batch;
    half.count = batch.count / 2;
    auto a = generate_cases(module, half);
    half.first += half.count;
    half.count = batch.count - half.count;
    auto b = generate_cases(module, half);
    std::move(b.begin(), b.end(), std::move(a.begin(), a.end(), answers.begin()));
    return answers;
  }
  Writer request(Msg::kGenerate);
  put_case_batch(request, batch);
  const bool answered = round_trip(module, request, Msg::kGenerated, [&](Reader& r) {
    for (auto& answer : answers) {
      fuzz::CaseAnswer a;
      a.enabled = static_cast<fuzz::FaultSet>(r.u32());
      a.injected = static_cast<fuzz::FaultSet>(r.u32());
      a.verdict = get_verdict(r);
      answer = std::move(a);
    }
    return r.ok();
  });
  if (!answered) {
    std::fill(answers.begin(), answers.end(), std::nullopt);
    // One case of the batch crashed or hung: each goes again on its own, so that only that one
    // is run call by call.
    if (batch.count > 1) {
      fuzz::CaseBatch one = batch;
      one.count = 1;
      for (uint64_t i = 0; i < batch.count; ++i) {
        one.first = batch.first + i;
        answers[i] = std::move(generate_cases(module, one).front());
      }
    }
    return answers;
  }
  state_->whole_cases.fetch_add(batch.count, std::memory_order_relaxed);
  return answers;
}

std::unique_ptr<Resolver> make_plugin_resolver(std::shared_ptr<const PluginModule> module,
                                               WorkerPool* pool) {
  if (pool != nullptr) return pool->make_resolver(std::move(module));
  return std::make_unique<PluginResolver>(std::move(module));
}

std::unique_ptr<Launcher> make_plugin_launcher(std::shared_ptr<const PluginModule> module,
                                               WorkerPool* pool) {
  if (pool != nullptr) return pool->make_launcher(std::move(module));
  return std::make_unique<PluginLauncher>(std::move(module));
}

}  // namespace flowid::plugin
