// Question answering (and query-focused summaries) over a knowledge base.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <unordered_map>

#include "rag/rag_internal.h"

namespace quarry {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

using MessagesFn = std::vector<ChatMessage> (*)(const std::string&, const std::vector<Source>&);

Result<Answer> Grounded(KnowledgeBase& kb, Generator& gen, const std::string& query, const AskOptions& o, MessagesFn messages,
                        MessagesFn check, const TokenCallback& on_piece) {
  QUARRY_RETURN_IF_ERROR(o.Validate());
  if (query.find_first_not_of(" \t\r\n") == std::string::npos) return Status::InvalidArgument("the question is empty");
  Answer a;
  auto t = Clock::now();
  // A question of several parts: each part searched on its own, the lists
  // taken in turn (the best of each part first), so every part has passages.
  const std::vector<std::string> parts = rag::QuestionParts(query);
  auto hits = kb.Search(parts.size() > 1 ? parts[0] : query, o.search);
  if (!hits.ok()) return hits.status();
  std::unordered_map<int64_t, size_t> part_of;  // chunk id -> the part whose search found it
  if (parts.size() > 1) {
    std::vector<std::vector<SearchHit>> lists{std::move(*hits)};
    for (size_t p = 1; p < parts.size(); ++p) {
      auto h = kb.Search(parts[p], o.search);
      if (!h.ok()) return h.status();
      lists.push_back(std::move(*h));
    }
    hits->clear();
    for (size_t r = 0; hits->size() < o.search.k; ++r) {
      bool more = false;
      for (size_t p = 0; p < lists.size() && hits->size() < o.search.k; ++p) {
        if (r >= lists[p].size()) continue;
        more = true;
        if (part_of.emplace(lists[p][r].chunk.id, p).second) hits->push_back(std::move(lists[p][r]));
      }
      if (!more) break;
    }
  }
  auto part = [&](const Source& s) {
    auto it = part_of.find(s.hit.chunk.id);
    return it == part_of.end() ? size_t{0} : it->second;
  };
  auto has_emb = kb.HasEmbeddings();
  if (!has_emb.ok()) return has_emb.status();

  // Token budget for the sources: the window less the prompt around them and
  // the room every sequence needs for its answer.
  const bool per_source = o.strategy == AskOptions::Strategy::kPerSource;
  const int max_new = o.generate.sampling.max_tokens;
  const int overhead = rag::PromptTokens(gen, messages(query, {}));
  const int window = gen.context_size();
  int seqs = per_source ? std::min<int>(static_cast<int>(o.search.k), gen.max_sequences()) : std::max(o.generate.candidates, 1);
  seqs = std::max(seqs, 1);
  const int avail = per_source ? window - seqs * (overhead + max_new) - 16 : window - overhead - seqs * max_new - 16;
  if (avail <= 0) {
    return Status::InvalidArgument("a window of " + std::to_string(window) + " tokens cannot hold the prompt (" +
                                   std::to_string(overhead) + " tokens) and " + std::to_string(seqs) + " answers of up to " +
                                   std::to_string(max_new) + " tokens; allow fewer answer tokens or candidates, or a larger context")
        .About("max_tokens");
  }
  const int budget = o.context_tokens > 0 ? std::min(o.context_tokens, avail) : avail;
  std::vector<SearchHit> usable = *hits;
  if (per_source && usable.size() > static_cast<size_t>(seqs)) usable.resize(static_cast<size_t>(seqs));
  a.sources = rag::PackSources(usable, budget, [&](std::string_view s) { return gen.CountTokens(s); });

  // Is anything relevant? The dense (cosine) score says; a BM25-only base has none to judge by.
  bool relevant = !a.sources.empty();
  double min_relevance = 0, model_floor = 0;
  std::vector<double> rel;  // question-passage cosine of each source (to its part of the question)
  if (relevant && *has_emb) {
    // The dense search's scores; a source it did not return (found by BM25
    // alone, or a BM25-only search) is embedded here.
    std::vector<std::string> texts;
    for (const auto& s : a.sources) {
      rel.push_back(s.hit.dense_score ? *s.hit.dense_score : std::nan(""));
      if (!s.hit.dense_score) texts.push_back(s.text);
    }
    if (!texts.empty()) {
      auto q = kb.Embed(parts.size() > 1 ? parts : std::vector<std::string>{query}, Embedder::Role::kQuery);
      if (!q.ok()) return q.status();
      auto v = kb.Embed(texts);
      if (!v.ok()) return v.status();
      size_t next = 0;
      for (size_t i = 0; i < rel.size(); ++i) {
        if (!std::isnan(rel[i])) continue;
        const std::vector<float>& qv = (*q)[part(a.sources[i])];
        const std::vector<float>& e = (*v)[next++];
        rel[i] = 0;
        for (size_t j = 0; j < qv.size(); ++j) rel[i] += static_cast<double>(qv[j]) * e[j];
      }
    }
    for (size_t i = 0; i < rel.size(); ++i) a.sources[i].relevance = rel[i];
    a.best_relevance = *std::max_element(rel.begin(), rel.end());
    auto floor = kb.MinRelevance(query);
    if (!floor.ok()) return floor.status();
    model_floor = *floor;
    min_relevance = o.min_relevance ? *o.min_relevance : model_floor;
    relevant = a.best_relevance >= min_relevance;
  }
  a.retrieve_ms = MsSince(t);
  // "I don't know", without sources: what both gates answer.
  auto refuse = [&](const char* text) {
    a.text = text;
    a.sources.clear();
    if (on_piece) on_piece(a.text);
    return a;
  };
  if (!relevant) {
    char buf[200];
    if (a.sources.empty()) {
      std::snprintf(buf, sizeof buf, "I don't know: the knowledge base has no passage that matches this question.");
    } else {
      std::snprintf(buf, sizeof buf,
                    "I don't know: nothing in the knowledge base is relevant enough to answer this "
                    "(best match %.2f, below the %.2f threshold).",
                    a.best_relevance, min_relevance);
    }
    return refuse(buf);
  }
  // The relevance cut: passages far less relevant than the best one go, and
  // the rest are numbered again in their order. Not where a cross-encoder
  // ordered them (its judgement, not the embedder's, decides), nor per source
  // (each passage has its own answer, weighed by its retrieval score).
  const bool reranked = std::any_of(a.sources.begin(), a.sources.end(), [](const Source& s) { return s.hit.rerank_score.has_value(); });
  // The floor is the embedder's own threshold whatever the gate's (an eval or
  // a user may turn the gate off); under it nothing is clearly relevant, and
  // nothing is cut.
  // Each part of a question is cut against its own best passage, and a part
  // the gate would refuse alone loses its passages.
  if (o.relevance_cut > 0 && !per_source && !reranked && rel.size() == a.sources.size() && a.best_relevance > model_floor) {
    std::vector<double> best(parts.size(), -1.0);
    for (size_t i = 0; i < rel.size(); ++i) best[part(a.sources[i])] = std::max(best[part(a.sources[i])], rel[i]);
    std::vector<Source> kept;
    for (size_t i = 0; i < a.sources.size(); ++i) {
      const double b = best[part(a.sources[i])];
      if (b < min_relevance) continue;
      // A passage within a tenth of the embedder's relevance span (floor to
      // 1) of the best stays: that close, its cosine cannot tell them apart.
      const double need = std::min(model_floor + o.relevance_cut * (b - model_floor), b - 0.1 * (1.0 - model_floor));
      if (b > model_floor && rel[i] < need) continue;
      kept.push_back(std::move(a.sources[i]));
      kept.back().n = static_cast<int>(kept.size());
    }
    a.sources = std::move(kept);
  }
  // The reading check: do these passages state the answer at all?
  if (check && o.min_answerable > 0) {
    SamplingOptions so;
    so.max_tokens = 1;
    so.choices = {"Yes", "No"};
    const auto tc = Clock::now();
    auto g = gen.Chat(check(query, a.sources), so);
    if (!g.ok()) return g.status();
    a.check_ms = MsSince(tc);
    if (g->choice_probs.size() == 2 && g->choice_probs[0] + g->choice_probs[1] > 0) {
      a.answerable = g->choice_probs[0] / (g->choice_probs[0] + g->choice_probs[1]);
      if (*a.answerable < o.min_answerable) {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "I don't know: the passages found do not seem to state the answer "
                      "(reading check %.2f, below the %.2f threshold).",
                      *a.answerable, o.min_answerable);
        return refuse(buf);
      }
    }
  }
  a.grounded = true;

