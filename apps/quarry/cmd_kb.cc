// quarry add | rm | ls | show | stats
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "quarry/json.h"
#include "quarry/knowledge_base.h"

namespace quarry::cli {
using nlohmann::json;

void AddKbFlags(CLI::App* cmd, KbFlags* f) {
  const char* env = std::getenv("QUARRY_DB");
  f->db = env && *env ? env : ".quarry";
  cmd->add_option("--db", f->db, "Knowledge base directory (default: $QUARRY_DB or .quarry)")->capture_default_str();
  cmd->add_option("--embed-model", f->embed_model, "Embedding model: a name, a GGUF path, or openai:URL[#MODEL] (default: the one the base was built with, else multilingual-e5-small; minilm-l6 ingests English 2.5x faster)");
  cmd->add_option("-t,--threads", f->threads, "CPU threads (default: all)");
  cmd->add_option("--k1", f->k1, "BM25 k1")->capture_default_str();
  cmd->add_option("--b", f->b, "BM25 b")->capture_default_str();
  cmd->add_option("--stemmer", f->stemmer, "BM25 stemmer: porter, english (Porter2), none, or another Snowball language")->capture_default_str();
}

KnowledgeBaseOptions ToOptions(const KbFlags& f) {
  KnowledgeBaseOptions o;
  o.dir = f.db;
  o.embed_model = f.embed_model;
  o.threads = f.threads;
  o.bm25_k1 = static_cast<float>(f.k1);
  o.bm25_b = static_cast<float>(f.b);
  o.stemmer = f.stemmer;
  return o;
}

ProgressLine::ProgressLine()
    : enabled_(isatty(2) && !std::getenv("CI")),
      last_(std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count()) {}

void ProgressLine::Update(const std::string& line) {
  const double now = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  if (!enabled_) {
    // Not a terminal (a log, nohup, CI): a plain line every 30 s, so long work still shows it moves.
    if (now - last_ < 30) return;
    last_ = now;
    const size_t from = line.find_first_not_of(' ');
    std::fprintf(stderr, "quarry: %s\n", from == std::string::npos ? "" : line.c_str() + from);
    return;
  }
  if (now - last_ < 0.1) return;
  last_ = now;
  std::string l = line.size() > 110 ? line.substr(0, 107) + "..." : line;
  std::fprintf(stderr, "\r%s%s", l.c_str(), std::string(width_ > l.size() ? width_ - l.size() : 0, ' ').c_str());
  width_ = l.size();
}

void ProgressLine::Done() {
  if (enabled_ && width_) std::fprintf(stderr, "\r%s\r", std::string(width_, ' ').c_str());
  width_ = 0;
}

namespace {

std::string Bytes(int64_t n) {
  char buf[32];
  if (n >= (1 << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", n / 1073741824.0);
  else if (n >= (1 << 20)) std::snprintf(buf, sizeof buf, "%.1f MiB", n / 1048576.0);
  else std::snprintf(buf, sizeof buf, "%.1f KiB", n / 1024.0);
  return buf;
}

std::string Duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

Result<std::unique_ptr<KnowledgeBase>> OpenKb(const KbFlags& f, bool create) {
  return KnowledgeBase::Open(ToOptions(f), create);
}

}  // namespace

void RegisterKnowledgeBase(CLI::App& app, Registry& reg) {
  // ---- add
  static KbFlags add_flags;
  static std::vector<std::string> paths, globs, metas;
  static AddOptions ao;
  static bool add_json = false, no_embed = false;
  static double max_mb = 100;
  auto* add = app.add_subcommand("add", "Add files, folders (recursive) or stdin ('-') to the knowledge base");
  add->add_option("PATH", paths, "Files, directories, or - for stdin")->required();
  add->add_option("--glob", globs, "In directories, only files matching this pattern (repeatable; default: all supported types)");
  add->add_option("--meta", metas, "KEY=VALUE metadata for every added document (repeatable)");
  add->add_option("--text-column", ao.text_column, "CSV column holding the text")->capture_default_str();
  add->add_option("--chunk-tokens", ao.chunk_tokens, "Most embedding-model tokens per chunk")->capture_default_str();
  add->add_option("--overlap", ao.overlap_tokens, "Tokens of context repeated between consecutive chunks")->capture_default_str();
  add->add_option("--max-file-size", max_mb, "Largest file read whole, in MiB (JSONL/CSV stream at any size)")->check(CLI::PositiveNumber)->capture_default_str();
  static double max_record_mb = static_cast<double>(ao.max_record_bytes >> 20);
  add->add_option("--max-record-size", max_record_mb, "Longest JSONL line or CSV record, in MiB")->check(CLI::PositiveNumber)->capture_default_str();
  add->add_option("--max-html-depth", ao.max_html_depth, "Deepest HTML element nesting")->capture_default_str();
  add->add_option("--max-html-nodes", ao.max_html_nodes, "Most HTML elements in one file")->capture_default_str();
  add->add_option("--max-zip-ratio", ao.max_zip_ratio, "Largest unpacked/packed size ratio of a DOCX's text (zip bombs)")->capture_default_str();
  add->add_option("--max-chunks", ao.max_chunks, "Most chunks one document may split into")->capture_default_str();
  add->add_flag("--no-embed", no_embed, "Index for BM25 only (no embeddings; fast)");
  add->add_flag("--json", add_json, "Print the report as JSON");
  AddKbFlags(add, &add_flags);
  add->callback([&reg] {
    reg.run = [] {
      json meta = json::object();
      for (const auto& m : metas) {
        const size_t eq = m.find('=');
        if (eq == std::string::npos || eq == 0) return Fail(Status::InvalidArgument("--meta '" + m + "': expected KEY=VALUE"));
        const std::string k = m.substr(0, eq), v = m.substr(eq + 1);
        json parsed = json::parse(v, nullptr, false);
        meta[k] = (parsed.is_number() || parsed.is_boolean()) ? parsed : json(v);
      }
      ao.metadata = JsonText(meta);
      ao.globs = globs;
      ao.embed = !no_embed;
      ao.max_file_bytes = static_cast<uint64_t>(max_mb * 1024 * 1024);
      ao.max_record_bytes = static_cast<uint64_t>(max_record_mb * 1024 * 1024);
      auto kb = OpenKb(add_flags, true);
      if (!kb.ok()) return Fail(kb.status());
      ProgressLine line;
      const auto t0 = std::chrono::steady_clock::now();
      auto rep = (*kb)->Add(paths, ao, [&](const AddProgress& p) {
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::string s = "  " + std::to_string(p.files_done) + "/" + std::to_string(p.files_total) + " files, " +
                        std::to_string(p.documents) + " docs, " + std::to_string(p.chunks) + " chunks";
        if (el > 0.5) {
          char buf[64];
          std::snprintf(buf, sizeof buf, ", %.1f chunks/s", p.chunks / el);
          s += buf;
          if (p.files_done > 0 && p.files_total > p.files_done) {
            s += ", ETA " + Duration(el / static_cast<double>(p.files_done) * static_cast<double>(p.files_total - p.files_done));
          }
        }
        if (!p.current.empty()) s += "  " + p.current;
        line.Update(s);
      });
      line.Done();
      if (!rep.ok()) return Fail(rep.status());
      for (const auto& f : rep->failures) {
        std::fprintf(stderr, "quarry: error: %s: %s\n", f.source.c_str(), WithHint(f.reason, f.option).c_str());
      }
      if (add_json) {
        json j = {{"added", rep->added}, {"unchanged", rep->unchanged}, {"replaced", rep->replaced}, {"embedded", rep->embedded}, {"failed", rep->failed},
                  {"chunks", rep->chunks}, {"failures", json::array()},
                  {"seconds", {{"total", rep->total_s}, {"parse", rep->parse_s}, {"chunk", rep->chunk_s}, {"analyze", rep->analyze_s}, {"embed", rep->embed_s},
                               {"store", rep->store_s}, {"index", rep->index_s}}}};
        for (const auto& f : rep->failures) {
          j["failures"].push_back({{"source", f.source}, {"reason", WithHint(f.reason, f.option)}, {"option", f.option}});
        }
        j["skipped"] = rep->skipped;
        PrintJson(j);
      } else {
        const std::string embedded = rep->embedded ? ", embedded " + std::to_string(rep->embedded) : std::string();
        std::printf("added %d, unchanged %d, replaced %d%s, failed %d (%lld chunks, %.1f s)\n", rep->added, rep->unchanged,
                    rep->replaced, embedded.c_str(), rep->failed, static_cast<long long>(rep->chunks), rep->total_s);
        if (!rep->skipped.empty()) {
          // Not failures, but the user should know what a folder walk passed over.
          int n = 0;
          std::string kinds;
          for (const auto& [ext, count] : rep->skipped) {
            n += count;
            kinds += (kinds.empty() ? "" : ", ") + std::to_string(count) + " " + (ext.empty() ? "without extension" : ext);
          }
          std::fprintf(stderr, "skipped %d file%s of types Quarry does not read (%s); --glob picks files by name\n", n,
                       n == 1 ? "" : "s", kinds.c_str());
        }
      }
      return rep->failed > 0 ? kExitFailed : kExitOk;
    };
  });

  // ---- rm
  static KbFlags rm_flags;
  static std::vector<std::string> rm_specs;
  auto* rm = app.add_subcommand("rm", "Remove documents by id, path (a folder removes what is under it) or glob");
  rm->add_option("ID|PATH|GLOB", rm_specs, "What to remove")->required();
  AddKbFlags(rm, &rm_flags);
  rm->callback([&reg] {
    reg.run = [] {
      auto kb = OpenKb(rm_flags, false);
      if (!kb.ok()) return Fail(kb.status());
      int rc = kExitOk;
      for (const auto& s : rm_specs) {
        auto removed = (*kb)->Remove(s);
        if (!removed.ok()) return Fail(removed.status());
        if (removed->empty()) {
          std::fprintf(stderr, "quarry: error: %s: no matching document (see `quarry ls`)\n", s.c_str());
          rc = kExitFailed;
        }
        for (const auto& r : *removed) std::printf("removed %s\n", r.c_str());
      }
      return rc;
    };
  });

  // ---- ls
  static KbFlags ls_flags;
  static bool ls_json = false;
  auto* ls = app.add_subcommand("ls", "List the documents in the knowledge base");
  ls->add_flag("--json", ls_json, "Print JSON");
  AddKbFlags(ls, &ls_flags);
  ls->callback([&reg] {
    reg.run = [] {
      auto kb = OpenKb(ls_flags, false);
      if (!kb.ok()) return Fail(kb.status());
      auto docs = (*kb)->ListDocuments();
      if (!docs.ok()) return Fail(docs.status());
      if (ls_json) {
        json j = {{"documents", json::array()}};
        for (const auto& d : *docs) j["documents"].push_back(ToJson(d));
        PrintJson(j);
        return kExitOk;
      }
      std::printf("%6s %6s %10s  %-20s  %s\n", "ID", "CHUNKS", "BYTES", "UPDATED", "SOURCE");
      for (const auto& d : *docs) {
        std::printf("%6lld %6lld %10lld  %-20s  %s\n", static_cast<long long>(d.id), static_cast<long long>(d.chunks),
                    static_cast<long long>(d.bytes), d.updated_at.c_str(), d.source.c_str());
      }
      return kExitOk;
    };
  });

  // ---- show
  static KbFlags show_flags;
  static int64_t show_id = 0;
  static bool show_json = false;
  auto* show = app.add_subcommand("show", "Show one document and its chunks");
  show->add_option("ID", show_id, "Document id (see `quarry ls`)")->required();
  show->add_flag("--json", show_json, "Print JSON");
  AddKbFlags(show, &show_flags);
  show->callback([&reg] {
    reg.run = [] {
      auto kb = OpenKb(show_flags, false);
      if (!kb.ok()) return Fail(kb.status());
      auto d = (*kb)->GetDocument(show_id);
      if (!d.ok()) return Fail(d.status());
      if (!*d) return Fail(Status::NotFound("no document with id " + std::to_string(show_id) + " (see `quarry ls`)"));
      auto chunks = (*kb)->GetChunks(show_id);
      if (!chunks.ok()) return Fail(chunks.status());
      if (show_json) {
        json j = ToJson(**d);
        j["chunk_list"] = json::array();
        for (const auto& c : *chunks) {
          j["chunk_list"].push_back({{"id", c.id}, {"seq", c.seq}, {"start", c.start}, {"end", c.end}, {"heading", c.heading},
                                     {"tokens", c.tokens}, {"text", c.text}});
        }
        PrintJson(j);
        return kExitOk;
      }
      const Document& doc = **d;
      std::printf("id:       %lld\nsource:   %s\ntitle:    %s\nmetadata: %s\nversion:  %lld (updated %s)\nchunks:   %zu\n",
                  static_cast<long long>(doc.id), doc.source.c_str(), doc.title.c_str(), doc.metadata.c_str(),
                  static_cast<long long>(doc.version), doc.updated_at.c_str(), chunks->size());
      for (const auto& c : *chunks) {
        std::printf("\n[%d] chars %lld-%lld, %d tokens%s%s\n%s\n", c.seq, static_cast<long long>(c.start),
                    static_cast<long long>(c.end), c.tokens, c.heading.empty() ? "" : ", ", c.heading.c_str(), c.text.c_str());
      }
      return kExitOk;
    };
  });

  // ---- stats
  static KbFlags stats_flags;
  static bool stats_json = false;
  auto* stats = app.add_subcommand("stats", "Counts and sizes of the knowledge base");
  stats->add_flag("--json", stats_json, "Print JSON");
  AddKbFlags(stats, &stats_flags);
  stats->callback([&reg] {
    reg.run = [] {
      auto kb = OpenKb(stats_flags, false);
      if (!kb.ok()) return Fail(kb.status());
      auto s = (*kb)->Stats();
      if (!s.ok()) return Fail(s.status());
      if (stats_json) {
        PrintJson(json{{"dir", s->dir}, {"documents", s->documents}, {"chunks", s->chunks}, {"embeddings", s->embeddings},
                          {"text_bytes", s->bytes}, {"embed_model", s->embed_model}, {"embed_model_id", s->embed_model_id},
                          {"embed_dim", s->embed_dim}, {"schema_version", s->schema_version}, {"db_bytes", s->db_bytes},
                          {"bm25_bytes", s->bm25_bytes}, {"hnsw_bytes", s->hnsw_bytes}});
        return kExitOk;
      }
      std::printf("knowledge base: %s\ndocuments:      %lld\nchunks:         %lld\nembeddings:     %lld (%s, %lld dimensions)\n"
                  "text:           %s\ndatabase:       %s; bm25 index %s; hnsw index %s\n",
                  s->dir.c_str(), static_cast<long long>(s->documents), static_cast<long long>(s->chunks),
                  static_cast<long long>(s->embeddings), s->embed_model_id.empty() ? "none" : s->embed_model_id.c_str(),
                  static_cast<long long>(s->embed_dim), Bytes(s->bytes).c_str(), Bytes(s->db_bytes).c_str(),
                  Bytes(s->bm25_bytes).c_str(), Bytes(s->hnsw_bytes).c_str());
      return kExitOk;
    };
  });
}

}  // namespace quarry::cli
