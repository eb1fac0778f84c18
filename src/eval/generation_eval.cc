#include "quarry/eval.h"

#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "eval/batching.h"
#include "eval/metrics.h"
#include "ingest/loader.h"
#include "rag/rag_internal.h"
#include "util/sha256.h"

namespace quarry::eval {
namespace {

// Every example once: the sample a metric's own value is computed on.
std::vector<size_t> AllOf(size_t n) {
  std::vector<size_t> all(n);
  std::iota(all.begin(), all.end(), size_t{0});
  return all;
}

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The order modes run in: "X+candidates" before "X" when both are asked for,
// so X can reuse the greedy first candidate (GreedyMemoGenerator).
std::vector<std::string> RunOrder(const std::vector<std::string>& modes, bool share) {
  if (!share) return modes;
  std::vector<std::string> order;
  auto has = [&](const std::string& m) { return std::find(modes.begin(), modes.end(), m) != modes.end(); };
  auto ran = [&](const std::string& m) { return std::find(order.begin(), order.end(), m) != order.end(); };
  for (const std::string& m : modes) {
    if (has(m + "+candidates") && !ran(m + "+candidates")) order.push_back(m + "+candidates");
    if (!ran(m)) order.push_back(m);
  }
  return order;
}

// Results back in the order the modes were asked for (each mode's rows together).
std::vector<TaskModeResult> InAskedOrder(const std::vector<std::string>& modes, std::vector<TaskModeResult> ran) {
  std::vector<TaskModeResult> out;
  for (const std::string& m : modes) {
    for (auto& r : ran) {
      if (r.mode == m || r.mode.rfind(m + ":", 0) == 0) out.push_back(std::move(r));
    }
  }
  return out;
}

// The mode whose greedy answers `mode` took from memory, if it took any.
std::string Reused(const std::string& mode, const GreedyMemoGenerator& memo, size_t hits_before) {
  return memo.hits() > hits_before ? mode + "+candidates" : std::string();
}

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

// The share of answers that the token limit ended, not the model: a score
// over cut answers measures the limit as much as the model.
double CutByTokenLimit(const std::vector<Answer>& answers) {
  double cut = 0;
  for (const Answer& a : answers) {
    const auto sel = static_cast<size_t>(a.selected);
    cut += sel < a.candidates.size() && a.candidates[sel].generation.finish_reason == "length" ? 1 : 0;
  }
  return answers.empty() ? 0.0 : cut / static_cast<double>(answers.size());
}

// The selectors every "+candidates" mode is also reported under: what each
// alone would have chosen from the same candidates, so one generation pass
// compares them all.
const std::vector<std::pair<std::string, SelectorWeights>>& Selectors() {
  static const std::vector<std::pair<std::string, SelectorWeights>> kSelectors = {
      {"support", {{"support", 1}}},
      {"likelihood", {{"likelihood", 1}}},
      {"agreement", {{"agreement", 1}}},
      {"support+agreement", {{"support", 1}, {"agreement", 1}}},
  };
  return kSelectors;
}

// Each selector's choice among a's candidates (a.text when it has none: the
// gate refused), in Selectors() order. Without an embedder the selectors
// that need support are left out; without evidence support scores 0.
Result<std::vector<std::pair<std::string, std::string>>> ChoicesBySelector(const Answer& a, const rag::Evidence& ev,
                                                                           KnowledgeBase* embed) {
  const bool support = embed != nullptr;
  std::vector<Candidate> cands = a.candidates;
  SelectorWeights all = {{"likelihood", 1}, {"agreement", 1}};
  if (support) all["support"] = 1;
  if (!cands.empty()) QUARRY_RETURN_IF_ERROR(rag::ScoreCandidates(all, ev, embed, nullptr, &cands));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, weights] : Selectors()) {
    if (!support && weights.count("support")) continue;
    size_t best = 0;
    double best_score = -1;
    for (size_t c = 0; c < cands.size(); ++c) {
      double score = 0;
      for (const auto& [selector, w] : weights) score += w * cands[c].scores[selector];
      if (score > best_score) best_score = score, best = c;
    }
    out.push_back({name, cands.empty() ? a.text : cands[best].text});
  }
  return out;
}

