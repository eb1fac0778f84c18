#include <fnmatch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <set>

#include "ingest/chunker.h"
#include "ingest/loader.h"
#include "kb/kb_impl.h"
#include "kb/shared_index.h"
#include "quarry/registry.h"
#include "text/utf8.h"
#include "util/sha256.h"

namespace quarry {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Document ToDocument(const DocumentRow& r) {
  return Document{r.id, r.source, r.title, r.metadata, r.content_hash, r.created_at, r.updated_at, r.bytes, r.chunks, r.version};
}

Chunk ToChunk(const ChunkRow& r) { return Chunk{r.id, r.doc_id, r.seq, r.text, r.heading, r.start, r.end, r.tokens}; }

// Byte offset -> code point offset, for a monotone sequence of queries.
class CharCounter {
 public:
  explicit CharCounter(std::string_view s) : s_(s) {}
  // Moves from the last position, forward or back (chunks overlap), so a
  // whole document costs one pass, not one per chunk.
  int64_t At(size_t byte) {
    byte = std::min(byte, s_.size());
    for (; byte_ < byte; ++byte_) chars_ += IsLead(s_[byte_]);
    while (byte_ > byte) chars_ -= IsLead(s_[--byte_]);
    return chars_;
  }

 private:
  static bool IsLead(char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }
  std::string_view s_;
  size_t byte_ = 0;
  int64_t chars_ = 0;
};

}  // namespace

KnowledgeBase::KnowledgeBase() : impl_(std::make_unique<Impl>()) {}
KnowledgeBase::~KnowledgeBase() = default;

namespace {
LoadOptions ToLoadOptions(const AddOptions& ao) {
  LoadOptions lo;
  lo.max_file_bytes = ao.max_file_bytes;
  lo.max_record_bytes = ao.max_record_bytes;
  lo.max_html_depth = ao.max_html_depth;
  lo.max_html_nodes = ao.max_html_nodes;
  lo.max_zip_ratio = ao.max_zip_ratio;
  lo.text_column = ao.text_column;
  lo.metadata = ao.metadata;
  return lo;
}
}  // namespace

Result<std::string> ExtractText(const std::string& path, const AddOptions& options) {
  QUARRY_RETURN_IF_ERROR(options.Validate());
  std::string text;
  Status first;
  Status st = LoadPath(path, ToLoadOptions(options), [&](Result<LoadedDocument> d) {
    if (!d.ok()) {
      if (first.ok()) first = d.status();
      return;
    }
    if (!text.empty()) text += "\n\n";
    text += d->text;
  });
  QUARRY_RETURN_IF_ERROR(st);
  if (text.empty()) return first.ok() ? Status::InvalidArgument(path + ": no text in it") : first;
  return text;
}

Result<std::unique_ptr<KnowledgeBase>> KnowledgeBase::Open(const KnowledgeBaseOptions& options, bool create) {
  QUARRY_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<KnowledgeBase> kb(new KnowledgeBase());
  Impl& im = *kb->impl_;
  im.options = options;
  auto cat = Catalog::Open(options.dir, create);
  if (!cat.ok()) return cat.status();
  im.catalog = std::move(*cat);
  {
    // The catalog file's identity, taken when it is opened, names the base's
    // shared indexes: the same however the directory is spelled, and a base
    // deleted and created again at the same path is another base (an inode
    // is not reused while a handle holds the old file open, and only an open
    // handle keeps a shared index alive).
    struct stat st {};
    const std::string db = im.catalog->dir() + "/quarry.db";
    im.base_id = ::stat(db.c_str(), &st) == 0 ? std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) : db;
  }
  auto an = text::Analyzer::Create(text::AnalyzerOptions::ForIndex(options.stemmer));
  if (!an.ok()) return an.status();
  im.analyzer = std::move(*an);
  auto stored = im.catalog->GetMeta("embed_model");
  if (!stored.ok()) return stored.status();
  im.embed_model = !options.embed_model.empty() ? options.embed_model : !stored->empty() ? *stored : kDefaultEmbedder;
  // The analyzer shapes the stored terms: a different stemmer needs a new base.
  auto stemmer = im.catalog->GetMeta("stemmer");
  if (!stemmer.ok()) return stemmer.status();
  if (stemmer->empty()) {
    QUARRY_RETURN_IF_ERROR(im.catalog->SetMeta("stemmer", options.stemmer));
  } else if (*stemmer != options.stemmer) {
    return Status::InvalidArgument(options.dir + ": this knowledge base was analyzed with the '" + *stemmer +
                                   "' stemmer, not '" + options.stemmer + "'; use " + *stemmer + ", or a new knowledge base")
        .About("stemmer");
  }
  return kb;
}

