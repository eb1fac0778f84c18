#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "model/llama_runtime.h"
#include "quarry/model.h"
#include "text/utf8.h"
#include "util/sha256.h"

namespace quarry {
namespace {

// File stem plus a digest of the size and the first 4 MiB (header, metadata and
// the first tensors): cheap to compute on every open, changes when the model does.
std::string ModelIdentity(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(4u << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  std::error_code ec;
  head += std::to_string(std::filesystem::file_size(path, ec));
  return std::filesystem::path(path).stem().string() + "@" + Sha256Hex(head).substr(0, 12);
}

class LlamaEmbedder final : public Embedder {
 public:
  LlamaEmbedder(llama::ModelPtr model, llama::ContextPtr ctx, EmbedderOptions opt, std::string id)
      : model_(std::move(model)), ctx_(std::move(ctx)), opt_(opt), id_(std::move(id)) {
    vocab_ = llama_model_get_vocab(model_.get());
    dim_ = llama_model_n_embd_out(model_.get());
    max_tokens_ = std::min<int>(llama_model_n_ctx_train(model_.get()), static_cast<int>(llama_n_batch(ctx_.get())));
    seq_max_ = static_cast<int>(llama_n_seq_max(ctx_.get()));
    query_prefix_ = llama::MetaString(model_.get(), "quarry.embedding.query_prefix");
    document_prefix_ = llama::MetaString(model_.get(), "quarry.embedding.document_prefix");
    nfkc_ = llama::MetaString(model_.get(), "quarry.embedding.normalize") == "nfkc";
    if (const std::string r = llama::MetaString(model_.get(), "quarry.embedding.min_relevance"); !r.empty()) {
      min_relevance_ = min_relevance_cjk_ = std::strtod(r.c_str(), nullptr);
    }
    if (const std::string r = llama::MetaString(model_.get(), "quarry.embedding.min_relevance_cjk"); !r.empty()) {
      min_relevance_cjk_ = std::strtod(r.c_str(), nullptr);
    }
  }

  // On the context's own thread (llama::ComputeThread).
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts, Role role) override {
    return compute_.Run([&] { return EmbedHere(texts, role); });
  }

  Result<std::vector<std::vector<float>>> EmbedHere(const std::vector<std::string>& texts, Role role) {
    std::vector<std::vector<float>> out(texts.size());
    const std::string& prefix = role == Role::kQuery ? query_prefix_ : document_prefix_;
    const int n_batch = static_cast<int>(llama_n_batch(ctx_.get()));
    llama::Batch batch(n_batch, 1);
    std::vector<size_t> in_batch;  // index into texts of each sequence in the batch
    auto flush = [&]() -> Status {
      if (in_batch.empty()) return Status::OK();
      if (llama_memory_t mem = llama_get_memory(ctx_.get())) llama_memory_clear(mem, true);
      int rc = llama_decode(ctx_.get(), batch.get());
      if (rc != 0) return Status::Internal("llama_decode failed while embedding (code " + std::to_string(rc) + ")");
      for (size_t s = 0; s < in_batch.size(); ++s) {
        const float* e = llama_get_embeddings_seq(ctx_.get(), static_cast<llama_seq_id>(s));
        if (!e) return Status::Internal("llama.cpp returned no pooled embedding");
        std::vector<float> v(e, e + dim_);
        if (opt_.normalize) {
          double norm = 0;
          for (float x : v) norm += static_cast<double>(x) * x;
          norm = std::sqrt(norm);
          if (norm > 0) for (float& x : v) x = static_cast<float>(x / norm);
        }
        out[in_batch[s]] = std::move(v);
      }
      batch.Clear();
      in_batch.clear();
      return Status::OK();
    };
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<llama_token> toks = llama::Tokenize(vocab_, Prepare(prefix, texts[i]), /*add_special=*/true, /*parse_special=*/false);
      if (static_cast<int>(toks.size()) > max_tokens_) {
        llama_token last = toks.back();
        toks.resize(static_cast<size_t>(max_tokens_));
        if (llama_vocab_get_add_eos(vocab_)) toks.back() = last;  // keep [SEP]
      }
      if (batch.size() + static_cast<int>(toks.size()) > n_batch ||
          static_cast<int>(in_batch.size()) >= std::min(seq_max_, opt_.max_batch_texts)) {
        QUARRY_RETURN_IF_ERROR(flush());
      }
      const auto seq = static_cast<llama_seq_id>(in_batch.size());
      for (size_t p = 0; p < toks.size(); ++p) batch.Add(toks[p], static_cast<llama_pos>(p), {seq}, true);
      in_batch.push_back(i);
    }
    QUARRY_RETURN_IF_ERROR(flush());
    return out;
  }

