/* A plugin with per-instance state that shows in its answers: resolve answers "unknown" with
 * method "call-N", N counting the resolves of that instance. Makes instance separation visible
 * (fresh instance per case, instances sharing a worker process kept apart). Used by
 * tests/plugin_test.cc only. */
#include <flowid/plugin.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct counting_instance {
  unsigned calls;
  char method[32];
} counting_instance;

static void* create_instance(void* user_data) {
  (void)user_data;
  return calloc(1, sizeof(counting_instance));
}

static void destroy_instance(void* instance) { free(instance); }

static void resolve(void* instance, const flowid_flow* flow, uint64_t now_ns,
                    const flowid_seam* seam, flowid_attribution* out) {
  counting_instance* self = (counting_instance*)instance;
  (void)flow;
  (void)now_ns;
  (void)seam;
  self->calls++;
  snprintf(self->method, sizeof self->method, "call-%u", self->calls);
  out->status = FLOWID_STATUS_UNKNOWN;
  out->method = self->method;
}

static const flowid_plugin kPlugin = {FLOWID_PLUGIN_ABI_VERSION, "counting", NULL, create_instance,
                                      destroy_instance,          resolve,    NULL, NULL};

FLOWID_PLUGIN_EXPORT const flowid_plugin* flowid_plugin_entry(uint32_t host_abi_version) {
  return host_abi_version == FLOWID_PLUGIN_ABI_VERSION ? &kPlugin : NULL;
}
