// Token-aware chunking: chunks of at most chunk_tokens embedding-model tokens,
// cut at paragraph, then sentence, then word boundaries (then code points, for
// unbroken runs such as CJK text or very long lines), with `overlap` tokens of
// trailing context repeated at the start of the next chunk. Chunks never span
// two sections (Markdown/HTML headings, PDF pages).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/loader.h"

namespace quarry {

struct ChunkerOptions {
  int chunk_tokens = 256;  // all-MiniLM-L6-v2 was trained on 256-token inputs
  int overlap_tokens = 32;
};

struct TextChunk {
  size_t start = 0, end = 0;  // byte range in the document text
  std::string heading;
  int tokens = 0;
};

// count_tokens(s) = tokens of s alone, without special tokens.
std::vector<TextChunk> ChunkDocument(std::string_view text, const std::vector<Section>& sections,
                                     const ChunkerOptions& options,
                                     const std::function<int(std::string_view)>& count_tokens);

}  // namespace quarry
