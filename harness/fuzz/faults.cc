#include "harness/fuzz/faults.h"

#include <array>
#include <cctype>

namespace flowid::fuzz {
namespace {

struct FaultNames {
  std::string_view id;
  std::string_view name;
};
constexpr std::array<FaultNames, kFaultCount> kNames = {{
    {"F1", "pid-reuse"},
    {"F2", "exit-race"},
    {"F3", "sandbox-eperm"},
    {"F4", "exec-after-flow"},
    {"F5", "replaced-on-disk"},
    {"F6", "delegation"},
    {"F7", "malformed-token"},
    {"F8", "transient-failure"},
    {"F9", "zombie"},
    {"F10", "same-name"},
    {"F11", "launch-toctou"},
}};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view fault_id(Fault fault) { return kNames[static_cast<std::size_t>(fault)].id; }
std::string_view fault_name(Fault fault) { return kNames[static_cast<std::size_t>(fault)].name; }

std::optional<Fault> parse_fault(std::string_view text) {
  for (int i = 0; i < kFaultCount; ++i) {
    const auto& names = kNames[static_cast<std::size_t>(i)];
    if (equal_ignoring_case(text, names.id) || equal_ignoring_case(text, names.name))
      return fault_at(i);
  }
  return std::nullopt;
}

std::optional<FaultSet> parse_fault_list(std::string_view text, std::string* error) {
  FaultSet set = kNoFaults;
  std::size_t start = 0;
  bool any = false;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    start = comma + 1;
    if (item.empty()) {
      if (comma == text.size()) break;
      continue;
    }
    any = true;
    if (equal_ignoring_case(item, "all")) {
      set |= kAllFaults;
    } else if (equal_ignoring_case(item, "resolver")) {
      set |= kResolverFaults;
    } else if (equal_ignoring_case(item, "launcher")) {
      set |= kLauncherFaults;
    } else if (auto fault = parse_fault(item)) {
      set |= bit(*fault);
    } else {
      if (error != nullptr) {
        *error = "unknown fault '" + std::string(item) +
                 "' (F1 ... F11, a name such as pid-reuse, or all / resolver / launcher)";
      }
      return std::nullopt;
    }
  }
  if (!any) {
    if (error != nullptr) *error = "empty fault list";
    return std::nullopt;
  }
  return set;
}

std::string format_fault_set(FaultSet set) {
  std::string out;
  for (int i = 0; i < kFaultCount; ++i) {
    if (!contains(set, fault_at(i))) continue;
    if (!out.empty()) out += ',';
    out += fault_id(fault_at(i));
  }
  return out.empty() ? "none" : out;
}

int fault_count(FaultSet set) {
  int n = 0;
  for (int i = 0; i < kFaultCount; ++i) n += contains(set, fault_at(i)) ? 1 : 0;
  return n;
}

}  // namespace flowid::fuzz