// One unscored row per selector, "mode:selector", holding each example's pick
// (through `shown`, which keeps what the metric reads) and the generation
// pass's time; the caller scores them as it scored the mode's own row.
Result<std::vector<TaskModeResult>> SelectorRows(const std::string& mode, double seconds, const std::vector<Answer>& answers,
                                                 const std::function<rag::Evidence(size_t)>& evidence, KnowledgeBase* embed,
                                                 const std::function<std::string(const std::string&)>& shown) {
  std::map<std::string, TaskModeResult> by_selector;
  for (size_t i = 0; i < answers.size(); ++i) {
    auto choices = ChoicesBySelector(answers[i], evidence(i), embed);
    if (!choices.ok()) return choices.status();
    for (const auto& [name, chosen] : *choices) by_selector[name].predictions.push_back(shown(chosen));
  }
  std::vector<TaskModeResult> rows;
  for (auto& [name, row] : by_selector) {
    row.mode = mode + ":" + name;
    row.seconds = seconds;  // the same generation pass
    rows.push_back(std::move(row));
  }
  return rows;
}

// The records of a JSON-lines file ("FILE:LINE" and the line number for each),
// or of a file holding one JSON array of them ("FILE: record N", N). At most
// `limit` records (0: all); blank lines are skipped.
struct JsonRecord {
  std::string where;
  size_t number = 0;
  json value;
};

Result<std::vector<JsonRecord>> ReadJsonRecords(const std::string& path, const std::string& data, size_t limit) {
  std::vector<JsonRecord> out;
  const size_t first = data.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && data[first] == '[') {
    json doc;
    try {
      doc = json::parse(data);
    } catch (const json::exception& e) {
      return Status::Corruption(path + ": not valid JSON (a file starting with '[' must be one JSON array): " + e.what());
    }
    for (size_t i = 0; i < doc.size() && (limit == 0 || out.size() < limit); ++i) {
      std::string where = path + ": record " + std::to_string(i + 1);
      if (!doc[i].is_object()) return Status::Corruption(where + ": not a JSON object");
      out.push_back({std::move(where), i + 1, std::move(doc[i])});
    }
    return out;
  }
  std::istringstream lines(data);
  size_t n = 0;
  for (std::string line; (limit == 0 || out.size() < limit) && std::getline(lines, line);) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = path + ":" + std::to_string(n);
    json r;
    try {
      r = json::parse(line);
    } catch (const json::exception& e) {
      return Status::Corruption(where + ": not valid JSON: " + e.what());
    }
    if (!r.is_object()) return Status::Corruption(where + ": not a JSON object");
    out.push_back({std::move(where), n, std::move(r)});
  }
  return out;
}

}  // namespace

Result<QaDataset> ReadQaDataset(const std::string& path_in, size_t limit, bool noise_only) {
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
  if (noise_only) ds.name += "-noise-only";
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
          ex.unanswerable = qa.value("is_impossible", false);  // SQuAD v2
          if (ex.unanswerable) ex.answers.clear();
          ex.passages.push_back(p);
          if (!ex.question.empty() && (!ex.answers.empty() || ex.unanswerable)) {
            ds.has_unanswerable = ds.has_unanswerable || ex.unanswerable;
            ds.examples.push_back(std::move(ex));
          }
        }
      }
    }
    return ds;
  }
  // JSON lines, or one JSON array of the same records: nq-open-oracle, RGB, a user's own set.
  auto records = ReadJsonRecords(path, *data, limit);
  if (!records.ok()) return records.status();
  for (auto& [where, number, r] : *records) {
    const std::string n = std::to_string(number);
    QaExample ex;
    if (noise_only && !(r.contains("query") && r.contains("positive"))) {
      return Status::InvalidArgument(where + ": the noise-only test needs RGB records {query, answer, positive, negative}");
    }
    if (r.contains("ctxs")) {
      ex.id = r.contains("id") ? IdOf(r["id"]) : n;
      ex.question = r.value("question", "");
      Flatten(r.value("answers", json()), &ex.answers);
      for (const auto& c : r["ctxs"]) ex.passages.push_back({c.value("title", ""), c.value("text", "")});
    } else if (r.contains("query") && r.contains("positive")) {
      ds.per_question_pool = true;
      ex.id = r.contains("id") ? IdOf(r["id"]) : n;
      ex.question = r.value("query", "");
      Flatten(r.value("answer", json()), &ex.answers);
      std::vector<std::string> texts;
      if (!noise_only) Flatten(r["positive"], &texts);
      if (r.contains("negative")) Flatten(r["negative"], &texts);
      for (auto& t : texts) ex.passages.push_back({"", std::move(t)});
      if (noise_only) {
        if (ex.passages.empty()) {
          return Status::Corruption(where + ": no noise passages (field \"negative\") for the noise-only test");
        }
        ex.answers.clear();
        ex.unanswerable = ds.has_unanswerable = true;
      }
    } else if (r.contains("question") && r.contains("answers")) {
      // A user's own set: {question, answers, contexts?}.
      ex.id = r.contains("id") ? IdOf(r["id"]) : n;
      ex.question = r.value("question", "");
      Flatten(r["answers"], &ex.answers);
      for (const auto& c : r.value("contexts", json::array())) {
        if (c.is_string()) ex.passages.push_back({"", c.get<std::string>()});
        if (c.is_object()) ex.passages.push_back({c.value("title", ""), c.value("text", "")});
      }
    } else {
      return Status::InvalidArgument(where +
                                     ": unknown QA record (expected {question, answers, contexts?}, nq-open {question, "
                                     "answers, ctxs} or RGB {query, answer, positive})");
    }
    if (ex.question.empty() || (ex.answers.empty() && !ex.unanswerable)) {
      return Status::Corruption(where + ": " +
                                (ex.question.empty() ? "no question (field \"question\" or \"query\")"
                                                     : "no answer to score against (field \"answers\" or \"answer\")"));
    }
    ds.examples.push_back(std::move(ex));
  }
  return ds;
}

