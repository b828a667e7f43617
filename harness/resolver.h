// What a resolver strategy and a launcher strategy are, as interfaces. The reference strategies
// (harness/strategies/) implement these; users' plugins are adapted to them (include/flowid/).
//
// A resolver turns a flow into an Attribution using only the seam. It may keep state across
// flows (caches), and may be told of lifecycle events it would see in production (an
// OpenSnitch-like resolver watches process exits); it never sees ground truth.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "harness/model.h"
#include "harness/seam.h"

namespace flowid {

// The resolver's claim about a flow. identity is set for verified and unverified claims (and may
// be set for gone, e.g. a cached identity); claimed_execution is the execution the resolver
// believes the identity belongs to, when it knows one. method says how it got there
// ("token", "pid-fallback", "cache", ...) for people reading findings.
struct Attribution {
  AttributionStatus status = AttributionStatus::kUnknown;
  std::optional<CodeIdentity> identity;
  std::optional<ExecutionId> claimed_execution;
  std::string method;
  friend bool operator==(const Attribution&, const Attribution&) = default;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  virtual std::string_view name() const = 0;
  // Resolves one flow. now_ns is the virtual time at which the filter sees the flow.
  virtual Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) = 0;
  // A lifecycle event (spawn, exec, exit) that a production resolver would be told about.
  // Default: ignored.
  virtual void observe(const Event& event) { (void)event; }
  // The resolver's own decision for a flow it has just resolved (a plugin's `decide` entry,
  // include/flowid/plugin.h), or nullopt to leave the verdict to the filter's rules. Default:
  // nullopt. A decision replaces the filter's (apply_resolver_decision, harness/filter.h) and is
  // checked by the oracle like any verdict.
  virtual std::optional<Decision> decide(const Flow& flow, const Attribution& attribution) {
    (void)flow;
    (void)attribution;
    return std::nullopt;
  }
};

// The result of trying to launch a program under a code requirement.
struct LaunchResult {
  bool launched = false;                // some code was started (and not killed before running).
  std::optional<AuditToken> execution;  // the execution that was started, if any.
  LookupOutcome refusal;                // why the launch was refused, when it was.
  std::string method;
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  virtual std::string_view name() const = 0;
  // Runs path only if it satisfies requirement.
  virtual LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                              LaunchSeam& launch_seam) = 0;
};

}  // namespace flowid
