#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "model/llama_runtime.h"
#include "quarry/model.h"
#include "text/utf8.h"

namespace quarry {
namespace {

// The longest end of text that could begin a stop sequence (a proper prefix
// of one): its bytes wait until the next piece tells.
size_t StopPrefixAtEnd(std::string_view text, const std::vector<std::string>& stops) {
  size_t best = 0;
  for (const std::string& stop : stops) {
    for (size_t len = std::min(text.size(), stop.size() - 1); len > best; --len) {
      if (text.substr(text.size() - len) == std::string_view(stop).substr(0, len)) {
        best = len;
        break;
      }
    }
  }
  return best;
}

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// A GGUF without tokenizer.chat_template gets llama.cpp's built-in template for
// its architecture family, else ChatML, the most common convention.
std::string FallbackTemplate(const std::string& arch) {
  if (arch.rfind("gemma", 0) == 0) return "gemma";
  if (arch == "phi3") return "phi3";
  if (arch == "command-r") return "command-r";
  return "chatml";
}

// The strings this vocabulary's tokenizer turns into special tokens when it
// meets them in text: control and unknown tokens (matched in a templated
// prompt) and user-defined ones that look like markup (matched everywhere;
// some vocabularies also define plain words or whitespace runs that way,
// which are harmless and left alone).
std::vector<std::string> TemplateMarkers(const llama_vocab* vocab) {
  std::vector<std::string> out;
  const int n = llama_vocab_n_tokens(vocab);
  for (llama_token t = 0; t < n; ++t) {
    const auto attr = llama_vocab_get_attr(vocab, t);
    const char* text = llama_vocab_get_text(vocab, t);
    if (text == nullptr || *text == '\0') continue;
    const std::string_view s(text);
    const bool control = (attr & (LLAMA_TOKEN_ATTR_CONTROL | LLAMA_TOKEN_ATTR_UNKNOWN)) != 0;
    const bool markup = (attr & LLAMA_TOKEN_ATTR_USER_DEFINED) != 0 && s.find_first_of("<>[]|") != std::string_view::npos;
    if (control || markup) out.emplace_back(s);
  }
  return out;
}

// llama.cpp's repeat penalty (its penalties sampler with frequency and
// presence 0) over the last kWindow sampled tokens, applied in place to the
// few logits it changes. The sampler looks every vocabulary entry up in a hash
// map instead: 0.18 ms a token at 49k entries, 0.55 ms at 152k (measured),
// a few percent of a small model's decode.
class RepeatPenalty {
 public:
  static constexpr size_t kWindow = 64;
  explicit RepeatPenalty(float penalty) : penalty_(penalty) {}

  // Penalises each distinct token of the window once; Restore undoes it.
  void Apply(float* logits) {
    saved_.clear();
    if (penalty_ == 1.0f) return;
    for (llama_token t : recent_) {
      if (std::any_of(saved_.begin(), saved_.end(), [t](const auto& s) { return s.first == t; })) continue;
      saved_.emplace_back(t, logits[t]);
      logits[t] = logits[t] <= 0 ? logits[t] * penalty_ : logits[t] / penalty_;
    }
  }
  void Restore(float* logits) const {
    for (const auto& [t, v] : saved_) logits[t] = v;
  }
  void Accept(llama_token t) {
    if (recent_.size() == kWindow) recent_.erase(recent_.begin());
    recent_.push_back(t);
  }

 private:
  float penalty_;
  std::vector<llama_token> recent_;
  std::vector<std::pair<llama_token, float>> saved_;
};

class LlamaGenerator final : public Generator {
 public:
  LlamaGenerator(std::string path, llama::ModelPtr model, llama::ContextPtr ctx)
      : path_(std::move(path)), model_(std::move(model)), ctx_(std::move(ctx)), vocab_(llama_model_get_vocab(model_.get())) {
    const char* t = llama_model_chat_template(model_.get(), nullptr);
    template_ = t ? t : FallbackTemplate(llama::MetaString(model_.get(), "general.architecture"));
    markers_ = TemplateMarkers(vocab_);
  }

