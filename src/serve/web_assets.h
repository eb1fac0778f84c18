// The web UI (web/), compiled into the binary by cmake/embed_files.cmake.
#pragma once

#include <cstddef>

namespace quarry::web {

struct Asset {
  const char* path;          // "/index.html"
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

extern const Asset kAssets[];
extern const size_t kAssetCount;

}  // namespace quarry::web
