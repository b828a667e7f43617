// The pure half of plugin support: a user's resolver, reached through the C table of
// include/flowid/plugin.h, adapted to the C++ Resolver interface so that replay, matrix and fuzz
// drive it exactly like a built-in strategy.
//
// Nothing here loads a library or makes a syscall: plugin/loader.h opens the shared object, checks
// its ABI version and hands over a PluginModule. The module keeps the
// library loaded for as long as any resolver made from it exists (keep_alive).
//
// Each PluginResolver owns one plugin instance (create_instance / destroy_instance), so a fresh
// resolver means fresh plugin state, which is what the fuzzer's case independence needs. During
// resolve the C seam table forwards every call to the C++ Seam; strings the seam returns live in
// the bridge until the next seam call, as the header promises.
//
// A plugin whose table has `decide` decides its own verdicts: PluginResolver::decide asks it after
// each resolve (0 = leave it to the rules). A plugin whose table has `launch` is also a launcher:
// PluginLauncher drives it through the Seam and the LaunchSeam (DESIGN §1, "Launcher").
#pragma once

#include <flowid/plugin.h>

#include <memory>
#include <optional>
#include <string>

#include "harness/resolver.h"

namespace flowid::plugin {

struct PluginModule {
  std::string file;                      // the path the library was loaded from (for messages).
  const flowid_plugin* table = nullptr;  // checked: abi_version matches, resolve is set.
  std::shared_ptr<void> keep_alive;      // releases the library when the last user goes.
};

// Whether a table is usable by this host; on failure *error says why (without the file name).
bool validate_table(const flowid_plugin* table, uint32_t host_abi_version, std::string* error);

struct SeamBridge;  // plugin_resolver.cc

// The C seam tables for one call into a plugin (resolve, or launch with the launch seam), each
// function forwarding to the C++ seams. Strings they return live until the next call through the
// same tables. No C++ exception crosses the C frames: the first one a C++ seam throws (the
// oracle's seam call budget, a bug) makes that call and every later one answer
// {FLOWID_DOMAIN_KERN_RETURN, FLOWID_KERN_ABORTED}; rethrow_if_aborted() raises it once the
// plugin has returned. Used in process (PluginResolver) and by the isolation worker's host side,
// which runs the calls a plugin makes in its worker process through these same tables.
class CSeamTables {
 public:
  CSeamTables(Seam& seam, LaunchSeam* launch_seam);
  ~CSeamTables();
  CSeamTables(const CSeamTables&) = delete;
  CSeamTables& operator=(const CSeamTables&) = delete;

  const flowid_seam* seam() const { return &seam_; }
  // Null when constructed without a launch seam.
  const flowid_launch_seam* launch() const { return has_launch_ ? &launch_ : nullptr; }
  void rethrow_if_aborted() const;

 private:
  std::unique_ptr<SeamBridge> bridge_;
  flowid_seam seam_;
  flowid_launch_seam launch_;
  bool has_launch_;
};

class PluginResolver final : public Resolver {
 public:
  // Creates the plugin instance. When create_instance returns NULL the resolver answers every
  // flow with "unknown" and method "plugin-no-instance".
  explicit PluginResolver(std::shared_ptr<const PluginModule> module);
  ~PluginResolver() override;
  PluginResolver(const PluginResolver&) = delete;
  PluginResolver& operator=(const PluginResolver&) = delete;

  std::string_view name() const override { return name_; }
  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override;
  // The plugin's decide, when its table has one: nullopt when it returns 0 (or has none).
  // Throws std::runtime_error naming the file when it answers a decision that is not
  // FLOWID_DECISION_ALLOW / DROP / ASK (the oracle reports that as I7).
  std::optional<Decision> decide(const Flow& flow, const Attribution& attribution) override;

 private:
  std::shared_ptr<const PluginModule> module_;
  std::string name_;
  void* instance_ = nullptr;
  bool instance_ok_ = false;
};

// A plugin with a launch entry as a Launcher: one plugin instance per launcher. The plugin gets a
// flowid_seam (to check the running image of what it started) and a flowid_launch_seam, both
// forwarding to the C++ seams with the same abort rule as resolve (FLOWID_KERN_ABORTED once the
// seam call budget is spent; the exception is rethrown when the plugin returns).
class PluginLauncher final : public Launcher {
 public:
  // module->table->launch must be set (has_launch).
  explicit PluginLauncher(std::shared_ptr<const PluginModule> module);
  ~PluginLauncher() override;
  PluginLauncher(const PluginLauncher&) = delete;
  PluginLauncher& operator=(const PluginLauncher&) = delete;

  std::string_view name() const override { return name_; }
  LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                      LaunchSeam& launch_seam) override;

 private:
  std::shared_ptr<const PluginModule> module_;
  std::string name_;
  void* instance_ = nullptr;
  bool instance_ok_ = false;
};

// Whether a loaded plugin can be used as a launcher (its table's launch is set).
bool has_launch(const PluginModule& module);
// The name a plugin goes by in reports: the table's name, or the file when it has none.
std::string display_name(const PluginModule& module);

// Conversions between the C structs and the C++ model, exposed for tests.
flowid_audit_token to_c(const AuditToken& token);
AuditToken from_c(const flowid_audit_token& token);
flowid_outcome to_c(const LookupOutcome& outcome);
// Copies what the plugin answered into a C++ Attribution. An out-of-range status becomes
// "unknown" with a method saying so: the plugin broke the contract and fails closed.
Attribution from_c(const flowid_attribution& attribution);
// The C view of a flow and of an attribution; the pointers point into the argument, which must
// outlive the result.
flowid_flow flow_to_c(const Flow& flow);
flowid_attribution attribution_to_c(const Attribution& attribution);
// What the plugin's launch answered.
LaunchResult launch_result_from_c(const flowid_launch_result& result);
// What the plugin's decide answered (its return value and *decision_out): nullopt for 0, else the
// decision. Throws std::runtime_error naming the file and the flow for a decision outside
// FLOWID_DECISION_*.
std::optional<Decision> decision_from_c(int32_t returned, uint32_t decision,
                                        const PluginModule& module, uint64_t flow_id);

}  // namespace flowid::plugin
