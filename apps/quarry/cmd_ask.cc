// quarry ask | summarize | translate | tm import: grounded generation.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "quarry/json.h"
#include "quarry/registry.h"
#include "quarry/rag.h"

namespace quarry::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool StreamPiece(std::string_view piece) {
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
  return true;
}

// A file translated line by line gives one output line per input line: a
// translation's own line breaks become spaces, and whitespace at its ends is
// dropped. Fed piece by piece (streaming) or whole; what it returns is final.
class OneLine {
 public:
  std::string Feed(std::string_view piece) {
    std::string out;
    for (char c : piece) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        if (!started_) continue;
        if (c == '\n' || c == '\r') broken_ = true;
        else held_ += c;
        continue;
      }
      out += broken_ ? std::string(" ") : held_;
      held_.clear();
      broken_ = false;
      started_ = true;
      out += c;
    }
    return out;
  }

 private:
  bool started_ = false, broken_ = false;
  std::string held_;  // whitespace that only text after it may release
};

json AnswerJson(const Answer& a, const std::string& model) {
  json j = {{"answer", a.text},
          {"grounded", a.grounded},
          {"citations", CitationsJson(a)},
          {"candidates", CandidatesJson(a)},
          {"selected", a.selected},
          {"best_relevance", a.best_relevance},
          {"model", model},
          {"usage", {{"prompt_tokens", a.prompt_tokens}, {"completion_tokens", a.completion_tokens}}},
          {"timings",
           {{"retrieve_ms", a.retrieve_ms},
            {"check_ms", a.check_ms},
            {"generate_ms", a.generate_ms},
            {"select_ms", a.select_ms},
            {"time_to_first_token_ms", a.time_to_first_token_ms}}}};
  if (a.answerable) j["answerable"] = *a.answerable;
  return j;
}

// Answer text (unless it was streamed), then the numbered sources.
void PrintAnswer(const Answer& a, bool streamed) {
  if (!streamed) std::printf("%s", a.text.c_str());
  std::printf("\n");
  if (a.candidates.size() > 1) {
    const Candidate& c = a.candidates[static_cast<size_t>(a.selected)];
    std::fprintf(stderr, "(candidate %d of %zu, score %.3f)\n", a.selected + 1, a.candidates.size(), c.score);
  }
  if (a.sources.empty()) return;
  if (a.cited.empty()) {
    std::printf("\nSources: none cited (%zu passages were given; --json lists them)\n", a.sources.size());
    return;
  }
  // The passages the answer cites, by number; --json keeps every one given.
  std::printf("\nSources:\n");
  for (const auto& s : a.sources) {
    if (std::find(a.cited.begin(), a.cited.end(), s.n) == a.cited.end()) continue;
    std::printf("[%d] %s (chars %lld-%lld)%s\n", s.n, s.hit.source.c_str(), static_cast<long long>(s.hit.chunk.start),
                static_cast<long long>(s.hit.chunk.end), s.trimmed ? ", trimmed" : "");
  }
}

// TEXT, a file's contents, or stdin for "-".
Result<std::string> ReadFileOrText(const std::string& arg, bool* was_file) {
  *was_file = false;
  if (arg == "-") return ReadStdin();
  std::error_code ec;
  if (!fs::is_regular_file(arg, ec)) return arg;
  *was_file = true;
  std::ifstream in(arg, std::ios::binary);
  if (!in) return Status::IOError(arg + ": cannot read: " + std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError(arg + ": read failed");
  return data;
}

bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64 || n[0] == '.') return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string TmDir(const KbFlags& flags, const std::string& name) { return ToOptions(flags).dir + "/tm/" + name; }

}  // namespace

