#include "eval/generation_eval.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval/metrics.h"
#include "ingest/loader.h"
#include "rag/rag_internal.h"
#include "util/sha256.h"

namespace quarry::eval {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Result<std::string> ReadAll(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) return Status::NotFound(path + ": cannot open");
    std::string out;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    const bool bad = n < 0;
    gzclose(f);
    if (bad) return Status::Corruption(path + ": not a valid gzip file");
    return out;
  }
  return ReadFile(path);
}

// Answers are strings, lists of strings, or lists of lists (RGB): all become alternatives.
void Flatten(const json& v, std::vector<std::string>* out) {
  if (v.is_string()) {
    if (!v.get<std::string>().empty()) out->push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& x : v) Flatten(x, out);
  } else if (v.is_number()) {
    out->push_back(v.dump());
  }
}

std::string IdOf(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<QaDataset> ReadQaDataset(const std::string& path_in, size_t limit) {
  std::string path = path_in;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> found;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const std::string n = e.path().filename().string();
      if (EndsWith(n, ".jsonl") || EndsWith(n, ".jsonl.gz") || EndsWith(n, ".json")) found.push_back(e.path().string());
    }
    if (found.size() != 1) {
      return Status::InvalidArgument(path + ": holds " + std::to_string(found.size()) +
                                     " .json/.jsonl files; name the one to evaluate");
    }
    path = found[0];
  }
  auto data = ReadAll(path);
  if (!data.ok()) return data.status();
  QaDataset ds;
  ds.name = fs::path(path).filename().string();
  for (const char* ext : {".gz", ".jsonl", ".json"}) {
    if (EndsWith(ds.name, ext)) ds.name.resize(ds.name.size() - std::strlen(ext));
  }
  auto full = [&] { return limit > 0 && ds.examples.size() >= limit; };
  // SQuAD / CMRC: one JSON document.
  const size_t first = data->find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (*data)[first] == '{' && data->find("\"paragraphs\"") != std::string::npos) {
    json doc;
    try {
      doc = json::parse(*data);
    } catch (const json::exception& e) {
      return Status::Corruption(path + ": not valid JSON: " + e.what());
    }
    for (const auto& article : doc.value("data", json::array())) {
      for (const auto& para : article.value("paragraphs", json::array())) {
        Passage p{article.value("title", ""), para.value("context", "")};
        for (const auto& qa : para.value("qas", json::array())) {
          if (full()) break;
          QaExample ex;
          ex.id = IdOf(qa.value("id", json(ds.examples.size())));
          ex.question = qa.value("question", "");
          for (const auto& a : qa.value("answers", json::array())) {
            if (a.is_object()) Flatten(a.value("text", json()), &ex.answers);
          }
          ex.passages.push_back(p);
          if (!ex.question.empty() && !ex.answers.empty()) ds.examples.push_back(std::move(ex));
        }
      }
    }
    return ds;
  }
  // JSON lines: nq-open-oracle or RGB.
  std::istringstream lines(*data);
  std::string line;
  size_t n = 0;
  while (!full() && std::getline(lines, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json r;
    try {
      r = json::parse(line);
    } catch (const json::exception& e) {
      return Status::Corruption(path + ":" + std::to_string(n) + ": not valid JSON: " + e.what());
    }
    QaExample ex;
    if (r.contains("ctxs")) {
      ex.id = r.contains("id") ? IdOf(r["id"]) : std::to_string(n);
      ex.question = r.value("question", "");
      Flatten(r.value("answers", json()), &ex.answers);
      for (const auto& c : r["ctxs"]) ex.passages.push_back({c.value("title", ""), c.value("text", "")});
    } else if (r.contains("query") && r.contains("positive")) {
      ds.per_question_pool = true;
      ex.id = r.contains("id") ? IdOf(r["id"]) : std::to_string(n);
      ex.question = r.value("query", "");
      Flatten(r.value("answer", json()), &ex.answers);
      std::vector<std::string> texts;
      Flatten(r["positive"], &texts);
      if (r.contains("negative")) Flatten(r["negative"], &texts);
      for (auto& t : texts) ex.passages.push_back({"", std::move(t)});
    } else {
      return Status::InvalidArgument(path + ":" + std::to_string(n) +
                                     ": unknown QA record (expected nq-open {question, answers, ctxs} or RGB {query, answer, positive})");
    }
    if (ex.question.empty() || ex.answers.empty()) {
      return Status::Corruption(path + ":" + std::to_string(n) + ": " +
                                (ex.question.empty() ? "no question (field \"question\" or \"query\")"
                                                     : "no answer to score against (field \"answers\" or \"answer\")"));
    }
    ds.examples.push_back(std::move(ex));
  }
  return ds;
}

