// The one place that owns llama.cpp process state and C handles.
#pragma once

#include <llama.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <string_view>
#include <vector>

#include "quarry/status.h"

namespace quarry::llama {

// Initialises the llama.cpp backend once per process and routes its log to
// stderr only for errors (QUARRY_LLAMA_LOG=1 shows everything).
void EnsureBackend();

struct ModelDeleter {
  void operator()(llama_model* m) const { llama_model_free(m); }
};
struct ContextDeleter {
  void operator()(llama_context* c) const { llama_free(c); }
};
struct SamplerDeleter {
  void operator()(llama_sampler* s) const { llama_sampler_free(s); }
};
using ModelPtr = std::unique_ptr<llama_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<llama_context, ContextDeleter>;
using SamplerPtr = std::unique_ptr<llama_sampler, SamplerDeleter>;

// Loads a model on the CPU; the error names the file.
Result<ModelPtr> LoadModel(const std::string& path);

// Owning llama_batch.
class Batch {
 public:
  Batch(int capacity, int max_seq_per_token);
  ~Batch() { llama_batch_free(batch_); }
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;
  void Clear() { batch_.n_tokens = 0; }
  void Add(llama_token t, llama_pos pos, const std::vector<llama_seq_id>& seqs, bool logits);
  int size() const { return batch_.n_tokens; }
  int capacity() const { return capacity_; }
  llama_batch& get() { return batch_; }

 private:
  llama_batch batch_;
  int capacity_;
};

std::vector<llama_token> Tokenize(const llama_vocab* vocab, std::string_view text, bool add_special,
                                  bool parse_special);
std::string TokenPiece(const llama_vocab* vocab, llama_token token);

// One long-lived thread that runs a context's work. llama.cpp's CPU backend
// (OpenMP) runs a context's graphs at less than half speed when the calling
// thread changes after another thread has computed (measured: 64 tokens of
// SmolLM2 in 0.57 s on the thread that always calls, 1.38 s on a new one);
// a server calls from whichever worker thread holds the request. Each
// context does all of its work here instead, so any thread may call.
class ComputeThread {
 public:
  ComputeThread();
  ~ComputeThread();
  ComputeThread(const ComputeThread&) = delete;
  ComputeThread& operator=(const ComputeThread&) = delete;

  // Runs fn on the thread and returns its result; one call at a time (callers
  // queue). Called from the thread itself, runs fn directly.
  template <typename F>
  auto Run(F&& fn) -> decltype(fn()) {
    if (std::this_thread::get_id() == thread_.get_id()) return fn();
    std::optional<decltype(fn())> out;
    Post([&] { out.emplace(fn()); });
    return std::move(*out);
  }

 private:
  void Post(const std::function<void()>& task);  // blocks until task has run
  std::mutex call_mu_;  // one caller at a time
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* task_ = nullptr;
  bool done_ = false, quit_ = false;
  std::thread thread_;
};

int DefaultThreads();
std::string MetaString(const llama_model* model, const char* key);

}  // namespace quarry::llama