void AddGenFlags(CLI::App* cmd, GenFlags* f, const SelectorWeights& default_select) {
  // As --select spells it: "support", or "support=0.5,agreement=0.5".
  f->select.clear();
  for (const auto& [name, w] : default_select) {
    std::ostringstream weight;
    weight << w;
    f->select += (f->select.empty() ? "" : ",") + name + (default_select.size() > 1 ? "=" + weight.str() : "");
  }
  const char* env = std::getenv("QUARRY_LLM");
  f->llm = env && *env ? env : kDefaultGenerator;
  cmd->add_option("--llm", f->llm,
                  "Chat model: a name, a GGUF path, or openai:URL[#MODEL] for an OpenAI-compatible server "
                  "(key from $QUARRY_API_KEY or $OPENAI_API_KEY); default $QUARRY_LLM, else " + std::string(kDefaultGenerator))
      ->capture_default_str();
  cmd->add_option("-n,--max-tokens", f->max_tokens, "Most tokens per answer")->capture_default_str();
  cmd->add_option("--temperature", f->temperature, "Sampling temperature; 0 is greedy and deterministic")->capture_default_str();
  cmd->add_option("--candidate-temperature", f->candidate_temperature,
                  "With --candidates N, candidates after the first sample at max(--temperature, this)")->capture_default_str();
  cmd->add_option("--seed", f->seed, "Random seed; candidate i uses seed + i")->capture_default_str();
  cmd->add_option("--repeat-penalty", f->repeat_penalty, "Penalty on repeating the last 64 tokens (1: off)")->capture_default_str();
  cmd->add_option("--candidates", f->candidates, "Generate N answers together and return the one the selector scores best")->capture_default_str();
  cmd->add_option("--select", f->select,
                  "Candidate scoring: support (evidence similarity), likelihood (generator log-probability), "
                  "agreement (consensus with the other candidates), rerank (cross-encoder, needs --rerank-model), "
                  "or a mix like support=0.5,agreement=0.5")
      ->capture_default_str();
  cmd->add_option("--rerank-model", f->rerank_model,
                  "Cross-encoder GGUF (a name or path; see `quarry model import`): reranks the retrieved passages "
                  "and serves the rerank selector");
  cmd->add_option("-c,--ctx", f->context, "Context window in tokens (default: the model's, at most 4096)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", f->as_json, "Print the result as JSON (no streaming)");
}

Result<std::unique_ptr<Reranker>> OpenReranker(const std::string& name_or_path, int threads) {
  if (name_or_path.empty()) return std::unique_ptr<Reranker>();
  auto path = ResolveModel(name_or_path);
  if (!path.ok()) return path.status();
  return Reranker::Open(*path, threads);
}

Result<Backend> OpenBackend(const GenFlags& f, int sequences, int threads) {
  Backend b;
  auto sel = ParseSelector(f.select);
  if (!sel.ok()) return Status::InvalidArgument("--select: " + sel.status().message());
  b.options.select = *sel;
  b.options.candidates = f.candidates;
  b.options.sampling.max_tokens = f.max_tokens;
  b.options.sampling.seed = f.seed;
  b.options.sampling.repeat_penalty = static_cast<float>(f.repeat_penalty);
  b.options.sampling.temperature = static_cast<float>(f.temperature);
  b.options.candidate_temperature = static_cast<float>(f.candidate_temperature);
  QUARRY_RETURN_IF_ERROR(b.options.Validate());
  if (sel->count("rerank") && f.rerank_model.empty()) {
    return Status::InvalidArgument("--select rerank needs --rerank-model FILE.gguf (a cross-encoder)");
  }
  auto r = OpenReranker(f.rerank_model, threads);
  if (!r.ok()) return r.status();
  b.reranker = std::move(*r);
  b.options.reranker = b.reranker.get();
  GeneratorOptions go;
  go.context = f.context;
  go.threads = threads;
  go.sequences = std::max(sequences, 1);
  auto g = OpenGenerator(f.llm, go);
  if (!g.ok()) return g.status();
  b.gen = std::move(*g);
  return b;
}

