// Where Quarry keeps things on disk (CacheDir and ModelsDir are public:
// quarry/registry.h).
#pragma once

#include <string>

#include "quarry/registry.h"

namespace quarry {

// CacheDir()/downloads: registry packages, kept so that re-runs download nothing.
std::string DownloadsDir();

}  // namespace quarry
