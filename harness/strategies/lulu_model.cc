// lulu-model: how LuLu resolves a flow, as its public code and issues describe it. It exists so
// that flowid can reproduce LuLu's field bugs as fixtures; do not copy its logic.
//
// The behaviour modelled:
// - LuLu asks about the flow's sourceAppAuditToken (the app, not the socket's creator: under
//   delegation, F6, it names the app) and turns it into a pid: audit_token_to_pid.
// - It keeps a pid-keyed process cache. On a hit it checks liveness by pid only, kill(pid, 0),
//   and if something holds the pid it answers from the cache: after pid reuse (F1) that is the
//   previous program's identity.
// - On a miss it reads the path by pid, proc_pidpath(pid) (pid reuse: whatever holds the pid now,
//   LuLu #69, an alert naming the process whose pid belonged to Spotlight), then reads code
//   signing information through the token: guest_by_audit_token -> static_code ->
//   signing_information. The identity it reports keeps the pid-derived path.
// - When signing information cannot be obtained it does not fail: it reports the path as an
//   unsigned program. If kill(pid, 0) says the pid is gone, that is LuLu #760 / #711 (a quickly
//   exiting ssh shown as unsigned, method "exited-unsigned"); if the pid is alive but the lookup
//   failed (EPERM, errSecCSStaticCodeChanged, ...), that is LuLu #484's fail-open (method
//   "fail-open").
// - When even the path cannot be read: a dead pid -> gone; a live pid -> fail-open with an empty
//   identity.
//
// How fail-open is modelled: LuLu has no notion of "unverified"; whatever it managed to learn, it
// treats as the process's identity. So every answer that LuLu would act on is reported with
// status "verified" and the best identity it had (a path marked kUnsigned, or nothing), never
// with a separate flag: the contract is unchanged, and the oracle judges the claim like any other
// (I1 flags a verified identity that is not the flow's image; I4 flags the verdicts that follow).
// Only a missing or malformed app token gives "unknown": there is no pid to ask about.
//
// The cache holds only fully resolved identities, is bounded by cache_entries_max, and evicts the
// least recently inserted entry when full. It is ordered by pid, so its behaviour is
// deterministic.
#include <map>

#include "harness/strategies/lookup_steps.h"
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class LuluModel final : public Resolver {
 public:
  explicit LuluModel(LuluModelOptions options) : options_(options) {}

  std::string_view name() const override { return "lulu-model"; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    (void)now_ns;
    const SourceToken source = app_token(flow);
    if (source.token == nullptr) return no_token(source);
    const AuditToken& token = *source.token;
    const ExecutionId execution = token.execution();
    const int32_t pid = seam.audit_token_to_pid(token);

    if (auto hit = cache_.find(pid); hit != cache_.end()) {
      if (seam.kill_zero(pid).ok()) return verified(hit->second.identity, execution, "cache");
      by_insertion_.erase(hit->second.inserted);
      cache_.erase(hit);
    }

    SeamResult<std::string> path = seam.proc_pidpath(pid);
    if (!path.ok()) {
      if (!seam.kill_zero(pid).ok()) return failed(AttributionStatus::kGone, execution, "exited");
      return verified(CodeIdentity{}, execution, "fail-open");
    }

    CodeIdentity identity;
    const LookupOutcome signing = signing_by_token(seam, token, identity);
    if (!signing.ok()) {
      const bool alive = seam.kill_zero(pid).ok();
      CodeIdentity unsigned_program;
      unsigned_program.path = std::move(path.value);
      unsigned_program.signature = SignatureKind::kUnsigned;
      return verified(std::move(unsigned_program), execution,
                      alive ? "fail-open" : "exited-unsigned");
    }
    identity.path = std::move(path.value);
    remember(pid, identity);
    return verified(std::move(identity), execution, "signing-info");
  }

 private:
  struct Entry {
    CodeIdentity identity;
    uint64_t inserted = 0;  // insertion sequence number, for eviction.
  };

  // guest_by_audit_token -> static_code -> signing_information (no code_path: LuLu keeps the path
  // it read by pid).
  static LookupOutcome signing_by_token(Seam& seam, const AuditToken& token,
                                        CodeIdentity& identity) {
    const SeamResult<CodeRef> code = seam.guest_by_audit_token(token);
    if (!code.ok()) return code.outcome;
    const SeamResult<CodeRef> static_code = seam.static_code(code.value);
    if (!static_code.ok()) return static_code.outcome;
    SeamResult<CodeIdentity> info = seam.signing_information(static_code.value);
    if (!info.ok()) return info.outcome;
    identity = std::move(info.value);
    return {};
  }

  void remember(int32_t pid, const CodeIdentity& identity) {
    if (options_.cache_entries_max == 0) return;
    if (cache_.size() >= options_.cache_entries_max && !cache_.contains(pid)) {
      // The least recently inserted entry is the first in insertion order (no scan: a full
      // cache is the common case under a busy population).
      auto oldest = by_insertion_.begin();
      cache_.erase(oldest->second);
      by_insertion_.erase(oldest);
    }
    auto [entry, inserted] = cache_.try_emplace(pid);
    if (!inserted) by_insertion_.erase(entry->second.inserted);
    entry->second = Entry{identity, next_insertion_};
    by_insertion_.emplace(next_insertion_++, pid);
  }

  LuluModelOptions options_;
  std::map<int32_t, Entry> cache_;  // keyed by bare pid: that is the modelled flaw.
  // Entry::inserted -> pid for every cached entry, so eviction finds the oldest at begin().
  std::map<uint64_t, int32_t> by_insertion_;
  uint64_t next_insertion_ = 0;
};

}  // namespace

std::unique_ptr<Resolver> make_lulu_model(LuluModelOptions options) {
  return std::make_unique<LuluModel>(options);
}

}  // namespace flowid::strategies
