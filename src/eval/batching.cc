#include "eval/batching.h"

#include <algorithm>
#include <cstring>

namespace quarry::eval {

std::string ReplayGenerator::Key(const std::vector<std::vector<ChatMessage>>& conversations, const SamplingOptions& s) {
  std::string k;
  auto add = [&](const void* p, size_t n) { k.append(static_cast<const char*>(p), n); };
  auto str = [&](const std::string& v) {
    const size_t n = v.size();
    add(&n, sizeof n);
    k += v;
  };
  for (const auto& c : conversations) {
    k += '\x1e';
    for (const auto& m : c) str(m.role), str(m.content);
  }
  add(&s.max_tokens, sizeof s.max_tokens);
  add(&s.temperature, sizeof s.temperature);
  add(&s.top_p, sizeof s.top_p);
  add(&s.top_k, sizeof s.top_k);
  add(&s.seed, sizeof s.seed);
  add(&s.repeat_penalty, sizeof s.repeat_penalty);
  k += static_cast<char>(s.logprobs) + static_cast<char>(2 * s.greedy_first) + static_cast<char>(4 * s.ignore_eos) +
       static_cast<char>(8 * s.text_first);
  for (const auto& c : s.choices) k += '\x1f', str(c);
  return k;
}

Result<std::vector<Generation>> ReplayGenerator::ChatBatch(const std::vector<std::vector<ChatMessage>>& conversations,
                                                           const SamplingOptions& sampling, const TokenCallback&) {
  const std::string key = Key(conversations, sampling);
  if (auto it = done_.find(key); it != done_.end()) return it->second;
  pending_.emplace(key, Request{conversations, sampling});
  deferred_ = true;
  return Status::Unavailable("deferred to a batch");
}

Status ReplayGenerator::Flush() {
  // Groups of single conversations that can share one decode (same sampling).
  std::map<std::string, std::vector<std::string>> groups;  // sampling key -> request keys
  for (const auto& [key, req] : pending_) {
    if (req.conversations.size() == 1 && !req.sampling.greedy_first) {
      groups[Key({}, req.sampling)].push_back(key);
    } else {
      auto g = real_.ChatBatch(req.conversations, req.sampling, nullptr);  // candidates: their own decode
      if (!g.ok()) return g.status();
      done_[key] = std::move(*g);
    }
  }
  const size_t width = static_cast<size_t>(std::max(real_.max_sequences(), 1));
  for (const auto& [skey, keys] : groups) {
    for (size_t at = 0; at < keys.size(); at += width) {
      const size_t end = std::min(keys.size(), at + width);
      std::vector<std::vector<ChatMessage>> convs;
      for (size_t i = at; i < end; ++i) convs.push_back(pending_.at(keys[i]).conversations[0]);
      auto g = real_.ChatBatch(convs, pending_.at(keys[at]).sampling, nullptr);
      if (!g.ok()) return g.status();
      for (size_t i = at; i < end; ++i) done_[keys[i]] = {std::move((*g)[i - at])};
    }
  }
  pending_.clear();
  return Status::OK();
}

std::string GreedyMemoGenerator::GreedyKey(const std::vector<ChatMessage>& conversation, const SamplingOptions& s) {
  // What a greedy decode depends on: the prompt, the length limit, the
  // penalty, whether end-of-generation or a marker may be sampled first, and
  // the choices weighed (not the seed, temperature, top-k or top-p: the arg
  // max ignores them).
  SamplingOptions g;
  g.max_tokens = s.max_tokens;
  g.repeat_penalty = s.repeat_penalty;
  g.ignore_eos = s.ignore_eos;
  g.text_first = s.text_first;
  g.choices = s.choices;
  return ReplayGenerator::Key({conversation}, g);
}

Result<std::vector<Generation>> GreedyMemoGenerator::ChatBatch(const std::vector<std::vector<ChatMessage>>& conversations,
                                                               const SamplingOptions& sampling, const TokenCallback& on_piece) {
  const bool all_greedy = sampling.temperature <= 0;
  if (!all_greedy) {
    // Candidates: decoded together as asked (dropping the greedy one from the
    // batch would change the others' seeds); the greedy first is remembered.
    auto g = real_.ChatBatch(conversations, sampling, on_piece);
    if (g.ok() && sampling.greedy_first && !g->empty() && !conversations.empty()) {
      memo_[GreedyKey(conversations[0], sampling)] = Entry{(*g)[0], sampling.logprobs};
    }
    return g;
  }
  // Independent greedy conversations: each answered from memory or decoded.
  std::vector<Generation> out(conversations.size());
  std::vector<std::string> keys(conversations.size());
  std::vector<size_t> missing;
  for (size_t i = 0; i < conversations.size(); ++i) {
    keys[i] = GreedyKey(conversations[i], sampling);
    auto it = memo_.find(keys[i]);
    if (it != memo_.end() && (it->second.logprobs || !sampling.logprobs)) {
      out[i] = it->second.generation;
      ++hits_;
      if (i == 0 && on_piece) on_piece(out[i].text);
    } else {
      missing.push_back(i);
    }
  }
  if (missing.empty()) return out;
  std::vector<std::vector<ChatMessage>> todo;
  for (size_t i : missing) todo.push_back(conversations[i]);
  auto g = real_.ChatBatch(todo, sampling, missing[0] == 0 ? on_piece : nullptr);
  if (!g.ok()) return g.status();
  for (size_t j = 0; j < missing.size(); ++j) {
    memo_[keys[missing[j]]] = Entry{(*g)[j], sampling.logprobs};
    out[missing[j]] = std::move((*g)[j]);
  }
  return out;
}

Result<std::vector<Answer>> RunBatched(Generator& real, size_t n, int batch, int per_example_context, int per_example_sequences,
                                       const std::function<Result<Answer>(size_t, Generator&)>& fn,
                                       const std::function<void(size_t)>& progress) {
  std::vector<Answer> out(n);
  size_t done = 0;
  if (batch <= 1) {
    for (size_t i = 0; i < n; ++i) {
      auto a = fn(i, real);
      if (!a.ok()) return a.status();
      out[i] = std::move(*a);
      if (progress) progress(++done);
    }
    return out;
  }
  for (size_t b0 = 0; b0 < n; b0 += static_cast<size_t>(batch)) {
    ReplayGenerator rg(real, per_example_context, per_example_sequences);
    std::vector<size_t> pending;
    for (size_t i = b0; i < std::min(n, b0 + static_cast<size_t>(batch)); ++i) pending.push_back(i);
    while (!pending.empty()) {
      std::vector<size_t> again;
      for (size_t i : pending) {
        rg.clear_deferred();
        auto a = fn(i, rg);
        if (a.ok()) {
          out[i] = std::move(*a);
          if (progress) progress(++done);
        } else if (rg.deferred()) {
          again.push_back(i);
        } else {
          return a.status();
        }
      }
      if (!again.empty()) QUARRY_RETURN_IF_ERROR(rg.Flush());
      pending = std::move(again);
    }
  }
  return out;
}

}  // namespace quarry::eval
