#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include "quarry/status.h"

namespace quarry {

// Hex sha256 of a file's content, read in blocks.
Result<std::string> Sha256File(const std::string& path);
// Hex sha256 of a byte string.
std::string Sha256Hex(const std::string& data);
// Hex sha256 of the parts one after another (no copy of them joined).
std::string Sha256Hex(std::initializer_list<std::string_view> parts);

}  // namespace quarry
