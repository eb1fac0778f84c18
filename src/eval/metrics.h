// Retrieval metrics over ranked document ids and graded judgments (BEIR's
// conventions: pytrec_eval's nDCG with linear gain, recall and MRR at a cutoff).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace quarry::eval {

using Qrels = std::map<std::string, int>;  // doc id -> relevance (> 0 relevant)

double NdcgAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k);
double RecallAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k);
double MrrAt(const std::vector<std::string>& ranked, const Qrels& rel, size_t k);

}  // namespace quarry::eval
