// Reader for Hugging Face .safetensors files (single or sharded).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quarry/status.h"

namespace quarry {

struct SafeTensor {
  std::string name;
  std::string dtype;            // "F32", "F16" or "BF16" (others are rejected on read)
  std::vector<int64_t> shape;   // row-major, outermost first (PyTorch order)
  std::string file;             // the shard holding it
  uint64_t offset = 0;          // absolute byte offset of the data in file
  uint64_t size = 0;            // bytes
  int64_t elements() const;
};

// Lists the tensors of dir/model.safetensors, or of the shards named by
// dir/model.safetensors.index.json. Validates offsets against file sizes.
Result<std::vector<SafeTensor>> ListSafeTensors(const std::string& dir);

// Reads one tensor converted to float32.
Result<std::vector<float>> ReadSafeTensorF32(const SafeTensor& t);

}  // namespace quarry
