// Rank fusion of several retrievers' lists, and MMR diversification.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace quarry {

using Ranked = std::vector<std::pair<int64_t, double>>;  // (id, score), best first

// Reciprocal-rank fusion: sum over lists of 1 / (k + rank).
Ranked FuseRrf(const std::vector<Ranked>& lists, int k = 60);
// Weighted score fusion: min-max normalise each list, then sum weight * score.
Ranked FuseWeighted(const std::vector<Ranked>& lists, const std::vector<double>& weights);

// Maximal marginal relevance: greedily picks the item maximising
// lambda * relevance - (1 - lambda) * max similarity to the items already picked.
// relevance is normalised to [0, 1]; sim(i, j) indexes into `ranked`.
template <typename Sim>
Ranked Mmr(const Ranked& ranked, size_t k, double lambda, Sim sim) {
  Ranked out;
  if (ranked.empty()) return out;
  double lo = ranked.back().second, hi = ranked.front().second;
  for (const auto& r : ranked) lo = std::min(lo, r.second), hi = std::max(hi, r.second);
  std::vector<bool> used(ranked.size(), false);
  std::vector<size_t> picked;
  while (out.size() < std::min(k, ranked.size())) {
    size_t best = 0;
    double best_v = -1e300;
    for (size_t i = 0; i < ranked.size(); ++i) {
      if (used[i]) continue;
      const double rel = hi > lo ? (ranked[i].second - lo) / (hi - lo) : 1.0;
      double red = 0;
      for (size_t j : picked) red = std::max(red, sim(i, j));
      const double v = lambda * rel - (1 - lambda) * red;
      if (v > best_v) best_v = v, best = i;
    }
    used[best] = true;
    picked.push_back(best);
    out.push_back({ranked[best].first, best_v});
  }
  return out;
}

}  // namespace quarry
