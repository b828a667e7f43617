#include "import/text.h"

#include <charconv>
#include <limits>

namespace flowid::import {
namespace {

constexpr uint64_t kNsPerSecond = 1'000'000'000ULL;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `width` digits at text[pos].
std::optional<int64_t> fixed_digits(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos + width > text.size()) return std::nullopt;
  int64_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// "YYYY-MM-DD?HH:MM:SS" at the start of text, separator given. Then an optional fraction.
// Returns the UTC-less local ns and sets *pos past what was read.
std::optional<uint64_t> date_time(std::string_view text, char separator, std::size_t* pos) {
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || text[10] != separator ||
      text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  auto year = fixed_digits(text, 0, 4);
  auto month = fixed_digits(text, 5, 2);
  auto day = fixed_digits(text, 8, 2);
  auto hour = fixed_digits(text, 11, 2);
  auto minute = fixed_digits(text, 14, 2);
  auto second = fixed_digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  std::size_t p = 19;
  uint64_t fraction_ns = 0;
  if (p < text.size() && text[p] == '.') {
    ++p;
    std::size_t digits = 0;
    uint64_t scale = kNsPerSecond / 10;
    while (p < text.size() && is_digit(text[p])) {
      if (digits < 9) {
        fraction_ns += static_cast<uint64_t>(text[p] - '0') * scale;
        scale /= 10;
      }
      ++digits;
      ++p;
    }
    if (digits == 0) return std::nullopt;
  }
  *pos = p;
  return civil_to_unix_ns(*year, *month, *day, *hour, *minute, *second, fraction_ns);
}

// Applies a zone offset of sign * (hours, minutes): local = utc + offset.
std::optional<uint64_t> apply_offset(uint64_t local_ns, int sign, int64_t hours, int64_t minutes) {
  if (hours > 23 || minutes > 59) return std::nullopt;
  uint64_t offset_ns = static_cast<uint64_t>(hours * 3600 + minutes * 60) * kNsPerSecond;
  if (sign > 0) {
    if (offset_ns > local_ns) return std::nullopt;
    return local_ns - offset_ns;
  }
  return local_ns + offset_ns;
}

}  // namespace

std::optional<uint64_t> civil_to_unix_ns(int64_t year, int64_t month, int64_t day, int64_t hour,
                                         int64_t minute, int64_t second, uint64_t fraction_ns) {
  // Years before 1970 cannot be represented as unsigned ns; years after 2500 are not real data.
  if (year < 1970 || year > 2500 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60 || fraction_ns >= kNsPerSecond) {
    return std::nullopt;
  }
  // Days from civil (H. Hinnant's algorithm), era-based so it needs no tables.
  const int64_t y = year - (month <= 2 ? 1 : 0);
  const int64_t era = y / 400;
  const int64_t yoe = y - era * 400;
  const int64_t mp = (month + 9) % 12;
  const int64_t doy = (153 * mp + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + doe - 719468;
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second;
  return static_cast<uint64_t>(seconds) * kNsPerSecond + fraction_ns;
}

std::optional<uint64_t> parse_iso8601_ns(std::string_view text) {
  std::size_t p = 0;
  auto local = date_time(text, 'T', &p);
  if (!local) return std::nullopt;
  if (p == text.size()) return local;
  if (text[p] == 'Z' && p + 1 == text.size()) return local;
  if ((text[p] == '+' || text[p] == '-') && p + 6 == text.size() && text[p + 3] == ':') {
    auto hours = fixed_digits(text, p + 1, 2);
    auto minutes = fixed_digits(text, p + 4, 2);
    if (!hours || !minutes) return std::nullopt;
    return apply_offset(*local, text[p] == '+' ? 1 : -1, *hours, *minutes);
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_log_timestamp(std::string_view line, std::size_t* consumed,
                                            bool* had_offset) {
  std::size_t p = 0;
  auto local = date_time(line, ' ', &p);
  if (!local) return std::nullopt;
  *had_offset = false;
  if (p + 5 <= line.size() && (line[p] == '+' || line[p] == '-')) {
    auto hours = fixed_digits(line, p + 1, 2);
    auto minutes = fixed_digits(line, p + 3, 2);
    if (hours && minutes) {
      auto utc = apply_offset(*local, line[p] == '+' ? 1 : -1, *hours, *minutes);
      if (!utc) return std::nullopt;
      *consumed = p + 5;
      *had_offset = true;
      return utc;
    }
  }
  *consumed = p;
  return local;
}

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<uint64_t> parse_uint(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || text[0] == '-') return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<uint64_t> parse_hex_uint(std::string_view text) {
  uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool decode_hex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  out.reserve(out.size() + hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hex_digit(hex[i]);
    int lo = hex_digit(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

std::optional<Uuid> parse_uuid(std::string_view text) {
  // 8-4-4-4-12 hex digits.
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::nullopt;
  }
  Uuid uuid{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '-') {
      ++i;
      continue;
    }
    int hi = hex_digit(text[i]);
    int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0 || byte >= uuid.size()) return std::nullopt;
    uuid[byte++] = static_cast<uint8_t>(hi * 16 + lo);
    i += 2;
  }
  if (byte != uuid.size()) return std::nullopt;
  return uuid;
}

bool decode_base64(std::string_view text, std::string& out) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  uint32_t accumulator = 0;
  int bits = 0;
  for (char c : text) {
    int v = value_of(c);
    if (v < 0) return false;
    accumulator = (accumulator << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  return true;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace flowid::import
