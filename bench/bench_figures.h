// The project's benchmark output convention in one place: a human table of figures, then one JSON
// object per figure on its own line, {"bench": NAME, "value": V, "unit": U}, so figures can be
// collected and compared across commits.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace flowid::bench {

struct Figure {
  std::string name;  // stable machine name, e.g. "trace_read_events_per_s".
  double value;
  std::string unit;
  std::string label;  // for people.
};

// Prints the table (labels padded to label_width) and then the JSON lines.
inline void print_figures(const std::vector<Figure>& figures, int label_width) {
  std::printf("%-*s %16s  %s\n", label_width, "figure", "value", "unit");
  for (const Figure& f : figures) {
    std::printf("%-*s %16.2f  %s\n", label_width, f.label.c_str(), f.value, f.unit.c_str());
  }
  std::printf("\n");
  for (const Figure& f : figures) {
    std::printf("{\"bench\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}\n", f.name.c_str(), f.value,
                f.unit.c_str());
  }
}

}  // namespace flowid::bench
