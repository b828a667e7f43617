// Recording from an NEFilterDataProvider through the flowid C recording API
// (docs/recording-in-your-filter.md). NOT COMPILED: flowid's CI has no Swift toolchain, so this
// file is a sample to adapt, checked by eye against include/flowid/record.h, not by a compiler.
import FlowidRecord
import Foundation
import NetworkExtension

// FLOWID_REC_NOW is UINT64_MAX, a macro Swift may not import: UInt64.max is the same value.
let flowidRecNow = UInt64.max

final class FilterRecorder {
  private var recorder: OpaquePointer?
  private var nextFlowId: UInt64 = 1
  private let lock = NSLock()

  // A flight recorder of 32 MiB that writes the 30 s before each dropped flow to dumpPrefix-N.trace.
  init?(dumpPrefix: String) {
    var options = flowid_rec_options()
    flowid_rec_options_init(&options)
    options.ring_mib = 32
    options.caller_sandboxed = 1
    options.caller_root = 1
    options.hostnames = UInt32(FLOWID_REC_HOSTNAMES_HASH)
    options.hostname_salt = 0x5eed_f10d
    guard flowid_rec_open_ring(&options, &recorder) == Int32(FLOWID_REC_OK) else {
      NSLog("flowid: %@", String(cString: flowid_rec_error_message()))
      return nil
    }
    dumpPrefix.withCString { prefix in
      var trigger = flowid_rec_trigger()
      trigger.kind = UInt32(FLOWID_TRIGGER_VERDICT_DECISION)
      trigger.value = UInt32(FLOWID_DECISION_DROP)
      trigger.window.max_age_ns = 30_000_000_000
      trigger.path_prefix = prefix
      _ = flowid_rec_add_trigger(recorder, &trigger)  // the prefix is copied.
    }
  }

  deinit { _ = flowid_rec_close(recorder) }

  // handleNewFlow: the flow with both audit tokens. Returns the flow id for its lookups.
  func recordNewFlow(_ flow: NEFilterSocketFlow) -> UInt64 {
    lock.lock()
    let id = nextFlowId
    nextFlowId += 1
    lock.unlock()
    var rec = flowid_rec_flow()
    rec.flow.flow_id = id
    rec.flow.source_app_audit_token = FilterRecorder.token(flow.sourceAppAuditToken)
    if #available(macOS 13.0, *) {
      rec.flow.source_process_audit_token = FilterRecorder.token(flow.sourceProcessAuditToken)
    }
    rec.flow.direction = flow.direction == .inbound ? UInt32(FLOWID_DIRECTION_INBOUND)
                                                    : UInt32(FLOWID_DIRECTION_OUTBOUND)
    rec.flow.protocol = UInt32(flow.socketProtocol)
    rec.flow.family = UInt32(flow.socketFamily)
    rec.flow.type = UInt32(flow.socketType)
    let remote = (flow.remoteEndpoint as? NWHostEndpoint)
    let host = flow.remoteHostname ?? ""
    let appId = flow.sourceAppIdentifier ?? ""
    let address = remote?.hostname ?? ""
    rec.flow.remote_port = UInt16(remote?.port ?? "0") ?? 0
    host.withCString { h in
      appId.withCString { a in
        address.withCString { addr in
          rec.flow.remote_hostname = h
          rec.flow.source_app_identifier = a
          rec.flow.remote_address = addr
          _ = flowid_rec_flow_event(recorder, flowidRecNow, &rec)  // copied before it returns.
        }
      }
    }
    return id
  }

  // One identity lookup: SecCodeCopyGuestWithAttributes by audit token, and what it returned.
  func recordGuestByAuditToken(flowId: UInt64, token: audit_token_t, status: OSStatus,
                               code: UInt64) {
    var lookup = flowid_rec_lookup()
    lookup.flow_id = flowId
    lookup.call = UInt32(FLOWID_CALL_GUEST_BY_AUDIT_TOKEN)
    lookup.has_token = 1
    lookup.token = FilterRecorder.words(token)
    lookup.outcome = flowid_outcome(domain: Int32(FLOWID_DOMAIN_OSSTATUS), code: status)
    if status == errSecSuccess { lookup.returned_code = code }
    _ = flowid_rec_lookup_event(recorder, flowidRecNow, &lookup)
  }

  // The verdict: the attribution the filter reached and its decision.
  func recordVerdict(flowId: UInt64, dropped: Bool, verified: Bool) {
    var attribution = flowid_attribution()
    attribution.status = UInt32(verified ? FLOWID_STATUS_VERIFIED : FLOWID_STATUS_UNKNOWN)
    let decision = dropped ? FLOWID_DECISION_DROP : FLOWID_DECISION_ALLOW
    _ = flowid_rec_verdict(recorder, flowidRecNow, flowId, UInt32(decision), &attribution,
                           "my-filter")
  }

  private static func words(_ t: audit_token_t) -> flowid_audit_token {
    var out = flowid_audit_token()
    out.words = t.val
    return out
  }

  private static func token(_ data: Data?) -> flowid_flow_token {
    var out = flowid_flow_token()
    guard let data = data else { return out }
    out.present = 1
    out.size_bytes = UInt32(data.count)
    withUnsafeMutableBytes(of: &out.token.words) { dst in
      data.prefix(dst.count).copyBytes(to: dst.bindMemory(to: UInt8.self))
    }
    return out
  }
}
