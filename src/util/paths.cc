#include "util/paths.h"

#include <cstdlib>

namespace quarry {
namespace {
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string();
}
}  // namespace

std::string CacheDir() {
  if (auto d = Env("QUARRY_CACHE_DIR"); !d.empty()) return d;
  if (auto d = Env("XDG_CACHE_HOME"); !d.empty()) return d + "/quarry";
  auto home = Env("HOME");
  return (home.empty() ? std::string(".") : home) + "/.cache/quarry";
}

std::string ModelsDir() {
  if (auto d = Env("QUARRY_MODELS_DIR"); !d.empty()) return d;
  return CacheDir() + "/models";
}

std::string DownloadsDir() { return CacheDir() + "/downloads"; }

}  // namespace quarry