  std::vector<std::vector<ChatMessage>> convs;
  std::vector<double> weights;
  rag::Evidence ev;
  ev.query = query;
  for (const auto& s : a.sources) ev.texts.push_back(s.text);
  if (per_source) {
    // A passage's weight is its retrieval score over the best one's; a
    // cross-encoder's logit (any sign) counts through its sigmoid.
    auto relevance = [](const SearchHit& h) { return h.rerank_score ? 1.0 / (1.0 + std::exp(-*h.rerank_score)) : h.score; };
    double top = 0;
    for (const auto& s : a.sources) top = std::max(top, relevance(s.hit));
    for (const auto& s : a.sources) {
      convs.push_back(messages(query, {s}));
      weights.push_back(top > 0 ? relevance(s.hit) / top : 1.0);
    }
  } else {
    convs.push_back(messages(query, a.sources));
  }
  // Every answer leaves with inline citations it can be held to: the stream
  // is attributed a sentence at a time, the candidates once they are whole.
  // What streams is what the answer will be, trimmed as candidates are:
  // leading space is dropped, trailing space held until text follows it.
  rag::CitationAttributor stream(a.sources, query);
  std::string held;
  bool started = false;
  auto emit = [&](std::string out) {
    if (!started) out.erase(0, std::min(out.size(), out.find_first_not_of(" \t\r\n")));
    const size_t last = out.find_last_not_of(" \t\r\n");
    if (last == std::string::npos) {
      if (started) held += out;
      return true;
    }
    std::string text = held + out.substr(0, last + 1);
    held = out.substr(last + 1);
    started = true;
    return on_piece(text);
  };
  TokenCallback attributed;
  if (on_piece) attributed = [&](std::string_view piece) { return emit(stream.Feed(piece)); };
  // Markers follow what they cite: an answer that opens with one is all markers
  // (small models copy the prompt's "[1][3]" example and stop).
  GenerateOptions go = o.generate;
  go.sampling.text_first = true;
  QUARRY_RETURN_IF_ERROR(rag::GenerateAndSelect(gen, convs, go, ev, weights, &kb, attributed, &a));
  if (on_piece) emit(stream.Finish());
  for (Candidate& c : a.candidates) {
    c.text = stream.Attribute(c.text);  // Attribute keeps no state
    // A list of sources it cut leaves the blank line before it (held, never streamed).
    c.text.erase(c.text.find_last_not_of(" \t\r\n") + 1);
  }
  if (!a.candidates.empty()) a.text = a.candidates[static_cast<size_t>(a.selected)].text;
  a.cited = rag::CitedNumbers(a.text, static_cast<int>(a.sources.size()));
  return a;
}

}  // namespace

