#include <algorithm>
#include <chrono>
#include <cmath>

#include "model/llama_runtime.h"
#include "quarry/model.h"

namespace quarry {
namespace {

using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Length of the longest prefix of s that ends on a whole UTF-8 character.
size_t CompleteUtf8Prefix(const std::string& s) {
  size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t need = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    return back >= need ? n : n - back;
  }
  return n;
}

// A GGUF without tokenizer.chat_template gets llama.cpp's built-in template for
// its architecture family, else ChatML, the most common convention.
std::string FallbackTemplate(const std::string& arch) {
  if (arch.rfind("gemma", 0) == 0) return "gemma";
  if (arch == "phi3") return "phi3";
  if (arch == "command-r") return "command-r";
  return "chatml";
}

class LlamaGenerator final : public Generator {
 public:
  LlamaGenerator(llama::ModelPtr model, llama::ContextPtr ctx)
      : model_(std::move(model)), ctx_(std::move(ctx)), vocab_(llama_model_get_vocab(model_.get())) {
    const char* t = llama_model_chat_template(model_.get(), nullptr);
    template_ = t ? t : FallbackTemplate(llama::MetaString(model_.get(), "general.architecture"));
  }

  Result<std::string> FormatChat(const std::vector<ChatMessage>& messages) const override {
    std::vector<llama_chat_message> msgs;
    size_t total = 0;
    for (const auto& m : messages) {
      msgs.push_back({m.role.c_str(), m.content.c_str()});
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

  Result<Generation> Chat(const std::vector<ChatMessage>& messages, const SamplingOptions& sampling,
                          const TokenCallback& on_piece) override {
    auto prompt = FormatChat(messages);
    if (!prompt.ok()) return prompt.status();
    return Complete(*prompt, sampling, on_piece);
  }

  Result<Generation> Complete(std::string_view prompt, const SamplingOptions& sampling,
                              const TokenCallback& on_piece) override {
    const auto t0 = Clock::now();
    Generation g;
    // The chat template already carries any BOS text; let the tokenizer add BOS
    // only when the prompt does not start with it.
    std::vector<llama_token> toks = llama::Tokenize(vocab_, prompt, /*add_special=*/true, /*parse_special=*/true);
    if (toks.size() >= 2 && toks[0] == toks[1] && toks[0] == llama_vocab_bos(vocab_)) toks.erase(toks.begin());
    const int n_ctx = context_size();
    if (toks.empty()) return Status::InvalidArgument("empty prompt");
    if (static_cast<int>(toks.size()) >= n_ctx) {
      return Status::InvalidArgument("prompt is " + std::to_string(toks.size()) + " tokens, the context holds " +
                                     std::to_string(n_ctx) + "; shorten it or raise the context size");
    }
    g.prompt_tokens = static_cast<int>(toks.size());
    const int max_new = std::min(sampling.max_tokens, n_ctx - g.prompt_tokens);

    if (llama_memory_t mem = llama_get_memory(ctx_.get())) llama_memory_clear(mem, true);
    llama::SamplerPtr smpl(MakeSampler(sampling));

    const int n_batch = static_cast<int>(llama_n_batch(ctx_.get()));
    llama::Batch batch(std::max(n_batch, 1), 1);
    for (size_t i = 0; i < toks.size(); i += static_cast<size_t>(n_batch)) {
      batch.Clear();
      size_t end = std::min(toks.size(), i + static_cast<size_t>(n_batch));
      for (size_t j = i; j < end; ++j) batch.Add(toks[j], static_cast<llama_pos>(j), 0, j + 1 == toks.size());
      if (int rc = llama_decode(ctx_.get(), batch.get()); rc != 0) {
        return Status::Internal("llama_decode failed on the prompt (code " + std::to_string(rc) + ")");
      }
    }
    g.prompt_ms = MsSince(t0);

    std::string pending;  // bytes of a UTF-8 character split across tokens
    llama_pos pos = static_cast<llama_pos>(toks.size());
    Clock::time_point t_first;
    g.finish_reason = "length";
    for (int i = 0; i < max_new; ++i) {
      llama_token tok = llama_sampler_sample(smpl.get(), ctx_.get(), -1);
      if (sampling.logprobs) g.sum_logprob += TokenLogProb(tok);
      if (i == 0) {
        t_first = Clock::now();
        g.time_to_first_token_ms = MsSince(t0);
      }
      if (llama_vocab_is_eog(vocab_, tok)) {
        g.finish_reason = "stop";
        break;
      }
      ++g.completion_tokens;
      pending += llama::TokenPiece(vocab_, tok);
      size_t whole = CompleteUtf8Prefix(pending);
      if (whole > 0) {
        std::string_view piece(pending.data(), whole);
        g.text.append(piece);
        bool go_on = !on_piece || on_piece(piece);
        pending.erase(0, whole);
        if (!go_on) {
          g.finish_reason = "stop";
          break;
        }
      }
      if (i + 1 == max_new) break;
      batch.Clear();
      batch.Add(tok, pos++, 0, true);
      if (int rc = llama_decode(ctx_.get(), batch.get()); rc != 0) {
        return Status::Internal("llama_decode failed while generating (code " + std::to_string(rc) + ")");
      }
    }
    if (!pending.empty()) {
      g.text += pending;
      if (on_piece) on_piece(pending);
    }
    if (g.completion_tokens > 0) g.generation_ms = MsSince(t_first);
    return g;
  }

  int context_size() const override { return static_cast<int>(llama_n_ctx(ctx_.get())); }
  int CountTokens(std::string_view text) const override {
    return static_cast<int>(llama::Tokenize(vocab_, text, false, true).size());
  }

 private:
  static llama_sampler* MakeSampler(const SamplingOptions& s) {
    llama_sampler_chain_params p = llama_sampler_chain_default_params();
    p.no_perf = true;
    llama_sampler* chain = llama_sampler_chain_init(p);
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

  // log p(tok) under the unmodified model distribution of the last position.
  double TokenLogProb(llama_token tok) const {
    const float* logits = llama_get_logits_ith(ctx_.get(), -1);
    if (!logits) return 0;
    const int n = llama_vocab_n_tokens(vocab_);
    float mx = *std::max_element(logits, logits + n);
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
    return static_cast<double>(logits[tok] - mx) - std::log(sum);
  }

  llama::ModelPtr model_;
  llama::ContextPtr ctx_;
  const llama_vocab* vocab_;
  std::string template_;
};

}  // namespace

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
  cp.n_threads = cp.n_threads_batch = options.threads > 0 ? options.threads : llama::DefaultThreads();
  cp.no_perf = true;
  llama::ContextPtr ctx(llama_init_from_model(model->get(), cp));
  if (!ctx) return Status::Internal(gguf_path + ": llama.cpp could not create a context of " + std::to_string(cp.n_ctx) + " tokens");
  return std::unique_ptr<Generator>(new LlamaGenerator(std::move(*model), std::move(ctx)));
}

}  // namespace quarry
