// quarry serve: the knowledge base over HTTP (include/quarry/serve.h).
#include <malloc.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "cli.h"
#include "quarry/registry.h"
#include "quarry/serve.h"

namespace quarry::cli {

namespace {
// One key per line ('#' comments and blank lines skipped).
Result<std::vector<std::string>> ReadKeys(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError(path + ": cannot read the API keys file");
  std::vector<std::string> keys;
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find_first_not_of(" \t\r");
    if (a == std::string::npos || line[a] == '#') continue;
    keys.push_back(line.substr(a, line.find_last_not_of(" \t\r") + 1 - a));
  }
  if (keys.empty()) return Status::InvalidArgument(path + ": no API key in it (one per line)");
  return keys;
}
}  // namespace

void RegisterServe(CLI::App& app, Registry& reg) {
  auto* cmd = app.add_subcommand("serve", "Serve the knowledge base over HTTP: an OpenAI-compatible API with retrieval and citations, "
                                          "search, and document upload");
  static KbFlags flags;
  static ServeOptions so;
  static std::string llm, keys_file;
  static bool no_embed = false;
  static double max_body_mb = static_cast<double>(ServeOptions().max_body_bytes >> 20);
  cmd->add_option("--host", so.host, "Address to listen on; anything but loopback needs API keys")->capture_default_str();
  cmd->add_option("--port", so.port, "Port (0: any free one; the URL is printed)")->capture_default_str();
  const char* env = std::getenv("QUARRY_LLM");
  llm = env && *env ? env : kDefaultGenerator;
  cmd->add_option("--llm", llm, "Chat model: a name, a GGUF path, or openai:URL[#MODEL]; loaded on the first chat request")->capture_default_str();
  cmd->add_option("--ctx", so.generator.context, "Context window of each generation slot (default: the model's, at most 4096)");
  cmd->add_option("--generators", so.generators, "Chat requests decoded at once (each slot holds one model context)")->capture_default_str();
  cmd->add_option("--queue", so.max_queued, "Chat requests that may wait for a slot; more get 429 with Retry-After")->capture_default_str();
  cmd->add_option("--searchers", so.searchers, "Knowledge base handles for searches and reads")->capture_default_str();
  cmd->add_option("--http-threads", so.http_threads, "Connections served at once")->capture_default_str();
  cmd->add_option("--timeout", so.generation_timeout_s, "Seconds a chat answer may take; then it ends as if cut by max_tokens")->capture_default_str();
  cmd->add_option("--api-keys-file", keys_file, "File of API keys, one per line (also: $QUARRY_API_KEY); clients send Authorization: Bearer KEY");
  cmd->add_option("--cors-origin", so.cors_origins, "Allow this browser origin (repeatable; '*' for any). Default: CORS off");
  static std::string rerank_model;
  cmd->add_option("--rerank-model", rerank_model,
                  "Cross-encoder GGUF (a name or path): reorders the first passages of searches and chat retrieval "
                  "(requests may send \"rerank\": false)");
  cmd->add_option("--max-rerank-depth", so.max_rerank_depth,
                  "Most passages one request may have the cross-encoder read (its rerank_depth; above: 400)")
      ->capture_default_str();
  cmd->add_flag("--no-embed", no_embed, "Uploads are indexed for BM25 only (no embedding model needed)");
  cmd->add_option("--max-body-size", max_body_mb, "Largest request or upload, in MiB")->check(CLI::PositiveNumber)->capture_default_str();
  AddKbFlags(cmd, &flags);
  cmd->callback([&reg] {
    reg.run = [] {
      so.kb = ToOptions(flags);
      so.add.embed = !no_embed;
      so.generator.threads = flags.threads;
      so.llm = llm;
      so.max_body_bytes = static_cast<uint64_t>(max_body_mb * 1048576.0);
      if (!rerank_model.empty()) {
        auto path = ResolveModel(rerank_model);
        if (!path.ok()) return Fail(path.status());
        so.rerank_model = *path;
      }
      if (!keys_file.empty()) {
        auto k = ReadKeys(keys_file);
        if (!k.ok()) return Fail(k.status());
        so.api_keys = *k;
      }
      if (const char* key = std::getenv("QUARRY_API_KEY"); key && *key) so.api_keys.push_back(key);
      // Signals go to a waiting thread, not to whichever thread they hit:
      // blocked here, before the server's threads start and inherit the mask.
      sigset_t stop_signals;
      sigemptyset(&stop_signals);
      sigaddset(&stop_signals, SIGTERM);
      sigaddset(&stop_signals, SIGINT);
      pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
      signal(SIGPIPE, SIG_IGN);
      // glibc gives each thread that allocates its own arena (up to 8 per
      // core); with dozens of HTTP workers rebuilding indexes after uploads,
      // freed memory stayed spread over them and RSS kept climbing in the soak.
      mallopt(M_ARENA_MAX, 4);
      auto server = Server::Start(so);
      if (!server.ok()) return Fail(server.status());
      std::printf("quarry: serving %s at %s (chat model %s, loaded on first use)\n", so.kb.dir.c_str(), (*server)->url().c_str(),
                  llm.c_str());
      std::printf("quarry: web UI %s/\n", (*server)->url().c_str());
      std::printf("quarry: OpenAI base URL %s/v1%s\n", (*server)->url().c_str(), so.api_keys.empty() ? " (no API key needed)" : "");
      std::fflush(stdout);
      // Every 10 s, free memory goes back to the system: what the arenas keep
      // after index rebuilds is mostly freed pages between live allocations,
      // which only malloc_trim returns.
      int sig = -1;
      const timespec every{10, 0};
      while ((sig = sigtimedwait(&stop_signals, nullptr, &every)) < 0) malloc_trim(0);
      std::fprintf(stderr, "quarry: %s: finishing requests in flight, then stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      (*server)->Stop();
      (*server)->Wait();
      return kExitOk;
    };
  });
}

}  // namespace quarry::cli
