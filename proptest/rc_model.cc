// The rapidcheck stateful model (rc_model.h says what it is for).
#include "proptest/rc_model.h"

#include <fmt/format.h>
#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <algorithm>
#include <array>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <sstream>
#include <utility>
#include <vector>

#include "harness/fuzz/programs.h"
#include "harness/fuzz/realism.h"
#include "harness/fuzz/shrink.h"

namespace flowid::proptest {
namespace {

using fuzz::Fault;
using fuzz::FaultSet;
using fuzz::kNoFaults;
using scenario::Step;
using scenario::StepKind;

constexpr std::size_t kProcessesMax = 12;  // bounds: spawns beyond are not generated.
constexpr std::size_t kFlowsMax = 16;
constexpr uint32_t kRaceCallMax = 6;  // races land before seam call 1..6.
constexpr uint32_t kRacesMax = fuzz::kInterferencesPerLookupMax;

// ---- The model.

struct ModelProcess {
  int program = 0;
  bool alive = true;
  bool zombie = false;
  bool reaped = false;
  std::optional<std::size_t> responsible;  // F6: the app this helper acts for (realism R2).
};

struct ModelFlow {
  std::size_t process = 0;
  bool resolved = false;
};

struct Model {
  // Fixed for the case: the swarm plan and the world it implies.
  FaultSet enabled = kNoFaults;
  std::array<uint8_t, fuzz::kFaultCount> weights{};
  bool reuse_pids = false;
  bool lowest_free = false;
  bool sandboxed = false;
  bool no_rule_allow = false;
  uint64_t rules_seed = 0;
  // What the commands so far did.
  std::array<bool, fuzz::kProgramCount> installed{};
  std::array<bool, fuzz::kProgramCount> used{};
  std::vector<ModelProcess> processes;
  std::vector<ModelFlow> flows;
  uint32_t renames = 0;

  bool has(Fault fault) const { return fuzz::contains(enabled, fault); }
  uint32_t weight(Fault fault) const { return weights[static_cast<std::size_t>(fault)]; }
  bool live(std::size_t p) const { return p < processes.size() && processes[p].alive; }
  uint32_t pending_flows(std::size_t p) const {
    uint32_t n = 0;
    for (const auto& flow : flows) n += (flow.process == p && !flow.resolved) ? 1 : 0;
    return n;
  }
};

// The system under test is the schedule being written: the commands' steps, in order.
struct Schedule {
  fuzz::GeneratedCase built;
};

std::string process_name(std::size_t index) { return fmt::format("p{}", index + 1); }
std::string flow_name(std::size_t index) { return fmt::format("f{}", index + 1); }
const fuzz::Program& program_of(int index) {
  return fuzz::kPrograms[static_cast<std::size_t>(index)];
}

void push(Schedule& sut, Step step, FaultSet tag, std::vector<FaultSet> race_tags = {}) {
  step.line = static_cast<int>(sut.built.scenario.steps.size()) + 1;
  race_tags.resize(step.races.size(), kNoFaults);
  sut.built.scenario.steps.push_back(std::move(step));
  sut.built.step_faults.push_back(tag);
  sut.built.race_faults.push_back(std::move(race_tags));
}

Step file_step(int program) {
  return scenario::step::InstallFile{fuzz::file_spec(program_of(program))};
}

scenario::step::FileSpec unsigned_file(std::string path) {
  scenario::step::FileSpec file;
  file.path = std::move(path);
  return file;
}

const char* shape_word(TokenShape shape) {
  return shape == TokenShape::kAbsent      ? "absent"
         : shape == TokenShape::kMalformed ? "malformed"
                                           : "ok";
}

// Daemons run as root (their uid matters to nothing but realism).
bool is_daemon(int program) {
  return program == fuzz::kTrustd || program == fuzz::kNsurlsessiond || program == fuzz::kSimTrustd;
}

// The programs a spawn or exec may start under the plan: the ordinary ones always; the
// /usr/libexec daemons with F1 (pid reuse), F3 (sandbox EPERM), F6 (delegation) or F10 (same name);
// the simulator's trustd copy with F10.
std::vector<int> startable_programs(const Model& m) {
  std::vector<int> programs(fuzz::kOrdinaryPrograms.begin(), fuzz::kOrdinaryPrograms.end());
  // A pid-reuse newcomer may be a platform daemon too (under F1 any class takes a pid).
  if (m.has(Fault::kSandboxEperm) || m.has(Fault::kDelegation) || m.has(Fault::kSameName) ||
      m.has(Fault::kPidReuse)) {
    programs.push_back(fuzz::kTrustd);
    programs.push_back(fuzz::kNsurlsessiond);
  }
  if (m.has(Fault::kSameName)) programs.push_back(fuzz::kSimTrustd);
  return programs;
}

std::vector<std::size_t> live_processes(const Model& m) {
  std::vector<std::size_t> live;
  for (std::size_t p = 0; p < m.processes.size(); ++p) {
    if (m.processes[p].alive) live.push_back(p);
  }
  return live;
}

// The fault an exit with flows still open expresses: an exit race when the plan has it, else the
// first half of a pid reuse (F1), else a zombie's death (F9).
FaultSet exit_fault(const Model& m) {
  if (m.has(Fault::kExitRace)) return fuzz::bit(Fault::kExitRace);
  if (m.has(Fault::kPidReuse)) return fuzz::bit(Fault::kPidReuse);
  return fuzz::bit(Fault::kZombie);
}

// A command's precondition. (Not RC_PRE: its expression capture overloads &&, which would
// evaluate `i < v.size() && v[i]` without short-circuiting.)
void require(bool holds) {
  if (!holds) RC_DISCARD("precondition");
}

// ---- Commands.

using Command = rc::state::Command<Model, Schedule>;
using CommandPtr = std::shared_ptr<const Command>;

// Starts a program (installing its file first when the model says it is not on disk).
struct Spawn final : Command {
  int program = 0;
  std::optional<std::size_t> responsible;  // F6: a helper spawned on behalf of an app.

