// Shared plumbing for the quarry subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "quarry/knowledge_base.h"
#include "quarry/rag.h"
#include "quarry/status.h"

namespace quarry::cli {

// Exit codes: 0 success, 1 the command failed, 2 the command line was wrong.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// Each subcommand registers itself and sets `run` when it is chosen.
struct Registry {
  std::function<int()> run;
};

void RegisterModel(CLI::App& app, Registry& reg);
void RegisterEmbed(CLI::App& app, Registry& reg);
void RegisterGenerate(CLI::App& app, Registry& reg);
void RegisterKnowledgeBase(CLI::App& app, Registry& reg);  // add, rm, ls, show, stats
void RegisterSearch(CLI::App& app, Registry& reg);
void RegisterEval(CLI::App& app, Registry& reg);
void RegisterAsk(CLI::App& app, Registry& reg);  // ask, summarize, translate, tm
void RegisterServe(CLI::App& app, Registry& reg);

// Options shared by every command that opens a knowledge base. Defaults and
// ranges are the library's (KnowledgeBaseOptions, GenerateOptions): the flags
// start from them and the library validates what they are set to.
struct KbFlags {
  std::string db;           // --db, else $QUARRY_DB, else .quarry
  std::string embed_model;  // --embed-model
  int threads = KnowledgeBaseOptions().threads;
  double k1 = KnowledgeBaseOptions().bm25_k1, b = KnowledgeBaseOptions().bm25_b;
  std::string stemmer = KnowledgeBaseOptions().stemmer;
};
void AddKbFlags(CLI::App* cmd, KbFlags* flags);
KnowledgeBaseOptions ToOptions(const KbFlags& flags);

// Generation flags shared by ask, summarize, translate and eval.
struct GenFlags {
  std::string llm;  // --llm
  int max_tokens = GenerateOptions().sampling.max_tokens;
  double temperature = GenerateOptions().sampling.temperature;
  double candidate_temperature = GenerateOptions().candidate_temperature;
  uint32_t seed = GenerateOptions().sampling.seed;
  double repeat_penalty = GenerateOptions().sampling.repeat_penalty;
  int candidates = GenerateOptions().candidates;
  std::string select;  // set by AddGenFlags from the task's options struct
  std::string rerank_model;
  int context = 0;
  bool as_json = false;
};
// default_select: the task's own default (e.g. TranslateOptions().generate.select).
void AddGenFlags(CLI::App* cmd, GenFlags* flags, const SelectorWeights& default_select);

// The generator (and reranker) the flags name, opened for `sequences`
// parallel candidates, with GenerateOptions to match.
struct Backend {
  std::unique_ptr<Generator> gen;
  std::unique_ptr<Reranker> reranker;
  GenerateOptions options;
};
Result<Backend> OpenBackend(const GenFlags& flags, int sequences, int threads);
// --rerank-model: nullptr when the flag is empty, else the cross-encoder it names.
Result<std::unique_ptr<Reranker>> OpenReranker(const std::string& name_or_path, int threads);

// A one-line progress display on stderr when it is a terminal.
class ProgressLine {
 public:
  ProgressLine();
  // On a terminal: redraws the line at most every 100 ms. Elsewhere: prints it
  // as a log line at most every 30 s.
  void Update(const std::string& line);
  void Done();                           // clears the line
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  double last_;
  size_t width_ = 0;
};

// The flag (or flags) that set a library option (Status::option), "" for none.
std::string FlagFor(const std::string& option);
// message, plus " [--flag]" when the error is about an option a flag sets.
std::string WithHint(const std::string& message, const std::string& option);

// Prints "quarry: error: <message> [--flag]" and returns the exit code for it.
inline int Fail(const Status& s) {
  std::cerr << "quarry: error: " << WithHint(s.message(), s.option()) << "\n";
  return s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
}

// j as text, and PrintJson: j (indented) and a newline. Text from documents and models is
// printed as it is; an invalid UTF-8 sequence becomes U+FFFD instead of
// throwing, so no output can abort the command.
inline std::string JsonText(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}
inline void PrintJson(const nlohmann::json& j, int indent = 2) { std::cout << JsonText(j, indent) << "\n"; }

// Reads all of stdin (for "-" arguments).
std::string ReadStdin();

}  // namespace quarry::cli
