// libFuzzer target: one loader, chosen at build time by QUARRY_FUZZ_EXT
// (".txt", ".md", ".html", ".pdf", ".docx", ".jsonl", ".csv", ".tmx"). The
// input is written to a file of that type and loaded as `quarry add` would;
// any result is fine, a crash or a sanitizer report is not.
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "ingest/loader.h"
#include "quarry/rag.h"

#ifndef QUARRY_FUZZ_EXT
#error "define QUARRY_FUZZ_EXT"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // In memory when /dev/shm exists: on a disk the writes, not the parsing, would set the pace.
  static const std::string path = std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + "/quarry-fuzz-" +
                                  std::to_string(::getpid()) + QUARRY_FUZZ_EXT;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const std::string ext = QUARRY_FUZZ_EXT;
  if (ext == ".tmx") {
    std::string src, tgt;
    int skipped = 0;
    (void)quarry::ReadTranslationPairs(path, &src, &tgt, &skipped);
    return 0;
  }
  quarry::LoadOptions o;
  o.max_file_bytes = 4u << 20;
  o.max_record_bytes = 1u << 20;
  o.max_html_nodes = 100000;
  o.html_piece_bytes = 256;  // small pieces, so the piecewise parse is fuzzed too
  size_t chars = 0;
  (void)quarry::LoadPath(path, o, [&](quarry::Result<quarry::LoadedDocument> d) {
    if (!d.ok()) return;
    chars += d->text.size();
    for (const auto& s : d->sections) {
      if (s.start > s.end || s.end > d->text.size()) __builtin_trap();  // sections must lie inside the text
    }
  });
  return 0;
}