Result<std::vector<std::string>> ReadLines(const std::string& path, size_t limit) {
  auto data = ReadAll(path);
  if (!data.ok()) return data.status();
  std::vector<std::string> out;
  std::istringstream in(*data);
  for (std::string line; (limit == 0 || out.size() < limit) && std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
  }
  return out;
}

Result<std::vector<SummaryExample>> ReadSummaryDataset(const std::string& path, size_t limit, std::string* name) {
  std::error_code ec;
  std::string src = path, tgt;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(path + "/test.src.txt")) {
      src = path + "/test.src.txt";
    } else {
      for (const auto& e : fs::directory_iterator(path, ec)) {
        if (EndsWith(e.path().string(), ".jsonl")) src = e.path().string();
      }
    }
  }
  if (EndsWith(src, ".src.txt")) tgt = src.substr(0, src.size() - 8) + ".tgt.txt";
  std::vector<SummaryExample> out;
  if (!tgt.empty()) {
    *name = fs::path(src).parent_path().filename().string();
    auto s = ReadLines(src, limit);
    if (!s.ok()) return s.status();
    auto t = ReadLines(tgt, limit);
    if (!t.ok()) return t.status();
    if (s->size() != t->size() && (limit == 0 || std::min(s->size(), t->size()) < limit)) {
      return Status::Corruption(src + " has " + std::to_string(s->size()) + " lines but " + tgt + " has " +
                                std::to_string(t->size()) + "; they must pair line by line");
    }
    for (size_t i = 0; i < s->size() && i < t->size(); ++i) {
      if ((*t)[i].find_first_not_of(" \t") == std::string::npos) {
        return Status::Corruption(tgt + ":" + std::to_string(i + 1) + ": empty reference summary");
      }
      out.push_back({std::to_string(i + 1), (*s)[i], {(*t)[i]}});
    }
    return out;
  }
  if (!EndsWith(src, ".jsonl")) return Status::InvalidArgument(path + ": expected a DialogSum .jsonl or an LCSTS test.src.txt/test.tgt.txt pair");
  *name = fs::path(src).stem().string();
  auto lines = ReadLines(src, 0);
  if (!lines.ok()) return lines.status();
  for (size_t i = 0; i < lines->size() && (limit == 0 || out.size() < limit); ++i) {
    if ((*lines)[i].empty()) continue;
    json r = json::parse((*lines)[i], nullptr, false);
    const std::string where = src + ":" + std::to_string(i + 1);
    if (!r.is_object()) return Status::Corruption(where + ": not a JSON object");
    SummaryExample ex;
    ex.id = r.contains("fname") ? IdOf(r["fname"]) : r.contains("id") ? IdOf(r["id"]) : std::to_string(i + 1);
    for (const char* field : {"dialogue", "text"}) {
      if (ex.text.empty() && r.contains(field) && r[field].is_string()) ex.text = r[field].get<std::string>();
    }
    if (r.contains("summary") && r["summary"].is_string()) ex.references.push_back(r["summary"].get<std::string>());
    for (int k = 1; r.contains("summary" + std::to_string(k)); ++k) {
      const json& v = r["summary" + std::to_string(k)];
      if (v.is_string() && !v.get<std::string>().empty()) ex.references.push_back(v.get<std::string>());
    }
    if (ex.text.empty()) return Status::Corruption(where + ": no text to summarise (looked for \"dialogue\" and \"text\")");
    if (ex.references.empty()) {
      return Status::Corruption(where + ": no reference summary (looked for \"summary\" and \"summary1\".. \"summaryN\")");
    }
    out.push_back(std::move(ex));
  }
  return out;
}

