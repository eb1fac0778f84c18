// quarry eval retrieval --beir DIR
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "quarry/eval.h"
#include "quarry/registry.h"

namespace quarry::cli {
using nlohmann::json;

void RegisterEvalTasks(CLI::App* ev, Registry& reg);

namespace {
// A cached base per embedding model: an empty --embed-model is the default's
// name, so a new default does not reuse a base built with the old one.
std::string EmbedKey(const KbFlags& f) { return f.embed_model.empty() ? std::string(kDefaultEmbedder) : f.embed_model; }
std::string EvalKey(const KbFlags& f) { return "|" + f.stemmer + "|" + EmbedKey(f); }
}  // namespace

void RegisterEval(CLI::App& app, Registry& reg) {
  auto* ev = app.add_subcommand("eval", "Measure retrieval, answer, summary and translation quality on public datasets");
  ev->require_subcommand(1);
  static KbFlags flags;
  static std::string beir, split = "test", modes = "bm25,dense,hybrid", fusion = "rrf";
  static size_t limit = 0;
  static bool as_json = false, no_embed = false, per_document = false;
  static AddOptions ao;
  static std::string rerank_model;
  static size_t rerank_depth = SearchOptions().rerank_depth;
  auto* r = ev->add_subcommand("retrieval", "nDCG@10, Recall@100 and MRR@10 on a BEIR-format dataset, per mode");
  r->add_option("--beir", beir, "Dataset directory (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv)")->required()->check(CLI::ExistingDirectory);
  r->add_option("--split", split, "Judgment split: any qrels/SPLIT.tsv of the dataset (test, train, dev, ...)")->capture_default_str();
  r->add_option("--mode", modes, "Comma-separated modes: bm25, dense, hybrid")->capture_default_str();
  r->add_option("--fusion", fusion, "Hybrid fusion: rrf or weighted")->check(CLI::IsMember({"rrf", "weighted"}))->capture_default_str();
  r->add_option("--limit", limit, "Evaluate only the first N queries");
  r->add_option("--chunk-tokens", ao.chunk_tokens, "Chunk size for the corpus")->check(CLI::Range(16, 8192))->capture_default_str();
  r->add_option("--overlap", ao.overlap_tokens, "Chunk overlap")->check(CLI::Range(0, 4096))->capture_default_str();
  r->add_flag("--no-embed", no_embed, "BM25 only: skip embedding the corpus");
  r->add_flag("--per-document", per_document,
              "Search with --per-document (each retriever reads 4x deeper) instead of taking the documents of the first 300 chunks");
  r->add_option("--rerank-model", rerank_model, "Cross-encoder GGUF that reorders each mode's first --rerank-depth results (modes report as MODE+rerank)");
  r->add_option("--rerank-depth", rerank_depth, "Results the cross-encoder reads per query")->capture_default_str();
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
      o.search.per_document = per_document;
      o.search.rerank_depth = rerank_depth;
      if (Status st = o.search.Validate(); !st.ok()) return Fail(st);
      auto reranker = OpenReranker(rerank_model, flags.threads);
      if (!reranker.ok()) return Fail(reranker.status());
      o.search.reranker = reranker->get();
      KbFlags f = flags;
      if (f.db.empty()) {
        f.db = eval::CachedKnowledgeBaseDir("", beir, "|" + std::to_string(ao.chunk_tokens) + "|" + std::to_string(ao.overlap_tokens) + "|" +
                                    f.stemmer + "|" + EmbedKey(f) + (no_embed ? "|bm25" : ""));
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
        j["ingest"] = {{"added", in.added + in.replaced + in.embedded}, {"unchanged", in.unchanged}, {"failed", in.failed},
                       {"chunks", in.chunks}, {"seconds", {{"total", in.total_s}, {"parse", in.parse_s}, {"chunk", in.chunk_s}, {"analyze", in.analyze_s},
                                                           {"embed", in.embed_s}, {"store", in.store_s}, {"index", in.index_s}}}};
        for (const auto& m : rep->modes) {
          j["modes"][m.mode] = {{"ndcg@10", m.ndcg_at_10}, {"recall@100", m.recall_at_100}, {"mrr@10", m.mrr_at_10},
                                {"queries_per_s", m.seconds > 0 ? m.queries / m.seconds : 0.0}};
        }
        PrintJson(j);
        return kExitOk;
      }
      std::printf("%s (%s split, %zu queries; corpus: %d added, %d unchanged, %d failed)\n\n", rep->dataset.c_str(),
                  rep->split.c_str(), rep->queries, rep->ingest.added + rep->ingest.replaced + rep->ingest.embedded, rep->ingest.unchanged, rep->ingest.failed);
      std::printf("%-8s %9s %11s %8s %10s\n", "mode", "nDCG@10", "Recall@100", "MRR@10", "queries/s");
      for (const auto& m : rep->modes) {
        std::printf("%-8s %9.4f %11.4f %8.4f %10.1f\n", m.mode.c_str(), m.ndcg_at_10, m.recall_at_100, m.mrr_at_10,
                    m.seconds > 0 ? m.queries / m.seconds : 0.0);
      }
      return kExitOk;
    };
  });
  RegisterEvalTasks(ev, reg);
}

