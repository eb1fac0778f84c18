// The candidate loop: C = G(z; theta) for N candidates, S(C) = R(C; phi),
// C* = argmax S(C).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "rag/rag_internal.h"
#include "text/analyzer.h"

namespace quarry {

Result<SelectorWeights> ParseSelector(const std::string& spec) {
  static const char* kKnown[] = {"support", "likelihood", "rerank", "agreement"};
  SelectorWeights w;
  size_t p = 0;
  while (p <= spec.size()) {
    size_t c = spec.find(',', p);
    if (c == std::string::npos) c = spec.size();
    std::string item = spec.substr(p, c - p);
    p = c + 1;
    if (item.empty()) continue;
    double weight = 1.0;
    if (size_t eq = item.find('='); eq != std::string::npos) {
      try {
        size_t used = 0;
        weight = std::stod(item.substr(eq + 1), &used);
        if (used != item.size() - eq - 1 || !(weight >= 0)) throw std::invalid_argument("");
      } catch (const std::exception&) {
        return Status::InvalidArgument("selector '" + item + "': the weight must be a number >= 0");
      }
      item.resize(eq);
    }
    if (std::find(std::begin(kKnown), std::end(kKnown), item) == std::end(kKnown)) {
      return Status::InvalidArgument("unknown selector '" + item + "' (use support, likelihood, agreement, rerank, or a mix like support=0.5,agreement=0.5)");
    }
    w[item] = weight;
  }
  double total = 0;
  for (const auto& [name, x] : w) total += x;
  if (w.empty() || total <= 0) return Status::InvalidArgument("selector '" + spec + "' gives no weight to anything");
  return w;
}

namespace rag {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

}  // namespace

Status ScoreCandidates(const SelectorWeights& weights, const Evidence& evidence, KnowledgeBase* embed, Reranker* reranker,
                       std::vector<Candidate>* cands) {
  for (const auto& [name, w] : weights) {
    if (w <= 0) continue;
    if (name == "agreement") {
      // Minimum Bayes risk / self-consistency: the candidate that agrees most
      // with the others (mean token F1 over BM25 terms, so CJK compares by
      // character bigrams) is the one the model is most consistent about.
      auto analyzer = text::Analyzer::Create();
      if (!analyzer.ok()) return analyzer.status();
      std::vector<std::map<std::string, int>> bags;
      for (const auto& c : *cands) {
        std::map<std::string, int> bag;
        for (auto& t : (*analyzer)->Analyze(WithoutCitations(c.text))) ++bag[t];
        bags.push_back(std::move(bag));
      }
      auto f1 = [](const std::map<std::string, int>& a, const std::map<std::string, int>& b) {
        int na = 0, nb = 0, common = 0;
        for (const auto& [t, n] : a) {
          na += n;
          if (auto it = b.find(t); it != b.end()) common += std::min(n, it->second);
        }
        for (const auto& [t, n] : b) nb += n;
        return common == 0 ? 0.0 : 2.0 * common / (na + nb);
      };
      for (size_t i = 0; i < cands->size(); ++i) {
        double sum = 0;
        for (size_t j = 0; j < cands->size(); ++j) {
          if (j != i) sum += f1(bags[i], bags[j]);
        }
        (*cands)[i].scores[name] = cands->size() > 1 ? sum / static_cast<double>(cands->size() - 1) : 1.0;
      }
    } else if (name == "likelihood") {
      for (auto& c : *cands) {
        const Generation& g = c.generation;
        c.scores[name] = g.completion_tokens > 0 ? std::exp(g.sum_logprob / g.completion_tokens) : 0.0;
      }
    } else if (name == "support") {
      if (!embed) return Status::InvalidArgument("the support selector needs an embedding model (a knowledge base or translation memory)");
      std::vector<std::string> texts = evidence.texts;
      std::vector<std::pair<size_t, size_t>> spans;  // each candidate's sentences in texts
      for (const auto& c : *cands) {
        auto sents = SplitSentences(WithoutCitations(c.text));
        spans.push_back({texts.size(), texts.size() + sents.size()});
        for (auto& s : sents) texts.push_back(std::move(s));
      }
      std::vector<std::vector<float>> vecs;
      if (!texts.empty() && !evidence.texts.empty()) {
        auto v = embed->Embed(texts);
        if (!v.ok()) return v.status();
        vecs = std::move(*v);
      }
      for (size_t i = 0; i < cands->size(); ++i) {
        double sum = 0;
        const auto [from, to] = spans[i];
        for (size_t s = from; s < to && !evidence.texts.empty(); ++s) {
          double best = -1;
          for (size_t e = 0; e < evidence.texts.size(); ++e) best = std::max(best, Dot(vecs[s], vecs[e]));
          sum += std::clamp(best, 0.0, 1.0);
        }
        (*cands)[i].scores[name] = to > from ? sum / static_cast<double>(to - from) : 0.0;
      }
    } else if (name == "rerank") {
      if (!reranker) return Status::InvalidArgument("the rerank selector needs a cross-encoder (a reranker GGUF)").About("reranker");
      for (auto& c : *cands) {
        double best = 0;
        if (!evidence.texts.empty() && !c.text.empty()) {
          auto s = reranker->Score(WithoutCitations(c.text), evidence.texts);
          if (!s.ok()) return s.status();
          for (float x : *s) best = std::max(best, 1.0 / (1.0 + std::exp(-static_cast<double>(x))));
        }
        c.scores[name] = best;
      }
    }
  }
  double total = 0;
  for (const auto& [name, w] : weights) total += w;
  for (auto& c : *cands) {
    c.score = 0;
    for (const auto& [name, w] : weights) {
      if (w > 0) c.score += w / total * c.scores[name];
    }
  }
  return Status::OK();
}

Status GenerateAndSelect(Generator& gen, const std::vector<std::vector<ChatMessage>>& conversations, const GenerateOptions& o,
                         const Evidence& evidence, const std::vector<double>& weights, KnowledgeBase* embed,
                         const TokenCallback& on_piece, Answer* answer) {
  std::vector<std::vector<ChatMessage>> convs = conversations;
  if (convs.size() == 1 && o.candidates > 1) convs.assign(static_cast<size_t>(o.candidates), conversations[0]);
  const bool choose = convs.size() > 1;
  SamplingOptions s = o.sampling;
  auto lw = o.select.find("likelihood");
  s.logprobs = s.logprobs || (choose && lw != o.select.end() && lw->second > 0);
  // With several candidates of one prompt, the first keeps the configured
  // decoding (greedy by default) and the others explore around it.
  if (choose && convs.size() == static_cast<size_t>(o.candidates)) {
    s.greedy_first = s.temperature <= 0;
    s.temperature = std::max(s.temperature, o.candidate_temperature);
  }
  auto t = Clock::now();
  auto gens = gen.ChatBatch(convs, s, choose ? nullptr : on_piece);
  if (!gens.ok()) return gens.status();
  answer->generate_ms = MsSince(t);
  answer->candidates.clear();
  for (size_t i = 0; i < gens->size(); ++i) {
    Candidate c;
    c.generation = std::move((*gens)[i]);
    c.text = c.generation.text;
    while (!c.text.empty() && std::isspace(static_cast<unsigned char>(c.text.back()))) c.text.pop_back();
    while (!c.text.empty() && std::isspace(static_cast<unsigned char>(c.text.front()))) c.text.erase(0, 1);
    c.source = weights.empty() ? 0 : static_cast<int>(i) + 1;
    answer->prompt_tokens += c.generation.prompt_tokens;
    answer->completion_tokens += c.generation.completion_tokens;
    answer->candidates.push_back(std::move(c));
  }
  answer->time_to_first_token_ms = answer->candidates.empty() ? 0 : answer->candidates[0].generation.time_to_first_token_ms;
  answer->selected = 0;
  if (choose) {
    t = Clock::now();
    QUARRY_RETURN_IF_ERROR(ScoreCandidates(o.select, evidence, embed, o.reranker, &answer->candidates));
    for (size_t i = 0; i < answer->candidates.size() && i < weights.size(); ++i) {
      answer->candidates[i].scores["retrieval"] = weights[i];
      answer->candidates[i].score *= weights[i];
    }
    for (size_t i = 1; i < answer->candidates.size(); ++i) {
      if (answer->candidates[i].score > answer->candidates[answer->selected].score) answer->selected = static_cast<int>(i);
    }
    answer->select_ms = MsSince(t);
  }
  answer->text = answer->candidates.empty() ? std::string() : answer->candidates[answer->selected].text;
  return Status::OK();
}

}  // namespace rag
}  // namespace quarry
