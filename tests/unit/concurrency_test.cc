// Several threads on one knowledge base, each with its own KnowledgeBase
// object (the documented way to share a base): searches keep being answered
// while another thread ingests and removes. Run under ThreadSanitizer by
// scripts/test (the `tsan` preset).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "kb/shared_index.h"
#include "quarry/knowledge_base.h"
#include "test_util.h"
#include "unit/fixtures.h"

namespace quarry {
namespace {

TEST(Concurrency, SearchesKeepAnsweringWhileAnotherThreadIngests) {
  test::TempDir d;
  const std::string docs = d.str() + "/docs";
  std::filesystem::create_directories(docs + "/late");
  for (int i = 0; i < 20; ++i) test::WriteFile(docs + "/a" + std::to_string(i) + ".txt", "water note " + std::to_string(i));
  for (int i = 0; i < 60; ++i) test::WriteFile(docs + "/late/b" + std::to_string(i) + ".txt", "late water " + std::to_string(i));
  KnowledgeBaseOptions ko;
  ko.dir = d.str() + "/kb";
  AddOptions ao;
  ao.embed = false;
  {
    auto kb = KnowledgeBase::Open(ko, true);
    ASSERT_TRUE(kb.ok());
    ASSERT_TRUE((*kb)->Add({docs + "/a0.txt"}, ao).ok());
  }
  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, errors{0};
  std::string first_error;
  std::mutex error_mu;
  auto note = [&](const Status& s) {
    ++errors;
    std::lock_guard<std::mutex> l(error_mu);
    if (first_error.empty()) first_error = s.message();
  };
  auto searcher = [&] {
    auto kb = KnowledgeBase::Open(ko, false);
    if (!kb.ok()) return note(kb.status());
    SearchOptions so;
    so.mode = SearchOptions::Mode::kBm25;
    while (!done.load()) {
      auto hits = (*kb)->Search("water", so);
      if (!hits.ok()) return note(hits.status());
      if (hits->empty()) return note(Status::Internal("a search found nothing"));
      ++searches;
    }
  };
  std::thread s1(searcher), s2(searcher);
  std::thread writer([&] {
    auto kb = KnowledgeBase::Open(ko, false);
    if (!kb.ok()) return note(kb.status()), done.store(true);
    for (int i = 1; i < 20; ++i) {
      if (auto r = (*kb)->Add({docs + "/a" + std::to_string(i) + ".txt"}, ao); !r.ok()) note(r.status());
    }
    if (auto r = (*kb)->Add({docs + "/late"}, ao); !r.ok()) note(r.status());
    if (auto r = (*kb)->Remove(docs + "/late/b1*"); !r.ok()) note(r.status());
    done.store(true);
  });
  writer.join();
  s1.join();
  s2.join();
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_GT(searches.load(), 0);
  auto kb = KnowledgeBase::Open(ko, false);
  ASSERT_TRUE(kb.ok());
  auto stats = (*kb)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->documents, 20 + 60 - 11);  // b1, b10..b19 removed
}

// Handles on one base in one process share its derived indexes: however many
// ask for a generation at once, it is opened once (after an upload, every
// searcher of a server used to rebuild the same index at the same moment).
TEST(Concurrency, AGenerationIsOpenedOnceForEveryHandleThatAsks) {
  struct Index {
    int generation;
  };
  std::atomic<int> opened{0};
  auto opener = [&](int generation) {
    return [&opened, generation]() -> Result<std::unique_ptr<Index>> {
      ++opened;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // long enough for every thread to ask meanwhile
      return std::make_unique<Index>(Index{generation});
    };
  };
  std::vector<std::shared_ptr<const Index>> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i) {
    threads.emplace_back([&, i] {
      int64_t served = 0;
      auto r = SharedIndex<Index>::Get("test-base", 1, opener(1), false, &served);
      if (r.ok()) got[i] = *r;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(opened.load(), 1);
  for (const auto& g : got) {
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g, got[0]);  // one object, shared
  }
  // A new generation opens anew; an old one is not served for it.
  int64_t served = 0;
  auto next = SharedIndex<Index>::Get("test-base", 2, opener(2), false, &served);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ((*next)->generation, 2);
  EXPECT_EQ(opened.load(), 2);
  // Another base (key) has its own.
  auto other = SharedIndex<Index>::Get("other-base", 2, opener(2), false, &served);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *next);
  // A failed open is reported, and the next caller tries again.
  auto failing = [] { return Result<std::unique_ptr<Index>>(Status::IOError("disk on fire")); };
  EXPECT_EQ(SharedIndex<Index>::Get("test-base", 3, failing, false, &served).status().message(), "disk on fire");
  auto retried = SharedIndex<Index>::Get("test-base", 3, opener(3), false, &served);
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ((*retried)->generation, 3);
  EXPECT_EQ(served, 3);

  // While generation 4 is being opened, a searcher (stale_ok) is answered
  // from generation 3 at once; a writer waits for 4.
  std::atomic<bool> release{false}, opening{false};
  auto slow = [&]() -> Result<std::unique_ptr<Index>> {
    opening = true;
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return std::make_unique<Index>(Index{4});
  };
  std::shared_ptr<const Index> fresh;
  std::thread opener4([&] {
    int64_t g = 0;
    auto r = SharedIndex<Index>::Get("test-base", 4, slow, false, &g);
    if (r.ok()) fresh = *r;
  });
  while (!opening) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  int64_t stale_gen = 0;
  auto stale = SharedIndex<Index>::Get("test-base", 4, opener(4), true, &stale_gen);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ((*stale)->generation, 3);
  EXPECT_EQ(stale_gen, 3);
  std::shared_ptr<const Index> waited;
  std::thread writer([&] {
    int64_t g = 0;
    auto r = SharedIndex<Index>::Get("test-base", 4, opener(4), false, &g);
    if (r.ok()) waited = *r;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(waited, nullptr);  // still waiting
  release = true;
  opener4.join();
  writer.join();
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(waited, fresh);
  EXPECT_EQ(opened.load(), 4);  // as before: the stale reader and the writer opened nothing
  fresh.reset();
  waited.reset();
  stale = Status::NotFound("released");

  // Nothing keeps an index alive once no handle holds it.
  std::weak_ptr<const Index> weak = *retried;
  got.clear();
  next = Status::NotFound("released");
  other = Status::NotFound("released");
  retried = Status::NotFound("released");
  EXPECT_TRUE(weak.expired());
}

// A base deleted and created again at the same path, while a handle on the
// old one is still open, is another base: the two never share an index, even
// at the same generation.
TEST(Concurrency, ABaseCreatedAgainAtTheSamePathSharesNothingWithTheOld) {
  test::TempDir d;
  test::WriteFile(d.str() + "/old.txt", "lighthouse keeper on the northern cape");
  test::WriteFile(d.str() + "/new.txt", "volcanic basalt columns by the sea");
  KnowledgeBaseOptions ko;
  ko.dir = d.str() + "/kb";
  AddOptions ao;
  ao.embed = false;
  SearchOptions so;
  so.mode = SearchOptions::Mode::kBm25;
  auto old_kb = KnowledgeBase::Open(ko, true);
  ASSERT_TRUE(old_kb.ok());
  ASSERT_TRUE((*old_kb)->Add({d.str() + "/old.txt"}, ao).ok());
  std::filesystem::remove_all(ko.dir);
  auto new_kb = KnowledgeBase::Open(ko, true);
  ASSERT_TRUE(new_kb.ok());
  ASSERT_TRUE((*new_kb)->Add({d.str() + "/new.txt"}, ao).ok());
  auto hits = (*new_kb)->Search("lighthouse keeper", so);
  ASSERT_TRUE(hits.ok()) << hits.status().message();
  EXPECT_TRUE(hits->empty());
  hits = (*new_kb)->Search("basalt", so);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_NE(hits->at(0).chunk.text.find("basalt"), std::string::npos);
  auto old_hits = (*old_kb)->Search("lighthouse", so);
  ASSERT_TRUE(old_hits.ok());
  ASSERT_EQ(old_hits->size(), 1u);
}

}  // namespace
}  // namespace quarry
