// In-process search rate over a knowledge base, the baseline for the HTTP
// load bench (bench/serve/run.py): T threads, each with its own
// KnowledgeBase (as the server's pool has), cycling through the queries.
//
//   search_rate --db DIR --queries FILE --threads T --seconds S [--mode bm25] [-k 10] [--per-document] [--model-threads N]
//
// Prints {"qps", "p50_ms", "p99_ms", "queries", "threads"}. Public API only.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "quarry/knowledge_base.h"

using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"In-process search rate"};
  std::string db, queries_path, mode = "bm25";
  int threads = 2;
  double seconds = 10;
  size_t k = 10;
  bool per_document = false;
  int model_threads = 0;
  app.add_option("--db", db)->required();
  app.add_option("--queries", queries_path, "One query per line")->required();
  app.add_option("--threads", threads);
  app.add_option("--seconds", seconds);
  app.add_option("--mode", mode);
  app.add_option("-k", k);
  app.add_flag("--per-document", per_document, "One hit per document (SearchOptions::per_document)");
  app.add_option("--model-threads", model_threads, "Threads each handle's embedder uses (KnowledgeBaseOptions::threads; 0: all)");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> queries;
  std::ifstream in(queries_path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) queries.push_back(line);
  }
  if (queries.empty()) return std::cerr << queries_path << ": no queries\n", 1;
  quarry::SearchOptions so;
  so.k = k;
  so.per_document = per_document;
  so.mode = mode == "dense" ? quarry::SearchOptions::Mode::kDense
            : mode == "hybrid" ? quarry::SearchOptions::Mode::kHybrid : quarry::SearchOptions::Mode::kBm25;
  quarry::KnowledgeBaseOptions ko;
  ko.dir = db;
  ko.threads = model_threads;

  std::vector<std::unique_ptr<quarry::KnowledgeBase>> kbs;
  for (int t = 0; t < threads; ++t) {
    auto kb = quarry::KnowledgeBase::Open(ko, false);
    if (!kb.ok()) return std::cerr << kb.status().message() << "\n", 1;
    auto warm = (*kb)->Search(queries[0], so);  // loads the derived indexes
    if (!warm.ok()) return std::cerr << warm.status().message() << "\n", 1;
    kbs.push_back(std::move(*kb));
  }
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::vector<double> lat;
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<double> mine;
      while (Clock::now() < stop) {
        const auto s = Clock::now();
        auto r = kbs[static_cast<size_t>(t)]->Search(queries[next++ % queries.size()], so);
        if (!r.ok()) std::abort();
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
      }
      std::lock_guard<std::mutex> lock(mu);
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  for (auto& th : pool) th.join();
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(lat.begin(), lat.end());
  nlohmann::json j = {{"qps", static_cast<double>(lat.size()) / wall},
                      {"p50_ms", lat[lat.size() / 2]},
                      {"p99_ms", lat[std::min(lat.size() - 1, static_cast<size_t>(static_cast<double>(lat.size()) * 0.99))]},
                      {"queries", lat.size()},
                      {"threads", threads}};
  std::cout << j.dump() << "\n";
  return 0;
}
