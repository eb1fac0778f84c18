#include "quarry/json.h"

#include <algorithm>

namespace quarry {

using json = nlohmann::json;

namespace {

// Stored metadata is a JSON object; anything else (it cannot happen, but the
// catalog is a file) reads as empty rather than as an unprintable value.
json MetadataJson(const std::string& text) {
  json m = json::parse(text, nullptr, false);
  return m.is_object() ? m : json::object();
}

}  // namespace

json ToJson(const Document& d) {
  return {{"id", d.id},           {"source", d.source},         {"title", d.title},
          {"bytes", d.bytes},     {"chunks", d.chunks},         {"version", d.version},
          {"content_hash", d.content_hash}, {"created_at", d.created_at}, {"updated_at", d.updated_at},
          {"metadata", MetadataJson(d.metadata)}};
}

json ToJson(const SearchHit& h, int rank) {
  json r = {{"rank", rank},         {"score", h.score},         {"doc_id", h.chunk.doc_id}, {"chunk_id", h.chunk.id},
            {"source", h.source},   {"title", h.title},         {"start", h.chunk.start},   {"end", h.chunk.end},
            {"heading", h.chunk.heading}, {"text", h.chunk.text},
            {"metadata", MetadataJson(h.metadata)}};
  if (h.bm25_score) r["bm25_score"] = *h.bm25_score, r["bm25_rank"] = h.bm25_rank;
  if (h.dense_score) r["dense_score"] = *h.dense_score, r["dense_rank"] = h.dense_rank;
  if (h.rerank_score) r["rerank_score"] = *h.rerank_score, r["fused_rank"] = h.fused_rank;
  return r;
}

json CitationsJson(const Answer& a) {
  json cites = json::array();
  for (const auto& s : a.sources) {
    json c = {{"n", s.n},
              {"doc_id", s.hit.chunk.doc_id},
              {"chunk_id", s.hit.chunk.id},
              {"source", s.hit.source},
              {"title", s.hit.title},
              {"start", s.hit.chunk.start},
              {"end", s.hit.chunk.end},
              {"score", s.hit.score},
              {"cited", std::find(a.cited.begin(), a.cited.end(), s.n) != a.cited.end()},
              {"trimmed", s.trimmed},
              {"text", s.text}};
    if (s.relevance) c["relevance"] = *s.relevance;
    if (s.hit.rerank_score) c["rerank_score"] = *s.hit.rerank_score, c["fused_rank"] = s.hit.fused_rank;
    cites.push_back(std::move(c));
  }
  return cites;
}

json CandidatesJson(const Answer& a) {
  json out = json::array();
  for (const auto& c : a.candidates) {
    json j = {{"text", c.text}, {"score", c.score}, {"scores", c.scores}, {"finish_reason", c.generation.finish_reason},
              {"completion_tokens", c.generation.completion_tokens}};
    if (c.source > 0) j["source"] = c.source;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace quarry
