#include "store/catalog.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>

namespace quarry {
namespace fs = std::filesystem;

namespace {

const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL UNIQUE,
  content_hash TEXT NOT NULL,
  metadata TEXT NOT NULL DEFAULT '{}',
  title TEXT NOT NULL DEFAULT '',
  bytes INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
  updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  text TEXT NOT NULL,
  start_char INTEGER NOT NULL,
  end_char INTEGER NOT NULL,
  heading TEXT NOT NULL DEFAULT '',
  tokens INTEGER NOT NULL DEFAULT 0);
CREATE INDEX chunks_by_doc ON chunks(doc_id, seq);
CREATE TABLE embeddings(
  chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  vector BLOB NOT NULL);
CREATE TABLE chunk_terms(
  chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  data BLOB NOT NULL);
)sql";

void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    auto b = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

DocumentRow ReadDoc(const sql::Stmt& s) {
  DocumentRow d;
  d.id = s.Int(0);
  d.source = s.Text(1);
  d.content_hash = s.Text(2);
  d.metadata = s.Text(3);
  d.title = s.Text(4);
  d.bytes = s.Int(5);
  d.version = s.Int(6);
  d.created_at = s.Text(7);
  d.updated_at = s.Text(8);
  d.chunks = s.Int(9);
  return d;
}

const char* kDocColumns =
    "SELECT d.id, d.source, d.content_hash, d.metadata, d.title, d.bytes, d.version, d.created_at, d.updated_at, "
    "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id) FROM documents d ";

}  // namespace

std::string Catalog::EncodeTerms(const std::vector<std::string>& terms) {
  std::map<std::string_view, uint32_t> tf;
  for (const auto& t : terms) ++tf[t];
  std::string out;
  PutVarint(&out, terms.size());  // document length in terms
  for (const auto& [t, n] : tf) {
    PutVarint(&out, t.size());
    out.append(t);
    PutVarint(&out, n);
  }
  return out;
}

void Catalog::DecodeTerms(std::string_view blob, const std::function<void(std::string_view, uint32_t)>& fn) {
  uint64_t len, tf;
  if (!GetVarint(&blob, &len)) return;
  fn(std::string_view(), static_cast<uint32_t>(len));  // empty term: the length record
  while (!blob.empty()) {
    if (!GetVarint(&blob, &len) || len > blob.size()) return;
    std::string_view term = blob.substr(0, len);
    blob.remove_prefix(len);
    if (!GetVarint(&blob, &tf)) return;
    fn(term, static_cast<uint32_t>(tf));
  }
}

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& dir, bool create) {
  std::error_code ec;
  const std::string path = dir + "/quarry.db";
  if (!fs::exists(path, ec)) {
    if (!create) {
      return Status::NotFound("no knowledge base at " + dir + " (add documents to create one, or choose another directory)").About("dir");
    }
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError(dir + ": cannot create: " + ec.message());
  }
  auto db = sql::Db::Open(path, false);
  if (!db.ok()) return db.status();
  std::unique_ptr<Catalog> c(new Catalog(dir, std::move(*db)));
  QUARRY_RETURN_IF_ERROR(c->db_->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  QUARRY_RETURN_IF_ERROR(c->Migrate());
  return c;
}

Status Catalog::Migrate() {
  auto version = [&]() -> Result<int64_t> {
    auto st = db_->Prepare("PRAGMA user_version");
    if (!st.ok()) return st.status();
    const int64_t v = st->Step() ? st->Int(0) : 0;
    QUARRY_RETURN_IF_ERROR(st->status());
    return v;  // the statement is finalized here: no read transaction stays open
  };
  auto v0 = version();
  if (!v0.ok()) return v0.status();
  if (*v0 == kSchemaVersion) return Status::OK();
  // Several processes may create the same base at once: the first to take the
  // write lock migrates, the others wait for it and then find nothing to do.
  sql::Transaction tx(db_.get());
  QUARRY_RETURN_IF_ERROR(tx.status());
  auto cur = version();
  if (!cur.ok()) return cur.status();
  const int64_t v = *cur;
  if (v > kSchemaVersion) {
    return Status::Unsupported(db_->path() + ": schema version " + std::to_string(v) +
                               " is newer than this quarry understands (" + std::to_string(kSchemaVersion) + "); upgrade quarry");
  }
  if (v == kSchemaVersion) return Status::OK();
  if (v < 1) {
    QUARRY_RETURN_IF_ERROR(db_->Exec(kSchemaV1));
    QUARRY_RETURN_IF_ERROR(db_->Exec("INSERT OR REPLACE INTO meta VALUES('generation', '0')"));
  }
  // Future migrations: if (v < 2) { ... }
  QUARRY_RETURN_IF_ERROR(db_->Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)));
  return tx.Commit();
}

