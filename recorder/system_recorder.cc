#include "recorder/recorder.h"

namespace flowid::recorder {

RecordResult record_system(const SystemOptions& options) {
  (void)options;
  RecordResult result;
  result.error = RecordError::kSetup;
  result.message = "--system is not available yet";
  return result;
}

}  // namespace flowid::recorder