Status KnowledgeBase::Impl::EnsureEmbedder() {
  if (embedder) return Status::OK();
  EmbedderOptions eo;
  eo.threads = options.threads;
  auto e = OpenEmbedder(embed_model, eo);
  if (!e.ok()) return e.status();
  auto stored_id = catalog->GetMeta("embed_model_id");
  if (!stored_id.ok()) return stored_id.status();
  if (!stored_id->empty() && *stored_id != (*e)->model_id()) {
    auto stored_name = catalog->GetMeta("embed_model");
    return Status::InvalidArgument(options.dir + ": this knowledge base was embedded with " + *stored_id + " (" +
                                   (stored_name.ok() ? *stored_name : std::string("?")) + "), not " + (*e)->model_id() +
                                   "; open it with " + (stored_name.ok() ? *stored_name : std::string("that model")) +
                                   ", or use a new knowledge base")
        .About("embed_model");
  }
  embedder = std::move(*e);
  return Status::OK();
}

std::string KnowledgeBase::Impl::IndexKey(const std::string& kind, const std::string& params) const {
  return kind + "\n" + base_id + "\n" + params;
}

Status KnowledgeBase::Impl::EnsureBm25(bool stale_ok, bool* current) {
  auto gen = catalog->Generation();
  if (!gen.ok()) return gen.status();
  if (!bm25 || bm25_generation < *gen) {
    const Bm25Params p{options.bm25_k1, options.bm25_b};
    auto idx = SharedIndex<Bm25Index>::Get(IndexKey("bm25", std::to_string(p.k1) + "/" + std::to_string(p.b)), *gen,
                                           [&] { return Bm25Index::Open(*catalog, p); }, stale_ok, &bm25_generation);
    if (!idx.ok()) return idx.status();
    bm25 = std::move(*idx);
  }
  if (current) *current = bm25_generation >= *gen;
  return Status::OK();
}

Status KnowledgeBase::Impl::EnsureVectors(bool stale_ok) {
  auto gen = catalog->Generation();
  if (!gen.ok()) return gen.status();
  if (vectors && vectors_generation >= *gen) return Status::OK();
  auto id = catalog->GetMeta("embed_model_id");
  auto dim = catalog->GetMeta("embed_dim");
  if (!id.ok()) return id.status();
  if (!dim.ok()) return dim.status();
  if (id->empty()) {
    vectors.reset();
    vectors_generation = *gen;
    return Status::OK();  // nothing embedded yet
  }
  VectorIndexOptions vo;
  vo.exact_threshold = options.ann_threshold;
  const size_t d = static_cast<size_t>(std::stoll(*dim));
  auto v = SharedIndex<VectorIndex>::Get(IndexKey("vectors", *id + "/" + *dim + "/" + std::to_string(vo.exact_threshold)), *gen,
                                         [&] { return VectorIndex::Open(*catalog, *id, d, vo); }, stale_ok, &vectors_generation);
  if (!v.ok()) return v.status();
  vectors = std::move(*v);
  return Status::OK();
}

Result<std::string> KnowledgeBase::GetDocumentText(int64_t doc_id) {
  auto doc = GetDocument(doc_id);
  if (!doc.ok()) return doc.status();
  if (!*doc) return Status::NotFound("no document with id " + std::to_string(doc_id));
  auto chunks = GetChunks(doc_id);
  if (!chunks.ok()) return chunks.status();
  std::sort(chunks->begin(), chunks->end(), [](const Chunk& a, const Chunk& b) { return a.seq < b.seq; });
  std::string text;
  int64_t end = 0;  // code point offset the text has reached
  for (const Chunk& c : *chunks) {
    std::string_view t = c.text;
    if (c.start < end) {
      // Skip the code points already taken from the previous chunk.
      int64_t skip = end - c.start;
      size_t i = 0;
      while (i < t.size() && skip > 0) {
        ++i;
        while (i < t.size() && (static_cast<unsigned char>(t[i]) & 0xC0) == 0x80) ++i;
        --skip;
      }
      t.remove_prefix(i);
    } else if (!text.empty()) {
      text += "\n";
    }
    text.append(t);
    end = std::max(end, c.end);
  }
  return text;
}