bool IsRefusal(std::string_view answer) {
  std::string a(answer.substr(0, 400));
  std::transform(a.begin(), a.end(), a.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* p : {"don't know", "do not know", "don’t know", "cannot answer", "can't answer", "unable to answer",
                        "do not answer", "does not answer", "don't answer", "do not mention", "does not mention",
                        "do not say", "does not say", "not mentioned", "no information", "not provided", "do not provide",
                        "does not provide", "do not contain", "does not contain", "不知道", "无法回答", "没有提到", "未提及", "没有相关"}) {
    if (a.find(p) != std::string::npos) return true;
  }
  return false;
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
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(path, ec)) {
        if (EndsWith(e.path().string(), ".jsonl") || EndsWith(e.path().string(), ".json")) found.push_back(e.path().string());
      }
      if (found.size() != 1) {
        return Status::InvalidArgument(path + ": holds " + std::to_string(found.size()) + " .json/.jsonl files; name the one to evaluate");
      }
      src = found[0];
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
  if (!EndsWith(src, ".jsonl") && !EndsWith(src, ".json")) {
    return Status::InvalidArgument(path + ": expected DialogSum/SAMSum records (.jsonl, or .json holding one array) or an LCSTS "
                                          "test.src.txt/test.tgt.txt pair");
  }
  *name = fs::path(src).stem().string();
  auto data = ReadAll(src);
  if (!data.ok()) return data.status();
  auto records = ReadJsonRecords(src, *data, limit);
  if (!records.ok()) return records.status();
  for (auto& [where, number, r] : *records) {
    SummaryExample ex;
    ex.id = r.contains("fname") ? IdOf(r["fname"]) : r.contains("id") ? IdOf(r["id"]) : std::to_string(number);
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
  // The pool of an earlier run over other examples (another --limit) goes:
  // left beside this one, its copies of the same passages crowd distinct ones
  // out of the top k, and its other questions' passages add distractors, so a
  // score would depend on what ran before. Only pool files this function
  // wrote (corpus-* in the base's own directory) are touched.
  auto docs = kb.ListDocuments();
  if (!docs.ok()) return docs.status();
  std::set<std::string> stale;
  for (const Document& d : *docs) {
    const std::string file = d.source.substr(0, d.source.find('#'));
    if (file != corpus && file.rfind(stats->dir + "/corpus-", 0) == 0) stale.insert(file);
  }
  for (const std::string& file : stale) {
    auto removed = kb.Remove(file);
    if (!removed.ok()) return removed.status();
    std::error_code ec;
    fs::remove(file, ec);
  }
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
  GreedyMemoGenerator memo(gen);
  Generator& g_all = o.batch.share_greedy ? static_cast<Generator&>(memo) : gen;
  const std::vector<std::string> order = RunOrder(o.modes, o.batch.share_greedy);
  const bool any_answerable = std::any_of(data.examples.begin(), data.examples.end(), [](const QaExample& e) { return !e.unanswerable; });
  for (const std::string& mode : order) {
    if (mode != "closed-book" && mode != "rag" && mode != "rag+candidates") {
      return Status::InvalidArgument("unknown QA mode '" + mode + "' (closed-book, rag, rag+candidates)");
    }
    TaskModeResult r;
    r.mode = mode;
    std::vector<double> em, f1, contains, cited_n, cited_gold_n, refused_unanswerable, refused_answerable;
    // Citations, judged by the data: a passage that contains a gold answer
    // supports it. Precision over every citation made; recall over the
    // answers whose sources held such a passage.
    double with_gold = 0, citing_gold = 0;
    struct Tally {
      std::vector<double> em, f1, contains;
      std::vector<std::string> predictions;
    };
    std::map<std::string, Tally> by_selector;
    const size_t hits_before = memo.hits();
    const auto t = Clock::now();
    auto answers = RunBatched(
        g_all, data.examples.size(), o.batch.examples, o.batch.context, o.batch.sequences,
        [&](size_t i, Generator& g) -> Result<Answer> {
          const QaExample& ex = data.examples[i];
          AskOptions ao = o.ask;
          // Always answer (accuracy is measured, not abstention), unless the data
          // has unanswerable questions: then the gate is part of what is measured.
          if (!data.has_unanswerable) ao.min_relevance = -1;  // the gate off: no cosine is below -1
          ao.generate.candidates = mode == "rag+candidates" ? o.candidates : 1;
          if (data.per_question_pool) ao.search.where.push_back("qid=" + ex.id);
          if (mode == "rag+candidates") ao.generate.sampling.logprobs = true;  // for the likelihood row
          return mode == "closed-book" ? AskClosedBook(g, ex.question, ao.generate, &kb) : Ask(kb, g, ex.question, ao);
        },
        [&](size_t done) {
          if (progress) progress(mode, done, data.examples.size());
        });
    if (!answers.ok()) return answers.status();
    for (size_t i = 0; i < data.examples.size(); ++i) {
      const QaExample& ex = data.examples[i];
      const Answer* a = &(*answers)[i];
      // An unanswerable question is answered right by a refusal, and only by one.
      struct Score {
        double em, f1, contains;
      };
      auto score = [&](const std::string& text, bool refused) -> Score {
        if (ex.unanswerable) return {refused ? 1.0 : 0.0, refused ? 1.0 : 0.0, refused ? 1.0 : 0.0};
        return {ExactMatch(text, ex.answers), TokenF1(text, ex.answers), AnswerContains(text, ex.answers) ? 1.0 : 0.0};
      };
      const bool refused = !a->grounded || (data.has_unanswerable && IsRefusal(a->text));
      if (data.has_unanswerable) (ex.unanswerable ? refused_unanswerable : refused_answerable).push_back(refused ? 1 : 0);
      const Score sc = score(a->text, refused);
      em.push_back(sc.em);
      f1.push_back(sc.f1);
      contains.push_back(sc.contains);
      if (mode == "rag+candidates") {
        rag::Evidence ev;
        ev.query = ex.question;
        for (const Source& src : a->sources) ev.texts.push_back(src.text);
        bool any_right = a->candidates.empty() && sc.contains > 0;  // the gate refused: no candidates
        for (const auto& c : a->candidates) any_right = any_right || score(c.text, IsRefusal(c.text)).contains > 0;
        by_selector["oracle"].contains.push_back(any_right ? 1 : 0);
        auto choices = ChoicesBySelector(*a, ev, &kb);
        if (!choices.ok()) return choices.status();
        for (auto& [name, chosen] : *choices) {
          Tally& tally = by_selector[name];
          const Score s = a->candidates.empty() ? sc : score(chosen, data.has_unanswerable && IsRefusal(chosen));
          tally.em.push_back(s.em);
          tally.f1.push_back(s.f1);
          tally.contains.push_back(s.contains);
          tally.predictions.push_back(std::move(chosen));
        }
      }
      if (mode != "closed-book") {
        bool any_gold = false, cites_gold = false;
        double cited_here = 0, cited_gold_here = 0;
        TaskModeResult::Grounding gr;
        gr.generated = a->candidates.empty() ? a->text : a->candidates[static_cast<size_t>(a->selected)].generation.text;
        gr.sources = a->sources;
        gr.cited = a->cited;
        for (const Source& src : a->sources) {
          const bool gold = AnswerContains(src.text, ex.answers);
          if (gold) gr.gold.push_back(src.n);
          const bool is_cited = std::find(a->cited.begin(), a->cited.end(), src.n) != a->cited.end();
          any_gold = any_gold || gold;
          cited_here += is_cited ? 1 : 0;
          cited_gold_here += is_cited && gold ? 1 : 0;
          cites_gold = cites_gold || (is_cited && gold);
        }
        with_gold += any_gold ? 1 : 0;
        citing_gold += cites_gold ? 1 : 0;
        cited_n.push_back(cited_here);
        cited_gold_n.push_back(cited_gold_here);
        r.grounding.push_back(std::move(gr));
      }
      r.predictions.push_back(a->text);
    }
    r.seconds = Since(t);
    r.examples = data.examples.size();
    r.reused = Reused(mode, memo, hits_before);
    r.resample = {{"exact_match", MeanOf(em)}, {"f1", MeanOf(f1)}, {"contains", MeanOf(contains)}};
    r.metrics["cut_by_max_tokens"] = CutByTokenLimit(*answers);
    if (mode != "closed-book" && any_answerable) {  // not on a set without answers (RGB --noise-only)
      r.resample["citation_precision"] = [cited_n, cited_gold_n](const std::vector<size_t>& sample) {
        double c = 0, g = 0;
        for (size_t i : sample) c += cited_n[i], g += cited_gold_n[i];
        return c > 0 ? g / c : 0.0;
      };
      r.metrics["citation_recall"] = with_gold > 0 ? citing_gold / with_gold : 0.0;
    }
    for (const auto& [name, metric] : r.resample) r.metrics[name] = metric(AllOf(r.examples));
    if (data.has_unanswerable) {
      // The gate's two errors: unanswerable questions answered, answerable ones refused.
      // Each only where the set has such questions (RGB --noise-only has no answerable one).
      auto mean = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); };
      if (!refused_unanswerable.empty()) r.metrics["refused_unanswerable"] = mean(refused_unanswerable);
      if (!refused_answerable.empty()) r.metrics["refused_answerable"] = mean(refused_answerable);
    }
    const size_t examples = r.examples;
    const double seconds = r.seconds;
    results.push_back(std::move(r));
    for (auto& [name, tally] : by_selector) {
      TaskModeResult s;
      s.mode = mode + ":" + name;
      s.examples = examples;
      s.seconds = seconds;  // the same generation pass
      s.resample = {{"contains", MeanOf(tally.contains)}};
      if (name != "oracle") {
        s.resample["exact_match"] = MeanOf(tally.em);
        s.resample["f1"] = MeanOf(tally.f1);
      }
      for (const auto& [metric_name, metric] : s.resample) s.metrics[metric_name] = metric(AllOf(examples));
      s.predictions = std::move(tally.predictions);
      results.push_back(std::move(s));
    }
  }
  return InAskedOrder(o.modes, std::move(results));
}