namespace {

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  for (size_t p = 0; p <= s.size();) {
    size_t c = s.find(',', p);
    if (c == std::string::npos) c = s.size();
    if (c > p) out.push_back(s.substr(p, c - p));
    p = c + 1;
  }
  return out;
}

// The generator for an eval: with --batch N > 1, opened with room for N
// examples' prompts side by side (no more than there are examples); *eb says
// what one example may use, and eb->examples how many are decoded together.
Result<Backend> OpenEvalBackend(const GenFlags& gf, int candidates, int batch, size_t examples, int threads, eval::EvalBatch* eb) {
  *eb = eval::EvalBatch{};
  batch = static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(batch, 1)), std::max<size_t>(examples, 1)));
  if (batch <= 1) return OpenBackend(gf, candidates, threads);
  {
    // The context one example gets on its own (the model's, capped, or --ctx).
    auto alone = OpenBackend(gf, candidates, threads);
    if (!alone.ok()) return alone.status();
    eb->context = alone->gen->context_size();
  }
  eb->examples = batch;
  eb->sequences = std::max(candidates, 1);
  GenFlags wide = gf;
  wide.context = eb->context * batch;
  return OpenBackend(wide, std::max(candidates, batch), threads);
}

// The JSON report and the table every generation eval prints.
int Report(const std::string& task, json header, const std::vector<eval::TaskModeResult>& results,
           const std::vector<std::string>& metric_order, bool as_json, const std::string& predictions_file) {
  // The candidate settings mean nothing to a run without a +candidates mode.
  if (std::none_of(results.begin(), results.end(),
                   [](const eval::TaskModeResult& r) { return r.mode.find("+candidates") != std::string::npos; })) {
    header.erase("candidates");
    header.erase("select");
  }
  if (!predictions_file.empty()) {
    std::ofstream out(predictions_file);
    for (const auto& r : results) {
      for (size_t i = 0; i < r.predictions.size(); ++i) {
        json line = {{"mode", r.mode}, {"i", i}, {"prediction", r.predictions[i]}};
        if (i < r.grounding.size()) {
          const auto& g = r.grounding[i];
          line["generated"] = g.generated;
          line["cited"] = g.cited;
          line["gold"] = g.gold;
          line["sources"] = json::array();
          for (const auto& s : g.sources) line["sources"].push_back({{"n", s.n}, {"source", s.hit.source}, {"text", s.text}});
        }
        out << JsonText(line) << "\n";
      }
    }
  }
  const std::vector<eval::ModeDifference> diffs = eval::CompareModes(results);
  if (as_json) {
    json j = header;
    j["task"] = task;
    j["modes"] = json::object();
    for (const auto& r : results) {
      json m = r.metrics;
      m["examples"] = r.examples;
      m["seconds"] = r.seconds;
      m["seconds_per_example"] = r.examples ? r.seconds / static_cast<double>(r.examples) : 0.0;
      if (!r.reused.empty()) m["reused_answers_of"] = r.reused;
      j["modes"][r.mode] = m;
    }
    j["differences"] = json::array();
    for (const auto& d : diffs) {
      j["differences"].push_back({{"mode", d.mode}, {"baseline", d.baseline}, {"metric", d.metric}, {"difference", d.difference},
                                  {"ci95", {d.low, d.high}}, {"examples", d.examples}, {"significant", d.significant()}});
    }
    PrintJson(j);
    return kExitOk;
  }
  // The header as one readable line: "nq-open-oracle, 100 examples; model ..., top_k 5, ...".
  std::string line = header.value("dataset", std::string(task)) + ", " + std::to_string(header.value("examples", 0)) + " examples";
  const char* sep = "; ";
  for (const auto& [key, value] : header.items()) {
    if (key == "dataset" || key == "examples" || (value.is_string() && value.get<std::string>().empty())) continue;
    line += sep + key + " " + (value.is_string() ? value.get<std::string>() : JsonText(value));
    sep = ", ";
  }
  std::printf("%s\n\n%-38s", line.c_str(), "mode");
  for (const auto& m : metric_order) std::printf(" %12s", m.c_str());
  std::printf(" %10s\n", "s/example");
  for (const auto& r : results) {
    std::printf("%-38s", r.mode.c_str());
    for (const auto& m : metric_order) {
      auto it = r.metrics.find(m);
      if (it == r.metrics.end()) {
        std::printf(" %12s", "-");  // not measured in this mode
      } else {
        std::printf(" %12.4f", it->second);
      }
    }
    std::printf(" %10.2f%s\n", r.examples ? r.seconds / static_cast<double>(r.examples) : 0.0, r.reused.empty() ? "" : " *");
  }
  for (const auto& r : results) {
    if (auto cut = r.metrics.find("cut_by_max_tokens"); cut != r.metrics.end() && cut->second > 0) {
      std::printf("%s: %.0f%% of the answers stopped at the token limit, not at their end (-n/--max-tokens raises it)\n",
                  r.mode.c_str(), 100.0 * cut->second);
    }
  }
  for (const auto& r : results) {
    if (!r.reused.empty()) {
      std::printf("* %s: the greedy first candidates of %s (same prompts, decoded once; --separate-modes to decode it alone)\n",
                  r.mode.c_str(), r.reused.c_str());
    }
  }
  if (!diffs.empty()) {
    std::printf("\ndifferences (paired bootstrap, 1000 resamples of the %zu examples, 95%% interval):\n", diffs[0].examples);
    for (const auto& d : diffs) {
      const bool pct = d.metric != "chrf" && d.metric != "bleu";  // the rest are fractions
      const double s = pct ? 100.0 : 1.0;
      std::printf("  %-42s %-18s %+7.1f [%+6.1f, %+6.1f]%s  %s\n", (d.mode + " - " + d.baseline).c_str(), d.metric.c_str(),
                  s * d.difference, s * d.low, s * d.high, pct ? " points" : "", d.significant() ? "" : "(no significant difference)");
    }
  }
  return kExitOk;
}

