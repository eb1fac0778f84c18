#include "model/llama_runtime.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

namespace quarry::llama {
namespace {

void Log(ggml_log_level level, const char* text, void* /*user*/) {
  static const bool verbose = [] {
    const char* v = std::getenv("QUARRY_LLAMA_LOG");
    return v && *v && *v != '0';
  }();
  if (verbose || level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

}  // namespace

void EnsureBackend() {
  static std::once_flag once;
  std::call_once(once, [] {
    llama_log_set(Log, nullptr);
    llama_backend_init();
  });
}

Result<ModelPtr> LoadModel(const std::string& path) {
  EnsureBackend();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::NotFound(path + ": no such model file");
  }
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  ModelPtr model(llama_model_load_from_file(path.c_str(), mp));
  if (!model) {
    return Status::Corruption(path + ": llama.cpp could not load this model (not a GGUF file, or an "
                              "architecture this llama.cpp build does not know; QUARRY_LLAMA_LOG=1 shows why)");
  }
  return model;
}

Batch::Batch(int capacity, int max_seq_per_token)
    : batch_(llama_batch_init(capacity, 0, max_seq_per_token)), capacity_(capacity) {}

void Batch::Add(llama_token t, llama_pos pos, const std::vector<llama_seq_id>& seqs, bool logits) {
  int i = batch_.n_tokens++;
  batch_.token[i] = t;
  batch_.pos[i] = pos;
  batch_.n_seq_id[i] = static_cast<int32_t>(seqs.size());
  for (size_t k = 0; k < seqs.size(); ++k) batch_.seq_id[i][k] = seqs[k];
  batch_.logits[i] = logits;
}

std::vector<llama_token> Tokenize(const llama_vocab* vocab, std::string_view text, bool add_special,
                                  bool parse_special) {
  std::vector<llama_token> out(text.size() + 8);
  int n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), out.data(),
                         static_cast<int32_t>(out.size()), add_special, parse_special);
  if (n < 0) {
    out.resize(static_cast<size_t>(-n));
    n = llama_tokenize(vocab, text.data(), static_cast<int32_t>(text.size()), out.data(),
                       static_cast<int32_t>(out.size()), add_special, parse_special);
  }
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

std::string TokenPiece(const llama_vocab* vocab, llama_token token) {
  char buf[256];
  int n = llama_token_to_piece(vocab, token, buf, sizeof buf, 0, false);
  if (n >= 0) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(-n), '\0');
  n = llama_token_to_piece(vocab, token, big.data(), static_cast<int32_t>(big.size()), 0, false);
  big.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return big;
}

ComputeThread::ComputeThread() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return task_ != nullptr || quit_; });
      if (quit_) return;
      const std::function<void()>* task = task_;
      lock.unlock();
      (*task)();
      lock.lock();
      task_ = nullptr;
      done_ = true;
      cv_.notify_all();
    }
  });
}

ComputeThread::~ComputeThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ComputeThread::Post(const std::function<void()>& task) {
  std::lock_guard<std::mutex> one_caller(call_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  task_ = &task;
  done_ = false;
  cv_.notify_all();
  cv_.wait(lock, [this] { return done_; });
}

int DefaultThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 4 : static_cast<int>(n);
}

std::string MetaString(const llama_model* model, const char* key) {
  char buf[512];
  int n = llama_model_meta_val_str(model, key, buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(std::min<int>(n, sizeof buf - 1)));
}

}  // namespace quarry::llama