SampleMetric MeanOf(std::vector<double> per_example) {
  return [v = std::move(per_example)](const std::vector<size_t>& sample) {
    double sum = 0;
    for (size_t i : sample) sum += v[i];
    return sample.empty() ? 0.0 : sum / static_cast<double>(sample.size());
  };
}

std::vector<ModeDifference> CompareModes(const std::vector<TaskModeResult>& results, int iterations, uint32_t seed) {
  std::vector<ModeDifference> out;
  if (results.empty()) return out;
  auto find = [&](const std::string& mode) -> const TaskModeResult* {
    for (const auto& r : results) {
      if (r.mode == mode) return &r;
    }
    return nullptr;
  };
  std::vector<std::pair<const TaskModeResult*, const TaskModeResult*>> pairs;  // (mode, baseline)
  for (size_t i = 1; i < results.size(); ++i) {
    const std::string& m = results[i].mode;
    std::string base = results[0].mode;
    if (const size_t colon = m.find(':'); colon != std::string::npos) {
      // A selector's row against one greedy answer ("does it beat not
      // sampling at all?"), else against its own mode.
      base = m.substr(0, colon);
      if (EndsWith(base, "+candidates") && find(base.substr(0, base.size() - 11))) base = base.substr(0, base.size() - 11);
    } else if (m.size() > 11 && m.compare(m.size() - 11, 11, "+candidates") == 0 && find(m.substr(0, m.size() - 11))) {
      base = m.substr(0, m.size() - 11);
    }
    if (const TaskModeResult* b = find(base); b && b != &results[i]) pairs.push_back({&results[i], b});
    if (base != results[0].mode && m.find(':') == std::string::npos) pairs.push_back({&results[i], &results[0]});
  }
  for (const auto& [a, b] : pairs) {
    if (a->examples != b->examples || a->examples == 0) continue;
    const size_t n = a->examples;
    for (const auto& [metric, score_a] : a->resample) {
      auto it = b->resample.find(metric);
      if (it == b->resample.end()) continue;
      const SampleMetric& score_b = it->second;
      std::mt19937 rng(seed);
      std::uniform_int_distribution<size_t> pick(0, n - 1);
      std::vector<double> diffs;
      diffs.reserve(static_cast<size_t>(iterations));
      std::vector<size_t> sample(n);
      for (int k = 0; k < iterations; ++k) {
        for (auto& s : sample) s = pick(rng);
        diffs.push_back(score_a(sample) - score_b(sample));
      }
      std::sort(diffs.begin(), diffs.end());
      ModeDifference d;
      d.mode = a->mode;
      d.baseline = b->mode;
      d.metric = metric;
      d.examples = n;
      d.difference = a->metrics.at(metric) - b->metrics.at(metric);
      d.low = diffs[static_cast<size_t>(0.025 * (diffs.size() - 1))];
      d.high = diffs[static_cast<size_t>(0.975 * (diffs.size() - 1))];
      out.push_back(d);
    }
  }
  return out;
}

