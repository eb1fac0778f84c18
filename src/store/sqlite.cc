#include "store/sqlite.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace quarry::sql {
namespace {

constexpr int kBusyTimeoutMs = 10000;

// A damaged database says what to do about it.
Status Error(int rc, const std::string& path, const std::string& msg) {
  if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
    return Status::Corruption(path + ": " + msg +
                              "; the catalog is damaged: restore quarry.db from a backup, or move the folder aside "
                              "and add the source documents again");
  }
  return Status::IOError(path + ": " + msg);
}

}  // namespace

Stmt::~Stmt() {
  if (s_ == nullptr) return;
  if (owner_ != nullptr) {
    owner_->GiveBack(s_);
  } else {
    sqlite3_finalize(s_);
  }
}

bool Stmt::Step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) status_ = Error(rc, sqlite3_db_filename(db_, "main") ? sqlite3_db_filename(db_, "main") : "sqlite", sqlite3_errmsg(db_));
  return false;
}

Status Stmt::Exec() {
  while (Step()) {
  }
  Status s = status_;
  sqlite3_reset(s_);
  return s;
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool read_only) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::IOError(path + ": cannot open database: " + msg);
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<Db>(new Db(db, path));
}

Db::~Db() {
  for (auto& [sql, s] : idle_) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  Stmt st;
  st.db_ = db_;
  st.owner_ = this;
  if (auto it = idle_.find(sql); it != idle_.end()) {
    st.s_ = it->second;
    idle_.erase(it);
    return st;
  }
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &st.s_, nullptr);
  if (rc != SQLITE_OK) return Status::Internal(std::string("sqlite prepare: ") + sqlite3_errmsg(db_) + " in: " + std::string(sql));
  return st;
}

void Db::GiveBack(sqlite3_stmt* s) {
  // Reset ends the statement's read transaction: a cached statement holds no lock.
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  const char* sql = sqlite3_sql(s);
  if (sql == nullptr || idle_.size() >= kMaxCached || !idle_.emplace(sql, s).second) sqlite3_finalize(s);
}

Status Db::Exec(const std::string& sql) {
  // SQLite answers SQLITE_BUSY without waiting where waiting could deadlock
  // (a journal-mode change, a lock upgrade racing another writer). Outside a
  // transaction the statement can simply run again, until the busy timeout.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  for (int backoff_ms = 1;; backoff_ms = std::min(backoff_ms * 2, 100)) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc == SQLITE_OK) return Status::OK();
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    if ((rc & 0xff) == SQLITE_BUSY && sqlite3_get_autocommit(db_) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
      continue;
    }
    return Error(rc, path_, msg);
  }
}

}  // namespace quarry::sql