Result<int64_t> Catalog::Generation() {
  auto v = GetMeta("generation");
  if (!v.ok()) return v.status();
  return v->empty() ? int64_t{0} : std::stoll(*v);
}

Result<std::string> Catalog::GetMeta(const std::string& key) {
  auto st = db_->Prepare("SELECT value FROM meta WHERE key = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, key);
  std::string v = st->Step() ? st->Text(0) : std::string();
  if (!st->status().ok()) return st->status();
  return v;
}

Status Catalog::SetMeta(const std::string& key, const std::string& value) {
  auto st = db_->Prepare("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)");
  if (!st.ok()) return st.status();
  return st->Bind(1, key).Bind(2, value).Exec();
}

Result<std::optional<DocumentRow>> Catalog::FindBySource(const std::string& source) {
  auto st = db_->Prepare(std::string(kDocColumns) + "WHERE d.source = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, source);
  if (st->Step()) return std::optional<DocumentRow>(ReadDoc(*st));
  if (!st->status().ok()) return st->status();
  return std::optional<DocumentRow>();
}

Result<std::optional<DocumentRow>> Catalog::GetDocument(int64_t id) {
  auto st = db_->Prepare(std::string(kDocColumns) + "WHERE d.id = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, id);
  if (st->Step()) return std::optional<DocumentRow>(ReadDoc(*st));
  if (!st->status().ok()) return st->status();
  return std::optional<DocumentRow>();
}

Result<std::vector<DocumentRow>> Catalog::ListDocuments() {
  auto st = db_->Prepare(std::string(kDocColumns) + "ORDER BY d.id");
  if (!st.ok()) return st.status();
  std::vector<DocumentRow> out;
  while (st->Step()) out.push_back(ReadDoc(*st));
  if (!st->status().ok()) return st->status();
  return out;
}

Result<std::vector<ChunkRow>> Catalog::DocumentChunks(int64_t doc_id) {
  auto st = db_->Prepare("SELECT id, doc_id, seq, text, start_char, end_char, heading, tokens FROM chunks WHERE doc_id = ? ORDER BY seq");
  if (!st.ok()) return st.status();
  st->Bind(1, doc_id);
  std::vector<ChunkRow> out;
  while (st->Step()) {
    out.push_back({st->Int(0), st->Int(1), static_cast<int>(st->Int(2)), st->Text(3), st->Int(4), st->Int(5), st->Text(6),
                   static_cast<int>(st->Int(7))});
  }
  if (!st->status().ok()) return st->status();
  return out;
}

Result<Catalog::PutResult> Catalog::PutDocument(const DocumentRow& doc, const std::vector<ChunkInput>& chunks,
                                                const std::string& model_id) {
  sql::Transaction tx(db_.get());
  QUARRY_RETURN_IF_ERROR(tx.status());
  PutResult result;
  int64_t version = 1;
  std::string created;
  {
    auto old = db_->Prepare("SELECT id, version, created_at, content_hash FROM documents WHERE source = ?");
    if (!old.ok()) return old.status();
    old->Bind(1, doc.source);
    if (old->Step()) {
      if (old->Text(3) == doc.content_hash) {
        const int64_t id = old->Int(0);
        const bool adds_vectors = std::any_of(chunks.begin(), chunks.end(), [](const ChunkInput& c) { return !c.vector.empty(); });
        if (!adds_vectors) return PutResult{id, PutResult::kUnchanged};
        auto has = HasEmbeddings(id);
        if (!has.ok()) return has.status();
        if (*has) return PutResult{id, PutResult::kUnchanged};
        // Stored before without embeddings: new chunks, the same document.
        auto del = db_->Prepare("DELETE FROM chunks WHERE doc_id = ?");
        if (!del.ok()) return del.status();
        QUARRY_RETURN_IF_ERROR(del->Bind(1, id).Exec());
        QUARRY_RETURN_IF_ERROR(PutChunks(id, chunks, model_id));
        QUARRY_RETURN_IF_ERROR(tx.Commit());
        return PutResult{id, PutResult::kEmbedded};
      }
      result.outcome = PutResult::kReplaced;
      version = old->Int(1) + 1;
      created = old->Text(2);
      auto del = db_->Prepare("DELETE FROM documents WHERE id = ?");
      if (!del.ok()) return del.status();
      QUARRY_RETURN_IF_ERROR(del->Bind(1, old->Int(0)).Exec());
    }
    QUARRY_RETURN_IF_ERROR(old->status());
  }
  auto ins = db_->Prepare(
      "INSERT INTO documents(source, content_hash, metadata, title, bytes, version, created_at) "
      "VALUES(?, ?, ?, ?, ?, ?, coalesce(?, strftime('%Y-%m-%dT%H:%M:%SZ','now')))");
  if (!ins.ok()) return ins.status();
  ins->Bind(1, doc.source).Bind(2, doc.content_hash).Bind(3, doc.metadata.empty() ? "{}" : doc.metadata)
      .Bind(4, doc.title).Bind(5, doc.bytes).Bind(6, version);
  if (created.empty()) ins->BindNull(7); else ins->Bind(7, created);
  QUARRY_RETURN_IF_ERROR(ins->Exec());
  result.doc_id = db_->LastInsertId();
  QUARRY_RETURN_IF_ERROR(PutChunks(result.doc_id, chunks, model_id));
  QUARRY_RETURN_IF_ERROR(tx.Commit());
  return result;
}

// Inside PutDocument's transaction; also moves the generation.
Status Catalog::PutChunks(int64_t doc_id, const std::vector<ChunkInput>& chunks, const std::string& model_id) {
  auto ic = db_->Prepare("INSERT INTO chunks(doc_id, seq, text, start_char, end_char, heading, tokens) VALUES(?,?,?,?,?,?,?)");
  auto ie = db_->Prepare("INSERT INTO embeddings(chunk_id, model, vector) VALUES(?,?,?)");
  auto it = db_->Prepare("INSERT INTO chunk_terms(chunk_id, data) VALUES(?,?)");
  if (!ic.ok()) return ic.status();
  if (!ie.ok()) return ie.status();
  if (!it.ok()) return it.status();
  for (const ChunkInput& c : chunks) {
    ic->Reset();
    ic->Bind(1, doc_id).Bind(2, c.row.seq).Bind(3, c.text).Bind(4, c.row.start).Bind(5, c.row.end)
        .Bind(6, c.row.heading).Bind(7, c.row.tokens);
    QUARRY_RETURN_IF_ERROR(ic->Exec());
    const int64_t chunk_id = db_->LastInsertId();
    if (!c.vector.empty()) {
      ie->Reset();
      ie->Bind(1, chunk_id).Bind(2, model_id).BindBlob(3, c.vector.data(), c.vector.size() * sizeof(float));
      QUARRY_RETURN_IF_ERROR(ie->Exec());
    }
    it->Reset();
    it->Bind(1, chunk_id).BindBlob(2, c.encoded_terms.data(), c.encoded_terms.size());
    QUARRY_RETURN_IF_ERROR(it->Exec());
  }
  return db_->Exec("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'");
}

Status Catalog::DeleteDocument(int64_t id) {
  sql::Transaction tx(db_.get());
  QUARRY_RETURN_IF_ERROR(tx.status());
  auto del = db_->Prepare("DELETE FROM documents WHERE id = ?");
  if (!del.ok()) return del.status();
  QUARRY_RETURN_IF_ERROR(del->Bind(1, id).Exec());
  QUARRY_RETURN_IF_ERROR(db_->Exec("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"));
  return tx.Commit();
}

Result<CatalogStats> Catalog::Stats() {
  CatalogStats s;
  auto st = db_->Prepare(
      "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks), (SELECT count(*) FROM embeddings), "
      "(SELECT coalesce(sum(bytes),0) FROM documents)");
  if (!st.ok()) return st.status();
  if (st->Step()) s.documents = st->Int(0), s.chunks = st->Int(1), s.embeddings = st->Int(2), s.bytes = st->Int(3);
  QUARRY_RETURN_IF_ERROR(st->status());
  auto m = GetMeta("embed_model");
  if (m.ok()) s.embed_model = *m;
  auto mid = GetMeta("embed_model_id");
  if (mid.ok()) s.embed_model_id = *mid;
  auto dim = GetMeta("embed_dim");
  if (dim.ok() && !dim->empty()) s.embed_dim = std::stoll(*dim);
  auto g = Generation();
  if (g.ok()) s.generation = *g;
  s.schema_version = kSchemaVersion;
  return s;
}

Result<int64_t> Catalog::CountEmbeddings(const std::string& model_id) {
  auto st = db_->Prepare("SELECT count(*) FROM embeddings WHERE model = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, model_id);
  int64_t n = st->Step() ? st->Int(0) : 0;
  QUARRY_RETURN_IF_ERROR(st->status());
  return n;
}

Result<bool> Catalog::HasEmbeddings(int64_t doc_id) {
  auto st = db_->Prepare("SELECT EXISTS(SELECT 1 FROM chunks c JOIN embeddings e ON e.chunk_id = c.id WHERE c.doc_id = ?)");
  if (!st.ok()) return st.status();
  st->Bind(1, doc_id);
  const bool has = st->Step() && st->Int(0) != 0;
  QUARRY_RETURN_IF_ERROR(st->status());
  return has;
}

Status Catalog::ForEachChunkTerms(const std::function<void(int64_t, int64_t, std::string_view)>& fn) {
  auto st = db_->Prepare("SELECT t.chunk_id, c.doc_id, t.data FROM chunk_terms t JOIN chunks c ON c.id = t.chunk_id ORDER BY t.chunk_id");
  if (!st.ok()) return st.status();
  while (st->Step()) fn(st->Int(0), st->Int(1), st->Blob(2));
  return st->status();
}

Status Catalog::ForEachEmbedding(const std::string& model_id, const std::function<void(int64_t, const float*, size_t)>& fn) {
  auto st = db_->Prepare("SELECT chunk_id, vector FROM embeddings WHERE model = ? ORDER BY chunk_id");
  if (!st.ok()) return st.status();
  st->Bind(1, model_id);
  std::vector<float> buf;
  while (st->Step()) {
    std::string_view b = st->Blob(1);
    buf.resize(b.size() / sizeof(float));
    std::memcpy(buf.data(), b.data(), buf.size() * sizeof(float));
    fn(st->Int(0), buf.data(), buf.size());
  }
  return st->status();
}

Status Catalog::MapForLookups() {
  // A connection that looks chunks up by id (a searcher) reads through a
  // memory map: its hits are rows on random pages that SQLite's own 2 MB cache
  // mostly lacks, and a pread() per page was a quarter of a BM25 search over
  // 100k chunks. Connections that only write or scan (ingest) keep plain reads,
  // so their RSS does not count the file's pages.
  if (!mapped_) {
    QUARRY_RETURN_IF_ERROR(db_->Exec("PRAGMA mmap_size=1073741824"));
    mapped_ = true;
  }
  return Status::OK();
}

// One statement for all ids ("[1,2,3]" through json_each): one read
// transaction (one lock round trip on the database file) instead of one per
// chunk, which dominated a search.
std::string Catalog::IdList(const std::vector<int64_t>& ids) {
  std::string list = "[";
  for (int64_t id : ids) list += (list.size() > 1 ? "," : "") + std::to_string(id);
  return list + "]";
}

Result<std::vector<std::pair<int64_t, int64_t>>> Catalog::ChunkDocuments(const std::vector<int64_t>& ids) {
  QUARRY_RETURN_IF_ERROR(MapForLookups());
  auto st = db_->Prepare("SELECT c.id, c.doc_id FROM json_each(?) j JOIN chunks c ON c.id = j.value");
  if (!st.ok()) return st.status();
  st->Bind(1, IdList(ids));
  std::vector<std::pair<int64_t, int64_t>> out;
  out.reserve(ids.size());
  while (st->Step()) out.emplace_back(st->Int(0), st->Int(1));
  QUARRY_RETURN_IF_ERROR(st->status());
  return out;
}

Result<std::vector<Catalog::ChunkView>> Catalog::GetChunks(const std::vector<int64_t>& ids) {
  QUARRY_RETURN_IF_ERROR(MapForLookups());
  auto st = db_->Prepare(
      "SELECT c.id, c.doc_id, c.seq, c.text, c.start_char, c.end_char, c.heading, c.tokens, d.source, d.title, d.metadata "
      "FROM json_each(?) j JOIN chunks c ON c.id = j.value JOIN documents d ON d.id = c.doc_id");
  if (!st.ok()) return st.status();
  st->Bind(1, IdList(ids));
  std::vector<ChunkView> out;
  out.reserve(ids.size());
  while (st->Step()) {
    ChunkView v;
    v.chunk = {st->Int(0), st->Int(1), static_cast<int>(st->Int(2)), st->Text(3), st->Int(4), st->Int(5), st->Text(6),
               static_cast<int>(st->Int(7))};
    v.source = st->Text(8);
    v.title = st->Text(9);
    v.metadata = st->Text(10);
    out.push_back(std::move(v));
  }
  QUARRY_RETURN_IF_ERROR(st->status());
  return out;
}

Result<std::vector<float>> Catalog::GetEmbedding(int64_t chunk_id, const std::string& model_id) {
  auto st = db_->Prepare("SELECT vector FROM embeddings WHERE chunk_id = ? AND model = ?");
  if (!st.ok()) return st.status();
  st->Bind(1, chunk_id).Bind(2, model_id);
  std::vector<float> v;
  if (st->Step()) {
    std::string_view b = st->Blob(0);
    v.resize(b.size() / sizeof(float));
    std::memcpy(v.data(), b.data(), v.size() * sizeof(float));
  }
  QUARRY_RETURN_IF_ERROR(st->status());
  return v;
}

}  // namespace quarry