Result<std::vector<TaskModeResult>> EvaluateSummaries(Generator& gen, KnowledgeBase* kb, const std::vector<SummaryExample>& data,
                                                      const SummarizeEvalOptions& o, const EvalProgress& progress) {
  std::vector<TaskModeResult> results;
  GreedyMemoGenerator memo(gen);
  Generator& g_all = o.batch.share_greedy ? static_cast<Generator&>(memo) : gen;
  const std::vector<std::string> order = RunOrder(o.modes, o.batch.share_greedy);
  for (const std::string& mode : order) {
    if (mode != "lead" && mode != "summary" && mode != "summary+candidates") {
      return Status::InvalidArgument("unknown summarize mode '" + mode + "' (lead, summary, summary+candidates)");
    }
    TaskModeResult r;
    r.mode = mode;
    const size_t hits_before = memo.hits();
    const auto t = Clock::now();
    auto answers = RunBatched(
        g_all, data.size(), mode == "lead" ? 1 : o.batch.examples, o.batch.context, o.batch.sequences,
        [&](size_t i, Generator& g) -> Result<Answer> {
          if (mode == "lead") {
            // The first sentence: the classic extractive baseline.
            auto sents = rag::SplitSentences(data[i].text);
            Answer a;
            a.text = sents.empty() ? std::string() : sents[0];
            return a;
          }
          SummarizeOptions so = o.summarize;
          so.generate.candidates = mode == "summary+candidates" ? o.candidates : 1;
          if (mode == "summary+candidates") so.generate.sampling.logprobs = true;  // for the likelihood row
          return SummarizeText(g, data[i].text, so, kb);
        },
        [&](size_t done) {
          if (progress) progress(mode, done, data.size());
        });
    if (!answers.ok()) return answers.status();
    auto scored = [&](TaskModeResult* row) {
      std::vector<double> rouge;
      for (size_t i = 0; i < row->predictions.size(); ++i) rouge.push_back(RougeL(row->predictions[i], data[i].references));
      row->examples = row->predictions.size();
      row->resample = {{"rouge_l", MeanOf(std::move(rouge))}};
      row->metrics = {{"rouge_l", row->resample["rouge_l"](AllOf(row->examples))}};
    };
    for (const Answer& a : *answers) r.predictions.push_back(a.text);
    r.seconds = Since(t);
    r.reused = Reused(mode, memo, hits_before);
    scored(&r);
    if (mode != "lead") r.metrics["cut_by_max_tokens"] = CutByTokenLimit(*answers);
    // summary+candidates: what each selector would have chosen from the same
    // candidates (support against the whole text, as a text that fits the
    // window is summarized in one pass).
    std::vector<TaskModeResult> rows;
    if (mode == "summary+candidates") {
      auto picked = SelectorRows(
          mode, r.seconds, *answers, [&](size_t i) { return rag::SummaryEvidence(data[i].text); }, kb,
          [](const std::string& text) { return text; });
      if (!picked.ok()) return picked.status();
      rows = std::move(*picked);
    }
    results.push_back(std::move(r));
    for (auto& row : rows) {
      scored(&row);
      results.push_back(std::move(row));
    }
  }
  return InAskedOrder(o.modes, std::move(results));
}

