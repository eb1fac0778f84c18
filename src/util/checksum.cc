#include "util/checksum.h"

#include <cstring>
#include <fstream>
#include <vector>

namespace quarry {

void Checksum64::Update(const char* p, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h_ = (h_ ^ w) * 0xBF58476D1CE4E5B9ull;
    h_ ^= h_ >> 31;
  }
  for (; i < n; ++i) h_ = (h_ ^ static_cast<unsigned char>(p[i])) * 0x94D049BB133111EBull;
  length_ += n;
}

uint64_t Checksum64::Final() const {
  const uint64_t h = (h_ ^ length_) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 29);
}

uint64_t Checksum(const char* p, size_t n) {
  Checksum64 c;
  c.Update(p, n);
  return c.Final();
}

Result<uint64_t> ChecksumFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open");
  std::vector<char> buf(1 << 20);  // a multiple of 8
  Checksum64 c;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    c.Update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status::IOError(path + ": read failed");
  return c.Final();
}

}  // namespace quarry
