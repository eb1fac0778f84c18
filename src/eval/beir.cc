#include "eval/beir.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace quarry::eval {

Result<BeirSplit> LoadBeir(const std::string& dir, const std::string& split) {
  BeirSplit b;
  b.dir = dir;
  b.split = split;
  const std::string qrels_path = dir + "/qrels/" + split + ".tsv";
  std::ifstream qr(qrels_path);
  if (!qr) {
    std::string have;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/qrels", ec)) {
      have += (have.empty() ? "" : ", ") + e.path().stem().string();
    }
    return Status::NotFound(qrels_path + ": no such split" + (have.empty() ? std::string() : " (available: " + have + ")"));
  }
  std::string line;
  size_t n = 0;
  while (std::getline(qr, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream fields(line);
    std::string q, d, s;
    if (!std::getline(fields, q, '\t') || !std::getline(fields, d, '\t') || !std::getline(fields, s, '\t')) continue;
    if (n == 1 && q == "query-id") continue;  // header
    try {
      b.qrels[q][d] = std::stoi(s);
    } catch (const std::exception&) {
      return Status::Corruption(qrels_path + ":" + std::to_string(n) + ": score '" + s + "' is not an integer");
    }
  }
  std::ifstream qs(dir + "/queries.jsonl");
  if (!qs) return Status::NotFound(dir + "/queries.jsonl: missing");
  n = 0;
  while (std::getline(qs, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("_id") || !j.contains("text")) {
      return Status::Corruption(dir + "/queries.jsonl:" + std::to_string(n) + ": expected {\"_id\", \"text\"}");
    }
    std::string id = j["_id"].is_string() ? j["_id"].get<std::string>() : j["_id"].dump();
    if (b.qrels.count(id)) b.queries.push_back({id, j["text"].get<std::string>()});
  }
  if (b.queries.empty()) return Status::InvalidArgument(dir + ": no query of queries.jsonl is judged in split '" + split + "'");
  return b;
}

}  // namespace quarry::eval
