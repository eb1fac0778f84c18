#include "retrieve/filter.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace quarry {

Result<std::vector<MetadataFilter>> ParseFilters(const std::vector<std::string>& specs) {
  std::vector<MetadataFilter> out;
  for (const auto& s : specs) {
    size_t pos = s.find_first_of("=!<>");
    if (pos == std::string::npos || pos == 0) {
      return Status::InvalidArgument("filter '" + s + "': expected KEY=VALUE, KEY!=VALUE, KEY>=VALUE, KEY<=VALUE, KEY>VALUE or KEY<VALUE");
    }
    MetadataFilter f;
    f.key = s.substr(0, pos);
    for (const char* op : {"!=", ">=", "<=", "=", ">", "<"}) {
      if (s.compare(pos, std::char_traits<char>::length(op), op) == 0) {
        f.op = op;
        break;
      }
    }
    if (f.op.empty()) return Status::InvalidArgument("filter '" + s + "': unknown operator");
    f.value = s.substr(pos + f.op.size());
    // "team==kb" would compare with "=kb" and silently match nothing.
    if (!f.value.empty() && f.value.find_first_of("=<>!") == 0) {
      return Status::InvalidArgument("filter '" + s + "': the value starts with '" + f.value.substr(0, 1) + "'; did you mean " +
                                     f.key + f.op + f.value.substr(f.value.find_first_not_of("=<>!") == std::string::npos
                                                                       ? f.value.size()
                                                                       : f.value.find_first_not_of("=<>!")) +
                                     "? (operators: = != < <= > >=)");
    }
    out.push_back(std::move(f));
  }
  return out;
}

namespace {
bool ParseNumber(const std::string& s, double* v) {
  if (s.empty()) return false;
  char* end = nullptr;
  *v = std::strtod(s.c_str(), &end);
  return end && *end == '\0';
}
}  // namespace

bool MatchesFilters(const std::vector<MetadataFilter>& filters, const std::string& metadata_json, const std::string& source,
                    const std::string& title) {
  if (filters.empty()) return true;
  nlohmann::json meta = nlohmann::json::parse(metadata_json, nullptr, false);
  for (const auto& f : filters) {
    std::string actual;
    bool present = true;
    if (f.key == "source") {
      actual = source;
    } else if (f.key == "title") {
      actual = title;
    } else if (meta.is_object() && meta.contains(f.key)) {
      const auto& v = meta[f.key];
      actual = v.is_string() ? v.get<std::string>() : v.dump();
    } else {
      present = false;
    }
    if (!present) {
      if (f.op == "!=") continue;
      return false;
    }
    double a, b;
    int cmp;
    if (ParseNumber(actual, &a) && ParseNumber(f.value, &b)) cmp = a < b ? -1 : a > b ? 1 : 0;
    else cmp = actual.compare(f.value) < 0 ? -1 : actual.compare(f.value) > 0 ? 1 : 0;
    const bool ok = f.op == "=" ? cmp == 0 : f.op == "!=" ? cmp != 0 : f.op == ">=" ? cmp >= 0 : f.op == "<=" ? cmp <= 0
                  : f.op == ">" ? cmp > 0 : cmp < 0;
    if (!ok) return false;
  }
  return true;
}

}  // namespace quarry
