// BEIR dataset layout: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "quarry/status.h"

namespace quarry::eval {

struct BeirQuery {
  std::string id, text;
};

struct BeirSplit {
  std::string dir, split;
  std::vector<BeirQuery> queries;          // only those judged in the split, in file order
  std::map<std::string, Qrels> qrels;      // query id -> judgments
};

// Reads queries and judgments (the corpus is ingested like any JSONL file).
Result<BeirSplit> LoadBeir(const std::string& dir, const std::string& split);

}  // namespace quarry::eval