  void checkPreconditions(const Model& m) const override {
    require(m.processes.size() < kProcessesMax);
    if (responsible) require(m.has(Fault::kDelegation) && m.live(*responsible));
  }
  void apply(Model& m) const override {
    m.installed[static_cast<std::size_t>(program)] = true;
    m.used[static_cast<std::size_t>(program)] = true;
    m.processes.push_back(ModelProcess{program, true, false, false, responsible});
  }
  void run(const Model& m, Schedule& sut) const override {
    if (!m.installed[static_cast<std::size_t>(program)]) push(sut, file_step(program), kNoFaults);
    scenario::step::Spawn spawn;
    spawn.name = process_name(m.processes.size());
    spawn.path = std::string(program_of(program).path);
    if (responsible) spawn.responsible = process_name(*responsible);
    if (is_daemon(program)) spawn.uid = 0;
    FaultSet tag = program == fuzz::kSimTrustd ? fuzz::bit(Fault::kSameName) : kNoFaults;
    if (responsible) tag |= fuzz::bit(Fault::kDelegation);
    push(sut, std::move(spawn), tag);
  }
  void show(std::ostream& os) const override {
    os << "spawn " << program_of(program).path;
    if (responsible) os << " responsible=" << process_name(*responsible);
  }
};

// F4: a live process execs another program (the pid stays, the pidversion moves on).
struct Exec final : Command {
  std::size_t process = 0;
  int program = 0;

  void checkPreconditions(const Model& m) const override {
    require(m.has(Fault::kExecAfterFlow) && m.live(process) && !m.processes[process].zombie);
  }
  void apply(Model& m) const override {
    m.installed[static_cast<std::size_t>(program)] = true;
    m.used[static_cast<std::size_t>(program)] = true;
    m.processes[process].program = program;
  }
  void run(const Model& m, Schedule& sut) const override {
    if (!m.installed[static_cast<std::size_t>(program)]) push(sut, file_step(program), kNoFaults);
    FaultSet tag = m.pending_flows(process) > 0 ? fuzz::bit(Fault::kExecAfterFlow) : kNoFaults;
    push(sut, scenario::step::Exec{process_name(process), std::string(program_of(program).path)},
         tag);
  }
  void show(std::ostream& os) const override {
    os << "exec " << process_name(process) << " " << program_of(program).path;
  }
};

// A process exits: with flows still open only under F1/F2/F9 (the pid may then be reused), as a
// zombie only under F9.
struct Exit final : Command {
  std::size_t process = 0;
  bool zombie = false;

  static bool may_leave_flows(const Model& m) {
    return m.has(Fault::kPidReuse) || m.has(Fault::kExitRace) || m.has(Fault::kZombie);
  }
  void checkPreconditions(const Model& m) const override {
    require(m.live(process));
    if (zombie) require(m.has(Fault::kZombie));
    if (m.pending_flows(process) > 0) require(may_leave_flows(m));
  }
  void apply(Model& m) const override {
    m.processes[process].alive = false;
    m.processes[process].zombie = zombie;
  }
  void run(const Model& m, Schedule& sut) const override {
    FaultSet tag = zombie                         ? fuzz::bit(Fault::kZombie)
                   : m.pending_flows(process) > 0 ? exit_fault(m)
                                                  : kNoFaults;
    scenario::step::Exit exit;
    exit.name = process_name(process);
    exit.zombie = zombie;
    push(sut, std::move(exit), tag);
  }
  void show(std::ostream& os) const override {
    os << "exit " << process_name(process) << (zombie ? " zombie" : "");
  }
};

// F9: a zombie is reaped; its pid is free again.
struct Reap final : Command {
  std::size_t process = 0;

