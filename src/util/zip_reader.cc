#include "util/zip_reader.h"

#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace quarry {
namespace {
zip_t* Z(void* p) { return static_cast<zip_t*>(p); }
}  // namespace

Result<ZipReader> ZipReader::Open(const std::string& path) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = path + ": not a readable zip archive (" + zip_error_strerror(&ze) + ")";
    zip_error_fini(&ze);
    return Status::Corruption(msg);
  }
  return ZipReader(path, z);
}

ZipReader::~ZipReader() {
  if (zip_) zip_discard(Z(zip_));
}

std::vector<std::string> ZipReader::Names() const {
  std::vector<std::string> out;
  zip_int64_t n = zip_get_num_entries(Z(zip_), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    if (const char* name = zip_get_name(Z(zip_), static_cast<zip_uint64_t>(i), 0)) out.emplace_back(name);
  }
  return out;
}

Result<std::string> ZipReader::Read(const std::string& member, size_t max_bytes, double max_ratio) const {
  zip_stat_t st;
  if (zip_stat(Z(zip_), member.c_str(), 0, &st) != 0) return Status::NotFound(path_ + ": no member " + member);
  if (st.size > max_bytes) {
    char sizes[96];
    std::snprintf(sizes, sizeof sizes, " expands to %.1f MiB, over the limit of %.1f MiB", static_cast<double>(st.size) / (1 << 20),
                  static_cast<double>(max_bytes) / (1 << 20));
    return Status::InvalidArgument(path_ + ": " + member + sizes);
  }
  if (max_ratio > 0 && static_cast<double>(st.size) > max_ratio * static_cast<double>(std::max<zip_uint64_t>(st.comp_size, 1))) {
    char ratio[96];
    std::snprintf(ratio, sizeof ratio, " unpacks %.0f times its packed size, over the limit of %.0f", static_cast<double>(st.size) /
                  static_cast<double>(std::max<zip_uint64_t>(st.comp_size, 1)), max_ratio);
    return Status::InvalidArgument(path_ + ": " + member + ratio);
  }
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen(Z(zip_), member.c_str(), 0), &zip_fclose);
  if (!f) return Status::Corruption(path_ + ": cannot open member " + member);
  std::string data(st.size, '\0');
  zip_int64_t got = zip_fread(f.get(), data.data(), st.size);
  if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) return Status::Corruption(path_ + ": truncated member " + member);
  return data;
}

Status ZipReader::ExtractTo(const std::string& member, const std::string& dest) const {
  std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen(Z(zip_), member.c_str(), 0), &zip_fclose);
  if (!f) return Status::NotFound(path_ + ": no member " + member);
  std::string part = dest + ".part";
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(part.c_str(), "wb"), &std::fclose);
  if (!out) return Status::IOError(part + ": cannot create");
  std::vector<char> buf(1 << 20);
  zip_int64_t n;
  while ((n = zip_fread(f.get(), buf.data(), buf.size())) > 0) {
    if (std::fwrite(buf.data(), 1, static_cast<size_t>(n), out.get()) != static_cast<size_t>(n)) {
      return Status::IOError(part + ": write failed (disk full?)");
    }
  }
  if (n < 0) return Status::Corruption(path_ + ": cannot decompress " + member);
  if (std::fclose(out.release()) != 0) return Status::IOError(part + ": write failed");
  if (std::rename(part.c_str(), dest.c_str()) != 0) return Status::IOError(dest + ": cannot rename into place");
  return Status::OK();
}

}  // namespace quarry
