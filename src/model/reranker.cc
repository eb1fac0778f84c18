// Cross-encoder reranking on llama.cpp (rank pooling: one relevance logit per
// query-document pair), with the pair laid out as llama.cpp's server does.
#include <algorithm>

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
    const int n_batch = static_cast<int>(llama_n_batch(ctx_.get()));
    llama::Batch batch(n_batch, 1);
    for (const std::string& doc : texts) {
      std::vector<llama_token> toks = Pair(query, doc);
      if (static_cast<int>(toks.size()) > n_batch) toks.resize(static_cast<size_t>(n_batch));
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
  std::vector<llama_token> Pair(const std::string& query, const std::string& doc) const {
    if (!template_.empty()) {
      std::string p = template_;
      for (auto [key, val] : {std::pair<std::string, const std::string*>{"{query}", &query}, {"{document}", &doc}}) {
        for (size_t at; (at = p.find(key)) != std::string::npos;) p.replace(at, key.size(), *val);
      }
      return llama::Tokenize(vocab_, p, false, true);
    }
    std::vector<llama_token> t;
    llama_token eos = llama_vocab_eos(vocab_);
    if (eos == LLAMA_TOKEN_NULL) eos = llama_vocab_sep(vocab_);
    if (llama_vocab_get_add_bos(vocab_)) t.push_back(llama_vocab_bos(vocab_));
    auto q = llama::Tokenize(vocab_, query, false, false);
    t.insert(t.end(), q.begin(), q.end());
    if (llama_vocab_get_add_eos(vocab_)) t.push_back(eos);
    if (llama_vocab_get_add_sep(vocab_)) t.push_back(llama_vocab_sep(vocab_));
    auto d = llama::Tokenize(vocab_, doc, false, false);
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

}  // namespace

Result<std::unique_ptr<Reranker>> Reranker::Open(const std::string& gguf_path, int threads) {
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
    return Status::InvalidArgument(gguf_path + ": not a reranker (a cross-encoder GGUF with a classification head, "
                                   "e.g. bge-reranker converted by llama.cpp)");
  }
  return std::unique_ptr<Reranker>(new LlamaReranker(std::move(*model), std::move(ctx)));
}

}  // namespace quarry