  void checkPreconditions(const Model& m) const override {
    require(process < m.processes.size() && m.processes[process].zombie &&
            !m.processes[process].reaped);
  }
  void apply(Model& m) const override { m.processes[process].reaped = true; }
  void run(const Model&, Schedule& sut) const override {
    push(sut, scenario::step::Reap{process_name(process)}, fuzz::bit(Fault::kZombie));
  }
  void show(std::ostream& os) const override { os << "reap " << process_name(process); }
};

// A flow opened by a live process; under F6 on behalf of another process (app token), under F7
// with an absent or malformed token.
struct OpenFlow final : Command {
  std::size_t process = 0;
  std::optional<std::size_t> app;
  std::optional<TokenShape> app_token;  // absent or malformed (F7); none: well formed.
  std::optional<TokenShape> process_token;
  std::string host;
  bool udp = false;

  void checkPreconditions(const Model& m) const override {
    require(m.flows.size() < kFlowsMax && m.live(process) && !m.processes[process].zombie);
    // Realism R2: only a helper acting for the app opens flows on its behalf.
    if (app)
      require(m.has(Fault::kDelegation) && m.live(*app) && *app != process &&
              m.processes[process].responsible == app);
    if (app_token || process_token) require(m.has(Fault::kMalformedToken));
  }
  void apply(Model& m) const override { m.flows.push_back(ModelFlow{process, false}); }
  void run(const Model& m, Schedule& sut) const override {
    scenario::step::OpenFlow flow;
    flow.flow = flow_name(m.flows.size());
    flow.process = process_name(process);
    FaultSet tag = kNoFaults;
    if (app) {
      flow.app = process_name(*app);
      tag |= fuzz::bit(Fault::kDelegation);
    }
    if (!host.empty()) flow.host = host;
    flow.udp = udp;
    flow.app_token = app_token;
    flow.process_token = process_token;
    if (app_token || process_token) tag |= fuzz::bit(Fault::kMalformedToken);
    push(sut, std::move(flow), tag);
  }
  void show(std::ostream& os) const override {
    os << "flow by " << process_name(process);
    if (app) os << " app=" << process_name(*app);
    if (app_token) os << " app-token=" << shape_word(*app_token);
    if (process_token) os << " process-token=" << shape_word(*process_token);
  }
};

// What can happen inside a resolution, before seam call N.
enum class RaceKind : uint8_t {
  kExitOwner,     // F2 (F9 as a zombie)
  kNewcomer,      // F1: a program starts; with the owner gone it may take the pid
  kExecOwner,     // F4
  kReplaceOwner,  // F5: the owner's executable replaced with unsigned code
  kFailNext,      // F8: the next call of one kind fails (a transient failure inside the lookup)
};

struct RaceAction {
  RaceKind kind = RaceKind::kExitOwner;
  uint32_t before_call = 1;
  int program = 0;                                   // kNewcomer, kExecOwner.
  bool zombie = false;                               // kExitOwner.
  LookupCall call = LookupCall::kGuestByAuditToken;  // kFailNext: the call and its outcome.
  LookupOutcome outcome;
};

bool race_enabled(const Model& m, RaceKind kind) {
  switch (kind) {
    case RaceKind::kExitOwner:
      return m.has(Fault::kExitRace) || m.has(Fault::kZombie) || m.has(Fault::kPidReuse);
    case RaceKind::kNewcomer:
      return m.has(Fault::kPidReuse);
    case RaceKind::kExecOwner:
      return m.has(Fault::kExecAfterFlow);
    case RaceKind::kReplaceOwner:
      return m.has(Fault::kReplacedOnDisk);
    case RaceKind::kFailNext:
      return m.has(Fault::kTransientFailure);
  }
  return false;
}

// The filter resolves an open flow, with races inside the resolution.
struct Resolve final : Command {
  std::size_t flow = 0;
  std::vector<RaceAction> races;