Result<std::vector<TaskModeResult>> EvaluateTranslation(Generator& gen, KnowledgeBase* tm, const std::vector<std::string>& sources,
                                                        const std::vector<std::vector<std::string>>& refs, const TranslateEvalOptions& o,
                                                        const EvalProgress& progress) {
  std::vector<TaskModeResult> results;
  GreedyMemoGenerator memo(gen);
  Generator& g_all = o.batch.share_greedy ? static_cast<Generator&>(memo) : gen;
  const std::vector<std::string> order = RunOrder(o.modes, o.batch.share_greedy);
  for (const std::string& mode : order) {
    if (mode != "zero-shot" && mode != "tm" && mode != "tm+candidates") {
      return Status::InvalidArgument("unknown translate mode '" + mode + "' (zero-shot, tm, tm+candidates)");
    }
    if (mode != "zero-shot" && !tm) return Status::InvalidArgument("mode " + mode + " needs a translation memory").About("tm");
    TaskModeResult r;
    r.mode = mode;
    const size_t hits_before = memo.hits();
    const auto t = Clock::now();
    auto answers = RunBatched(
        g_all, sources.size(), o.batch.examples, o.batch.context, o.batch.sequences,
        [&](size_t i, Generator& g) {
          TranslateOptions to = o.translate;
          to.tm = mode == "zero-shot" ? nullptr : tm;
          to.generate.candidates = mode == "tm+candidates" ? o.candidates : 1;
          if (mode == "tm+candidates") to.generate.sampling.logprobs = true;  // for the likelihood row
          return Translate(g, sources[i], to);
        },
        [&](size_t done) {
          if (progress) progress(mode, done, sources.size());
        });
    if (!answers.ok()) return answers.status();
    // One line per segment: the first line of the output is the translation.
    auto first_line = [](const std::string& text) { return text.substr(0, text.find('\n')); };
    // Corpus metrics are sums of sentence statistics: resampled by summing.
    auto scored = [&](TaskModeResult* row) {
      std::vector<std::vector<double>> chrf, bleu;
      for (size_t i = 0; i < row->predictions.size(); ++i) {
        chrf.push_back(ChrFSentenceStats(row->predictions[i], refs[i]));
        bleu.push_back(BleuSentenceStats(row->predictions[i], refs[i]));
      }
      auto summed = [](std::vector<std::vector<double>> stats, double (*score)(const std::vector<double>&)) -> SampleMetric {
        return [stats = std::move(stats), score](const std::vector<size_t>& sample) {
          std::vector<double> total(stats.empty() ? 0 : stats[0].size(), 0.0);
          for (size_t i : sample) {
            for (size_t j = 0; j < total.size(); ++j) total[j] += stats[i][j];
          }
          return score(total);
        };
      };
      row->examples = row->predictions.size();
      row->resample = {{"chrf", summed(std::move(chrf), &ChrFFromStats)}, {"bleu", summed(std::move(bleu), &BleuFromStats)}};
      for (const auto& [name, metric] : row->resample) row->metrics[name] = metric(AllOf(row->examples));
    };
    for (const Answer& a : *answers) r.predictions.push_back(first_line(a.text));
    r.seconds = Since(t);
    r.reused = Reused(mode, memo, hits_before);
    scored(&r);
    // tm+candidates: what each selector would have chosen from the same candidates.
    std::vector<TaskModeResult> rows;
    if (mode == "tm+candidates") {
      auto picked = SelectorRows(
          mode, r.seconds, *answers, [&](size_t i) { return rag::TranslationEvidence(sources[i]); }, tm, first_line);
      if (!picked.ok()) return picked.status();
      rows = std::move(*picked);
    }
    r.metrics["cut_by_max_tokens"] = CutByTokenLimit(*answers);
    results.push_back(std::move(r));
    for (auto& row : rows) {
      scored(&row);
      results.push_back(std::move(row));
    }
  }
  return InAskedOrder(o.modes, std::move(results));
}

}  // namespace quarry::eval
