// Raw model speed of Quarry's llama.cpp wrappers; bench/model_speed/run.py puts
// these numbers next to llama.cpp's own tools on the same files.
//
//   model_speed --embed-model M --gen-model G [--threads 1,2] [--json]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "quarry/registry.h"
#include "quarry/model.h"

using namespace quarry;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Text whose tokenization is exactly n tokens (special tokens included), varied per index.
std::string TextOfTokens(const Embedder& e, int n, int index) {
  static const char* words[] = {"retrieval", "augmented", "generation", "grounds", "answers", "in", "documents",
                                "the", "index", "stores", "passages", "with", "their", "sources", "and", "vectors"};
  std::string s;
  for (int w = 0; e.CountTokens(s) < n; ++w) s += std::string(s.empty() ? "" : " ") + words[(w * 7 + index) % 16];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Quarry model speed benchmark"};
  std::string embed_model = kDefaultEmbedder, gen_model = kDefaultGenerator;
  std::vector<int> threads = {1, 2}, lengths = {16, 64, 256}, batches = {1, 8, 32};
  int texts = 64, prompt_tokens = 512, gen_tokens = 128, reps = 3;
  std::string dump_dir;
  std::vector<int> candidates = {1, 2, 4};
  int cand_prompt = 600, cand_gen = 128;
  std::vector<std::string> sections = {"embed", "generate", "candidates"};
  app.add_option("--sections", sections, "Which measurements: embed, generate, candidates")->delimiter(',');
  app.add_option("--candidates", candidates, "Candidate counts N for the candidates measurement")->delimiter(',');
  app.add_option("--cand-prompt-tokens", cand_prompt);
  app.add_option("--cand-gen-tokens", cand_gen);
  int gen_ctx = 0;
  app.add_option("--ctx", gen_ctx, "Generator context (0: the model's, at most 4096)");
  app.add_option("--embed-model", embed_model);
  app.add_option("--gen-model", gen_model);
  app.add_option("--threads", threads)->delimiter(',');
  app.add_option("--lengths", lengths)->delimiter(',');
  app.add_option("--batches", batches)->delimiter(',');
  app.add_option("--texts", texts, "Texts per embedding measurement");
  app.add_option("--prompt-tokens", prompt_tokens);
  app.add_option("--gen-tokens", gen_tokens);
  app.add_option("--reps", reps);
  app.add_option("--dump-texts", dump_dir, "Write the embedding inputs to DIR/texts_<len>.txt (for llama-embedding)");
  CLI11_PARSE(app, argc, argv);
  auto want = [&](const char* name) { return std::find(sections.begin(), sections.end(), name) != sections.end(); };
  const std::vector<int> none;

  nlohmann::json out = {{"embedding", nlohmann::json::array()}, {"generation", nlohmann::json::array()}};
  auto emb_path = ResolveModel(embed_model);
  auto gen_path = ResolveModel(gen_model);
  if (!emb_path.ok() || !gen_path.ok()) {
    std::cerr << (emb_path.ok() ? gen_path.status() : emb_path.status()).message() << "\n";
    return 1;
  }
  out["embed_model"] = *emb_path;
  out["gen_model"] = *gen_path;

  for (int t : want("embed") ? threads : none) {
    for (int b : batches) {
      EmbedderOptions eo;
      eo.threads = t;
      eo.max_batch_texts = b;
      auto e = Embedder::Open(*emb_path, eo);
      if (!e.ok()) return std::cerr << e.status().message() << "\n", 1;
      for (int len : lengths) {
        std::vector<std::string> in;
        for (int i = 0; i < texts; ++i) in.push_back(TextOfTokens(**e, len, i));
        if (!dump_dir.empty()) {
          std::ofstream f(dump_dir + "/texts_" + std::to_string(len) + ".txt");
          for (const auto& x : in) f << x << "\n";
        }
        (void)(*e)->Embed({in.begin(), in.begin() + std::min<size_t>(in.size(), static_cast<size_t>(b))});  // warm up
        double best = 1e30;
        for (int r = 0; r < reps; ++r) {
          auto t0 = Clock::now();
          auto v = (*e)->Embed(in);
          if (!v.ok()) return std::cerr << v.status().message() << "\n", 1;
          best = std::min(best, Seconds(t0));
        }
        out["embedding"].push_back({{"threads", t}, {"batch_texts", b}, {"tokens_per_text", len}, {"texts", texts},
                                    {"seconds", best}, {"texts_per_s", texts / best},
                                    {"tokens_per_s", double(texts) * len / best}});
        std::cerr << "embed t=" << t << " batch=" << b << " len=" << len << ": " << texts / best << " texts/s\n";
      }
    }
  }

  for (int t : want("generate") ? threads : none) {
    GeneratorOptions go;
    go.threads = t;
    go.context = gen_ctx;
    auto g = Generator::Open(*gen_path, go);
    if (!g.ok()) return std::cerr << g.status().message() << "\n", 1;
    // A raw prompt of exactly prompt_tokens tokens, like llama-bench's pp test.
    std::string prompt;
    for (int i = 0; (*g)->CountTokens(prompt) < prompt_tokens; ++i) prompt += " word" + std::to_string(i % 50);
    SamplingOptions s;
    s.temperature = 0;
    s.max_tokens = gen_tokens;
    s.ignore_eos = true;  // llama-bench's tg test always generates gen_tokens
    double best_pp = 0, best_tg = 0, best_ttft = 1e30;
    int n_prompt = 0, n_gen = 0;
    for (int r = 0; r < reps + 1; ++r) {
      auto res = (*g)->Complete(prompt, s);
      if (!res.ok()) return std::cerr << res.status().message() << "\n", 1;
      if (r == 0) continue;  // warm-up
      n_prompt = res->prompt_tokens;
      n_gen = res->completion_tokens;
      best_pp = std::max(best_pp, res->prompt_tokens * 1000.0 / res->prompt_ms);
      if (res->completion_tokens > 1) best_tg = std::max(best_tg, (res->completion_tokens - 1) * 1000.0 / res->generation_ms);
      best_ttft = std::min(best_ttft, res->time_to_first_token_ms);
    }
    out["generation"].push_back({{"threads", t}, {"prompt_tokens", n_prompt}, {"generated_tokens", n_gen},
                                 {"prompt_tokens_per_s", best_pp}, {"generated_tokens_per_s", best_tg},
                                 {"time_to_first_token_ms", best_ttft}});
    std::cerr << "generate t=" << t << ": pp " << best_pp << " tok/s, tg " << best_tg << " tok/s, ttft " << best_ttft << " ms\n";
  }
  // Candidates: N answers to one chat prompt decoded together (ChatBatch),
  // exactly cand_gen tokens each, against N answers one after another.
  if (!want("candidates")) candidates.clear();
  if (!candidates.empty()) {
    GeneratorOptions go;
    go.threads = threads.back();
    go.sequences = *std::max_element(candidates.begin(), candidates.end());
    auto g = Generator::Open(*gen_path, go);
    if (!g.ok()) return std::cerr << g.status().message() << "\n", 1;
    std::string user = "Sources:\n";
    for (int i = 0; (*g)->CountTokens(user) < cand_prompt; ++i) user += "[" + std::to_string(i / 40 + 1) + "] word" + std::to_string(i % 50) + " ";
    user += "\nQuestion: what do the sources say?";
    const std::vector<ChatMessage> conv = {{"user", user}};
    SamplingOptions s;
    s.max_tokens = cand_gen;
    s.temperature = 0.7f;
    s.greedy_first = true;
    s.ignore_eos = true;
    auto wall = [&](int n, bool together) -> Result<double> {
      double best = 1e30;
      for (int r = 0; r < reps + 1; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        if (together) {
          auto res = (*g)->ChatBatch(std::vector<std::vector<ChatMessage>>(static_cast<size_t>(n), conv), s);
          if (!res.ok()) return res.status();
        } else {
          for (int i = 0; i < n; ++i) {
            auto res = (*g)->Chat(conv, s);
            if (!res.ok()) return res.status();
          }
        }
        const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (r > 0) best = std::min(best, sec);  // the first is a warm-up
      }
      return best;
    };
    auto one = wall(1, true);
    if (!one.ok()) return std::cerr << one.status().message() << "\n", 1;
    for (int n : candidates) {
      auto together = wall(n, true);
      if (!together.ok()) return std::cerr << together.status().message() << "\n", 1;
      auto apart = n > 1 ? wall(n, false) : one;
      if (!apart.ok()) return std::cerr << apart.status().message() << "\n", 1;
      out["candidates"].push_back({{"n", n}, {"threads", go.threads}, {"prompt_tokens", (*g)->CountTokens(user)},
                                   {"generated_tokens_each", cand_gen}, {"seconds_together", *together},
                                   {"seconds_one_after_another", *apart}, {"ratio_to_one_answer", *together / *one}});
      std::cerr << "candidates n=" << n << ": " << *together << " s together, " << *apart << " s one after another ("
                << *together / *one << "x one answer)\n";
    }
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}
