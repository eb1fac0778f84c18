// Where Quarry keeps things on disk.
#pragma once

#include <string>

namespace quarry {

// $QUARRY_CACHE_DIR, else $XDG_CACHE_HOME/quarry, else ~/.cache/quarry.
std::string CacheDir();
// $QUARRY_MODELS_DIR, else CacheDir()/models.
std::string ModelsDir();
// CacheDir()/downloads: registry packages, kept so that re-runs download nothing.
std::string DownloadsDir();

}  // namespace quarry
