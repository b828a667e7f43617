// opensnitch-model: how OpenSnitch's /proc method resolves a connection, as its public code and
// issues describe it. It exists so that flowid can reproduce OpenSnitch's field bugs as fixtures.
//
// The behaviour modelled:
// - The connection yields a pid (on Linux, from the socket's inode; here audit_token_to_pid of
//   the flow's process token). Everything after that is keyed by the bare pid.
// - A pid-keyed cache of processes. OpenSnitch watches process events; this model learns of
//   exits through Resolver::observe and keeps an exited pid's entry valid for a grace period
//   (exit_grace_period_ns of virtual time) so that late packets of a short-lived process still
//   find it. A pid reused within the grace period is answered with the old entry: OpenSnitch
//   #1447, a cron-started curl attributed to random programs. An exec (observed) drops the entry,
//   because the pid now runs another image.
// - On a miss: kill(pid, 0) for liveness, then proc_pidpath(pid) (readlink /proc/PID/exe). A
//   sender that is gone before the lookup -> unknown (OpenSnitch #617). Otherwise the path is the
//   identity, cached.
// OpenSnitch has no notion of a verified signature; it presents the /proc answer as the process,
// so the model claims "verified" with a path-only identity (the oracle flags it after pid reuse,
// F1, and exec, F4, as it does for pid-path).
//
// Time is the now_ns argument and the events' time_ns: the model reads no clock. The cache is
// bounded by cache_entries_max; when full, expired entries are dropped first, then the least
// recently inserted one.
#include <map>
#include <optional>
#include <variant>

#include "harness/strategies/lookup_steps.h"
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class OpensnitchModel final : public Resolver {
 public:
  explicit OpensnitchModel(OpensnitchModelOptions options) : options_(options) {}

  std::string_view name() const override { return "opensnitch-model"; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    const SourceToken source = source_token(flow);
    if (source.token == nullptr) return no_token(source);
    const AuditToken& token = *source.token;
    const ExecutionId execution = token.execution();
    const int32_t pid = seam.audit_token_to_pid(token);

    if (auto hit = cache_.find(pid); hit != cache_.end()) {
      if (!expired(hit->second, now_ns)) return verified(hit->second.identity, execution, "cache");
      cache_.erase(hit);
    }

    const LookupOutcome alive = seam.kill_zero(pid);
    if (!alive.ok()) return failed(AttributionStatus::kUnknown, execution, "proc-gone");
    SeamResult<std::string> path = seam.proc_pidpath(pid);
    if (!path.ok()) return failed(AttributionStatus::kUnknown, execution, "proc");

    CodeIdentity identity;
    identity.path = std::move(path.value);
    remember(pid, identity, now_ns);
    return verified(std::move(identity), execution, "proc");
  }

  void observe(const Event& event) override {
    if (const auto* exit = std::get_if<ProcessExit>(&event.body)) {
      auto it = cache_.find(exit->token.pid());
      // Only the first exit report starts the grace period (a zombie's reap comes later).
      if (it != cache_.end() && !it->second.exited_at_ns) it->second.exited_at_ns = event.time_ns;
    } else if (const auto* exec = std::get_if<ProcessExec>(&event.body)) {
      cache_.erase(exec->token.pid());
    }
  }

 private:
  struct Entry {
    CodeIdentity identity;
    std::optional<uint64_t> exited_at_ns;  // when the pid was seen exiting.
    uint64_t inserted = 0;                 // insertion sequence number, for eviction.
  };

  bool expired(const Entry& entry, uint64_t now_ns) const {
    if (!entry.exited_at_ns) return false;
    if (now_ns <= *entry.exited_at_ns) return false;
    return now_ns - *entry.exited_at_ns >= options_.exit_grace_period_ns;
  }

  void remember(int32_t pid, const CodeIdentity& identity, uint64_t now_ns) {
    if (options_.cache_entries_max == 0) return;
    if (cache_.size() >= options_.cache_entries_max && !cache_.contains(pid)) {
      std::erase_if(cache_, [&](const auto& item) { return expired(item.second, now_ns); });
    }
    if (cache_.size() >= options_.cache_entries_max && !cache_.contains(pid)) {
      auto oldest = cache_.begin();
      for (auto it = cache_.begin(); it != cache_.end(); ++it) {
        if (it->second.inserted < oldest->second.inserted) oldest = it;
      }
      cache_.erase(oldest);
    }
    cache_[pid] = Entry{identity, std::nullopt, next_insertion_++};
  }

  OpensnitchModelOptions options_;
  std::map<int32_t, Entry> cache_;  // keyed by bare pid: that is the modelled flaw.
  uint64_t next_insertion_ = 0;
};

}  // namespace

std::unique_ptr<Resolver> make_opensnitch_model(OpensnitchModelOptions options) {
  return std::make_unique<OpensnitchModel>(options);
}

}  // namespace flowid::strategies