Result<Answer> Ask(KnowledgeBase& kb, Generator& gen, const std::string& question, const AskOptions& options,
                   const TokenCallback& on_piece) {
  return Grounded(kb, gen, question, options, rag::AskMessages, rag::CheckMessages, on_piece);
}

Result<Answer> SummarizeQuery(KnowledgeBase& kb, Generator& gen, const std::string& query, const AskOptions& options,
                              const TokenCallback& on_piece) {
  // A summary wants breadth: every packed passage stays (the options are
  // still checked as given).
  QUARRY_RETURN_IF_ERROR(options.Validate());
  AskOptions o = options;
  o.relevance_cut = 0;
  return Grounded(kb, gen, query, o, rag::QuerySummaryMessages, nullptr, on_piece);
}

Result<Answer> AskClosedBook(Generator& gen, const std::string& question, const GenerateOptions& options,
                             KnowledgeBase* kb_for_embeddings, const TokenCallback& on_piece) {
  QUARRY_RETURN_IF_ERROR(options.Validate());
  Answer a;
  std::vector<std::vector<ChatMessage>> convs{{{"system", "Answer the question briefly."}, {"user", question}}};
  GenerateOptions o = options;
  // No evidence to support anything: only the generator's own confidence can choose.
  o.select = {{"likelihood", 1.0}};
  QUARRY_RETURN_IF_ERROR(rag::GenerateAndSelect(gen, convs, o, {}, {}, kb_for_embeddings, on_piece, &a));
  return a;
}

}  // namespace quarry
