// Validation of the public option structs: one place for every range, so the
// CLI, the server and library users get the same answer for the same values.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "quarry/knowledge_base.h"
#include "quarry/model.h"
#include "quarry/rag.h"

namespace quarry {
namespace {

std::string Num(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// InvalidArgument "<what> must be in [lo, hi] (got v)" about option, or OK.
Status InRange(double v, double lo, double hi, const char* option, const char* what) {
  if (std::isfinite(v) && v >= lo && v <= hi) return Status::OK();
  return Status::InvalidArgument(std::string(what) + " must be in [" + Num(lo) + ", " + Num(hi) + "], not " + Num(v)).About(option);
}

Status AtLeast(double v, double lo, const char* option, const char* what) {
  if (std::isfinite(v) && v >= lo) return Status::OK();
  return Status::InvalidArgument(std::string(what) + " must be at least " + Num(lo) + ", not " + Num(v)).About(option);
}

}  // namespace

Status KnowledgeBaseOptions::Validate() const {
  if (dir.empty()) return Status::InvalidArgument("the knowledge base directory is empty").About("dir");
  QUARRY_RETURN_IF_ERROR(AtLeast(threads, 0, "threads", "threads"));
  QUARRY_RETURN_IF_ERROR(InRange(bm25_k1, 0, 10, "bm25_k1", "BM25 k1"));
  return InRange(bm25_b, 0, 1, "bm25_b", "BM25 b");
}

Status AddOptions::Validate() const {
  QUARRY_RETURN_IF_ERROR(AtLeast(static_cast<double>(max_file_bytes), 1, "max_file_bytes", "the file size limit"));
  QUARRY_RETURN_IF_ERROR(AtLeast(static_cast<double>(max_record_bytes), 1, "max_record_bytes", "the record size limit"));
  QUARRY_RETURN_IF_ERROR(AtLeast(static_cast<double>(max_html_depth), 1, "max_html_depth", "the HTML depth limit"));
  QUARRY_RETURN_IF_ERROR(AtLeast(static_cast<double>(max_html_nodes), 1, "max_html_nodes", "the HTML element limit"));
  QUARRY_RETURN_IF_ERROR(AtLeast(max_zip_ratio, 1, "max_zip_ratio", "the zip ratio limit"));
  QUARRY_RETURN_IF_ERROR(AtLeast(static_cast<double>(max_chunks), 1, "max_chunks", "the chunk limit"));
  QUARRY_RETURN_IF_ERROR(InRange(chunk_tokens, 16, 8192, "chunk_tokens", "tokens per chunk"));
  QUARRY_RETURN_IF_ERROR(InRange(overlap_tokens, 0, chunk_tokens - 1, "overlap_tokens", "the chunk overlap"));
  const auto meta = nlohmann::json::parse(metadata, nullptr, false);
  if (!meta.is_object()) {
    return Status::InvalidArgument("metadata must be a JSON object of key/value pairs, not '" + metadata + "'").About("metadata");
  }
  return Status::OK();
}

Status SearchOptions::Validate() const {
  QUARRY_RETURN_IF_ERROR(InRange(static_cast<double>(k), 1, 10000, "k", "the number of results"));
  QUARRY_RETURN_IF_ERROR(InRange(static_cast<double>(candidates), 1, 100000, "candidates", "candidates per retriever"));
  QUARRY_RETURN_IF_ERROR(AtLeast(rrf_k, 1, "rrf_k", "the RRF constant"));
  QUARRY_RETURN_IF_ERROR(InRange(dense_weight, 0, 1, "dense_weight", "the dense weight"));
  QUARRY_RETURN_IF_ERROR(InRange(static_cast<double>(rerank_depth), 1, 1000, "rerank_depth", "the rerank depth"));
  return InRange(mmr_lambda, 0, 1, "mmr_lambda", "the MMR lambda");
}

Status SamplingOptions::Validate() const {
  QUARRY_RETURN_IF_ERROR(AtLeast(max_tokens, 1, "max_tokens", "the answer token limit"));
  QUARRY_RETURN_IF_ERROR(InRange(temperature, 0, 5, "temperature", "the temperature"));
  if (!(top_p > 0 && top_p <= 1)) return Status::InvalidArgument("top_p must be in (0, 1], not " + Num(top_p)).About("top_p");
  QUARRY_RETURN_IF_ERROR(AtLeast(top_k, 0, "top_k", "top_k"));
  if (choices.size() > 16) return Status::InvalidArgument("at most 16 choices, not " + std::to_string(choices.size())).About("choices");
  for (const auto& c : choices) {
    if (c.empty()) return Status::InvalidArgument("a choice is empty").About("choices");
  }
  if (stop.size() > 4) return Status::InvalidArgument("at most 4 stop sequences, not " + std::to_string(stop.size())).About("stop");
  for (const auto& x : stop) {
    if (x.empty()) return Status::InvalidArgument("a stop sequence is empty").About("stop");
  }
  return InRange(repeat_penalty, 0.5, 3, "repeat_penalty", "the repeat penalty");
}

Status GenerateOptions::Validate() const {
  QUARRY_RETURN_IF_ERROR(sampling.Validate());
  QUARRY_RETURN_IF_ERROR(InRange(candidates, 1, 64, "candidates", "the number of candidates"));
  QUARRY_RETURN_IF_ERROR(InRange(candidate_temperature, 0, 5, "candidate_temperature", "the candidate temperature"));
  double total = 0;
  for (const auto& [name, w] : select) {
    if (!(w >= 0)) return Status::InvalidArgument("selector '" + name + "': the weight must be >= 0").About("select");
    total += w;
  }
  if (total <= 0) return Status::InvalidArgument("the selector gives no weight to anything").About("select");
  return Status::OK();
}

Status AskOptions::Validate() const {
  QUARRY_RETURN_IF_ERROR(search.Validate());
  QUARRY_RETURN_IF_ERROR(InRange(static_cast<double>(search.k), 1, 100, "k", "the number of passages"));
  QUARRY_RETURN_IF_ERROR(generate.Validate());
  if (min_relevance) QUARRY_RETURN_IF_ERROR(InRange(*min_relevance, -1, 1, "min_relevance", "the relevance threshold"));
  QUARRY_RETURN_IF_ERROR(InRange(relevance_cut, 0, 1, "relevance_cut", "the relevance cut"));
  QUARRY_RETURN_IF_ERROR(InRange(min_answerable, 0, 1, "min_answerable", "the reading check's threshold"));
  return AtLeast(context_tokens, 0, "context_tokens", "the context budget");
}

}  // namespace quarry