Result<std::vector<std::vector<float>>> KnowledgeBase::Embed(const std::vector<std::string>& texts, Embedder::Role role) {
  // A blank text has no meaning to embed: the model would return its bias.
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].find_first_not_of(" \t\r\n") == std::string::npos) {
      return Status::InvalidArgument("text " + std::to_string(i + 1) + " of " + std::to_string(texts.size()) +
                                     " to embed is empty");
    }
  }
  QUARRY_RETURN_IF_ERROR(impl_->EnsureEmbedder());
  return impl_->embedder->Embed(texts, role);
}

Result<int> KnowledgeBase::EmbeddingTokens(std::string_view text) {
  QUARRY_RETURN_IF_ERROR(impl_->EnsureEmbedder());
  return std::min(impl_->embedder->CountTokens(text), impl_->embedder->max_tokens());
}

Result<bool> KnowledgeBase::HasEmbeddings() {
  auto id = impl_->catalog->GetMeta("embed_model_id");
  if (!id.ok()) return id.status();
  return !id->empty();
}

Result<double> KnowledgeBase::MinRelevance(std::string_view query) {
  QUARRY_RETURN_IF_ERROR(impl_->EnsureEmbedder());
  return impl_->embedder->min_relevance(query);
}

std::vector<std::string> KnowledgeBase::AnalyzeForBm25(const std::string& text) { return impl_->analyzer->Analyze(text); }

