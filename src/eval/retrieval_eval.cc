#include "quarry/eval.h"

#include <chrono>
#include <filesystem>
#include <unordered_set>

#include "eval/beir.h"
#include "util/paths.h"
#include "util/sha256.h"

namespace quarry::eval {

const char* ModeName(SearchOptions::Mode m) {
  switch (m) {
    case SearchOptions::Mode::kBm25: return "bm25";
    case SearchOptions::Mode::kDense: return "dense";
    case SearchOptions::Mode::kHybrid: return "hybrid";
  }
  return "?";
}

Result<RetrievalEvalReport> EvaluateRetrieval(KnowledgeBase& kb, const RetrievalEvalOptions& o,
                                              const AddProgressFn& ingest_progress,
                                              const std::function<void(const std::string&, size_t, size_t)>& query_progress) {
  auto split = LoadBeir(o.beir_dir, o.split);
  if (!split.ok()) return split.status();
  RetrievalEvalReport rep;
  rep.dataset = std::filesystem::path(o.beir_dir).lexically_normal().filename().string();
  if (rep.dataset.empty()) rep.dataset = std::filesystem::path(o.beir_dir).parent_path().filename().string();
  rep.split = o.split;
  const std::string corpus = o.beir_dir + "/corpus.jsonl";
  auto added = kb.Add({corpus}, o.add, ingest_progress);
  if (!added.ok()) return added.status();
  rep.ingest = *added;
  if (added->failed > 0 && added->added + added->replaced + added->unchanged == 0) {
    return Status::InvalidArgument(corpus + ": no document could be ingested (" + added->failures.front().reason + ")");
  }
  std::vector<BeirQuery> queries = split->queries;
  if (o.limit_queries && queries.size() > o.limit_queries) queries.resize(o.limit_queries);
  rep.queries = queries.size();

  for (SearchOptions::Mode mode : o.modes) {
    SearchOptions so = o.search;
    so.mode = mode;
    so.k = so.per_document ? 100 : 300;  // chunks: enough for 100 distinct documents
    so.candidates = 300;
    ModeResult mr;
    mr.mode = std::string(ModeName(mode)) + (so.reranker ? "+rerank" : "");
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t qi = 0; qi < queries.size(); ++qi) {
      // A blank query (CMRC 2018's trial set has two) finds nothing and scores
      // 0, as in BEIR's own evaluation; it does not stop the run.
      std::vector<SearchHit> hits;
      if (queries[qi].text.find_first_not_of(" \t\r\n") != std::string::npos) {
        auto found = kb.Search(queries[qi].text, so);
        if (!found.ok()) return found.status();
        hits = std::move(*found);
      }
      std::vector<std::string> docs;
      std::unordered_set<std::string> seen;
      for (const auto& h : hits) {
        const size_t hash = h.source.rfind('#');
        std::string id = hash == std::string::npos ? h.source : h.source.substr(hash + 1);
        if (seen.insert(id).second) docs.push_back(std::move(id));
      }
      const Qrels& rel = split->qrels.at(queries[qi].id);
      mr.ndcg_at_10 += NdcgAt(docs, rel, 10);
      mr.recall_at_100 += RecallAt(docs, rel, 100);
      mr.mrr_at_10 += MrrAt(docs, rel, 10);
      if (query_progress) query_progress(mr.mode, qi + 1, queries.size());
    }
    mr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    mr.queries = queries.size();
    const double n = static_cast<double>(std::max<size_t>(queries.size(), 1));
    mr.ndcg_at_10 /= n;
    mr.recall_at_100 /= n;
    mr.mrr_at_10 /= n;
    rep.modes.push_back(mr);
  }
  return rep;
}

std::string CachedKnowledgeBaseDir(const std::string& kind, const std::string& input, const std::string& key) {
  const std::string abs = std::filesystem::absolute(input).lexically_normal().string();
  return CacheDir() + "/eval/" + (kind.empty() ? "" : kind + "-") + std::filesystem::path(abs).filename().string() + "-" +
         Sha256Hex(abs + key).substr(0, 10);
}

}  // namespace quarry::eval