void RegisterAsk(CLI::App& app, Registry& reg) {
  // ---- ask
  {
    auto* cmd = app.add_subcommand("ask", "Answer a question from the knowledge base, citing the passages used");
    static KbFlags flags;
    static GenFlags gf;
    static std::string question, strategy = "joint", mode = "hybrid";
    static size_t k = AskOptions().search.k;
    static std::optional<double> min_rel;
    static double min_answerable = AskOptions().min_answerable;
    static double relevance_cut = AskOptions().relevance_cut;
    static int context_tokens = 0;
    cmd->add_option("QUESTION", question, "The question; '-' reads it from stdin")->required();
    cmd->add_option("-k,--top-k", k, "Passages to retrieve")->capture_default_str();
    cmd->add_option("--mode", mode, "Retrieval: hybrid, bm25 or dense")->check(CLI::IsMember({"hybrid", "bm25", "dense"}))->capture_default_str();
    cmd->add_option("--strategy", strategy,
                    "joint: every candidate sees all passages; per-source: one candidate per passage, "
                    "its score weighed by the passage's retrieval score")
        ->check(CLI::IsMember({"joint", "per-source"}))->capture_default_str();
    cmd->add_option("--min-relevance", min_rel,
                    "Below this question-passage cosine similarity, answer \"I don't know\" instead of guessing "
                    "(default: the embedding model's own threshold: 0.80 for E5, the default, 0.86 for a Chinese, Japanese or Korean question; 0.25 for MiniLM)")->capture_default_str();
    cmd->add_option("--relevance-cut", relevance_cut,
                    "Give the model only the passages whose cosine to the question, above the embedding model's own "
                    "threshold, is at least this share of the best passage's; one within a tenth of the way from that "
                    "threshold to 1 of the best always stays (0: every passage retrieved)")
        ->capture_default_str();
    cmd->add_option("--min-answerable", min_answerable,
                    "Reading check: first ask the generator whether the passages state the answer (Yes/No, a few "
                    "tokens over the same prompt); below this probability of Yes, answer \"I don't know\". "
                    "0 turns it off; with the default generator 0.45 refuses about a tenth of questions whose passages "
                    "are only on topic (RGB noise) and 3% of answerable NQ ones (docs/benchmarks.md)")
        ->capture_default_str();
    cmd->add_option("--context-tokens", context_tokens, "Token budget for the passages (default: what the window leaves)");
    AddGenFlags(cmd, &gf, AskOptions().generate.select);
    AddKbFlags(cmd, &flags);
    cmd->callback([&reg] {
      reg.run = [] {
        if (question == "-") question = ReadStdin();
        auto kb = KnowledgeBase::Open(ToOptions(flags), false);
        if (!kb.ok()) return Fail(kb.status());
        AskOptions o;
        o.search.k = k;
        o.search.mode = mode == "bm25" ? SearchOptions::Mode::kBm25 : mode == "dense" ? SearchOptions::Mode::kDense : SearchOptions::Mode::kHybrid;
        o.strategy = strategy == "per-source" ? AskOptions::Strategy::kPerSource : AskOptions::Strategy::kJoint;
        o.min_relevance = min_rel;
        o.min_answerable = min_answerable;
        o.relevance_cut = relevance_cut;
        o.context_tokens = context_tokens;
        if (Status st = o.Validate(); !st.ok()) return Fail(st);  // before loading any model
        const int seqs = o.strategy == AskOptions::Strategy::kPerSource ? static_cast<int>(k) : gf.candidates;
        if (o.strategy == AskOptions::Strategy::kPerSource && gf.candidates > 1) {
          return Fail(Status::InvalidArgument("--strategy per-source makes one candidate per passage; use -k to set how many, not --candidates"));
        }
        auto b = OpenBackend(gf, seqs, flags.threads);
        if (!b.ok()) return Fail(b.status());
        o.generate = b->options;
        o.search.reranker = b->reranker.get();
        const bool stream = !gf.as_json && gf.candidates == 1 && o.strategy == AskOptions::Strategy::kJoint;
        bool streamed = false;
        auto a = Ask(**kb, *b->gen, question, o, stream ? TokenCallback([&](std::string_view p) { return streamed = true, StreamPiece(p); }) : nullptr);
        if (!a.ok()) return Fail(a.status());
        if (gf.as_json) {
          json j = AnswerJson(*a, b->gen->model_id());
          j["question"] = question;
          PrintJson(j);
        } else {
          PrintAnswer(*a, streamed);
        }
        return kExitOk;
      };
    });
  }

  // ---- summarize
  {
    auto* cmd = app.add_subcommand("summarize", "Summarize a document (map-reduce when it exceeds the window), or what the collection says about a query");
    static KbFlags flags;
    static GenFlags gf;
    static std::string target, query, language;
    static size_t k = AskOptions().search.k;
    cmd->add_option("DOC", target, "Document id (see `quarry ls`), a path in the knowledge base, or any file");
    auto* query_opt = cmd->add_option("-q,--query", query, "Summarize what the knowledge base says about this instead, with citations");
    cmd->add_option("-k,--top-k", k, "Passages to retrieve for --query")->capture_default_str();
    cmd->add_option("--language", language, "Write the summary of DOC in this language (default: the document's)")->excludes(query_opt);
    AddGenFlags(cmd, &gf, SummarizeOptions().generate.select);
    AddKbFlags(cmd, &flags);
    cmd->callback([&reg] {
      reg.run = [] {
        if (target.empty() == query.empty()) return Fail(Status::InvalidArgument("give either DOC or --query, not both or neither"));
        auto b = OpenBackend(gf, gf.candidates, flags.threads);
        if (!b.ok()) return Fail(b.status());
        const bool stream = !gf.as_json && gf.candidates == 1;
        bool streamed = false;
        TokenCallback cb = stream ? TokenCallback([&](std::string_view p) { return streamed = true, StreamPiece(p); }) : nullptr;
        std::unique_ptr<KnowledgeBase> kb;
        if (auto k2 = KnowledgeBase::Open(ToOptions(flags), false); k2.ok()) kb = std::move(*k2);
        Result<Answer> a = Status::Internal("unset");
        std::string source;
        if (!query.empty()) {
          if (!kb) return Fail(Status::NotFound(ToOptions(flags).dir + ": no knowledge base here; `quarry add` documents first, or pass --db"));
          AskOptions o;
          o.search.k = k;
          o.search.reranker = b->reranker.get();
          o.generate = b->options;
          a = SummarizeQuery(*kb, *b->gen, query, o, cb);
        } else {
          std::string text;
          // A document id, a source already in the base, or a file read now.
          int64_t id = 0;
          if (kb && target.find_first_not_of("0123456789") == std::string::npos) {
            id = std::stoll(target);
          } else if (kb) {
            std::error_code ec;
            const std::string abs = fs::absolute(target, ec).lexically_normal().string();
            auto docs = kb->ListDocuments();
            if (!docs.ok()) return Fail(docs.status());
            for (const auto& d : *docs) {
              if (d.source == target || d.source == abs) id = d.id;
            }
          }
          if (id > 0) {
            auto t = kb->GetDocumentText(id);
            if (!t.ok()) return Fail(t.status());
            text = std::move(*t);
            auto d = kb->GetDocument(id);
            source = d.ok() && *d ? (*d)->source : target;
          } else {
            auto t = ExtractText(target);
            if (!t.ok()) return Fail(t.status());
            text = std::move(*t);
            source = target;
          }
          SummarizeOptions so;
          so.generate = b->options;
          so.language = language;
          a = SummarizeText(*b->gen, text, so, kb.get(), cb);
        }
        if (!a.ok()) return Fail(a.status());
        if (gf.as_json) {
          json j = AnswerJson(*a, b->gen->model_id());
          j["summary"] = a->text;
          if (!source.empty()) j["source"] = source;
          if (!query.empty()) j["query"] = query;
          PrintJson(j);
        } else {
          PrintAnswer(*a, streamed);
        }
        return kExitOk;
      };
    });
  }

  // ---- translate
  {
    auto* cmd = app.add_subcommand("translate", "Translate text or a file, with the nearest translation-memory pairs as examples");
    static KbFlags flags;
    static GenFlags gf;
    static std::string input, to, from, tm;
    static int examples = TranslateOptions().examples;
    cmd->add_option("TEXT", input, "Text, a file or '-' for stdin (translated line by line: one output line per input line)")->required();
    cmd->add_option("--to", to, "Target language as the model should read it: French, German, Chinese, ...")->required();
    cmd->add_option("--from", from, "Source language (optional)");
    cmd->add_option("--tm", tm, "Translation memory (made by `quarry tm import`)");
    cmd->add_option("--examples", examples, "Memory pairs shown to the model as examples")->capture_default_str();
    AddGenFlags(cmd, &gf, TranslateOptions().generate.select);
    AddKbFlags(cmd, &flags);
    cmd->callback([&reg] {
      reg.run = [] {
        std::unique_ptr<KnowledgeBase> memory;
        if (!tm.empty()) {
          if (!ValidName(tm)) return Fail(Status::InvalidArgument("--tm " + tm + ": names use letters, digits, '-', '_' and '.'"));
          KnowledgeBaseOptions ko = ToOptions(flags);
          ko.dir = TmDir(flags, tm);
          auto m = KnowledgeBase::Open(ko, false);
          if (!m.ok()) {
            return Fail(Status::NotFound("translation memory '" + tm + "' not found in " + ko.dir +
                                         "; create it with `quarry tm import FILE --name " + tm + "`"));
          }
          memory = std::move(*m);
        }
        auto b = OpenBackend(gf, gf.candidates, flags.threads);
        if (!b.ok()) return Fail(b.status());
        TranslateOptions o;
        o.target_lang = to;
        o.source_lang = from;
        o.generate = b->options;
        o.tm = memory.get();
        o.examples = examples;
        bool was_file = false;
        auto read = ReadFileOrText(input, &was_file);
        if (!read.ok()) return Fail(read.status());
        const std::string& text = *read;
        std::vector<std::string> segments;
        if (was_file || input == "-") {
          std::istringstream in(text);
          for (std::string line; std::getline(in, line);) segments.push_back(line);
        } else {
          segments.push_back(text);
        }
        const bool by_line = segments.size() > 1 || was_file || input == "-";
        json results = json::array();
        int failed = 0;
        for (const std::string& seg : segments) {
          if (by_line && seg.find_first_not_of(" \t\r") == std::string::npos) {
            if (!gf.as_json) std::printf("\n");
            continue;
          }
          const bool stream = !gf.as_json && gf.candidates == 1;
          OneLine line;
          TokenCallback on_piece = nullptr;
          if (stream) on_piece = by_line ? TokenCallback([&line](std::string_view p) { return StreamPiece(line.Feed(p)); }) : StreamPiece;
          auto a = Translate(*b->gen, seg, o, on_piece);
          if (!a.ok()) {
            ++failed;
            Fail(a.status());  // reported; the other segments go on
            if (by_line && !gf.as_json) std::printf("\n");  // its line stays, empty
            continue;
          }
          if (gf.as_json) {
            json j = AnswerJson(*a, b->gen->model_id());
            j["source_text"] = seg;
            j["translation"] = a->text;
            json ex = json::array();
            for (const auto& s : a->sources) ex.push_back({{"source", s.hit.chunk.text}, {"target", s.text}, {"score", s.hit.score}});
            j["examples"] = ex;
            j.erase("citations");
            results.push_back(std::move(j));
          } else {
            if (!stream) std::printf("%s", by_line ? OneLine().Feed(a->text).c_str() : a->text.c_str());
            std::printf("\n");
          }
        }
        if (gf.as_json) PrintJson(segments.size() == 1 && results.size() == 1 ? results[0] : results);
        return failed ? kExitFailed : kExitOk;
      };
    });
  }

  // ---- tm
  {
    auto* tmc = app.add_subcommand("tm", "Translation memories for `quarry translate --tm`");
    tmc->require_subcommand(1);
    static KbFlags flags;
    static std::string file, name, src_lang, tgt_lang;
    static bool as_json = false;
    auto* imp = tmc->add_subcommand("import", "Add the pairs of a .tmx or .tsv (source<TAB>target) file to a translation memory");
    imp->add_option("FILE", file, "A .tmx or .tsv file")->required();
    imp->add_option("--name", name, "Memory name (created when new)")->required();
    imp->add_option("--source-lang", src_lang, "TMX: the source language (default: the header's srclang)");
    imp->add_option("--target-lang", tgt_lang, "TMX: the target language (default: the other language in the file)");
    imp->add_flag("--json", as_json, "Print the report as JSON");
    AddKbFlags(imp, &flags);
    imp->callback([&reg] {
      reg.run = [] {
        if (!ValidName(name)) return Fail(Status::InvalidArgument("--name " + name + ": use letters, digits, '-', '_' and '.'"));
        int skipped = 0;
        auto pairs = ReadTranslationPairs(file, &src_lang, &tgt_lang, &skipped);
        if (!pairs.ok()) return Fail(pairs.status());
        ProgressLine line;
        auto r = ImportTranslationMemory(TmDir(flags, name), *pairs, src_lang, tgt_lang, ToOptions(flags), [&](const AddProgress& p) {
          line.Update("  " + std::to_string(p.documents) + "/" + std::to_string(pairs->size()) + " pairs stored");
        });
        line.Done();
        if (!r.ok()) return Fail(r.status());
        r->skipped = skipped;
        if (as_json) {
          PrintJson(json{{"name", name},
                            {"dir", TmDir(flags, name)},
                            {"pairs", r->pairs},
                            {"skipped", r->skipped},
                            {"added", r->add.added},
                            {"unchanged", r->add.unchanged},
                            {"source_lang", r->source_lang},
                            {"target_lang", r->target_lang}});
        } else {
          std::printf("%s: %d pairs read (%d skipped: missing a side), %d new, %d already there%s%s\n", name.c_str(), r->pairs,
                      r->skipped, r->add.added, r->add.unchanged, r->source_lang.empty() ? "" : (", " + r->source_lang + " -> ").c_str(),
                      r->target_lang.c_str());
        }
        return kExitOk;
      };
    });
  }
}

}  // namespace quarry::cli