  // Races are applied to a copy of the model in order; each must be valid when it happens.
  bool races_valid(Model m) const {
    const std::size_t owner = m.flows[flow].process;
    for (const auto& race : races) {
      if (!race_enabled(m, race.kind)) return false;
      switch (race.kind) {
        case RaceKind::kExitOwner:
          if (!m.live(owner) || (race.zombie && !m.has(Fault::kZombie))) return false;
          m.processes[owner].alive = false;
          m.processes[owner].zombie = race.zombie;
          break;
        case RaceKind::kNewcomer:
          if (m.processes.size() >= kProcessesMax) return false;
          m.processes.push_back(ModelProcess{race.program, true, false, false, std::nullopt});
          break;
        case RaceKind::kExecOwner:
          if (!m.live(owner) || m.processes[owner].zombie) return false;
          m.processes[owner].program = race.program;
          break;
        case RaceKind::kReplaceOwner:
          if (!m.installed[static_cast<std::size_t>(m.processes[owner].program)]) return false;
          if (fuzz::is_protected_path(program_of(m.processes[owner].program).path))
            return false;  // R1.
          break;
        case RaceKind::kFailNext:
          break;
      }
    }
    return true;
  }
  void checkPreconditions(const Model& m) const override {
    require(flow < m.flows.size() && !m.flows[flow].resolved);
    require(races_valid(m));
  }
  void apply(Model& m) const override {
    m.flows[flow].resolved = true;
    const std::size_t owner = m.flows[flow].process;
    for (const auto& race : races) {
      switch (race.kind) {
        case RaceKind::kExitOwner:
          m.processes[owner].alive = false;
          m.processes[owner].zombie = race.zombie;
          break;
        case RaceKind::kNewcomer:
          m.installed[static_cast<std::size_t>(race.program)] = true;
          m.used[static_cast<std::size_t>(race.program)] = true;
          m.processes.push_back(ModelProcess{race.program, true, false, false, std::nullopt});
          break;
        case RaceKind::kExecOwner:
          m.installed[static_cast<std::size_t>(race.program)] = true;
          m.used[static_cast<std::size_t>(race.program)] = true;
          m.processes[owner].program = race.program;
          break;
        case RaceKind::kReplaceOwner:
          break;  // the file stays installed, with new content.
        case RaceKind::kFailNext:
          break;
      }
    }
  }
  void run(const Model& m, Schedule& sut) const override {
    const std::size_t owner = m.flows[flow].process;
    Step step = scenario::step::Resolve{flow_name(flow)};
    std::vector<FaultSet> race_tags;
    std::size_t next_process = m.processes.size();
    std::array<bool, fuzz::kProgramCount> installed = m.installed;
    // The owner's program as each race finds it (an earlier race may have exec'd it), exactly as
    // races_valid() checked it.
    int owner_program = m.processes[owner].program;
    for (const auto& race : races) {
      Step action;
      FaultSet tag = kNoFaults;
      // A program a race starts must be on disk before the resolution begins.
      auto install = [&](int program) {
        if (installed[static_cast<std::size_t>(program)]) return;
        push(sut, file_step(program), kNoFaults);
        installed[static_cast<std::size_t>(program)] = true;
      };
      switch (race.kind) {
        case RaceKind::kExitOwner:
          action = scenario::step::Exit{process_name(owner), race.zombie, std::nullopt};
          tag = race.zombie ? fuzz::bit(Fault::kZombie) : exit_fault(m);
          break;
        case RaceKind::kNewcomer:
          install(race.program);
          action = scenario::step::Spawn{
              process_name(next_process++), std::string(program_of(race.program).path),
              std::nullopt, std::nullopt,
              is_daemon(race.program) ? std::optional<uint32_t>(0) : std::nullopt};
          tag = fuzz::bit(Fault::kPidReuse);
          break;
        case RaceKind::kExecOwner:
          install(race.program);
          action =
              scenario::step::Exec{process_name(owner), std::string(program_of(race.program).path)};
          tag = fuzz::bit(Fault::kExecAfterFlow);
          owner_program = race.program;
          break;
        case RaceKind::kReplaceOwner:
          action = scenario::step::ReplaceFile{
              unsigned_file(std::string(program_of(owner_program).path))};
          tag = fuzz::bit(Fault::kReplacedOnDisk);
          break;
        case RaceKind::kFailNext:
          action = scenario::step::FailNext{race.call, 1, race.outcome};
          tag = fuzz::bit(Fault::kTransientFailure);
          break;
      }
      step.races.emplace_back(race.before_call, std::move(action));
      race_tags.push_back(tag);
    }
    push(sut, std::move(step), kNoFaults, std::move(race_tags));
  }
  void show(std::ostream& os) const override {
    os << "resolve " << flow_name(flow);
    for (const auto& race : races) os << " [race before call " << race.before_call << "]";
  }
};

// F5: a program's file is replaced (unsigned, or another team's), removed or renamed.
struct ChangeFile final : Command {
  int program = 0;
  int change = 0;  // 0 replace unsigned, 1 replace other team, 2 remove, 3 rename.

  void checkPreconditions(const Model& m) const override {
    require(m.has(Fault::kReplacedOnDisk) && m.installed[static_cast<std::size_t>(program)]);
    require(!fuzz::is_protected_path(program_of(program).path));  // realism R1.
  }
  void apply(Model& m) const override {
    if (change >= 2) m.installed[static_cast<std::size_t>(program)] = false;
    if (change == 3) ++m.renames;
  }
  void run(const Model& m, Schedule& sut) const override {
    const std::string path(program_of(program).path);
    Step step;
    switch (change) {
      case 0:
        step = scenario::step::ReplaceFile{unsigned_file(path)};
        break;
      case 1: {
        scenario::step::FileSpec other_team = unsigned_file(path);
        other_team.signature = SignatureKind::kDeveloperId;
        other_team.signing_id = "com.example.other";
        other_team.team_id = "OTHERTEAM1";
        step = scenario::step::ReplaceFile{other_team};
        break;
      }
      case 2:
        step = scenario::step::RemoveFile{path};
        break;
      default:
        step = scenario::step::RenameFile{path, fmt::format("{}.old{}", path, m.renames + 1)};
        break;
    }
    push(sut, std::move(step), fuzz::bit(Fault::kReplacedOnDisk));
  }
  void show(std::ostream& os) const override {
    os << "change-file " << program_of(program).path << " #" << change;
  }
};

// Time passes (the filter's lookups arrive late).
struct Advance final : Command {
  uint64_t duration_ns = 0;
  void run(const Model&, Schedule& sut) const override {
    push(sut, scenario::step::Advance{duration_ns}, kNoFaults);
  }
  void show(std::ostream& os) const override {
    os << "advance " << scenario::format_duration_ns(duration_ns);
  }
};

// F8: the next lookups of one call fail transiently, or a call becomes slow.
struct TransientFailure final : Command {
  LookupCall call = LookupCall::kGuestByAuditToken;
  uint32_t count = 1;
  LookupOutcome outcome;
  bool slow = false;

