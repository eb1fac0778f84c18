// Several threads on one knowledge base, each with its own KnowledgeBase
// object (the documented way to share a base): searches keep being answered
// while another thread ingests and removes. Run under ThreadSanitizer by
// scripts/test (the `tsan` preset).
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

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

}  // namespace
}  // namespace quarry
