// Crash and hang isolation for plugins: the plugin runs in persistent worker processes, flowid
// talks to them over sockets. A WorkerPool is made by the command that runs plugins (cli/) and
// passed to whatever makes plugin resolvers; there is no process-wide pool.
//
// Starting workers. The pool's constructor forks one fork server: a small process that, on
// request, loads the plugin file and forks a worker from itself, handing flowid the worker's
// socket (SCM_RIGHTS). flowid itself never forks after the pool exists, so workers are never
// forked from a multi-threaded process (fuzz threads only ask the server). Construct the pool
// before starting threads. The server also reaps the workers and reports how each one ended.
//
// Two ways to run a plugin in a worker:
// - Call by call (make_resolver / make_launcher): every call into the plugin (create, resolve,
//   decide, launch, destroy) is a request to the worker, whose seam calls come back to flowid and
//   are answered by flowid's own seams (CSeamTables). The simulated world, the oracle's observer
//   and its seam call budget stay in flowid. Used by replay, matrix, fixture runs.
// - A whole fuzz case (check_case, behind StrategyUnderTest::check_elsewhere): the scenario goes
//   to the worker, which runs it there with the plugin in process against its own simulated world
//   and answers the verdict (digest, findings counts, first violation): one round trip per case.
//   The case runs the same code on the same input in both processes, so the verdict is the one
//   flowid would compute (tests/plugin_test.cc checks the digests over hundreds of cases).
//
// When a worker dies during a call (a signal, or the plugin called exit) or does not answer within
// the time limit (it is then killed), a call-by-call call throws std::runtime_error naming the
// plugin file, what it was doing and the signal ("plugin ./libmine.so crashed with signal 11
// (Segmentation fault) resolving flow 3"), which the oracle reports as an I7 finding for the flow
// or launch; the next call starts a new worker and a fresh instance there. A whole case whose
// worker dies or hangs answers nullopt instead, and the case is then checked call by call in a new
// worker, which names the flow (so a hanging plugin costs two time limits for that case).
//
// Workers are pooled per plugin file: a user binds to a worker no other live user is bound to,
// or, at IsolationOptions::max_workers, shares the least busy one (calls on one worker are
// serialized). Workers end with the pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "harness/fuzz/property.h"
#include "harness/resolver.h"
#include "harness/scenario.h"
#include "plugin/bridge.h"

namespace flowid::plugin {

namespace wire {
class Writer;
class Reader;
enum class Msg : uint8_t;
}  // namespace wire

struct IsolationOptions {
  uint32_t call_timeout_ms = 10000;  // per call (one resolve, decide or launch; or one whole case).
  // Worker processes per plugin at most; beyond that, users share workers.
  uint32_t max_workers = 16;
  // Fuzz cases run whole in the worker (one round trip per case) instead of call by call.
  bool whole_cases = true;
};

class WorkerPool {
 public:
  // Forks the fork server. Throws std::runtime_error when it cannot.
  explicit WorkerPool(IsolationOptions options = {});
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  const IsolationOptions& options() const;

  // A resolver (or launcher, for a plugin with launch) whose plugin instance lives in a worker.
  // It may outlive the pool object (it keeps the pool's processes alive).
  std::unique_ptr<Resolver> make_resolver(std::shared_ptr<const PluginModule> module);
  std::unique_ptr<Launcher> make_launcher(std::shared_ptr<const PluginModule> module);

  // Checks one fuzz case whole in a worker (a fresh plugin instance, the resolver or the launcher
  // side). nullopt when the worker died or hung during it, or the case did not run (a scenario
  // error): the caller then checks it call by call, which names the flow or reports the error.
  std::optional<fuzz::CaseVerdict> check_case(std::shared_ptr<const PluginModule> module,
                                              const scenario::Scenario& scenario, bool launcher,
                                              const OracleOptions& oracle);

  // Several cases in one round trip (the verdicts in order, nullopt as for check_case). When one
  // of them crashes or hangs, each is checked again on its own.
  std::vector<std::optional<fuzz::CaseVerdict>> check_cases(
      std::shared_ptr<const PluginModule> module, std::span<const scenario::Scenario> scenarios,
      bool launcher, const OracleOptions& oracle);

  // Fuzz cases generated AND checked whole in a worker from the campaign's parameters (one round
  // trip for the batch, nothing but the parameters sent): each case's verdict and faults, in
  // order. When the batch's worker crashes or hangs, each case is asked again on its own; a case
  // that still gets no answer is nullopt (the caller runs it call by call, which names the flow).
  std::vector<std::optional<fuzz::CaseAnswer>> generate_cases(
      std::shared_ptr<const PluginModule> module, const fuzz::CaseBatch& batch);

  // Worker processes started so far (tests check that a run starts one, not one per flow).
  uint64_t workers_started() const;
  // Cases check_case answered (the rest went call by call).
  uint64_t whole_cases_checked() const;

  struct State;  // pool.cc

 private:
  // Sends request to a worker of the plugin's pool and hands the reply (of type `reply`) to decode,
  // which returns false for a malformed one. False when the worker could not be started, died,
  // hung or answered nonsense (it is then gone).
  bool round_trip(const std::shared_ptr<const PluginModule>& module, wire::Writer& request,
                  wire::Msg reply, const std::function<bool(wire::Reader&)>& decode);
  std::shared_ptr<State> state_;
};

// A fresh plugin resolver: in a worker of pool, or in this process when pool is null.
std::unique_ptr<Resolver> make_plugin_resolver(std::shared_ptr<const PluginModule> module,
                                               WorkerPool* pool);
// A fresh plugin launcher (module must have a launch function), likewise.
std::unique_ptr<Launcher> make_plugin_launcher(std::shared_ptr<const PluginModule> module,
                                               WorkerPool* pool);

}  // namespace flowid::plugin
