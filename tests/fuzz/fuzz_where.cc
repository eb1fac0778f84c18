// libFuzzer target: the --where filter parser and matcher. Input: lines of
// filter specs, then (after a NUL byte) a metadata JSON document to match.
#include <cstdint>
#include <string>
#include <vector>

#include "retrieve/filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string specs_text = in.substr(0, nul);
  const std::string meta = nul == std::string::npos ? "{}" : in.substr(nul + 1);
  std::vector<std::string> specs;
  size_t at = 0;
  while (at <= specs_text.size()) {
    const size_t nl = specs_text.find('\n', at);
    specs.push_back(specs_text.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  auto filters = quarry::ParseFilters(specs);
  if (filters.ok()) (void)quarry::MatchesFilters(*filters, meta, "docs/source.txt", "Title");
  return 0;
}
