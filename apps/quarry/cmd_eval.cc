// quarry eval retrieval --beir DIR
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "eval/retrieval_eval.h"
#include "util/paths.h"
#include "util/sha256.h"

namespace quarry::cli {
using nlohmann::json;

void RegisterEval(CLI::App& app, Registry& reg) {
  auto* ev = app.add_subcommand("eval", "Measure retrieval quality on public datasets");
  ev->require_subcommand(1);
  static KbFlags flags;
  static std::string beir, split = "test", modes = "bm25,dense,hybrid", fusion = "rrf";
  static size_t limit = 0;
  static bool as_json = false, no_embed = false;
  static AddOptions ao;
  auto* r = ev->add_subcommand("retrieval", "nDCG@10, Recall@100 and MRR@10 on a BEIR-format dataset, per mode");
  r->add_option("--beir", beir, "Dataset directory (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)")->required()->check(CLI::ExistingDirectory);
  r->add_option("--split", split, "Judgment split: test, train or dev")->capture_default_str();
  r->add_option("--mode", modes, "Comma-separated modes: bm25, dense, hybrid")->capture_default_str();
  r->add_option("--fusion", fusion, "Hybrid fusion: rrf or weighted")->check(CLI::IsMember({"rrf", "weighted"}))->capture_default_str();
  r->add_option("--limit", limit, "Evaluate only the first N queries");
  r->add_option("--chunk-tokens", ao.chunk_tokens, "Chunk size for the corpus")->check(CLI::Range(16, 8192))->capture_default_str();
  r->add_option("--overlap", ao.overlap_tokens, "Chunk overlap")->check(CLI::Range(0, 4096))->capture_default_str();
  r->add_flag("--no-embed", no_embed, "BM25 only: skip embedding the corpus");
  r->add_flag("--json", as_json, "Print JSON: {\"modes\": {\"bm25\": {\"ndcg@10\", \"recall@100\", \"mrr@10\"}, ...}}");
  AddKbFlags(r, &flags);
  // Default: a knowledge base per dataset in the cache, reused across runs.
  flags.db.clear();
  r->callback([&reg] {
    reg.run = [] {
      eval::RetrievalEvalOptions o;
      o.beir_dir = beir;
      o.split = split;
      o.limit_queries = limit;
      o.add = ao;
      o.add.embed = !no_embed;
      o.modes.clear();
      for (size_t p = 0; p <= modes.size();) {
        size_t c = modes.find(',', p);
        if (c == std::string::npos) c = modes.size();
        std::string m = modes.substr(p, c - p);
        if (m == "bm25") o.modes.push_back(SearchOptions::Mode::kBm25);
        else if (m == "dense") o.modes.push_back(SearchOptions::Mode::kDense);
        else if (m == "hybrid") o.modes.push_back(SearchOptions::Mode::kHybrid);
        else return Fail(Status::InvalidArgument("--mode: unknown mode '" + m + "' (use bm25, dense, hybrid)"));
        p = c + 1;
      }
      if (no_embed) {
        for (auto m : o.modes) {
          if (m != SearchOptions::Mode::kBm25) return Fail(Status::InvalidArgument("--no-embed allows only --mode bm25"));
        }
      }
      o.search.fusion = fusion == "weighted" ? SearchOptions::Fusion::kWeighted : SearchOptions::Fusion::kRrf;
      KbFlags f = flags;
      if (f.db.empty()) {
        const std::string abs = std::filesystem::absolute(beir).lexically_normal().string();
        f.db = CacheDir() + "/eval/" + std::filesystem::path(abs).filename().string() + "-" +
               Sha256Hex(abs + "|" + std::to_string(ao.chunk_tokens) + "|" + std::to_string(ao.overlap_tokens) + "|" +
                         f.stemmer + "|" + f.embed_model + (no_embed ? "|bm25" : ""))
                   .substr(0, 10);
      }
      auto kb = KnowledgeBase::Open(ToOptions(f), true);
      if (!kb.ok()) return Fail(kb.status());
      ProgressLine line;
      auto rep = eval::EvaluateRetrieval(
          **kb, o,
          [&](const AddProgress& p) { line.Update("  ingesting: " + std::to_string(p.documents) + " docs, " + std::to_string(p.chunks) + " chunks"); },
          [&](const std::string& mode, size_t done, size_t total) {
            line.Update("  " + mode + ": " + std::to_string(done) + "/" + std::to_string(total) + " queries");
          });
      line.Done();
      if (!rep.ok()) return Fail(rep.status());
      if (as_json) {
        json j = {{"dataset", rep->dataset}, {"split", rep->split}, {"queries", rep->queries}, {"db", f.db},
                  {"k1", f.k1}, {"b", f.b}, {"chunk_tokens", ao.chunk_tokens}, {"modes", json::object()}};
        const AddReport& in = rep->ingest;
        j["ingest"] = {{"added", in.added + in.replaced}, {"unchanged", in.unchanged}, {"failed", in.failed},
                       {"chunks", in.chunks}, {"seconds", {{"total", in.total_s}, {"parse", in.parse_s}, {"chunk", in.chunk_s}, {"analyze", in.analyze_s},
                                                           {"embed", in.embed_s}, {"store", in.store_s}, {"index", in.index_s}}}};
        for (const auto& m : rep->modes) {
          j["modes"][m.mode] = {{"ndcg@10", m.ndcg_at_10}, {"recall@100", m.recall_at_100}, {"mrr@10", m.mrr_at_10},
                                {"queries_per_s", m.seconds > 0 ? m.queries / m.seconds : 0.0}};
        }
        std::cout << j.dump(2) << "\n";
        return kExitOk;
      }
      std::printf("%s (%s split, %zu queries; corpus: %d added, %d unchanged, %d failed)\n\n", rep->dataset.c_str(),
                  rep->split.c_str(), rep->queries, rep->ingest.added + rep->ingest.replaced, rep->ingest.unchanged, rep->ingest.failed);
      std::printf("%-8s %9s %11s %8s %10s\n", "mode", "nDCG@10", "Recall@100", "MRR@10", "queries/s");
      for (const auto& m : rep->modes) {
        std::printf("%-8s %9.4f %11.4f %8.4f %10.1f\n", m.mode.c_str(), m.ndcg_at_10, m.recall_at_100, m.mrr_at_10,
                    m.seconds > 0 ? m.queries / m.seconds : 0.0);
      }
      return kExitOk;
    };
  });
}

}  // namespace quarry::cli
