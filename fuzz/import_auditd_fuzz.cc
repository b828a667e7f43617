// libFuzzer target: arbitrary bytes through the auditd importer (fuzz/import_fuzz_body.h).
#include "fuzz/import_fuzz_body.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return flowid::fuzzing::import_one_input(data, size, flowid::import::Format::kAuditd);
}