Result<std::vector<TaskModeResult>> EvaluateQa(KnowledgeBase& kb, Generator& gen, const QaDataset& data, const QaEvalOptions& o,
                                               const EvalProgress& progress) {
  // The retrieval pool: every passage of the chosen examples, tagged with its question.
  std::string body;
  for (const auto& ex : data.examples) {
    for (size_t i = 0; i < ex.passages.size(); ++i) {
      if (ex.passages[i].text.empty()) continue;
      body += json{{"_id", ex.id + "-" + std::to_string(i)},
                   {"title", ex.passages[i].title},
                   {"text", ex.passages[i].text},
                   {"metadata", {{"qid", ex.id}}}}
                  .dump() +
              "\n";
    }
  }
  auto stats = kb.Stats();
  if (!stats.ok()) return stats.status();
  const std::string corpus = stats->dir + "/corpus-" + Sha256Hex(body).substr(0, 12) + ".jsonl";
  if (!fs::exists(corpus)) {
    std::ofstream out(corpus, std::ios::binary);
    out << body;
    if (!out.flush()) return Status::IOError(corpus + ": cannot write");
  }
  auto added = kb.Add({corpus}, {}, progress ? AddProgressFn([&](const AddProgress& p) {
    progress("ingest", static_cast<size_t>(p.documents), 0);
  }) : nullptr);
  if (!added.ok()) return added.status();

  std::vector<TaskModeResult> results;
  // rag+candidates also reports what each selector alone would have chosen
  // from the same candidates (and an oracle: any candidate right), so one
  // generation pass compares them all.
  static const std::vector<std::pair<std::string, SelectorWeights>> kSelectors = {
      {"support", {{"support", 1}}},
      {"likelihood", {{"likelihood", 1}}},
      {"agreement", {{"agreement", 1}}},
      {"support+agreement", {{"support", 1}, {"agreement", 1}}},
  };
  for (const std::string& mode : o.modes) {
    if (mode != "closed-book" && mode != "rag" && mode != "rag+candidates") {
      return Status::InvalidArgument("unknown QA mode '" + mode + "' (closed-book, rag, rag+candidates)");
    }
    TaskModeResult r;
    r.mode = mode;
    double em = 0, f1 = 0, contains = 0;
    // Citations, judged by the data: a passage that contains a gold answer
    // supports it. Precision over every citation made; recall over the
    // answers whose sources held such a passage.
    double cited = 0, cited_gold = 0, with_gold = 0, citing_gold = 0;
    struct Tally {
      double em = 0, f1 = 0, contains = 0;
      std::vector<std::string> predictions;
    };
    std::map<std::string, Tally> by_selector;
    const auto t = Clock::now();
    for (size_t i = 0; i < data.examples.size(); ++i) {
      const QaExample& ex = data.examples[i];
      AskOptions ao = o.ask;
      ao.min_relevance = -2;  // always answer: accuracy is measured, not abstention
      ao.generate.candidates = mode == "rag+candidates" ? o.candidates : 1;
      if (data.per_question_pool) ao.search.where.push_back("qid=" + ex.id);
      if (mode == "rag+candidates") ao.generate.sampling.logprobs = true;  // for the likelihood row
      Result<Answer> a = mode == "closed-book" ? AskClosedBook(gen, ex.question, ao.generate, &kb) : Ask(kb, gen, ex.question, ao);
      if (!a.ok()) return a.status();
      em += ExactMatch(a->text, ex.answers);
      f1 += TokenF1(a->text, ex.answers);
      contains += AnswerContains(a->text, ex.answers) ? 1 : 0;
      if (mode == "rag+candidates") {
        rag::Evidence ev;
        ev.query = ex.question;
        for (const Source& src : a->sources) ev.texts.push_back(src.text);
        bool any_right = false;
        for (const auto& c : a->candidates) any_right = any_right || AnswerContains(c.text, ex.answers);
        by_selector["oracle"].contains += any_right ? 1 : 0;
        for (const auto& [name, weights] : kSelectors) {
          std::vector<Candidate> cands = a->candidates;
          QUARRY_RETURN_IF_ERROR(rag::ScoreCandidates(weights, ev, &kb, nullptr, &cands));
          size_t best = 0;
          for (size_t c = 1; c < cands.size(); ++c) best = cands[c].score > cands[best].score ? c : best;
          Tally& tally = by_selector[name];
          tally.em += ExactMatch(cands[best].text, ex.answers);
          tally.f1 += TokenF1(cands[best].text, ex.answers);
          tally.contains += AnswerContains(cands[best].text, ex.answers) ? 1 : 0;
          tally.predictions.push_back(cands[best].text);
        }
      }
      if (mode != "closed-book") {
        bool any_gold = false, cites_gold = false;
        for (const Source& src : a->sources) {
          const bool gold = AnswerContains(src.text, ex.answers);
          const bool is_cited = std::find(a->cited.begin(), a->cited.end(), src.n) != a->cited.end();
          any_gold = any_gold || gold;
          cited += is_cited ? 1 : 0;
          cited_gold += is_cited && gold ? 1 : 0;
          cites_gold = cites_gold || (is_cited && gold);
        }
        with_gold += any_gold ? 1 : 0;
        citing_gold += cites_gold ? 1 : 0;
      }
      r.predictions.push_back(a->text);
      if (progress) progress(mode, i + 1, data.examples.size());
    }
    r.seconds = Since(t);
    r.examples = data.examples.size();
    const double n = std::max<double>(1, static_cast<double>(r.examples));
    r.metrics = {{"exact_match", em / n}, {"f1", f1 / n}, {"contains", contains / n}};
    if (mode != "closed-book") {
      r.metrics["citation_precision"] = cited > 0 ? cited_gold / cited : 0.0;
      r.metrics["citation_recall"] = with_gold > 0 ? citing_gold / with_gold : 0.0;
    }
    const size_t examples = r.examples;
    const double seconds = r.seconds;
    results.push_back(std::move(r));
    for (auto& [name, tally] : by_selector) {
      TaskModeResult s;
      s.mode = mode + ":" + name;
      s.examples = examples;
      s.seconds = seconds;  // the same generation pass
      s.metrics = {{"contains", tally.contains / n}};
      if (name != "oracle") {
        s.metrics["exact_match"] = tally.em / n;
        s.metrics["f1"] = tally.f1 / n;
      }
      s.predictions = std::move(tally.predictions);
      results.push_back(std::move(s));
    }
  }
  return results;
}

