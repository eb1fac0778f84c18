// quarry search QUERY
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "quarry/json.h"

namespace quarry::cli {
using nlohmann::json;

namespace {
std::string Snippet(const std::string& text, size_t max_bytes) {
  std::string out;
  for (char c : text) {
    const bool ws = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (ws) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
    if (out.size() >= max_bytes) break;
  }
  if (out.size() >= max_bytes) {
    size_t n = max_bytes;
    while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;
    out = out.substr(0, n) + "...";
  }
  return out;
}
}  // namespace

void RegisterSearch(CLI::App& app, Registry& reg) {
  static KbFlags flags;
  static std::string query, mode = "hybrid", fusion = "rrf";
  static SearchOptions so;
  static bool as_json = false;
  auto* cmd = app.add_subcommand("search", "Search the knowledge base (hybrid BM25 + vectors by default)");
  cmd->add_option("QUERY", query, "What to look for; '-' reads it from stdin")->required();
  cmd->add_option("-k", so.k, "Number of results")->capture_default_str();
  cmd->add_option("--mode", mode, "bm25, dense or hybrid")->check(CLI::IsMember({"bm25", "dense", "hybrid"}))->capture_default_str();
  cmd->add_option("--fusion", fusion, "Hybrid fusion: rrf (reciprocal rank) or weighted (normalised scores)")
      ->check(CLI::IsMember({"rrf", "weighted"}))->capture_default_str();
  cmd->add_option("--dense-weight", so.dense_weight, "Weighted fusion: share of the dense score")->capture_default_str();
  cmd->add_option("--rrf-k", so.rrf_k, "RRF constant")->capture_default_str();
  cmd->add_option("--candidates", so.candidates, "Candidates per retriever before fusion")->capture_default_str();
  cmd->add_option("--where", so.where, "Metadata filter KEY=VALUE, KEY!=VALUE, KEY>=V, KEY<=V, KEY>V, KEY<V (repeatable; all must hold)");
  cmd->add_flag("--per-document", so.per_document,
                "One result per document: its best-ranked chunk (the chunks after it are dropped); -k counts documents");
  cmd->add_flag("--mmr", so.mmr, "Diversify results with maximal marginal relevance");
  cmd->add_option("--mmr-lambda", so.mmr_lambda, "MMR trade-off: 1 = relevance only")->capture_default_str();
  static std::string rerank_model;
  cmd->add_option("--rerank-model", rerank_model,
                  "Cross-encoder GGUF (a name or path; see `quarry model import`) that re-scores the first --rerank-depth results");
  cmd->add_option("--rerank-depth", so.rerank_depth, "Fused results the cross-encoder reads and reorders; results beyond it keep their fused order")->capture_default_str();
  cmd->add_flag("--json", as_json, "Print {\"results\": [...]}");
  AddKbFlags(cmd, &flags);
  cmd->callback([&reg] {
    reg.run = [] {
      if (query == "-") query = ReadStdin();
      so.mode = mode == "bm25" ? SearchOptions::Mode::kBm25 : mode == "dense" ? SearchOptions::Mode::kDense : SearchOptions::Mode::kHybrid;
      so.fusion = fusion == "weighted" ? SearchOptions::Fusion::kWeighted : SearchOptions::Fusion::kRrf;
      if (Status st = so.Validate(); !st.ok()) return Fail(st);  // before loading any model
      auto kb = KnowledgeBase::Open(ToOptions(flags), false);
      if (!kb.ok()) return Fail(kb.status());
      auto reranker = OpenReranker(rerank_model, flags.threads);
      if (!reranker.ok()) return Fail(reranker.status());
      so.reranker = reranker->get();
      auto hits = (*kb)->Search(query, so);
      if (!hits.ok()) return Fail(hits.status());
      if (as_json) {
        json j = {{"query", query}, {"mode", mode}, {"results", json::array()}};
        int rank = 0;
        for (const auto& h : *hits) {
          j["results"].push_back(ToJson(h, ++rank));
        }
        PrintJson(j);
        return kExitOk;
      }
      if (hits->empty()) std::printf("no results\n");
      int rank = 0;
      for (const auto& h : *hits) {
        std::printf("%2d. %.4f  doc %lld  %s  [%lld-%lld]%s%s\n    %s\n", ++rank, h.score, static_cast<long long>(h.chunk.doc_id),
                    h.source.c_str(), static_cast<long long>(h.chunk.start), static_cast<long long>(h.chunk.end),
                    h.chunk.heading.empty() ? "" : "  ", h.chunk.heading.c_str(), Snippet(h.chunk.text, 240).c_str());
      }
      return kExitOk;
    };
  });
}

}  // namespace quarry::cli
