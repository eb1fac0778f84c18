#include "model/safetensors.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace quarry {
namespace fs = std::filesystem;
using nlohmann::json;

int64_t SafeTensor::elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

int DtypeSize(const std::string& dtype) {
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

Status ReadHeader(const std::string& file, std::vector<SafeTensor>* out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Status::NotFound(file + ": cannot open");
  std::error_code ec;
  const uint64_t file_size = fs::file_size(file, ec);
  uint64_t header_len = 0;
  unsigned char len_bytes[8];
  if (!in.read(reinterpret_cast<char*>(len_bytes), 8)) return Status::Corruption(file + ": shorter than a safetensors header");
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];
  if (header_len == 0 || header_len > 100u * 1024 * 1024 || 8 + header_len > file_size) {
    return Status::Corruption(file + ": invalid safetensors header length " + std::to_string(header_len));
  }
  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len))) return Status::Corruption(file + ": truncated header");
  json j = json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Corruption(file + ": safetensors header is not a JSON object");
  const uint64_t data_start = 8 + header_len;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const json& v = it.value();
    SafeTensor t;
    t.name = it.key();
    t.file = file;
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets") ||
        !v["dtype"].is_string() || !v["shape"].is_array() || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2) {
      return Status::Corruption(file + ": malformed entry for tensor " + t.name);
    }
    t.dtype = v["dtype"].get<std::string>();
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) return Status::Corruption(file + ": bad shape for " + t.name);
      t.shape.push_back(d.get<int64_t>());
    }
    uint64_t b = v["data_offsets"][0].get<uint64_t>(), e = v["data_offsets"][1].get<uint64_t>();
    if (e < b || data_start + e > file_size) return Status::Corruption(file + ": data of " + t.name + " lies outside the file");
    t.offset = data_start + b;
    t.size = e - b;
    int ds = DtypeSize(t.dtype);
    if (ds == 0) return Status::Unsupported(file + ": tensor " + t.name + " has unknown dtype " + t.dtype);
    if (static_cast<uint64_t>(t.elements()) * static_cast<uint64_t>(ds) != t.size) {
      return Status::Corruption(file + ": size of " + t.name + " does not match its shape");
    }
    out->push_back(std::move(t));
  }
  return Status::OK();
}

float Bf16ToF32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float F16ToF32(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) mant <<= 1, --exp;
      bits = sign | (exp << 23) | ((mant & 0x3FF) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

Result<std::vector<SafeTensor>> ListSafeTensors(const std::string& dir) {
  std::vector<SafeTensor> out;
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  std::error_code ec;
  if (fs::is_regular_file(single, ec)) {
    QUARRY_RETURN_IF_ERROR(ReadHeader(single, &out));
  } else if (fs::is_regular_file(index, ec)) {
    std::ifstream in(index);
    json j = json::parse(in, nullptr, false);
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object()) {
      return Status::Corruption(index + ": no weight_map");
    }
    std::set<std::string> shards;
    for (auto& [k, v] : j["weight_map"].items()) {
      if (v.is_string()) shards.insert(v.get<std::string>());
    }
    for (const auto& s : shards) {
      if (s.find('/') != std::string::npos) return Status::Corruption(index + ": shard name " + s + " is not a plain file name");
      QUARRY_RETURN_IF_ERROR(ReadHeader(dir + "/" + s, &out));
    }
  } else {
    return Status::NotFound(dir + ": no model.safetensors (or model.safetensors.index.json); "
                            "only safetensors checkpoints can be imported (not pytorch_model.bin)");
  }
  return out;
}

Result<std::vector<float>> ReadSafeTensorF32(const SafeTensor& t) {
  std::ifstream in(t.file, std::ios::binary);
  if (!in) return Status::IOError(t.file + ": cannot open");
  in.seekg(static_cast<std::streamoff>(t.offset));
  std::string raw(t.size, '\0');
  if (!in.read(raw.data(), static_cast<std::streamsize>(t.size))) return Status::Corruption(t.file + ": truncated data for " + t.name);
  const size_t n = static_cast<size_t>(t.elements());
  std::vector<float> out(n);
  if (t.dtype == "F32") {
    std::memcpy(out.data(), raw.data(), n * 4);
  } else if (t.dtype == "F16" || t.dtype == "BF16") {
    const bool bf = t.dtype == "BF16";
    for (size_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, raw.data() + 2 * i, 2);
      out[i] = bf ? Bf16ToF32(h) : F16ToF32(h);
    }
  } else {
    return Status::Unsupported(t.file + ": tensor " + t.name + " has dtype " + t.dtype + "; only F32, F16 and BF16 are imported");
  }
  return out;
}

}  // namespace quarry
