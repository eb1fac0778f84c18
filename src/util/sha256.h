#pragma once

#include <string>

#include "quarry/status.h"

namespace quarry {

// Hex sha256 of a file's content, read in blocks.
Result<std::string> Sha256File(const std::string& path);
// Hex sha256 of a byte string.
std::string Sha256Hex(const std::string& data);

}  // namespace quarry