  Result<std::string> FormatChat(const std::vector<ChatMessage>& messages) const override {
    // Message content is text: a control string of this vocabulary inside it
    // (a document quoting "<|im_end|>") must not end the turn it sits in.
    std::vector<std::string> contents;
    contents.reserve(messages.size());
    for (const auto& m : messages) contents.push_back(text::BreakMarkers(m.content, markers_));
    std::vector<llama_chat_message> msgs;
    size_t total = 0;
    for (size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      msgs.push_back({m.role.c_str(), contents[i].c_str()});
      total += m.role.size() + m.content.size();
    }
    std::string buf(total * 2 + 256, '\0');
    int n = llama_chat_apply_template(template_.c_str(), msgs.data(), msgs.size(), true, buf.data(),
                                      static_cast<int32_t>(buf.size()));
    if (n > static_cast<int>(buf.size())) {
      buf.resize(static_cast<size_t>(n));
      n = llama_chat_apply_template(template_.c_str(), msgs.data(), msgs.size(), true, buf.data(),
                                    static_cast<int32_t>(buf.size()));
    }
    if (n < 0) {
      return Status::Unsupported("the model's chat template is not one llama.cpp recognises; "
                                 "use a model with a standard template");
    }
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

  Result<std::vector<Generation>> ChatBatch(const std::vector<std::vector<ChatMessage>>& conversations,
                                            const SamplingOptions& sampling, const TokenCallback& on_piece) override {
    QUARRY_RETURN_IF_ERROR(sampling.Validate());
    std::vector<std::string> prompts;
    for (const auto& c : conversations) {
      auto p = FormatChat(c);
      if (!p.ok()) return p.status();
      prompts.push_back(std::move(*p));
    }
    return CompleteBatch(prompts, sampling, on_piece);
  }

  Result<Generation> Complete(std::string_view prompt, const SamplingOptions& sampling,
                              const TokenCallback& on_piece) override {
    QUARRY_RETURN_IF_ERROR(sampling.Validate());
    auto r = CompleteBatch({std::string(prompt)}, sampling, on_piece);
    if (!r.ok()) return r.status();
    return std::move(r->front());
  }

  // Decodes on the context's own thread (llama::ComputeThread); on_piece is
  // called there.
  Result<std::vector<Generation>> CompleteBatch(const std::vector<std::string>& prompts, const SamplingOptions& sampling,
                                                const TokenCallback& on_piece) {
    return compute_.Run([&] { return DecodeBatch(prompts, sampling, on_piece); });
  }

  // The one decoding loop. Sequence i holds prompt i; the tokens all prompts
  // share at the start are decoded once, tagged with every sequence id, so the
  // unified KV cache stores them once.
  Result<std::vector<Generation>> DecodeBatch(const std::vector<std::string>& prompts, const SamplingOptions& sampling,
                                              const TokenCallback& on_piece) {
    const auto t0 = Clock::now();
    const int n = static_cast<int>(prompts.size());
    if (n == 0) return std::vector<Generation>{};
    if (n > max_sequences()) {
      return Status::InvalidArgument(std::to_string(n) + " sequences asked for, the generator was opened for " +
                                     std::to_string(max_sequences()) + " (GeneratorOptions::sequences)");
    }
    std::vector<std::vector<llama_token>> toks(n);
    for (int s = 0; s < n; ++s) {
      // The chat template already carries any BOS text; let the tokenizer add
      // BOS only when the prompt does not start with it.
      toks[s] = llama::Tokenize(vocab_, prompts[s], /*add_special=*/true, /*parse_special=*/true);
      if (toks[s].size() >= 2 && toks[s][0] == toks[s][1] && toks[s][0] == llama_vocab_bos(vocab_)) toks[s].erase(toks[s].begin());
      if (toks[s].empty()) return Status::InvalidArgument("empty prompt");
    }
    size_t shared = toks[0].size();
    for (int s = 1; s < n; ++s) {
      size_t i = 0;
      while (i < shared && i < toks[s].size() && toks[s][i] == toks[0][i]) ++i;
      shared = i;
    }
    // Every sequence needs at least its last prompt token decoded on its own
    // (that is where its first logits come from).
    for (int s = 0; s < n; ++s) shared = std::min(shared, toks[s].size() - 1);
    // Each choice is one token of this vocabulary (as the reply's first token: no leading space).
    std::vector<llama_token> choice_ids;
    for (const std::string& c : sampling.choices) {
      const std::vector<llama_token> t = llama::Tokenize(vocab_, c, /*add_special=*/false, /*parse_special=*/false);
      if (t.size() != 1) {
        return Status::InvalidArgument("choice \"" + c + "\" is " + std::to_string(t.size()) +
                                       " tokens of this model's vocabulary; each choice must be one")
            .About("choices");
      }
      choice_ids.push_back(t[0]);
    }
    size_t kv_prompt = shared;
    for (int s = 0; s < n; ++s) kv_prompt += toks[s].size() - shared;
    const int n_ctx = context_size();
    if (static_cast<int>(kv_prompt) + n >= n_ctx) {
      return Status::InvalidArgument("prompt is " + std::to_string(kv_prompt) + " tokens, the context holds " +
                                     std::to_string(n_ctx) + "; shorten it or raise the context size");
    }
    // Tokens left for generation, split between the sequences.
    const int room = (n_ctx - static_cast<int>(kv_prompt)) / n;
    const int max_new = std::min(sampling.max_tokens, room);

    // What the previous call left in the KV cache and this call repeats stays;
    // everything else goes. Conversation s decodes in the kept sequence that
    // shares the most with it (a reading check and the answer after it, even
    // when other conversations of the first call have no second), or starts
    // from what conversation 0 kept (candidates over one prompt).
    const int seqs = max_sequences();
    std::vector<llama_seq_id> id(n);  // the KV sequence of each conversation
    std::vector<size_t> start(n, 0);  // the first position each conversation evaluates
    cached_.resize(static_cast<size_t>(seqs));
    auto common = [](const std::vector<llama_token>& a, const std::vector<llama_token>& b, size_t cap) {
      size_t i = 0;
      while (i < cap && i < a.size() && i < b.size() && a[i] == b[i]) ++i;
      return i;
    };
    std::vector<bool> taken(static_cast<size_t>(seqs), false);
    for (int s = 0; s < n; ++s) {
      int best = -1;
      size_t best_len = 0;
      for (int q = 0; q < seqs; ++q) {
        if (taken[q]) continue;
        const size_t len = common(cached_[q], toks[s], toks[s].size() - 1);
        if (best < 0 || len > best_len) best = q, best_len = len;
      }
      taken[best] = true;
      id[s] = best;
      start[s] = best_len;
    }
    if (llama_memory_t mem = llama_get_memory(ctx_.get())) {
      bool kept = can_reuse_;
      for (int q = 0; q < seqs; ++q) {
        if (!taken[q]) llama_memory_seq_rm(mem, q, -1, -1);
      }
      for (int s = 0; s < n && kept; ++s) kept = llama_memory_seq_rm(mem, id[s], static_cast<llama_pos>(start[s]), -1);
      if (!kept) {
        llama_memory_clear(mem, true);
        std::fill(start.begin(), start.end(), 0);
      }
      for (int s = 1; s < n; ++s) {
        const size_t from0 = std::min(start[0], shared);
        if (from0 <= start[s]) continue;
        llama_memory_seq_rm(mem, id[s], -1, -1);
        llama_memory_seq_cp(mem, id[0], id[s], 0, static_cast<llama_pos>(from0));
        start[s] = from0;
      }
    } else {
      std::fill(start.begin(), start.end(), 0);
    }
    for (auto& c : cached_) c.clear();  // set again only when this call succeeds
    std::vector<Generation> out(n);
    std::vector<llama::SamplerPtr> samplers;
    std::vector<RepeatPenalty> penalties(n, RepeatPenalty(sampling.repeat_penalty));
    for (int s = 0; s < n; ++s) {
      SamplingOptions so = sampling;
      so.seed = sampling.seed + static_cast<uint32_t>(s);
      if (s == 0 && sampling.greedy_first) so.temperature = 0;
      samplers.emplace_back(MakeSampler(so));
      out[s].prompt_tokens = static_cast<int>(toks[s].size());
      out[s].cached_tokens = static_cast<int>(start[s]);
      out[s].finish_reason = "length";
    }

    const int n_batch = static_cast<int>(llama_n_batch(ctx_.get()));
    llama::Batch batch(std::max(n_batch, n), n);
    std::vector<int> logits_at(n, -1);  // batch index of each sequence's logits in the last decode
    auto decode = [&](const char* what) -> Status {
      if (batch.size() == 0) return Status::OK();
      if (int rc = llama_decode(ctx_.get(), batch.get()); rc != 0) {
        return Status::Internal(std::string("llama_decode failed ") + what + " (code " + std::to_string(rc) + ")");
      }
      batch.Clear();
      return Status::OK();
    };
    // Shared prefix (once, for every sequence that lacks it), then each
    // sequence's own rest of the prompt, in batches of n_batch.
    std::vector<llama_seq_id> lacking;
    for (size_t j = *std::min_element(start.begin(), start.end()); j < shared; ++j) {
      lacking.clear();
      for (int s = 0; s < n; ++s) {
        if (start[s] <= j) lacking.push_back(id[s]);
      }
      batch.Add(toks[0][j], static_cast<llama_pos>(j), lacking, false);
      if (batch.size() == n_batch) QUARRY_RETURN_IF_ERROR(decode("on the prompt"));
    }
    for (int s = 0; s < n; ++s) {
      for (size_t j = std::max(shared, start[s]); j + 1 < toks[s].size(); ++j) {
        batch.Add(toks[s][j], static_cast<llama_pos>(j), {id[s]}, false);
        if (batch.size() == n_batch) QUARRY_RETURN_IF_ERROR(decode("on the prompt"));
      }
    }
    // Logits survive only for the latest decode: every sequence's last prompt
    // token goes into the same final batch.
    QUARRY_RETURN_IF_ERROR(decode("on the prompt"));
    for (int s = 0; s < n; ++s) {
      logits_at[s] = batch.size();
      batch.Add(toks[s].back(), static_cast<llama_pos>(toks[s].size() - 1), {id[s]}, true);
    }
    QUARRY_RETURN_IF_ERROR(decode("on the prompt"));
    const double prompt_ms = MsSince(t0);

    std::vector<std::vector<llama_token>> decoded(n);  // what each sequence adds to the KV cache after its prompt
    std::vector<std::string> pending(n);  // bytes of a UTF-8 character split across tokens
    std::vector<llama_pos> pos(n);
    std::vector<bool> done(n, false);
    std::vector<Clock::time_point> t_first(n);
    for (int s = 0; s < n; ++s) pos[s] = static_cast<llama_pos>(toks[s].size());
    auto emit = [&](int s, std::string_view piece) {
      out[s].text.append(piece);
      if (s == 0 && on_piece && !on_piece(piece)) {
        out[s].finish_reason = "stop";
        done[s] = true;
      }
    };
    // Stop sequences: text that may begin one waits in held until it cannot;
    // a whole one ends the sequence, itself not emitted.
    std::vector<std::string> held(n);
    auto release = [&](int s, std::string_view piece) {
      if (sampling.stop.empty()) return emit(s, piece);
      std::string& h = held[s];
      h.append(piece);
      size_t cut = std::string::npos;
      for (const std::string& x : sampling.stop) cut = std::min(cut, h.find(x));
      if (cut != std::string::npos) {
        if (cut > 0) emit(s, std::string_view(h).substr(0, cut));
        h.clear();
        out[s].finish_reason = "stop";
        done[s] = true;
        return;
      }
      const size_t keep = StopPrefixAtEnd(h, sampling.stop);
      if (h.size() > keep) {
        emit(s, std::string_view(h).substr(0, h.size() - keep));
        h.erase(0, h.size() - keep);
      }
    };
    for (int step = 0; step < max_new; ++step) {
      for (int s = 0; s < n; ++s) {
        if (done[s]) continue;
        Generation& g = out[s];
        float* logits = llama_get_logits_ith(ctx_.get(), logits_at[s]);
        if (!logits) return Status::Internal("llama.cpp returned no logits");
        if (step == 0 && !choice_ids.empty()) g.choice_probs = Probabilities(logits, choice_ids);
        penalties[s].Apply(logits);
        if (step == 0 && sampling.text_first) {
          for (llama_token t : MarkerOpeners()) logits[t] = -INFINITY;
        }
        llama_token tok = llama_sampler_sample(samplers[s].get(), ctx_.get(), logits_at[s]);
        penalties[s].Restore(logits);
        penalties[s].Accept(tok);
        if (sampling.logprobs) g.sum_logprob += TokenLogProb(logits_at[s], tok);
        if (step == 0) {
          t_first[s] = Clock::now();
          g.time_to_first_token_ms = MsSince(t0);
        }
        if (llama_vocab_is_eog(vocab_, tok)) {
          if (!held[s].empty()) emit(s, held[s]);  // no stop sequence after all
          g.finish_reason = "stop";
          done[s] = true;
          continue;
        }
        ++g.completion_tokens;
        pending[s] += llama::TokenPiece(vocab_, tok);
        // A character split across tokens is held back until it is whole;
        // a byte sequence no character can start with becomes U+FFFD.
        if (size_t whole = text::Utf8CompletePrefix(pending[s]); whole > 0) {
          std::string piece = text::ValidUtf8(std::string_view(pending[s]).substr(0, whole));
          pending[s].erase(0, whole);
          release(s, piece);
          if (done[s]) continue;
        }
        if (step + 1 == max_new) continue;
        logits_at[s] = batch.size();
        batch.Add(tok, pos[s]++, {id[s]}, true);
        decoded[s].push_back(tok);
      }
      if (batch.size() == 0) break;
      QUARRY_RETURN_IF_ERROR(decode("while generating"));
    }
    // What is still pending is a character the token limit cut off: dropped,
    // so neither the stream nor the text ends in a broken sequence. Text held
    // for a stop sequence that never came is the reply's end.
    for (int s = 0; s < n; ++s) {
      if (!done[s] && !held[s].empty()) emit(s, held[s]);
      out[s].prompt_ms = prompt_ms;
      if (out[s].completion_tokens > 0) out[s].generation_ms = MsSince(t_first[s]);
    }
    // The KV cache now holds each sequence's prompt and reply: the next call may start from them.
    for (int s = 0; s < n; ++s) {
      cached_[id[s]] = std::move(toks[s]);
      cached_[id[s]].insert(cached_[id[s]].end(), decoded[s].begin(), decoded[s].end());
    }
    return out;
  }

  int context_size() const override { return static_cast<int>(llama_n_ctx(ctx_.get())); }
  int max_sequences() const override { return static_cast<int>(llama_n_seq_max(ctx_.get())); }
  const std::string& model_id() const override { return path_; }
  int CountTokens(std::string_view text) const override {
    return static_cast<int>(llama::Tokenize(vocab_, text, false, true).size());
  }

 private:
  // Tokens whose text opens with "[" after any spaces (" [", "[", "[[", ...),
  // found once per generator by reading the whole vocabulary.
  const std::vector<llama_token>& MarkerOpeners() {
    if (!marker_openers_) {
      marker_openers_.emplace();
      const int n_vocab = llama_vocab_n_tokens(vocab_);
      for (llama_token t = 0; t < n_vocab; ++t) {
        const std::string piece = llama::TokenPiece(vocab_, t);
        const size_t first = piece.find_first_not_of(' ');
        if (first != std::string::npos && piece[first] == '[') marker_openers_->push_back(t);
      }
    }
    return *marker_openers_;
  }

  llama_sampler* MakeSampler(const SamplingOptions& s) const {
    llama_sampler_chain_params p = llama_sampler_chain_default_params();
    p.no_perf = true;
    llama_sampler* chain = llama_sampler_chain_init(p);
    if (s.ignore_eos) {
      std::vector<llama_logit_bias> bias;
      const int n_vocab = llama_vocab_n_tokens(vocab_);
      for (llama_token t = 0; t < n_vocab; ++t) {
        if (llama_vocab_is_eog(vocab_, t)) bias.push_back({t, -INFINITY});
      }
      llama_sampler_chain_add(chain, llama_sampler_init_logit_bias(n_vocab, static_cast<int32_t>(bias.size()), bias.data()));
    }
    // The repeat penalty is applied to the logits before the chain (RepeatPenalty).
    if (s.temperature <= 0.0f) {
      llama_sampler_chain_add(chain, llama_sampler_init_greedy());
    } else {
      if (s.top_k > 0) llama_sampler_chain_add(chain, llama_sampler_init_top_k(s.top_k));
      if (s.top_p < 1.0f) llama_sampler_chain_add(chain, llama_sampler_init_top_p(s.top_p, 1));
      llama_sampler_chain_add(chain, llama_sampler_init_temp(s.temperature));
      llama_sampler_chain_add(chain, llama_sampler_init_dist(s.seed));
    }
    return chain;
  }

  // log p(t) for each of ids under the distribution the logits give (one softmax).
  std::vector<double> LogProbs(const float* logits, const std::vector<llama_token>& ids) const {
    const int n = llama_vocab_n_tokens(vocab_);
    const float mx = *std::max_element(logits, logits + n);
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
    std::vector<double> out;
    for (llama_token t : ids) out.push_back(static_cast<double>(logits[t] - mx) - std::log(sum));
    return out;
  }
  std::vector<double> Probabilities(const float* logits, const std::vector<llama_token>& ids) const {
    std::vector<double> p = LogProbs(logits, ids);
    for (double& x : p) x = std::exp(x);
    return p;
  }

  // log p(tok) under the unmodified model distribution at batch index i.
  double TokenLogProb(int at, llama_token tok) const {
    const float* logits = llama_get_logits_ith(ctx_.get(), at);
    return logits ? LogProbs(logits, {tok})[0] : 0;
  }

  std::string path_;
  llama::ModelPtr model_;
  llama::ContextPtr ctx_;
  const llama_vocab* vocab_;
  std::string template_;
  std::vector<std::string> markers_;
  std::optional<std::vector<llama_token>> marker_openers_;  // MarkerOpeners(), on the compute thread
  // Each sequence of the last successful call, as its KV cells hold it (compute thread).
  std::vector<std::vector<llama_token>> cached_;
  // Attention caches can drop a suffix; windowed (SWA) and recurrent ones cannot keep a prefix.
  bool can_reuse_ = llama_model_n_swa(model_.get()) == 0 && !llama_model_is_recurrent(model_.get()) &&
                    !llama_model_is_hybrid(model_.get());
  llama::ComputeThread compute_;  // last: stops first, before the context goes
};

}  // namespace

Result<Generation> Generator::Chat(const std::vector<ChatMessage>& messages, const SamplingOptions& sampling,
                                   const TokenCallback& on_piece) {
  auto r = ChatBatch({messages}, sampling, on_piece);
  if (!r.ok()) return r.status();
  return std::move(r->front());
}

Result<std::unique_ptr<Generator>> Generator::Open(const std::string& gguf_path, const GeneratorOptions& options) {
  auto model = llama::LoadModel(gguf_path);
  if (!model.ok()) return model.status();
  if (!llama_model_has_decoder(model->get()) || llama_model_has_encoder(model->get())) {
    return Status::InvalidArgument(gguf_path + ": not a generative (decoder-only) model");
  }
  const int n_train = llama_model_n_ctx_train(model->get());
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(options.context > 0 ? options.context : std::min(n_train > 0 ? n_train : 4096, 4096));
  cp.n_batch = std::min<uint32_t>(cp.n_ctx, 512);
  cp.n_ubatch = cp.n_batch;
  cp.n_seq_max = static_cast<uint32_t>(std::max(options.sequences, 1));
  // One KV buffer for all sequences: candidates share their prompt's cells.
  cp.kv_unified = true;
  cp.n_threads = cp.n_threads_batch = options.threads > 0 ? options.threads : llama::DefaultThreads();
  cp.no_perf = true;
  llama::ContextPtr ctx(llama_init_from_model(model->get(), cp));
  if (!ctx) return Status::Internal(gguf_path + ": llama.cpp could not create a context of " + std::to_string(cp.n_ctx) + " tokens");
  // An embedding model or reranker (BERT, E5, a cross-encoder) loads and
  // "generates" nothing: its GGUF pools the output into a vector or a score.
  if (llama_pooling_type(ctx.get()) != LLAMA_POOLING_TYPE_NONE) {
    return Status::InvalidArgument(gguf_path + ": an embedding model or reranker (its GGUF pools the output), not a chat model; "
                                   "use a generator (`quarry model list` shows each model's ROLE)");
  }
  return std::unique_ptr<Generator>(new LlamaGenerator(gguf_path, std::move(*model), std::move(ctx)));
}

}  // namespace quarry
