// Reading members of zip archives (Python wheels; later .docx).
#pragma once

#include <string>
#include <vector>

#include "quarry/status.h"

namespace quarry {

class ZipReader {
 public:
  static Result<ZipReader> Open(const std::string& path);
  ZipReader(ZipReader&& o) noexcept : path_(std::move(o.path_)), zip_(o.zip_) { o.zip_ = nullptr; }
  ZipReader& operator=(ZipReader&&) = delete;
  ~ZipReader();

  std::vector<std::string> Names() const;
  // A member's bytes. Refused (InvalidArgument) when it unpacks to more than
  // max_bytes or, with max_ratio > 0, more than max_ratio times its packed size.
  Result<std::string> Read(const std::string& member, size_t max_bytes = 64u << 20, double max_ratio = 0) const;
  // Streams a member to a file (written to dest + ".part", then renamed).
  Status ExtractTo(const std::string& member, const std::string& dest) const;

 private:
  ZipReader(std::string path, void* zip) : path_(std::move(path)), zip_(zip) {}
  std::string path_;
  void* zip_;  // zip_t*
};

}  // namespace quarry
