// Quarry's side of bench/peers: the same job the Python peers run, through
// the public C++ API only, in one process.
//
//   quarry_job SPEC.json OUT.json
//
// SPEC (written by bench/peers/run.py) names the phase: "retrieval" ingests a
// BEIR corpus and runs every query in bm25, dense and hybrid mode; "answers"
// ingests a QA passage pool and answers each question with the generator.
// The lines between the "user code" markers are what a user writes for the
// job; run.py counts them.
#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <set>

#include "quarry/knowledge_base.h"
#include "quarry/model.h"
#include "quarry/rag.h"

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

int Fail(const quarry::Status& s) {
  std::cerr << "quarry_job: " << s.ToString() << "\n";
  return 1;
}

std::vector<json> ReadJsonl(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

// "corpus.jsonl#<_id>" -> "<_id>"
std::string DocId(const std::string& source) { return source.substr(source.rfind('#') + 1); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: quarry_job SPEC.json OUT.json\n";
    return 2;
  }
  const json spec = json::parse(std::ifstream(argv[1]));
  const int threads = spec.value("threads", 2);
  json out;
  auto t0 = Clock::now();

  // --- user code ---
  quarry::KnowledgeBaseOptions kbo;
  kbo.dir = spec["work"].get<std::string>() + "/kb";
  kbo.embed_model = spec["embed_gguf"];
  kbo.threads = threads;
  auto kb = quarry::KnowledgeBase::Open(kbo, /*create=*/true);
  if (!kb.ok()) return Fail(kb.status());
  auto added = (*kb)->Add({spec["corpus"].get<std::string>()}, {});
  if (!added.ok()) return Fail(added.status());
  // --- end user code ---

  out["ingest_s"] = MsSince(t0) / 1000;
  out["ingest_peak_rss_mb"] = PeakRssMb();
  out["chunks"] = added->chunks;

  if (spec["phase"] == "retrieval") {
    const auto queries = ReadJsonl(spec["queries"]);
    const size_t k = spec.value("k", 100);
    for (const std::string mode : {"bm25", "dense", "hybrid"}) {
      json lat = json::array(), run = json::object();
      for (size_t pass = 0; pass < 2; ++pass) {  // pass 0 warms up on a few queries, untimed
        for (size_t i = 0; i < (pass == 0 ? std::min<size_t>(20, queries.size()) : queries.size()); ++i) {
          const auto& q = queries[i];
          auto t = Clock::now();
          // --- user code ---
          quarry::SearchOptions so;
          so.k = k;
          so.per_document = true;  // the job ranks documents: one hit each
          so.mode = mode == "bm25"    ? quarry::SearchOptions::Mode::kBm25
                    : mode == "dense" ? quarry::SearchOptions::Mode::kDense
                                      : quarry::SearchOptions::Mode::kHybrid;
          auto hits = (*kb)->Search(q["text"].get<std::string>(), so);
          if (!hits.ok()) return Fail(hits.status());
          // --- end user code ---
          const double ms = MsSince(t);
          if (pass == 0) continue;
          lat.push_back(ms);
          json docs = json::array();
          std::set<std::string> seen;
          for (const auto& h : *hits) {
            if (seen.insert(DocId(h.source)).second) docs.push_back(DocId(h.source));
          }
          run[q["_id"].get<std::string>()] = docs;
        }
      }
      out["modes"][mode] = {{"latency_ms", lat}, {"run", run}};
    }
  } else {
    // --- user code ---
    quarry::GeneratorOptions go;
    go.context = spec.value("n_ctx", 4096);
    go.threads = threads;
    auto gen = quarry::Generator::Open(spec["gen_gguf"], go);
    if (!gen.ok()) return Fail(gen.status());
    quarry::AskOptions ao;
    ao.search.k = spec.value("answer_k", 5);
    ao.generate.sampling.max_tokens = spec.value("max_tokens", 64);
    // --- end user code ---
    json answers = json::array();
    for (const auto& q : ReadJsonl(spec["questions"])) {
      auto t = Clock::now();
      double ttft = -1;
      // --- user code ---
      auto answer = quarry::Ask(**kb, **gen, q["question"].get<std::string>(), ao, [&](std::string_view) {
        if (ttft < 0) ttft = MsSince(t);
        return true;
      });
      if (!answer.ok()) return Fail(answer.status());
      // --- end user code ---
      // ttft_ms: the first text the caller sees (Quarry streams a sentence at a
      // time, once its citations are known); model_ttft_ms: the model's first token.
      answers.push_back({{"id", q["id"]}, {"text", answer->text}, {"latency_ms", MsSince(t)}, {"ttft_ms", ttft},
                         {"model_ttft_ms", answer->retrieve_ms + answer->time_to_first_token_ms},
                         {"prompt_tokens", answer->prompt_tokens}, {"retrieve_ms", answer->retrieve_ms}});
    }
    out["answers"] = answers;
  }
  std::ofstream(argv[2]) << out.dump();
  return 0;
}
