// Cross-encoder reranking on llama.cpp (rank pooling: one relevance logit per
// query-document pair), with the pair laid out as llama.cpp's server does.
#include <gguf.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "model/gguf_write.h"
#include "model/llama_runtime.h"
#include "quarry/rag.h"

namespace quarry {
namespace {

class LlamaReranker final : public Reranker {
 public:
  LlamaReranker(llama::ModelPtr model, llama::ContextPtr ctx) : model_(std::move(model)), ctx_(std::move(ctx)) {
    vocab_ = llama_model_get_vocab(model_.get());
    const char* t = llama_model_chat_template(model_.get(), "rerank");
    if (t) template_ = t;
  }

  // On the context's own thread (llama::ComputeThread).
  Result<std::vector<float>> Score(const std::string& query, const std::vector<std::string>& texts) override {
    return compute_.Run([&] { return ScoreHere(query, texts); });
  }

  Result<std::vector<float>> ScoreHere(const std::string& query, const std::vector<std::string>& texts) {
    std::vector<float> out;
    // At most the model's trained positions (a longer pair would index past
    // its position table) and the batch.
    const size_t limit = static_cast<size_t>(
        std::max(8, std::min(static_cast<int>(llama_n_batch(ctx_.get())), llama_model_n_ctx_train(model_.get()))));
    llama::Batch batch(static_cast<int>(limit), 1);
    for (const std::string& doc : texts) {
      std::vector<llama_token> toks = Pair(query, doc, limit);
      if (llama_memory_t mem = llama_get_memory(ctx_.get())) llama_memory_clear(mem, true);
      batch.Clear();
      for (size_t p = 0; p < toks.size(); ++p) batch.Add(toks[p], static_cast<llama_pos>(p), {0}, true);
      if (int rc = llama_decode(ctx_.get(), batch.get()); rc != 0) {
        return Status::Internal("llama_decode failed while reranking (code " + std::to_string(rc) + ")");
      }
      const float* e = llama_get_embeddings_seq(ctx_.get(), 0);
      if (!e) return Status::Internal("llama.cpp returned no rank score");
      out.push_back(e[0]);
    }
    return out;
  }

 private:
  // The pair as llama.cpp's server lays it out, at most `limit` tokens: like
  // transformers' default (longest_first) truncation, tokens come off the end
  // of the longer of query and document, and the special tokens stay.
  std::vector<llama_token> Pair(const std::string& query, const std::string& doc, size_t limit) const {
    if (!template_.empty()) {
      std::string p = template_;
      for (auto [key, val] : {std::pair<std::string, const std::string*>{"{query}", &query}, {"{document}", &doc}}) {
        for (size_t at; (at = p.find(key)) != std::string::npos;) p.replace(at, key.size(), *val);
      }
      auto t = llama::Tokenize(vocab_, p, false, true);
      if (t.size() > limit) t.resize(limit);
      return t;
    }
    std::vector<llama_token> t;
    llama_token eos = llama_vocab_eos(vocab_);
    if (eos == LLAMA_TOKEN_NULL) eos = llama_vocab_sep(vocab_);
    auto q = llama::Tokenize(vocab_, query, false, false);
    auto d = llama::Tokenize(vocab_, doc, false, false);
    const size_t specials = (llama_vocab_get_add_bos(vocab_) ? 1 : 0) + (llama_vocab_get_add_eos(vocab_) ? 2 : 0) +
                            (llama_vocab_get_add_sep(vocab_) ? 1 : 0);
    const size_t room = limit > specials ? limit - specials : 0;
    while (q.size() + d.size() > room) (q.size() > d.size() ? q : d).pop_back();
    if (llama_vocab_get_add_bos(vocab_)) t.push_back(llama_vocab_bos(vocab_));
    t.insert(t.end(), q.begin(), q.end());
    if (llama_vocab_get_add_eos(vocab_)) t.push_back(eos);
    if (llama_vocab_get_add_sep(vocab_)) t.push_back(llama_vocab_sep(vocab_));
    t.insert(t.end(), d.begin(), d.end());
    if (llama_vocab_get_add_eos(vocab_)) t.push_back(eos);
    return t;
  }

  llama::ModelPtr model_;
  llama::ContextPtr ctx_;
  const llama_vocab* vocab_;
  std::string template_;
  llama::ComputeThread compute_;  // last: stops first, before the context goes
};

// A cross-encoder: the file asks for rank pooling (e.g. Qwen3 rerankers), or
// it carries a classification head (llama.cpp's converter writes bge-reranker
// and ms-marco cross-encoders without a pooling type; its server is told
// --reranking). Without either, rank pooling would return one dimension of the
// [CLS] state as a "score". Reads the header only; nullopt when the file is
// no GGUF at all (LoadModel then says why).
std::optional<bool> HasRankHead(const std::string& path) {
  std::unique_ptr<gguf_context, GgufFree> g(gguf_init_from_file(path.c_str(), {true, nullptr}));
  if (!g) return std::nullopt;
  const std::string arch = [&] {
    const int64_t k = gguf_find_key(g.get(), "general.architecture");
    return k >= 0 && gguf_get_kv_type(g.get(), k) == GGUF_TYPE_STRING ? std::string(gguf_get_val_str(g.get(), k)) : "";
  }();
  const int64_t pool = gguf_find_key(g.get(), (arch + ".pooling_type").c_str());
  if (pool >= 0 && gguf_get_kv_type(g.get(), pool) == GGUF_TYPE_UINT32 && gguf_get_val_u32(g.get(), pool) == LLAMA_POOLING_TYPE_RANK) {
    return true;
  }
  return gguf_find_tensor(g.get(), "cls.weight") >= 0 || gguf_find_tensor(g.get(), "cls.output.weight") >= 0;
}

}  // namespace

Result<std::unique_ptr<Reranker>> Reranker::Open(const std::string& gguf_path, int threads) {
  // The header check first: refusing a chat model must not cost loading it.
  if (HasRankHead(gguf_path) == false) {
    return Status::InvalidArgument(gguf_path + ": not a reranker (no classification head: an embedding or chat model?); "
                                   "use a cross-encoder GGUF, e.g. bge-reranker or ms-marco-MiniLM imported with "
                                   "`quarry model import` or converted by llama.cpp");
  }
  auto model = llama::LoadModel(gguf_path);
  if (!model.ok()) return model.status();
  const uint32_t n = static_cast<uint32_t>(std::clamp(llama_model_n_ctx_train(model->get()), 512, 2048));
  llama_context_params cp = llama_context_default_params();
  cp.embeddings = true;
  cp.pooling_type = LLAMA_POOLING_TYPE_RANK;
  cp.n_ctx = cp.n_batch = cp.n_ubatch = n;
  cp.n_seq_max = 1;
  cp.n_threads = cp.n_threads_batch = threads > 0 ? threads : llama::DefaultThreads();
  cp.no_perf = true;
  llama::ContextPtr ctx(llama_init_from_model(model->get(), cp));
  if (!ctx || llama_pooling_type(ctx.get()) != LLAMA_POOLING_TYPE_RANK) {
    return Status::InvalidArgument(gguf_path + ": not a reranker (llama.cpp cannot rank with it); use a cross-encoder "
                                   "GGUF with a classification head");
  }
  return std::unique_ptr<Reranker>(new LlamaReranker(std::move(*model), std::move(ctx)));
}

}  // namespace quarry