  void checkPreconditions(const Model& m) const override {
    require(m.has(Fault::kTransientFailure));
  }
  void run(const Model&, Schedule& sut) const override {
    if (slow) {
      push(sut, scenario::step::Delay{call, kSlowCallNs}, fuzz::bit(Fault::kTransientFailure));
    } else {
      push(sut, scenario::step::FailNext{call, count, outcome},
           fuzz::bit(Fault::kTransientFailure));
    }
  }
  void show(std::ostream& os) const override {
    os << (slow ? "delay " : "fail-next ") << name_of(call) << " "
       << (slow ? scenario::format_duration_ns(kSlowCallNs) : scenario::format_outcome(outcome));
  }
  static constexpr uint64_t kSlowCallNs = 5'000'000;  // 5 ms.
};

// ---- Generators.

// Uniform choices over the whole range whatever rapidcheck's current size (its inRange scales
// the range with the size, which would make the early cases pick only the first options);
// shrinking still moves each choice towards its lower bound, the simplest option.
constexpr int kFullSize = 100;  // rapidcheck's nominal size: no scaling.

template <typename T>
T uniform(T low, T high) {
  return *rc::gen::resize(kFullSize, rc::gen::inRange<T>(low, high));
}
bool one_in(int n) { return uniform<int>(0, n) == 0; }

template <typename T>
T element_of(const std::vector<T>& values) {  // an empty list fails generation (no command).
  return values[uniform<std::size_t>(0, values.size())];
}

rc::Gen<CommandPtr> gen_spawn(const Model& m) {
  auto programs = startable_programs(m);
  auto live = live_processes(m);
  const bool delegate = m.has(Fault::kDelegation) && !live.empty();
  return rc::gen::exec([programs, live, delegate]() -> CommandPtr {
    auto spawn = std::make_shared<Spawn>();
    spawn->program = element_of(programs);
    if (delegate && one_in(3)) {
      spawn->program = fuzz::kNsurlsessiond;
      spawn->responsible = element_of(live);
    }
    return spawn;
  });
}

rc::Gen<CommandPtr> gen_exec(const Model& m) {
  auto programs = startable_programs(m);
  std::vector<std::size_t> candidates;
  for (std::size_t p : live_processes(m)) {
    if (!m.processes[p].zombie) candidates.push_back(p);
  }
  return rc::gen::exec([programs, candidates]() -> CommandPtr {
    auto exec = std::make_shared<Exec>();
    exec->process = element_of(candidates);
    exec->program = element_of(programs);
    return exec;
  });
}

rc::Gen<CommandPtr> gen_exit(const Model& m) {
  std::vector<std::size_t> candidates;
  for (std::size_t p : live_processes(m)) {
    if (m.pending_flows(p) == 0 || Exit::may_leave_flows(m)) candidates.push_back(p);
  }
  const bool zombies = m.has(Fault::kZombie);
  return rc::gen::exec([candidates, zombies]() -> CommandPtr {
    auto exit = std::make_shared<Exit>();
    exit->process = element_of(candidates);
    exit->zombie = zombies && one_in(2);
    return exit;
  });
}

rc::Gen<CommandPtr> gen_reap(const Model& m) {
  std::vector<std::size_t> zombies;
  for (std::size_t p = 0; p < m.processes.size(); ++p) {
    if (m.processes[p].zombie && !m.processes[p].reaped) zombies.push_back(p);
  }
  return rc::gen::exec([zombies]() -> CommandPtr {
    auto reap = std::make_shared<Reap>();
    reap->process = element_of(zombies);
    return reap;
  });
}

rc::Gen<CommandPtr> gen_flow(const Model& m) {
  std::vector<std::size_t> openers;
  for (std::size_t p : live_processes(m)) {
    if (!m.processes[p].zombie) openers.push_back(p);
  }
  auto live = live_processes(m);
  const bool delegate = m.has(Fault::kDelegation);
  const bool malformed = m.has(Fault::kMalformedToken);
  return rc::gen::exec([openers, live, delegate, malformed]() -> CommandPtr {
    auto flow = std::make_shared<OpenFlow>();
    flow->process = element_of(openers);
    if (delegate && live.size() > 1 && one_in(2)) {
      std::size_t app = element_of(live);
      if (app != flow->process) flow->app = app;
    }
    if (malformed && one_in(2)) {
      static const std::vector<std::optional<TokenShape>> kAppShapes = {
          std::nullopt, TokenShape::kAbsent, TokenShape::kMalformed};
      static const std::vector<std::optional<TokenShape>> kProcessShapes = {TokenShape::kAbsent,
                                                                            TokenShape::kMalformed};
      flow->app_token = element_of(kAppShapes);
      flow->process_token = element_of(kProcessShapes);
    }
    if (one_in(2)) {
      flow->host = std::string(fuzz::kHosts[uniform<std::size_t>(0, fuzz::kHosts.size())]);
    }
    flow->udp = one_in(8);
    return flow;
  });
}

rc::Gen<CommandPtr> gen_resolve(const Model& m) {
  std::vector<std::size_t> open;
  for (std::size_t f = 0; f < m.flows.size(); ++f) {
    if (!m.flows[f].resolved) open.push_back(f);
  }
  std::vector<RaceKind> kinds;
  for (RaceKind kind : {RaceKind::kExitOwner, RaceKind::kNewcomer, RaceKind::kExecOwner,
                        RaceKind::kReplaceOwner, RaceKind::kFailNext}) {
    if (race_enabled(m, kind)) kinds.push_back(kind);
  }
  auto programs = startable_programs(m);
  const bool zombies = m.has(Fault::kZombie);
  return rc::gen::exec([open, kinds, programs, zombies]() -> CommandPtr {
    auto resolve = std::make_shared<Resolve>();
    resolve->flow = element_of(open);
    if (!kinds.empty() && one_in(2)) {
      // Each race lands before its own seam call; in call order, as the runner applies them.
      const auto count = uniform<uint32_t>(1, kRacesMax + 1);
      for (uint32_t i = 0; i < count; ++i) {
        RaceAction race;
        race.kind = element_of(kinds);
        race.before_call = uniform<uint32_t>(1, kRaceCallMax + 1);
        race.program = element_of(programs);
        race.zombie = zombies && one_in(3);
        race.call = fuzz::kResolverCalls[uniform<std::size_t>(0, fuzz::kResolverCalls.size())];
        race.outcome =
            fuzz::kTransientOutcomes[uniform<std::size_t>(0, fuzz::kTransientOutcomes.size())];
        resolve->races.push_back(race);
      }
      std::stable_sort(
          resolve->races.begin(), resolve->races.end(),
          [](const RaceAction& a, const RaceAction& b) { return a.before_call < b.before_call; });
    }
    return resolve;
  });
}

rc::Gen<CommandPtr> gen_change_file(const Model& m) {
  std::vector<int> installed;
  for (int p = 0; p < fuzz::kProgramCount; ++p) {
    if (m.installed[static_cast<std::size_t>(p)]) installed.push_back(p);
  }
  return rc::gen::exec([installed]() -> CommandPtr {
    auto change = std::make_shared<ChangeFile>();
    change->program = element_of(installed);
    change->change = uniform<int>(0, 4);
    return change;
  });
}

rc::Gen<CommandPtr> gen_advance() {
  return rc::gen::exec([]() -> CommandPtr {
    static const std::vector<uint64_t> kDurations = {100'000, 2'000'000, 50'000'000, 2'000'000'000};
    auto advance = std::make_shared<Advance>();
    advance->duration_ns = element_of(kDurations);
    return advance;
  });
}

rc::Gen<CommandPtr> gen_transient() {
  return rc::gen::exec([]() -> CommandPtr {
    auto failure = std::make_shared<TransientFailure>();
    failure->call = fuzz::kResolverCalls[uniform<std::size_t>(0, fuzz::kResolverCalls.size())];
    failure->count = uniform<uint32_t>(1, 3);
    failure->outcome =
        fuzz::kTransientOutcomes[uniform<std::size_t>(0, fuzz::kTransientOutcomes.size())];
    failure->slow = one_in(3);
    return failure;
  });
}

// The next command, weighted by the swarm plan: scaffolding (spawn, flow, resolve, time) always,
// fault commands with their fault's weight, and only commands that are valid in this state.
rc::Gen<CommandPtr> gen_command(const Model& m) {
  std::vector<std::pair<std::size_t, rc::Gen<CommandPtr>>> choices;
  auto add = [&](uint32_t weight, rc::Gen<CommandPtr> gen) {
    if (weight > 0) choices.emplace_back(weight, std::move(gen));
  };
  bool any_live = false, any_opener = false, any_open = false, any_zombie = false, any_file = false,
       any_exitable = false;
  for (std::size_t p = 0; p < m.processes.size(); ++p) {
    const auto& process = m.processes[p];
    any_live = any_live || process.alive;
    any_opener = any_opener || (process.alive && !process.zombie);
    any_zombie = any_zombie || (process.zombie && !process.reaped);
    any_exitable =
        any_exitable || (process.alive && (m.pending_flows(p) == 0 || Exit::may_leave_flows(m)));
  }
  for (const auto& flow : m.flows) any_open = any_open || !flow.resolved;
  for (bool installed : m.installed) any_file = any_file || installed;

  if (m.processes.size() < kProcessesMax) add(6, gen_spawn(m));
  if (any_opener && m.flows.size() < kFlowsMax) add(8, gen_flow(m));
  if (any_open) add(8, gen_resolve(m));
  add(2, gen_advance());
  uint32_t exit_weight =
      2 + m.weight(Fault::kPidReuse) + m.weight(Fault::kExitRace) + m.weight(Fault::kZombie);
  if (any_exitable) add(exit_weight, gen_exit(m));
  if (any_zombie) add(m.weight(Fault::kZombie), gen_reap(m));
  if (any_opener && m.has(Fault::kExecAfterFlow)) add(m.weight(Fault::kExecAfterFlow), gen_exec(m));
  if (any_file && m.has(Fault::kReplacedOnDisk))
    add(m.weight(Fault::kReplacedOnDisk), gen_change_file(m));
  if (m.has(Fault::kTransientFailure)) add(m.weight(Fault::kTransientFailure), gen_transient());
  std::size_t total = 0;
  for (const auto& choice : choices) total += choice.first;
  return rc::gen::mapcat(rc::gen::resize(kFullSize, rc::gen::inRange<std::size_t>(0, total)),
                         [choices](std::size_t pick) {
                           for (const auto& [weight, gen] : choices) {
                             if (pick < weight) return gen;
                             pick -= weight;
                           }
                           return choices.back().second;
                         });
}

// The case's plan: a swarm subset of the allowed faults with weights, the world it implies, and
// the seed its rules are drawn from (over the programs the schedule ends up using).
rc::Gen<Model> gen_initial(FaultSet allowed, bool swarm) {
  return rc::gen::exec([allowed, swarm]() {
    Model m;
    std::vector<int> candidates;
    for (int i = 0; i < fuzz::kFaultCount; ++i) {
      if (fuzz::contains(allowed, fuzz::fault_at(i))) candidates.push_back(i);
    }
    for (int i : candidates) {
      if (!swarm || one_in(2)) m.enabled |= fuzz::bit(fuzz::fault_at(i));
    }
    if (m.enabled == kNoFaults && !candidates.empty()) {
      m.enabled = fuzz::bit(fuzz::fault_at(element_of(candidates)));
    }
    for (int i : candidates) {
      if (!fuzz::contains(m.enabled, fuzz::fault_at(i))) continue;
      m.weights[static_cast<std::size_t>(i)] =
          static_cast<uint8_t>(swarm ? uniform<int>(1, fuzz::kSwarmWeightMax + 1) : 1);
    }
    if (m.has(Fault::kPidReuse)) {
      m.reuse_pids = true;
      m.lowest_free = one_in(4);
    }
    m.sandboxed = m.has(Fault::kSandboxEperm);
    m.no_rule_allow = one_in(2);
    m.rules_seed = *rc::gen::resize(kFullSize, rc::gen::arbitrary<uint64_t>());
    return m;
  });
}

// The scenario header for a case: its world and name.
void start_schedule(const Model& m, const std::string& name, Schedule& sut) {
  auto& s = sut.built.scenario;
  s.name = name;
  s.file = name;
  s.world.caller.root = true;
  s.world.caller.sandboxed = m.sandboxed;
  if (m.reuse_pids)
    s.world.pid_policy = m.lowest_free ? PidPolicy::kLowestFree : PidPolicy::kReuseLastFreed;
  sut.built.enabled = m.enabled;
  sut.built.weights = m.weights;
  if (m.reuse_pids) sut.built.world_faults |= fuzz::bit(Fault::kPidReuse);
  if (m.sandboxed) sut.built.world_faults |= fuzz::bit(Fault::kSandboxEperm);
}

// Rules over the programs the whole schedule used (the final model state).
void finish_schedule(const Model& final_state, Schedule& sut) {
  fuzz::RuleDraft draft;
  draft.used = final_state.used;
  draft.no_rule_allow = final_state.no_rule_allow;
  fuzz::Choices choices(final_state.rules_seed);
  sut.built.scenario.rules = fuzz::draw_rules(draft, choices);
  fuzz::refresh_faults(sut.built);
}

// Counts rapidcheck's shrink steps. Used instead of rapidcheck's default listener, which would
// also print a reproduce string for the whole process at exit.
class ShrinkCounter final : public rc::detail::TestListener {
 public:
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool accepted) override {
    ++tried;
    if (accepted) ++accepted_steps;
  }
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
  uint32_t tried = 0;
  uint32_t accepted_steps = 0;
};

std::string case_label(const RcOptions& options) {
  return fmt::format("rc-{}-s{}", options.strategy.name, options.seed);
}

}  // namespace

