// Thin RAII over sqlite3: a connection and prepared statements. Errors as Status.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "quarry/status.h"

namespace quarry::sql {

class Db;

class Stmt {
 public:
  Stmt() = default;
  Stmt(Stmt&& o) noexcept : s_(o.s_), db_(o.db_), owner_(o.owner_) { o.s_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept {
    std::swap(s_, o.s_);
    std::swap(db_, o.db_);
    std::swap(owner_, o.owner_);
    return *this;
  }
  ~Stmt();

  Stmt& Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); return *this; }
  Stmt& Bind(int i, int v) { sqlite3_bind_int64(s_, i, v); return *this; }
  Stmt& Bind(int i, double v) { sqlite3_bind_double(s_, i, v); return *this; }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& BindBlob(int i, const void* p, size_t n) {
    sqlite3_bind_blob(s_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& BindNull(int i) { sqlite3_bind_null(s_, i); return *this; }

  // true: a row is ready; false: done. Errors land in status().
  bool Step();
  Status Exec();  // steps to completion
  void Reset() { sqlite3_reset(s_); sqlite3_clear_bindings(s_); }
  const Status& status() const { return status_; }

  int64_t Int(int c) const { return sqlite3_column_int64(s_, c); }
  double Double(int c) const { return sqlite3_column_double(s_, c); }
  std::string Text(int c) const {
    const unsigned char* t = sqlite3_column_text(s_, c);
    return t ? std::string(reinterpret_cast<const char*>(t), static_cast<size_t>(sqlite3_column_bytes(s_, c))) : std::string();
  }
  std::string_view Blob(int c) const {
    const void* b = sqlite3_column_blob(s_, c);
    return b ? std::string_view(static_cast<const char*>(b), static_cast<size_t>(sqlite3_column_bytes(s_, c))) : std::string_view();
  }
  bool IsNull(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }

 private:
  friend class Db;
  sqlite3_stmt* s_ = nullptr;
  sqlite3* db_ = nullptr;
  Db* owner_ = nullptr;  // takes the statement back, reset, for the next Prepare of its SQL
  Status status_;
};

class Db {
 public:
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool read_only);
  ~Db();
  // A statement of this SQL: one the connection prepared before and got back
  // (compiling the SQL again was a tenth of a search), else a new one. A
  // Stmt must not outlive its Db.
  Result<Stmt> Prepare(std::string_view sql);
  Status Exec(const std::string& sql);  // one or more statements, no results
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  friend class Stmt;
  static constexpr size_t kMaxCached = 64;
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void GiveBack(sqlite3_stmt* s);
  sqlite3* db_;
  std::string path_;
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  // By SQL text (looked up without a copy of it); reset, bindings cleared.
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> idle_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db* db) : db_(db) { status_ = db_->Exec("BEGIN IMMEDIATE"); }
  ~Transaction() {
    if (status_.ok() && !done_) (void)db_->Exec("ROLLBACK");
  }
  const Status& status() const { return status_; }
  Status Commit() {
    if (!status_.ok()) return status_;
    done_ = true;
    return db_->Exec("COMMIT");
  }

 private:
  Db* db_;
  Status status_;
  bool done_ = false;
};

}  // namespace quarry::sql