Result<std::vector<TaskModeResult>> EvaluateSummaries(Generator& gen, KnowledgeBase* kb, const std::vector<SummaryExample>& data,
                                                      const SummarizeEvalOptions& o, const EvalProgress& progress) {
  std::vector<TaskModeResult> results;
  for (const std::string& mode : o.modes) {
    if (mode != "lead" && mode != "summary" && mode != "summary+candidates") {
      return Status::InvalidArgument("unknown summarize mode '" + mode + "' (lead, summary, summary+candidates)");
    }
    TaskModeResult r;
    r.mode = mode;
    double rouge = 0;
    const auto t = Clock::now();
    for (size_t i = 0; i < data.size(); ++i) {
      std::string pred;
      if (mode == "lead") {
        // The first sentence: the classic extractive baseline.
        auto sents = rag::SplitSentences(data[i].text);
        pred = sents.empty() ? std::string() : sents[0];
      } else {
        SummarizeOptions so = o.summarize;
        so.generate.candidates = mode == "summary+candidates" ? o.candidates : 1;
        auto a = SummarizeText(gen, data[i].text, so, kb);
        if (!a.ok()) return a.status();
        pred = a->text;
      }
      double best = 0;
      for (const auto& ref : data[i].references) best = std::max(best, RougeL(pred, ref));
      rouge += best;
      r.predictions.push_back(std::move(pred));
      if (progress) progress(mode, i + 1, data.size());
    }
    r.seconds = Since(t);
    r.examples = data.size();
    r.metrics = {{"rouge_l", rouge / std::max<double>(1, static_cast<double>(data.size()))}};
    results.push_back(std::move(r));
  }
  return results;
}

Result<std::vector<TaskModeResult>> EvaluateTranslation(Generator& gen, KnowledgeBase* tm, const std::vector<std::string>& sources,
                                                        const std::vector<std::string>& refs, const TranslateEvalOptions& o,
                                                        const EvalProgress& progress) {
  std::vector<TaskModeResult> results;
  for (const std::string& mode : o.modes) {
    if (mode != "zero-shot" && mode != "tm" && mode != "tm+candidates") {
      return Status::InvalidArgument("unknown translate mode '" + mode + "' (zero-shot, tm, tm+candidates)");
    }
    if (mode != "zero-shot" && !tm) return Status::InvalidArgument("mode " + mode + " needs a translation memory (--tm)");
    TaskModeResult r;
    r.mode = mode;
    const auto t = Clock::now();
    for (size_t i = 0; i < sources.size(); ++i) {
      TranslateOptions to = o.translate;
      to.tm = mode == "zero-shot" ? nullptr : tm;
      to.generate.candidates = mode == "tm+candidates" ? o.candidates : 1;
      auto a = Translate(gen, sources[i], to);
      if (!a.ok()) return a.status();
      // One line per segment: the first line of the output is the translation.
      std::string pred = a->text.substr(0, a->text.find('\n'));
      r.predictions.push_back(std::move(pred));
      if (progress) progress(mode, i + 1, sources.size());
    }
    r.seconds = Since(t);
    r.examples = sources.size();
    r.metrics = {{"chrf", CorpusChrF(r.predictions, refs)}, {"bleu", CorpusBleu(r.predictions, refs)}};
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace quarry::eval