// FLORES-200 codes -> a language name the model understands, and NTREX-128 file suffixes.
std::string LanguageName(const std::string& code) {
  static const std::map<std::string, std::string> names = {{"eng", "English"}, {"fra", "French"}, {"deu", "German"},
                                                           {"zho_Hans", "Simplified Chinese"}, {"zho_Hant", "Traditional Chinese"},
                                                           {"spa", "Spanish"}, {"ita", "Italian"}, {"por", "Portuguese"}};
  if (auto it = names.find(code.substr(0, code.find("_Latn"))); it != names.end()) return it->second;
  if (auto it = names.find(code); it != names.end()) return it->second;
  return code;
}
std::string NtrexSuffix(const std::string& code) {
  if (code == "zho_Hans") return "zho-CN";
  if (code == "zho_Hant") return "zho-TW";
  return code.substr(0, 3);
}

}  // namespace

void RegisterEvalTasks(CLI::App* ev, Registry& reg) {
  static KbFlags flags;
  static GenFlags qa_gen, su_gen, tr_gen;
  static std::string qa_modes, su_modes, tr_modes;
  static std::string data, predictions, from = "eng_Latn", to, split = "devtest", tm_data, src_file;
  static std::vector<std::string> ref_files;
  static size_t limit = 50;
  static int candidates = 4;
  static int batch = 1;
  static bool separate_modes = false;
  static size_t k = 5;
  static bool noise_only = false;
  static double qa_min_answerable = 0;
  static double qa_relevance_cut = AskOptions().relevance_cut;
  static std::string summary_language;

  auto common = [](CLI::App* c, std::string& modes, GenFlags& gf, const char* default_modes, int max_tokens,
                   const SelectorWeights& select, const char* data_help) {
    c->add_option("--data", data, data_help)->required();
    c->add_option("--limit", limit, "Evaluate the first N examples (0: all)")->capture_default_str();
    c->add_option("--modes", modes, "Comma-separated modes to run")->default_str(default_modes);
    modes = default_modes;
    c->add_option("--eval-candidates", candidates, "N for the +candidates mode")->check(CLI::Range(2, 16))->capture_default_str();
    c->add_option("--predictions", predictions, "Write every prediction as JSON lines to this file");
    c->add_option("--batch", batch,
                  "Examples decoded together as parallel sequences of one context (each sees the context and "
                  "sequences it would have alone; greedy answers can differ in a rare token from one-at-a-time)")
        ->check(CLI::Range(1, 32))
        ->capture_default_str();
    c->add_flag("--separate-modes", separate_modes,
                "Decode every mode on its own. By default a mode X run with X+candidates takes candidate 1 (greedy, "
                "same prompt) as its answer instead of decoding the prompt again");
    gf.max_tokens = max_tokens;  // before AddGenFlags, so --help shows it
    AddGenFlags(c, &gf, select);
    AddKbFlags(c, &flags);
    flags.db.clear();
  };

  auto* qa = ev->add_subcommand("qa", "Exact match, token F1 and answer-contains: closed-book vs RAG vs RAG + candidates");
  // QA answers get `quarry ask`'s token limit: the eval measures what a user reads.
  common(qa, qa_modes, qa_gen, "closed-book,rag,rag+candidates", GenFlags().max_tokens, AskOptions().generate.select,
         "JSON lines or one JSON array of records: your own {question, answers, contexts?}, nq-open {question, answers, "
         "ctxs}, RGB {query, answer, positive, negative}; or SQuAD (v1/v2)/CMRC .json; or a directory holding one such file");
  qa->add_option("-k,--top-k", k, "Passages per question")->check(CLI::Range(1, 50))->capture_default_str();
  qa->add_option("--relevance-cut", qa_relevance_cut, "The relevance cut of `quarry ask --relevance-cut` (0: every passage retrieved)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  qa->add_option("--min-answerable", qa_min_answerable,
                 "The reading check of `quarry ask --min-answerable` (0: off): an answer it stops is a refusal")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  qa->add_flag("--noise-only", noise_only,
               "RGB's negative rejection: each question gets only its noise passages, and only a refusal is right "
               "(contains = share refused)");
  qa->callback([&reg] {
    reg.run = [] {
      const GenFlags& gf = qa_gen;
      const std::string& modes = qa_modes;
      auto ds = eval::ReadQaDataset(data, limit, noise_only);
      if (!ds.ok()) return Fail(ds.status());
      if (ds->examples.empty()) {
        return Fail(Status::NotFound(data + ": no question with answers to score (looked for question/query and answers/answer)"));
      }
      KbFlags f = flags;
      // The noise-only pools hold other passages: another cached base.
      if (f.db.empty()) f.db = eval::CachedKnowledgeBaseDir(noise_only ? "qa-noise" : "qa", data, EvalKey(f));
      auto kb = KnowledgeBase::Open(ToOptions(f), true);
      if (!kb.ok()) return Fail(kb.status());
      eval::EvalBatch eb;
      auto b = OpenEvalBackend(gf, candidates, batch, ds->examples.size(), f.threads, &eb);
      if (!b.ok()) return Fail(b.status());
      eval::QaEvalOptions o;
      o.batch = eb;
      o.batch.share_greedy = !separate_modes;
      o.modes = SplitCommas(modes);
      o.candidates = candidates;
      o.ask.search.k = k;
      o.ask.generate = b->options;
      o.ask.min_answerable = qa_min_answerable;
      o.ask.relevance_cut = qa_relevance_cut;
      ProgressLine line;
      auto r = eval::EvaluateQa(**kb, *b->gen, *ds, o, [&](const std::string& m, size_t done, size_t total) {
        line.Update("  " + m + ": " + std::to_string(done) + (total ? "/" + std::to_string(total) : std::string(" passages")));
      });
      line.Done();
      if (!r.ok()) return Fail(r.status());
      json header = {{"dataset", ds->name}, {"examples", ds->examples.size()}, {"model", b->gen->model_id()}, {"batch", eb.examples},
                     {"top_k", k}, {"candidates", candidates}, {"select", gf.select}, {"db", f.db}};
      if (qa_min_answerable > 0) header["min_answerable"] = qa_min_answerable;
      header["relevance_cut"] = qa_relevance_cut;
      return Report("qa", header, *r, {"exact_match", "f1", "contains", "citation_precision", "citation_recall"}, gf.as_json,
                    predictions);
    };
  });

  auto* su = ev->add_subcommand("summarize", "ROUGE-L (by character for Chinese): lead sentence vs summary vs summary + candidates");
  common(su, su_modes, su_gen, "lead,summary,summary+candidates", 96, SummarizeOptions().generate.select,
         "DialogSum or SAMSum records {dialogue, summary | summary1..N} (JSON lines, or .json holding one array), "
         "or an LCSTS directory / test.src.txt with test.tgt.txt beside it");
  su->add_option("--language", summary_language, "Ask for summaries in this language (default: each text's own)");
  su->callback([&reg] {
    reg.run = [] {
      const GenFlags& gf = su_gen;
      const std::string& modes = su_modes;
      std::string name;
      auto ds = eval::ReadSummaryDataset(data, limit, &name);
      if (!ds.ok()) return Fail(ds.status());
      if (ds->empty()) return Fail(Status::NotFound(data + ": no example to score"));
      eval::EvalBatch eb;
      auto b = OpenEvalBackend(gf, candidates, batch, ds->size(), flags.threads, &eb);
      if (!b.ok()) return Fail(b.status());
      // Embeddings for the support selector come from a knowledge base handle (empty is fine).
      KbFlags f = flags;
      if (f.db.empty()) f.db = eval::CachedKnowledgeBaseDir("summarize", data, EvalKey(f));
      auto kb = KnowledgeBase::Open(ToOptions(f), true);
      if (!kb.ok()) return Fail(kb.status());
      eval::SummarizeEvalOptions o;
      o.batch = eb;
      o.batch.share_greedy = !separate_modes;
      o.modes = SplitCommas(modes);
      o.candidates = candidates;
      o.summarize.generate = b->options;
      o.summarize.language = summary_language;
      ProgressLine line;
      auto r = eval::EvaluateSummaries(*b->gen, kb->get(), *ds, o, [&](const std::string& m, size_t done, size_t total) {
        line.Update("  " + m + ": " + std::to_string(done) + "/" + std::to_string(total));
      });
      line.Done();
      if (!r.ok()) return Fail(r.status());
      json header = {{"dataset", name}, {"examples", ds->size()}, {"model", b->gen->model_id()}, {"batch", eb.examples}, {"candidates", candidates},
                     {"select", gf.select}, {"language", summary_language}};
      return Report("summarize", header, *r, {"rouge_l"}, gf.as_json, predictions);
    };
  });

  auto* tr = ev->add_subcommand(
      "translate",
      "chrF and BLEU as sacreBLEU scores them (13a tokens, every reference) on FLORES-200 or plain parallel text (--src/--ref): "
      "zero-shot vs translation-memory examples vs + candidates");
  common(tr, tr_modes, tr_gen, "zero-shot,tm,tm+candidates", 128, TranslateOptions().generate.select,
         "FLORES-200 directory (SPLIT/LANG.SPLIT files, one sentence per line)");
  tr->add_option("--from", from, "Source language: a FLORES code (eng_Latn) or a name")->capture_default_str();
  tr->add_option("--to", to, "Target language: a FLORES code (fra_Latn, deu_Latn, zho_Hans, ...) or a name (French)")->required();
  tr->add_option("--split", split, "FLORES split to translate")->check(CLI::IsMember({"dev", "devtest"}))->capture_default_str();
  tr->add_option("--src", src_file, "Instead of --data: plain text, one source sentence per line (WMT/sacreBLEU style)");
  tr->add_option("--ref", ref_files, "With --src: a reference file, line for line (repeat for several references)");
  tr->get_option("--data")->required(false);
  tr->add_option("--tm-data", tm_data,
                 "Translation memory source: an NTREX-128 directory (newstest2019-src.eng.txt + ref files), "
                 "or a FLORES directory (its other split)");
  tr->callback([&reg] {
    reg.run = [] {
      const GenFlags& gf = tr_gen;
      const std::string& modes = tr_modes;
      if (src_file.empty() == data.empty()) {
        return Fail(Status::InvalidArgument("give either --data (a FLORES-200 directory) or --src with --ref (plain text files)"));
      }
      if (!src_file.empty() && ref_files.empty()) return Fail(Status::InvalidArgument("--src needs at least one --ref file"));
      if (src_file.empty() && !ref_files.empty()) return Fail(Status::InvalidArgument("--ref goes with --src"));
      if (!src_file.empty() && !tm_data.empty()) {
        return Fail(Status::InvalidArgument("--tm-data reads FLORES/NTREX directories; with --src, build a memory with `quarry tm import`"));
      }
      const std::string src_path = src_file.empty() ? data + "/" + split + "/" + from + "." + split : src_file;
      std::vector<std::string> ref_paths = ref_files;
      if (src_file.empty()) ref_paths = {data + "/" + split + "/" + to + "." + split};
      auto src = eval::ReadLines(src_path, limit);
      if (!src.ok()) return Fail(src.status());
      if (src->empty()) return Fail(Status::NotFound(src_path + ": no sentence to translate"));
      std::vector<std::vector<std::string>> refs(src->size());
      for (const std::string& rp : ref_paths) {
        auto ref = eval::ReadLines(rp, limit);
        if (!ref.ok()) return Fail(ref.status());
        if (ref->size() != src->size()) {
          return Fail(Status::Corruption(rp + " has " + std::to_string(ref->size()) + " lines for " + std::to_string(src->size()) +
                                         " source sentences in " + src_path + " (references go line for line)"));
        }
        for (size_t i = 0; i < src->size(); ++i) refs[i].push_back((*ref)[i]);
      }
      eval::EvalBatch eb;
      auto b = OpenEvalBackend(gf, candidates, batch, src->size(), flags.threads, &eb);
      if (!b.ok()) return Fail(b.status());
      std::unique_ptr<KnowledgeBase> tm;
      std::string tm_desc;
      if (!tm_data.empty()) {
        std::vector<std::string> ts, tt;
        std::error_code ec;
        if (std::filesystem::exists(tm_data + "/NTREX-128", ec) || std::filesystem::exists(tm_data + "/newstest2019-src.eng.txt", ec)) {
          const std::string dir = std::filesystem::exists(tm_data + "/NTREX-128", ec) ? tm_data + "/NTREX-128" : tm_data;
          auto a = eval::ReadLines(dir + "/newstest2019-src." + NtrexSuffix(from) + ".txt", 0);
          if (!a.ok()) return Fail(a.status());
          auto c = eval::ReadLines(dir + "/newstest2019-ref." + NtrexSuffix(to) + ".txt", 0);
          if (!c.ok()) return Fail(c.status());
          ts = std::move(*a), tt = std::move(*c);
          tm_desc = "NTREX-128 newstest2019";
        } else {
          const std::string other = split == "dev" ? "devtest" : "dev";
          auto a = eval::ReadLines(tm_data + "/" + other + "/" + from + "." + other, 0);
          if (!a.ok()) return Fail(a.status());
          auto c = eval::ReadLines(tm_data + "/" + other + "/" + to + "." + other, 0);
          if (!c.ok()) return Fail(c.status());
          ts = std::move(*a), tt = std::move(*c);
          tm_desc = "FLORES-200 " + other;
        }
        std::vector<TranslationPair> pairs;
        for (size_t i = 0; i < ts.size() && i < tt.size(); ++i) {
          if (!ts[i].empty() && !tt[i].empty()) pairs.push_back({ts[i], tt[i]});
        }
        KbFlags f = flags;
        const std::string dir = f.db.empty() ? eval::CachedKnowledgeBaseDir("tm-" + from + "-" + to, tm_data, EvalKey(f)) : f.db;
        std::fprintf(stderr, "translation memory: %zu pairs from %s -> %s\n", pairs.size(), tm_desc.c_str(), dir.c_str());
        ProgressLine tm_line;
        auto imp = ImportTranslationMemory(dir, pairs, from, to, ToOptions(f), [&](const AddProgress& p) {
          tm_line.Update("  memory: " + std::to_string(p.documents) + "/" + std::to_string(pairs.size()) + " pairs stored");
        });
        tm_line.Done();
        if (!imp.ok()) return Fail(imp.status());
        KnowledgeBaseOptions ko = ToOptions(f);
        ko.dir = dir;
        auto kb = KnowledgeBase::Open(ko, false);
        if (!kb.ok()) return Fail(kb.status());
        tm = std::move(*kb);
      }
      eval::TranslateEvalOptions o;
      o.batch = eb;
      o.batch.share_greedy = !separate_modes;
      o.modes = SplitCommas(modes);
      if (!tm) o.modes.erase(std::remove_if(o.modes.begin(), o.modes.end(), [](const std::string& m) { return m != "zero-shot"; }), o.modes.end());
      o.candidates = candidates;
      o.translate.target_lang = LanguageName(to);
      o.translate.source_lang = LanguageName(from);
      o.translate.generate = b->options;
      ProgressLine line;
      auto r = eval::EvaluateTranslation(*b->gen, tm.get(), *src, refs, o, [&](const std::string& m, size_t done, size_t total) {
        line.Update("  " + m + ": " + std::to_string(done) + "/" + std::to_string(total));
      });
      line.Done();
      if (!r.ok()) return Fail(r.status());
      json header = {{"dataset", src_file.empty() ? "flores200 " + split : src_path}, {"references", ref_paths.size()}, {"batch", eb.examples},
                     {"from", from}, {"to", to}, {"examples", src->size()},
                     {"model", b->gen->model_id()}, {"memory", tm_desc}, {"candidates", candidates}, {"select", gf.select}};
      return Report("translate", header, *r, {"chrf", "bleu"}, gf.as_json, predictions);
    };
  });
}

}  // namespace quarry::cli
