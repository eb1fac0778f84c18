// JSON shapes of Quarry's objects, shared by every front end: `quarry ... --json`
// and `quarry serve` print a document, a search hit or an answer's citations
// the same way. Including this header makes nlohmann/json a dependency of the
// includer; the rest of the public API does not need it.
//
// Every function is pure (thread-safe) and never throws on stored or
// generated text: strings are valid UTF-8 by construction (see text safety in
// rag.h), and stored metadata that does not parse as an object reads as {}.
#pragma once

#include <nlohmann/json.hpp>

#include "quarry/knowledge_base.h"
#include "quarry/rag.h"

namespace quarry {

// {id, source, title, bytes, chunks, version, content_hash, created_at, updated_at, metadata}
nlohmann::json ToJson(const Document& d);

// {rank, score, doc_id, chunk_id, source, title, start, end, heading, text, metadata}
// plus bm25_score/bm25_rank, dense_score/dense_rank, rerank_score/fused_rank
// when the hit has them. `rank` is 1-based.
nlohmann::json ToJson(const SearchHit& h, int rank);

// Every passage the answer was given, in citation order:
// {n, doc_id, chunk_id, source, title, start, end, score, cited, trimmed, text}
// (+ rerank_score/fused_rank). `cited` marks the passages the answer cites.
nlohmann::json CitationsJson(const Answer& a);

// The generated candidates: {text, score, scores, finish_reason, completion_tokens, source?}.
nlohmann::json CandidatesJson(const Answer& a);

}  // namespace quarry
