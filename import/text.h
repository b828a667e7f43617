// Small, allocation-free parsers for the scalar notations field traces use: ISO 8601 and `log`
// timestamps, decimal and hex integers, hex byte strings, UUIDs, base64. Each returns nullopt
// (or false) on anything it does not fully understand; none of them throws or reads out of range.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "harness/model.h"

namespace flowid::import {

// Nanoseconds since the Unix epoch for a proleptic Gregorian UTC date and time of day.
std::optional<uint64_t> civil_to_unix_ns(int64_t year, int64_t month, int64_t day, int64_t hour,
                                         int64_t minute, int64_t second, uint64_t fraction_ns);

// "2025-08-07T15:13:09.811587464Z", "2024-05-31T09:47:12.436Z", "...+02:00". Up to 9 fraction
// digits are kept (more are ignored). A missing zone is read as UTC.
std::optional<uint64_t> parse_iso8601_ns(std::string_view text);

// The timestamp that starts a `log stream` / `log show` line: "2022-12-24 15:29:05.393829+0200"
// (the fraction and the offset are optional; without an offset the time is read as UTC and
// *had_offset is false). *consumed is how many characters the timestamp took.
std::optional<uint64_t> parse_log_timestamp(std::string_view line, std::size_t* consumed,
                                            bool* had_offset);

std::optional<int64_t> parse_int(std::string_view text);        // decimal, optional '-'.
std::optional<uint64_t> parse_uint(std::string_view text);      // decimal.
std::optional<uint64_t> parse_hex_uint(std::string_view text);  // hex digits, no prefix.

int hex_digit(char c);  // 0..15, or -1.

// Decodes an even number of hex digits into out (appended). False on odd length or non-hex.
bool decode_hex(std::string_view hex, std::string& out);
// Exactly 2*N hex digits into an N-byte array.
template <std::size_t N>
bool decode_hex_exact(std::string_view hex, std::array<uint8_t, N>& out) {
  if (hex.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    int hi = hex_digit(hex[2 * i]);
    int lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

// "976999BB-C169-42BE-9CAF-41D22E332848" (either case).
std::optional<Uuid> parse_uuid(std::string_view text);

// Standard base64 with optional '=' padding. False on anything else.
bool decode_base64(std::string_view text, std::string& out);

std::string_view trim(std::string_view text);

}  // namespace flowid::import
