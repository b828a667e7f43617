// The pure half of plugin support: a user's resolver, reached through the C table of
// include/flowid/plugin.h, adapted to the C++ Resolver interface so that replay, matrix and fuzz
// drive it exactly like a built-in strategy.
//
// Nothing here loads a library (harness/ makes no syscalls): replay/plugin_loader.h opens the
// shared object, checks its ABI version and hands over a PluginModule. The module keeps the
// library loaded for as long as any resolver made from it exists (keep_alive).
//
// Each PluginResolver owns one plugin instance (create_instance / destroy_instance), so a fresh
// resolver means fresh plugin state, which is what the fuzzer's case independence needs. During
// resolve the C seam table forwards every call to the C++ Seam; strings the seam returns live in
// the bridge until the next seam call, as the header promises.
#pragma once

#include <flowid/plugin.h>

#include <memory>
#include <string>

#include "harness/resolver.h"

namespace flowid::plugin {

struct PluginModule {
  std::string file;                  // the path the library was loaded from (for messages).
  const flowid_plugin* table = nullptr;  // checked: abi_version matches, resolve is set.
  std::shared_ptr<void> keep_alive;  // releases the library when the last user goes.
};

// Whether a table is usable by this host; on failure *error says why (without the file name).
bool validate_table(const flowid_plugin* table, uint32_t host_abi_version, std::string* error);

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

 private:
  std::shared_ptr<const PluginModule> module_;
  std::string name_;
  void* instance_ = nullptr;
  bool instance_ok_ = false;
};

// Conversions between the C structs and the C++ model, exposed for tests.
flowid_audit_token to_c(const AuditToken& token);
AuditToken from_c(const flowid_audit_token& token);
flowid_outcome to_c(const LookupOutcome& outcome);
// Copies what the plugin answered into a C++ Attribution. An out-of-range status becomes
// "unknown" with a method saying so: the plugin broke the contract and fails closed.
Attribution from_c(const flowid_attribution& attribution);

}  // namespace flowid::plugin
