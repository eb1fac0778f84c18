#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace quarry::eval {

double NdcgAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k) {
  double dcg = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    if (it != rel.end() && it->second > 0) dcg += it->second / std::log2(static_cast<double>(i) + 2.0);
  }
  std::vector<int> ideal;
  for (const auto& [d, r] : rel) {
    if (r > 0) ideal.push_back(r);
  }
  std::sort(ideal.begin(), ideal.end(), std::greater<int>());
  double idcg = 0;
  for (size_t i = 0; i < std::min(k, ideal.size()); ++i) idcg += ideal[i] / std::log2(static_cast<double>(i) + 2.0);
  return idcg > 0 ? dcg / idcg : 0.0;
}

double RecallAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k) {
  size_t relevant = 0, found = 0;
  for (const auto& [d, r] : rel) relevant += r > 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    found += it != rel.end() && it->second > 0;
  }
  return relevant ? static_cast<double>(found) / static_cast<double>(relevant) : 0.0;
}

double MrrAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k) {
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    auto it = rel.find(ranked[i]);
    if (it != rel.end() && it->second > 0) return 1.0 / (static_cast<double>(i) + 1.0);
  }
  return 0.0;
}

}  // namespace quarry::eval
