// Running a helper program (the package client) without a shell.
#pragma once

#include <string>
#include <vector>

#include "quarry/status.h"

namespace quarry {

struct ProcessResult {
  int exit_code = -1;  // -1 when it could not be started or was killed by a signal
  std::string output;  // stdout and stderr together
};

// Runs argv[0] found on PATH with the given arguments and waits for it.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv);

}  // namespace quarry
