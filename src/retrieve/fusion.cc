#include "retrieve/fusion.h"

#include <algorithm>
#include <unordered_map>

namespace quarry {
namespace {
Ranked Sorted(const std::unordered_map<int64_t, double>& m) {
  Ranked out(m.begin(), m.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  return out;
}
}  // namespace

Ranked FuseRrf(const std::vector<Ranked>& lists, int k) {
  std::unordered_map<int64_t, double> acc;
  for (const auto& l : lists) {
    for (size_t r = 0; r < l.size(); ++r) acc[l[r].first] += 1.0 / (k + static_cast<double>(r) + 1.0);
  }
  return Sorted(acc);
}

Ranked FuseWeighted(const std::vector<Ranked>& lists, const std::vector<double>& weights) {
  std::unordered_map<int64_t, double> acc;
  for (size_t i = 0; i < lists.size(); ++i) {
    const auto& l = lists[i];
    if (l.empty()) continue;
    double lo = l.front().second, hi = l.front().second;
    for (const auto& [id, s] : l) lo = std::min(lo, s), hi = std::max(hi, s);
    for (const auto& [id, s] : l) acc[id] += weights[i] * (hi > lo ? (s - lo) / (hi - lo) : 1.0);
  }
  return Sorted(acc);
}

}  // namespace quarry
