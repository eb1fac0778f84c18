// A fast 64-bit checksum for Quarry's derived files (bm25.idx, vectors.hnsw):
// not cryptographic, only there to tell a damaged file from a good one before
// a reader trusts its offsets. About 8 bytes per multiply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "quarry/status.h"

namespace quarry {

class Checksum64 {
 public:
  // Every call but the last must pass a multiple of 8 bytes.
  void Update(const char* p, size_t n);
  uint64_t Final() const;

 private:
  uint64_t h_ = 0x9E3779B97F4A7C15ull;
  uint64_t length_ = 0;
};

uint64_t Checksum(const char* p, size_t n);
// Of a file's content, read in blocks.
Result<uint64_t> ChecksumFile(const std::string& path);

}  // namespace quarry
