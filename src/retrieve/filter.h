// Metadata filters: "key=value", "key!=value", "key>=v", "key<=v", "key>v", "key<v".
// Numbers compare numerically; anything else as strings (ISO dates order correctly).
// Keys address the document's metadata JSON; "source" and "title" are built in.
#pragma once

#include <string>
#include <vector>

#include "quarry/status.h"

namespace quarry {

struct MetadataFilter {
  std::string key, op, value;
};

Result<std::vector<MetadataFilter>> ParseFilters(const std::vector<std::string>& specs);
bool MatchesFilters(const std::vector<MetadataFilter>& filters, const std::string& metadata_json,
                    const std::string& source, const std::string& title);

}  // namespace quarry