Result<AddReport> KnowledgeBase::Add(const std::vector<std::string>& paths, const AddOptions& ao, const AddProgressFn& progress) {
  QUARRY_RETURN_IF_ERROR(ao.Validate());
  Impl& im = *impl_;
  const auto t_start = Clock::now();
  AddReport rep;
  AddProgress prog;
  auto fail = [&](const std::string& source, const std::string& reason, const std::string& option = "") {
    ++rep.failed;
    rep.failures.push_back({source, reason, option});
  };

  // 1. Walk: files, directories (recursive, symlink loops caught), "-".
  std::vector<std::string> files;
  bool want_stdin = false;
  for (const std::string& p : paths) {
    if (p == "-") {
      want_stdin = true;
      continue;
    }
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      fail(p, fs::is_symlink(fs::symlink_status(p, ec)) ? "broken symbolic link" : "no such file or directory");
      continue;
    }
    if (fs::is_regular_file(st)) {
      files.push_back(fs::absolute(p).lexically_normal().string());
      continue;
    }
    if (!fs::is_directory(st)) {
      fail(p, "not a regular file or directory");
      continue;
    }
    // Depth-first walk that follows symlinks but refuses to enter a directory
    // it is already inside (a loop).
    std::vector<std::pair<fs::path, std::vector<std::pair<dev_t, ino_t>>>> stack;
    stack.push_back({fs::absolute(p).lexically_normal(), {}});
    while (!stack.empty()) {
      auto [dir, ancestors] = std::move(stack.back());
      stack.pop_back();
      struct stat sb;
      if (::stat(dir.c_str(), &sb) != 0) {
        fail(dir.string(), std::string("cannot read directory: ") + std::strerror(errno));
        continue;
      }
      std::pair<dev_t, ino_t> self{sb.st_dev, sb.st_ino};
      if (std::find(ancestors.begin(), ancestors.end(), self) != ancestors.end()) {
        fail(dir.string(), "symbolic link loop (directory contains itself); skipped");
        continue;
      }
      ancestors.push_back(self);
      std::vector<fs::path> entries;
      fs::directory_iterator it(dir, fs::directory_options::none, ec);
      if (ec) {
        fail(dir.string(), "cannot read directory: " + ec.message());
        continue;
      }
      for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        entries.push_back(it->path());
      }
      std::sort(entries.begin(), entries.end());
      for (auto e = entries.rbegin(); e != entries.rend(); ++e) {
        const std::string name = e->filename().string();
        if (!name.empty() && name[0] == '.') continue;  // hidden files and folders (.git, .quarry)
        std::error_code ec2;
        fs::file_status est = fs::status(*e, ec2);
        if (ec2) {
          if (fs::is_symlink(fs::symlink_status(*e, ec2))) fail(e->string(), "broken symbolic link or link loop");
          continue;
        }
        if (fs::is_directory(est)) {
          stack.push_back({*e, ancestors});
        } else if (fs::is_regular_file(est)) {
          bool keep = ao.globs.empty() ? IsSupportedExtension(name) : false;
          for (const auto& g : ao.globs) keep = keep || fnmatch(g.c_str(), name.c_str(), 0) == 0 || fnmatch(g.c_str(), e->c_str(), 0) == 0;
          if (keep) {
            files.push_back(e->string());
          } else {
            ++rep.skipped[e->extension().string()];
          }
        }
      }
    }
  }
  prog.files_total = static_cast<int64_t>(files.size()) + (want_stdin ? 1 : 0);
  if (progress) progress(prog);

  // 2. Load, chunk, embed (batched across documents), store (one transaction per document).
  if (ao.embed) QUARRY_RETURN_IF_ERROR(im.EnsureEmbedder());
  const int specials = im.embedder ? im.embedder->CountTokens("") : 0;
  auto count_tokens = [&](std::string_view s) {
    return im.embedder ? im.embedder->CountTokens(s) - specials
                       : static_cast<int>(std::count(s.begin(), s.end(), ' ') + 1);  // rough, BM25-only
  };
  ChunkerOptions co{ao.chunk_tokens, ao.overlap_tokens};
  const LoadOptions lo = ToLoadOptions(ao);

  struct Pending {
    DocumentRow row;
    std::unique_ptr<const std::string> text;  // the chunks' text is views into it
    std::vector<ChunkInput> chunks;
  };
  std::vector<Pending> batch;
  size_t batch_chunks = 0;
  std::string model_id = im.embedder ? im.embedder->model_id() : std::string();
  Status fatal;

  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::OK();
    if (im.embedder) {
      std::vector<std::string> texts;
      for (const auto& p : batch) {
        for (const auto& c : p.chunks) {
          texts.push_back(c.row.heading.empty() ? std::string(c.text) : c.row.heading + "\n" + std::string(c.text));
        }
      }
      const auto t = Clock::now();
      auto vecs = im.embedder->Embed(texts);
      rep.embed_s += Since(t);
      if (!vecs.ok()) return vecs.status();
      size_t i = 0;
      for (auto& p : batch) {
        for (auto& c : p.chunks) c.vector = std::move((*vecs)[i++]);
      }
      // First embeddings fix the knowledge base's model.
      auto stored = im.catalog->GetMeta("embed_model_id");
      if (!stored.ok()) return stored.status();
      if (stored->empty()) {
        QUARRY_RETURN_IF_ERROR(im.catalog->SetMeta("embed_model", im.embed_model));
        QUARRY_RETURN_IF_ERROR(im.catalog->SetMeta("embed_model_id", model_id));
        QUARRY_RETURN_IF_ERROR(im.catalog->SetMeta("embed_dim", std::to_string(im.embedder->dimension())));
      }
    }
    const auto t = Clock::now();
    for (auto& p : batch) {
      auto put = im.catalog->PutDocument(p.row, p.chunks, model_id);
      if (!put.ok()) return put.status();  // the database itself failed: stop, nothing half-written
      switch (put->outcome) {
        case Catalog::PutResult::kAdded: ++rep.added; break;
        case Catalog::PutResult::kReplaced: ++rep.replaced; break;
        case Catalog::PutResult::kEmbedded: ++rep.embedded; break;
        case Catalog::PutResult::kUnchanged: ++rep.unchanged; continue;  // another process stored it meanwhile
      }
      rep.chunks += static_cast<int64_t>(p.chunks.size());
      prog.documents++;
      prog.chunks += static_cast<int64_t>(p.chunks.size());
    }
    rep.store_s += Since(t);
    batch.clear();
    batch_chunks = 0;
    if (progress) progress(prog);
    return Status::OK();
  };

  double in_accept = 0;  // time LoadPath spends in this callback (not parsing)
  auto accept = [&](Result<LoadedDocument> r) {
    const auto t_accept = Clock::now();
    struct Charge {
      double* to;
      Clock::time_point from;
      ~Charge() { *to += Since(from); }
    } charge{&in_accept, t_accept};
    if (!fatal.ok()) return;
    if (!r.ok()) {
      const std::string& m = r.status().message();
      const size_t colon = m.find(": ");
      fail(colon == std::string::npos ? prog.current : m.substr(0, colon), colon == std::string::npos ? m : m.substr(colon + 2),
           r.status().option());
      return;
    }
    LoadedDocument& d = *r;
    auto existing = im.catalog->FindBySource(d.source);
    if (!existing.ok()) {
      fatal = existing.status();
      return;
    }
    if (*existing && (*existing)->content_hash == d.content_hash) {
      // Unchanged, unless it was added without embeddings and now can have them.
      bool lacks_vectors = false;
      if (im.embedder && (*existing)->chunks > 0) {
        auto has = im.catalog->HasEmbeddings((*existing)->id);
        if (!has.ok()) {
          fatal = has.status();
          return;
        }
        lacks_vectors = !*has;
      }
      if (!lacks_vectors) {
        ++rep.unchanged;
        return;
      }
    }
    auto t = Clock::now();
    std::vector<TextChunk> chunks = ChunkDocument(d.text, d.sections, co, count_tokens);
    rep.chunk_s += Since(t);
    if (static_cast<int64_t>(chunks.size()) > ao.max_chunks) {
      fail(d.source, "splits into " + std::to_string(chunks.size()) + " chunks, over the limit of " + std::to_string(ao.max_chunks) +
                         " per document; raise the limit, or split the document", "max_chunks");
      return;
    }
    Pending p;
    p.row.source = d.source;
    p.row.content_hash = d.content_hash;
    p.row.metadata = d.metadata;
    p.row.title = d.title;
    p.row.bytes = static_cast<int64_t>(d.text.size());
    p.text = std::make_unique<const std::string>(std::move(d.text));
    const std::string_view text = *p.text;
    t = Clock::now();
    CharCounter cc(text);
    std::vector<std::string> terms;
    p.chunks.reserve(chunks.size());
    int seq = 0;
    for (const TextChunk& c : chunks) {
      ChunkInput in;
      in.row.seq = seq++;
      in.text = text.substr(c.start, c.end - c.start);
      in.row.start = cc.At(c.start);
      in.row.end = cc.At(c.end);
      in.row.heading = c.heading;
      in.row.tokens = c.tokens;
      // The heading path is part of what a chunk is about.
      terms.clear();
      if (c.heading.empty()) {
        im.analyzer->Analyze(in.text, &terms);
      } else {
        im.analyzer->Analyze(c.heading + "\n" + std::string(in.text), &terms);
      }
      in.encoded_terms = Catalog::EncodeTerms(terms);
      p.chunks.push_back(std::move(in));
    }
    rep.analyze_s += Since(t);
    batch_chunks += p.chunks.size();
    batch.push_back(std::move(p));
    if (batch_chunks >= 64) fatal = flush();
  };

  for (const std::string& f : files) {
    prog.current = f;
    const auto t = Clock::now();
    const double accept_before = in_accept;
    Status st = LoadPath(f, lo, accept);
    rep.parse_s += Since(t) - (in_accept - accept_before);
    if (!fatal.ok()) break;
    if (!st.ok()) {
      const std::string& m = st.message();
      fail(f, m.rfind(f + ": ", 0) == 0 ? m.substr(f.size() + 2) : m, st.option());
    }
    prog.files_done++;
    if (progress) progress(prog);
  }
  if (want_stdin && fatal.ok()) {
    std::string bytes((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    // Named by its content (so re-adding the same text is a no-op), computed
    // before the bytes move: argument order is unspecified.
    const std::string name = "stdin#" + Sha256Hex(bytes).substr(0, 12);
    auto d = LoadBytes(name, std::move(bytes), lo);
    accept(std::move(d));
    prog.files_done++;
  }
  if (fatal.ok()) fatal = flush();
  if (!fatal.ok()) return fatal;

  // 3. Bring the derived indexes up to date now, so the first query is fast.
  const auto t = Clock::now();
  if (rep.added + rep.replaced > 0) {
    QUARRY_RETURN_IF_ERROR(im.EnsureBm25());
    QUARRY_RETURN_IF_ERROR(im.EnsureVectors());
  }
  rep.index_s = Since(t);
  rep.total_s = Since(t_start);
  return rep;
}

Result<std::vector<std::string>> KnowledgeBase::Remove(const std::string& spec) {
  Impl& im = *impl_;
  auto docs = im.catalog->ListDocuments();
  if (!docs.ok()) return docs.status();
  std::vector<const DocumentRow*> hit;
  const bool numeric = !spec.empty() && spec.find_first_not_of("0123456789") == std::string::npos;
  std::error_code ec;
  const std::string abs = spec.empty() ? spec : fs::absolute(spec, ec).lexically_normal().string();
  for (const auto& d : *docs) {
    if ((numeric && std::to_string(d.id) == spec) || d.source == spec || d.source == abs ||
        fnmatch(spec.c_str(), d.source.c_str(), 0) == 0 || (!abs.empty() && fnmatch(abs.c_str(), d.source.c_str(), 0) == 0) ||
        // a directory removes everything under it
        (!abs.empty() && d.source.rfind(abs + "/", 0) == 0) ||
        // a record file removes its records
        d.source.rfind(abs + "#", 0) == 0) {
      hit.push_back(&d);
    }
  }
  std::vector<std::string> removed;
  for (const DocumentRow* d : hit) {
    QUARRY_RETURN_IF_ERROR(im.catalog->DeleteDocument(d->id));
    removed.push_back(d->source);
  }
  if (!removed.empty()) {
    QUARRY_RETURN_IF_ERROR(im.EnsureBm25());
    QUARRY_RETURN_IF_ERROR(im.EnsureVectors());
  }
  return removed;
}

Result<std::vector<Document>> KnowledgeBase::ListDocuments() {
  auto docs = impl_->catalog->ListDocuments();
  if (!docs.ok()) return docs.status();
  std::vector<Document> out;
  for (const auto& d : *docs) out.push_back(ToDocument(d));
  return out;
}

Result<std::optional<Document>> KnowledgeBase::GetDocument(int64_t id) {
  auto d = impl_->catalog->GetDocument(id);
  if (!d.ok()) return d.status();
  if (!*d) return std::optional<Document>();
  return std::optional<Document>(ToDocument(**d));
}

Result<std::vector<Chunk>> KnowledgeBase::GetChunks(int64_t doc_id) {
  auto c = impl_->catalog->DocumentChunks(doc_id);
  if (!c.ok()) return c.status();
  std::vector<Chunk> out;
  for (const auto& r : *c) out.push_back(ToChunk(r));
  return out;
}

Result<KnowledgeBaseStats> KnowledgeBase::Stats() {
  auto s = impl_->catalog->Stats();
  if (!s.ok()) return s.status();
  KnowledgeBaseStats out;
  out.dir = impl_->options.dir;
  out.documents = s->documents;
  out.chunks = s->chunks;
  out.embeddings = s->embeddings;
  out.bytes = s->bytes;
  out.embed_model = s->embed_model;
  out.embed_model_id = s->embed_model_id;
  out.embed_dim = s->embed_dim;
  out.schema_version = s->schema_version;
  std::error_code ec;
  auto size = [&](const std::string& f) {
    auto n = fs::file_size(impl_->options.dir + "/" + f, ec);
    return ec ? int64_t{0} : static_cast<int64_t>(n);
  };
  out.db_bytes = size("quarry.db") + size("quarry.db-wal");
  out.bm25_bytes = size("bm25.idx");
  out.hnsw_bytes = size("vectors.hnsw");
  return out;
}

}  // namespace quarry