std::string rc_reproduce_command(const RcOptions& options) {
  return fmt::format(
      "flowid fuzz --engine rapidcheck --strategy {} --faults {} --seed {} --budget {}cases{}",
      options.strategy.name, fuzz::format_fault_set(options.faults), options.seed, options.cases,
      options.swarm ? "" : " --no-swarm");
}

RcResult check_with_rapidcheck(const RcOptions& options) {
  RcResult result;
  if (options.strategy.launcher) {
    result.error = fmt::format(
        "the rapidcheck engine models resolver schedules; '{}' is a launcher "
        "(use the default engine)",
        options.strategy.name);
    return result;
  }
  const FaultSet allowed = options.faults & fuzz::kResolverFaults;
  if (allowed == kNoFaults) {
    result.error = "no resolver fault (F1-F10) in the fault list";
    return result;
  }
  const std::string name = case_label(options);
  std::optional<fuzz::GeneratedCase> last_failure;
  std::size_t first_failure_size = 0;
  std::string model_error;
  int passed = 0;

  auto property = [&] {
    const Model initial = *gen_initial(allowed, options.swarm);
    const auto commands = *rc::state::gen::commands(initial, &gen_command);
    Schedule sut;
    start_schedule(initial, name, sut);
    rc::state::runAll(commands, initial, sut);
    Model final_state = initial;
    rc::state::applyAll(commands, final_state);
    finish_schedule(final_state, sut);
    if (auto broken = fuzz::check_realism(sut.built.scenario)) {
      model_error = "unrealistic schedule: " + *broken;
      RC_FAIL("the model generated a schedule no real machine can produce: " + *broken);
    }
    fuzz::CaseVerdict verdict =
        fuzz::check_scenario(sut.built.scenario, options.strategy, options.oracle);
    if (!verdict.ran()) {
      // The model let through a schedule the world refuses: a bug of this file, reported.
      model_error = verdict.error;
      RC_FAIL("the model generated a schedule the runner refused: " + verdict.error);
    }
    if (verdict.failed()) {
      if (!last_failure) first_failure_size = fuzz::schedule_size(sut.built.scenario);
      last_failure = sut.built;
      RC_FAIL(verdict.first_violation);
    }
    ++passed;
  };

  rc::detail::TestParams params;
  params.seed = options.seed;
  params.maxSuccess = options.cases;
  params.maxSize = options.max_size;
  rc::detail::TestMetadata metadata;
  metadata.id = name;
  metadata.description = fmt::format("flowid rapidcheck model, {}", options.strategy.name);
  ShrinkCounter listener;
  // rapidcheck announces its global configuration on stderr the first time it loads it; the
  // seed that matters here is options.seed, which the caller reports.
  std::ostringstream announcement;
  std::streambuf* const stderr_buffer = std::cerr.rdbuf(announcement.rdbuf());
  const rc::detail::TestResult outcome =
      rc::detail::checkProperty(rc::detail::toProperty(property), metadata, params, listener);
  std::cerr.rdbuf(stderr_buffer);
  result.shrinks_tried = listener.tried;
  result.shrinks_accepted = listener.accepted_steps;
  std::ostringstream message;
  rc::detail::printResultMessage(outcome, message);
  result.rapidcheck_message = message.str();

  rc::detail::FailureResult failure;
  if (outcome.match(failure)) {
    result.cases_passed = failure.numSuccess;
    if (!model_error.empty() || !last_failure) {
      result.error = model_error.empty()
                         ? "rapidcheck failed outside the property: " + failure.description
                         : "model bug: " + model_error;
      return result;
    }
    result.failed = true;
    result.generated_size = first_failure_size;
    // rapidcheck removed commands and simplified their arguments; flowid's shrinker also removes
    // rules and races and resets the world where the failure does not need it, then credits the
    // faults the failure still needs.
    fuzz::ShrinkOptions shrink;
    shrink.oracle = options.oracle;
    result.counterexample = fuzz::shrink_and_credit(*last_failure, options.strategy, shrink);
    result.counterexample.case_index = static_cast<uint64_t>(failure.numSuccess);
    result.counterexample.case_seed = options.seed;
    result.counterexample.reproduce = rc_reproduce_command(options);
    const auto& shrunk = result.counterexample.shrink;
    result.counterexample.shrink.shrunk.scenario.description = fmt::format(
        "Found by flowid fuzz --engine rapidcheck: strategy {} violates {} ({}). Faults: {}. Seed "
        "{}, "
        "after {} passing cases; rapidcheck shrank {} to {} steps ({} of {} shrinks kept), "
        "flowid's "
        "shrinker to {}. Reproduce: {}",
        options.strategy.name, fuzz::format_invariants(shrunk.verdict.violated),
        name_of(shrunk.verdict.cell), fuzz::format_fault_set(result.counterexample.credited),
        options.seed, failure.numSuccess, result.generated_size, shrunk.original_size,
        listener.accepted_steps, listener.tried, shrunk.shrunk_size,
        result.counterexample.reproduce);
    return result;
  }
  rc::detail::GaveUpResult gave_up;
  if (outcome.match(gave_up)) {
    result.cases_passed = gave_up.numSuccess;
    result.error = "rapidcheck gave up: " + gave_up.description;
    return result;
  }
  rc::detail::Error error;
  if (outcome.match(error)) {
    result.error = "rapidcheck error: " + error.description;
    return result;
  }
  rc::detail::SuccessResult success;
  result.cases_passed = outcome.match(success) ? success.numSuccess : passed;
  return result;
}

}  // namespace flowid::proptest
