// quarry generate PROMPT
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "quarry/registry.h"
#include "quarry/model.h"

namespace quarry::cli {

void RegisterGenerate(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("generate", "Generate text with the chat model, streamed through its own chat template");
  static std::string prompt, system_prompt, model = kDefaultGenerator;
  static SamplingOptions s;
  static int threads = 0, context = 0;
  static bool as_json = false, raw = false;
  cmd->add_option("PROMPT", prompt, "The user message; '-' reads it from stdin")->required();
  cmd->add_option("-m,--model", model, "Chat model: name or GGUF path")->capture_default_str();
  cmd->add_option("--system", system_prompt, "System message");
  cmd->add_option("-n,--max-tokens", s.max_tokens, "Most tokens to generate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--temperature", s.temperature, "Sampling temperature; 0 is greedy and deterministic")->capture_default_str();
  cmd->add_option("--top-p", s.top_p, "Nucleus sampling threshold")->capture_default_str();
  cmd->add_option("--top-k", s.top_k, "Sample among the k most likely tokens (0: all)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--seed", s.seed, "Random seed (same seed, same output)")->capture_default_str();
  cmd->add_option("--stop", s.stop, "End the reply before this text (may be given up to 4 times)");
  cmd->add_option("-t,--threads", threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
  cmd->add_option("-c,--ctx", context, "Context size in tokens (default: the model's, at most 4096)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--raw", raw, "Send PROMPT as is, without the chat template");
  cmd->add_flag("--json", as_json, "Print the answer with token counts and timings as JSON (no streaming)");
  cmd->callback([&reg] {
    reg.run = [] {
      if (prompt == "-") prompt = ReadStdin();
      if (prompt.find_first_not_of(" \t\r\n") == std::string::npos) {
        return Fail(Status::InvalidArgument("the prompt is empty: give the user message, or '-' to read it from stdin"));
      }
      auto path = ResolveModel(model);
      if (!path.ok()) return Fail(path.status());
      GeneratorOptions go;
      go.threads = threads;
      go.context = context;
      auto gen = Generator::Open(*path, go);
      if (!gen.ok()) return Fail(gen.status());
      TokenCallback stream;
      if (!as_json) {
        stream = [](std::string_view piece) {
          std::fwrite(piece.data(), 1, piece.size(), stdout);
          std::fflush(stdout);
          return true;
        };
      }
      Result<Generation> g = Status::Internal("unset");
      if (raw) {
        g = (*gen)->Complete(prompt, s, stream);
      } else {
        std::vector<ChatMessage> msgs;
        if (!system_prompt.empty()) msgs.push_back({"system", system_prompt});
        msgs.push_back({"user", prompt});
        g = (*gen)->Chat(msgs, s, stream);
      }
      if (!g.ok()) return Fail(g.status());
      if (!as_json) {
        std::printf("\n");
        return kExitOk;
      }
      auto per_s = [](int n, double ms) { return ms > 0 ? n * 1000.0 / ms : 0.0; };
      nlohmann::json out = {
          {"model", *path},
          {"text", g->text},
          {"finish_reason", g->finish_reason},
          {"usage", {{"prompt_tokens", g->prompt_tokens}, {"completion_tokens", g->completion_tokens}}},
          {"timings",
           {{"time_to_first_token_ms", g->time_to_first_token_ms},
            {"prompt_ms", g->prompt_ms},
            {"prompt_tokens_per_s", per_s(g->prompt_tokens, g->prompt_ms)},
            {"generation_ms", g->generation_ms},
            // tokens after the first, over the time after the first
            {"tokens_per_s", per_s(std::max(g->completion_tokens - 1, 0), g->generation_ms)}}}};
      PrintJson(out);
      return kExitOk;
    };
  });
}

}  // namespace quarry::cli
