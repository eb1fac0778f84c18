// Decoding many examples' generations together, without changing the code
// that produces them. Each example's pipeline (Ask, Translate, SummarizeText)
// runs against a ReplayGenerator: a ChatBatch call it has an answer for is
// answered; one it has not is recorded and fails the pipeline ("deferred").
// Flush() then decodes every recorded request at once, several examples'
// conversations as parallel sequences of one llama.cpp context, and the
// deferred pipelines run again, now answered. Retrieval repeats (cheap);
// generation does not. The pipelines see the per-example context size and
// sequence count, so they pack and budget exactly as they would alone.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "quarry/model.h"
#include "quarry/rag.h"

namespace quarry::eval {

class ReplayGenerator final : public Generator {
 public:
  // real must hold at least real.max_sequences() prompts of per_example_context tokens.
  ReplayGenerator(Generator& real, int per_example_context, int per_example_sequences)
      : real_(real), context_(per_example_context), sequences_(per_example_sequences) {}

  Result<std::string> FormatChat(const std::vector<ChatMessage>& m) const override { return real_.FormatChat(m); }
  Result<std::vector<Generation>> ChatBatch(const std::vector<std::vector<ChatMessage>>& conversations,
                                            const SamplingOptions& sampling, const TokenCallback& on_piece) override;
  Result<Generation> Complete(std::string_view prompt, const SamplingOptions& s, const TokenCallback& cb) override {
    return real_.Complete(prompt, s, cb);
  }
  int context_size() const override { return context_; }
  int max_sequences() const override { return sequences_; }
  int CountTokens(std::string_view text) const override { return real_.CountTokens(text); }
  const std::string& model_id() const override { return real_.model_id(); }

  // Whether the last failed pipeline run stopped at a request it recorded.
  bool deferred() const { return deferred_; }
  void clear_deferred() { deferred_ = false; }
  // Decodes every recorded request; single conversations with the same
  // sampling go together, up to the real generator's sequences.
  Status Flush();

  // The identity of a request: its conversations and every sampling field.
  static std::string Key(const std::vector<std::vector<ChatMessage>>& conversations, const SamplingOptions& s);

 private:
  struct Request {
    std::vector<std::vector<ChatMessage>> conversations;
    SamplingOptions sampling;
  };

  Generator& real_;
  int context_, sequences_;
  bool deferred_ = false;
  std::map<std::string, std::vector<Generation>> done_;
  std::map<std::string, Request> pending_;
};

// Remembers every greedy generation it passes through (a single greedy
// conversation, or the greedy first of a candidates request) and answers an
// identical greedy request from memory. An eval runs "X+candidates" before
// "X": X's answer is then candidate 1 of the same prompt, already decoded, so
// the two modes share one prompt evaluation (up to batched kernels' rounding,
// the same answer X would have decoded alone).
class GreedyMemoGenerator final : public Generator {
 public:
  explicit GreedyMemoGenerator(Generator& real) : real_(real) {}

  Result<std::string> FormatChat(const std::vector<ChatMessage>& m) const override { return real_.FormatChat(m); }
  Result<std::vector<Generation>> ChatBatch(const std::vector<std::vector<ChatMessage>>& conversations,
                                            const SamplingOptions& sampling, const TokenCallback& on_piece) override;
  Result<Generation> Complete(std::string_view prompt, const SamplingOptions& s, const TokenCallback& cb) override {
    return real_.Complete(prompt, s, cb);
  }
  int context_size() const override { return real_.context_size(); }
  int max_sequences() const override { return real_.max_sequences(); }
  int CountTokens(std::string_view text) const override { return real_.CountTokens(text); }
  const std::string& model_id() const override { return real_.model_id(); }

  size_t hits() const { return hits_; }

 private:
  struct Entry {
    Generation generation;
    bool logprobs = false;
  };
  static std::string GreedyKey(const std::vector<ChatMessage>& conversation, const SamplingOptions& s);

  Generator& real_;
  std::map<std::string, Entry> memo_;
  size_t hits_ = 0;
};

// Runs fn(i, generator) for i in [0, n), `batch` examples at a time through a
// ReplayGenerator over real (batch 1: one at a time, directly). progress(i)
// after each example completes.
Result<std::vector<Answer>> RunBatched(Generator& real, size_t n, int batch, int per_example_context,
                                       int per_example_sequences,
                                       const std::function<Result<Answer>(size_t, Generator&)>& fn,
                                       const std::function<void(size_t done)>& progress);

}  // namespace quarry::eval
