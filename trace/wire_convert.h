// Small conversions between flowid model values and the Cap'n Proto wire types, shared by the
// writer and the reader. Only trace/ includes this (Cap'n Proto types stay inside the codec).
#pragma once

#include <algorithm>
#include <cstdint>

#include "harness/model.h"
#include "trace/flowid_trace.capnp.h"

namespace flowid::trace::wire_convert {

// Model enums are uint8 with append-only numbering; the wire enums carry the same numbers. A
// value this reader does not know (a newer writer's) is kept as its number, so it survives a
// read-then-write; a number beyond uint8 can only come from a damaged or hostile file and is
// pinned to 255, which no model enum uses.
template <typename ModelEnum, typename WireEnum>
ModelEnum from_wire(WireEnum v) {
  auto n = static_cast<uint16_t>(v);
  return static_cast<ModelEnum>(static_cast<uint8_t>(std::min<uint16_t>(n, 255)));
}

template <typename WireEnum, typename ModelEnum>
WireEnum to_wire(ModelEnum v) {
  return static_cast<WireEnum>(static_cast<uint16_t>(static_cast<uint8_t>(v)));
}

// The trace's LookupCall carries every call of harness/seam_calls.h with the call's own number,
// so from_wire / to_wire above convert calls by number.
#define FLOWID_LOOKUP_CALL_ON_THE_WIRE(enumerator, number, name, method, capnp)              \
  static_assert(static_cast<uint16_t>(::flowid::trace::wire::LookupCall::capnp) == number && \
                    static_cast<uint8_t>(LookupCall::enumerator) == number,                  \
                "trace/flowid_trace.capnp: LookupCall." #capnp " must be @" #number);
FLOWID_LOOKUP_CALLS(FLOWID_LOOKUP_CALL_ON_THE_WIRE)
#undef FLOWID_LOOKUP_CALL_ON_THE_WIRE

// A UUID's 16 bytes as two big-endian 64-bit halves.
inline uint64_t uuid_half(const Uuid& u, int half) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | u[half * 8 + i];
  return v;
}
inline void set_uuid_half(Uuid& u, int half, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    u[half * 8 + i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

// Works for the AuditToken struct and for the inline token groups of Flow: they share names.
template <typename Builder>
void set_token_words(Builder b, const AuditToken& t) {
  b.setAuid(t.words[0]);
  b.setEuid(t.words[1]);
  b.setEgid(t.words[2]);
  b.setRuid(t.words[3]);
  b.setRgid(t.words[4]);
  b.setPid(t.words[5]);
  b.setAsid(t.words[6]);
  b.setPidversion(t.words[7]);
}

template <typename Reader>
void get_token_words(Reader r, AuditToken& t) {
  t.words[0] = r.getAuid();
  t.words[1] = r.getEuid();
  t.words[2] = r.getEgid();
  t.words[3] = r.getRuid();
  t.words[4] = r.getRgid();
  t.words[5] = r.getPid();
  t.words[6] = r.getAsid();
  t.words[7] = r.getPidversion();
}

}  // namespace flowid::trace::wire_convert
