// Derived indexes shared by every handle on a base within one process.
//
// A BM25 or vector index is immutable once opened, and a server keeps several
// KnowledgeBase handles on one base. Each handle used to load (or, racing the
// writer, rebuild) its own copy whenever the catalog generation moved: after
// an upload, every searcher stalled on the same work at once. Here an index
// is opened once per (key, generation): the first handle to ask opens it,
// and later ones share it. Meanwhile, a searcher that may see the previous
// generation gets the previous index (its hits on deleted chunks are dropped
// by the caller, as always); a writer, which must see its own changes, waits
// for the open. The cache holds weak references: an index lives as long as a
// handle uses it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "quarry/status.h"

namespace quarry {

template <class T>
class SharedIndex {
 public:
  using Opener = std::function<Result<std::unique_ptr<T>>()>;

  // The index `key` names at `generation` (or a later one): shared when one
  // is open, else opened by `open`, one caller at a time per key. While
  // another caller opens it, one that passes `stale_ok` gets the last index
  // opened, if any, instead of waiting. *served is the generation returned.
  static Result<std::shared_ptr<const T>> Get(const std::string& key, int64_t generation, const Opener& open, bool stale_ok,
                                              int64_t* served) {
    State& s = state();
    std::unique_lock<std::mutex> lock(s.mu);
    Entry* e = &s.entries[key];  // std::map: stable while the entry exists
    for (;;) {
      auto p = e->index.lock();
      if (p && (e->generation >= generation || (e->opening && stale_ok))) {
        *served = e->generation;
        return p;
      }
      if (!e->opening) break;
      s.cv.wait(lock);
    }
    e->opening = true;
    lock.unlock();
    Result<std::unique_ptr<T>> r = Status::Internal("index not opened");
    try {
      r = open();
    } catch (...) {
      Finish(s, e, nullptr, generation);
      throw;
    }
    if (!r.ok()) {
      Finish(s, e, nullptr, generation);
      return r.status();
    }
    std::shared_ptr<const T> p(std::move(*r));
    Finish(s, e, p, generation);
    *served = generation;
    return p;
  }

 private:
  struct Entry {
    std::weak_ptr<const T> index;
    int64_t generation = -1;
    bool opening = false;
  };
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Entry> entries;
  };
  static State& state() {
    static State* s = new State();  // never destroyed: handles may outlive static destruction order
    return *s;
  }
  static void Finish(State& s, Entry* e, const std::shared_ptr<const T>& p, int64_t generation) {
    std::lock_guard<std::mutex> lock(s.mu);
    e->opening = false;
    if (p && generation >= e->generation) {
      e->index = p;
      e->generation = generation;
    }
    s.cv.notify_all();
  }
};

}  // namespace quarry
