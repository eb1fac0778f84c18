// Shared plumbing for the quarry subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <string>

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

// Prints "quarry: error: <message>" and returns the exit code for it.
inline int Fail(const Status& s) {
  std::cerr << "quarry: error: " << s.message() << "\n";
  return s.code() == Status::Code::kInvalidArgument ? kExitUsage : kExitFailed;
}

// Reads all of stdin (for "-" arguments).
std::string ReadStdin();

}  // namespace quarry::cli
