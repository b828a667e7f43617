/* The C test filter: a content filter as a product writes it, in C, recording through
 * include/flowid/record.h (tests/record_api_test.cc drives it). Its OS calls go through a table
 * (flowid_seam) the host fills; every call is recorded as a lookup of the flow being handled. */
#ifndef FLOWID_TESTS_RECAPI_CFILTER_H
#define FLOWID_TESTS_RECAPI_CFILTER_H

#include <flowid/plugin.h>
#include <flowid/record.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cfilter {
  const flowid_seam* os;                   /* the OS calls (not owned). */
  flowid_recorder* recorder;               /* where to record (not owned). */
  uint64_t (*now_ns)(void* clock_context); /* the recording's clock. */
  void* clock_context;
  uint64_t record_failures; /* recording calls that did not return FLOWID_REC_OK. */
} cfilter;

/* handleNewFlow: records the flow, resolves it through the recording OS table, decides, records
 * the verdict and returns the decision (FLOWID_DECISION_*). */
uint32_t cfilter_handle_new_flow(cfilter* filter, const flowid_rec_flow* flow);

#ifdef __cplusplus
}
#endif

#endif
