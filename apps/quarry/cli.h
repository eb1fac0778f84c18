// Shared plumbing for the quarry subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <string>

#include "quarry/knowledge_base.h"
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

// Options shared by every command that opens a knowledge base.
struct KbFlags {
  std::string db;           // --db, else $QUARRY_DB, else .quarry
  std::string embed_model;  // --embed-model
  int threads = 0;
  double k1 = 0.9, b = 0.4;
  std::string stemmer = "porter";
};
void AddKbFlags(CLI::App* cmd, KbFlags* flags);
KnowledgeBaseOptions ToOptions(const KbFlags& flags);

// A one-line progress display on stderr when it is a terminal.
class ProgressLine {
 public:
  ProgressLine();
  void Update(const std::string& line);  // redraws at most every 100 ms
  void Done();                           // clears the line
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  double last_ = -1;
  size_t width_ = 0;
};

// Prints "quarry: error: <message>" and returns the exit code for it.
inline int Fail(const Status& s) {
  std::cerr << "quarry: error: " << s.message() << "\n";
  return s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
}

// Reads all of stdin (for "-" arguments).
std::string ReadStdin();

}  // namespace quarry::cli
