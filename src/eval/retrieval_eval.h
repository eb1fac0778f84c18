// `quarry eval retrieval`: ingest a BEIR corpus into a knowledge base, run the
// split's queries in each mode, score documents (a document ranks by its best
// chunk) with nDCG@10, Recall@100 and MRR@10.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "quarry/knowledge_base.h"

namespace quarry::eval {

struct RetrievalEvalOptions {
  std::string beir_dir;
  std::string split = "test";
  std::vector<SearchOptions::Mode> modes = {SearchOptions::Mode::kBm25, SearchOptions::Mode::kDense,
                                            SearchOptions::Mode::kHybrid};
  SearchOptions search;       // fusion settings etc.; k and candidates are set per run
  size_t limit_queries = 0;   // 0: all
  AddOptions add;             // how the corpus is ingested
};

struct ModeResult {
  std::string mode;
  double ndcg_at_10 = 0, recall_at_100 = 0, mrr_at_10 = 0;
  size_t queries = 0;
  double seconds = 0;  // searching only
};

struct RetrievalEvalReport {
  std::string dataset, split;
  size_t queries = 0;
  AddReport ingest;
  std::vector<ModeResult> modes;
};

const char* ModeName(SearchOptions::Mode m);

Result<RetrievalEvalReport> EvaluateRetrieval(KnowledgeBase& kb, const RetrievalEvalOptions& options,
                                              const AddProgressFn& ingest_progress = nullptr,
                                              const std::function<void(const std::string& mode, size_t done, size_t total)>& query_progress = nullptr);

}  // namespace quarry::eval