  int CountTokens(std::string_view text) const override {
    return static_cast<int>(llama::Tokenize(vocab_, Prepare(document_prefix_, text), true, false).size());
  }
  int dimension() const override { return dim_; }
  int max_tokens() const override { return max_tokens_; }
  double min_relevance(std::string_view query) const override {
    // Mostly CJK: three-byte UTF-8 sequences in U+2E80..U+D7FF (Han, Kana, Hangul).
    size_t cjk = 0, chars = 0;
    for (size_t i = 0; i < query.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(query[i]);
      if ((c & 0xC0) == 0x80 || c == ' ') continue;
      ++chars;
      if (c >= 0xE2 && c <= 0xED && i + 1 < query.size() && (c > 0xE2 || static_cast<unsigned char>(query[i + 1]) >= 0xBA)) ++cjk;
    }
    return 2 * cjk > chars ? min_relevance_cjk_ : min_relevance_;
  }
  const std::string& model_id() const override { return id_; }

 private:
  // The text as the model was trained to see it: its role's prefix, and the
  // normalisation its tokenizer expects where the GGUF cannot carry it.
  std::string Prepare(const std::string& prefix, std::string_view text) const {
    std::string t = prefix;
    if (nfkc_ && text::FindInvalidUtf8(text) == std::string_view::npos) {
      t += text::Nfkc(text);
    } else {
      t.append(text);
    }
    return t;
  }

  llama::ModelPtr model_;
  llama::ContextPtr ctx_;
  EmbedderOptions opt_;
  std::string id_;
  const llama_vocab* vocab_ = nullptr;
  int dim_ = 0;
  int max_tokens_ = 0;
  int seq_max_ = 1;
  std::string query_prefix_, document_prefix_;
  bool nfkc_ = false;
  double min_relevance_ = 0.25, min_relevance_cjk_ = 0.25;
  llama::ComputeThread compute_;  // last: stops first, before the context goes
};

}  // namespace

Result<std::unique_ptr<Embedder>> Embedder::Open(const std::string& gguf_path, const EmbedderOptions& options) {
  auto model = llama::LoadModel(gguf_path);
  if (!model.ok()) return model.status();
  const int n_train = llama_model_n_ctx_train(model->get());
  // Sequences are packed into one batch; non-causal attention needs the batch in
  // one micro-batch. Attention cost grows with the square of the batch, so keep
  // it at one training context (at least 512 tokens).
  const uint32_t n_batch = static_cast<uint32_t>(std::clamp(n_train, 512, 2048));
  llama_context_params cp = llama_context_default_params();
  cp.embeddings = true;
  cp.n_ctx = n_batch;
  cp.n_batch = n_batch;
  cp.n_ubatch = n_batch;
  cp.n_seq_max = static_cast<uint32_t>(std::clamp(options.max_batch_texts, 1, 256));
  cp.kv_unified = true;
  cp.pooling_type = LLAMA_POOLING_TYPE_UNSPECIFIED;
  cp.n_threads = cp.n_threads_batch = options.threads > 0 ? options.threads : llama::DefaultThreads();
  cp.no_perf = true;
  llama::ContextPtr ctx(llama_init_from_model(model->get(), cp));
  if (!ctx) return Status::Internal(gguf_path + ": llama.cpp could not create an embedding context");
  if (llama_pooling_type(ctx.get()) == LLAMA_POOLING_TYPE_NONE) {
    return Status::InvalidArgument(gguf_path + ": not an embedding model (its GGUF declares no pooling type); "
                                   "use a sentence-embedding model, e.g. one made by `quarry model import`");
  }
  return std::unique_ptr<Embedder>(
      new LlamaEmbedder(std::move(*model), std::move(ctx), options, ModelIdentity(gguf_path)));
}

}  // namespace quarry
