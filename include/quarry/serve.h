// `quarry serve`: the knowledge base over HTTP. An OpenAI-compatible API
// (POST /v1/chat/completions with retrieval and citations, POST
// /v1/embeddings, GET /v1/models) and a native one (POST /v1/search,
// /v1/documents to upload, list, show and delete, GET /healthz, /metrics,
// /openapi.json). Built on include/quarry/ only, like the CLI.
//
// Threads and ownership: a Server owns its listening thread, its HTTP worker
// threads and every KnowledgeBase and Generator it opens. Stop() may be
// called from any thread (a signal-handling thread included); the Server
// must outlive the calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "quarry/knowledge_base.h"
#include "quarry/model.h"
#include "quarry/status.h"

namespace quarry {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: any free port (Server::port() says which)
  KnowledgeBaseOptions kb;          // the base served (created when missing)
  AddOptions add;                   // how uploads are ingested
  std::string llm;                  // chat model spec (OpenGenerator); default: the registry's default generator
  GeneratorOptions generator;       // context and threads of each generation slot
  int generators = 1;               // chat requests decoded at once (each slot is one model context)
  int max_queued = 8;               // chat requests allowed to wait for a slot; beyond that: 429
  int searchers = 4;                // knowledge base handles for searches, reads and embeddings
  int http_threads = 16;            // connections served at once (streams hold one each)
  // Bearer keys. Empty: no authentication, and only a loopback host may be bound.
  std::vector<std::string> api_keys;
  uint64_t max_body_bytes = 64ull << 20;  // requests and uploads
  double queue_timeout_s = 120;     // longest wait for a generation slot (then 503)
  double generation_timeout_s = 300;  // a chat answer stops here (finish_reason "length")
  double read_timeout_s = 30;       // a client that sends nothing for this long is dropped
  std::vector<std::string> cors_origins;  // origins allowed by CORS ("*" for any); empty: CORS off
  std::string upload_dir;           // where uploaded files are kept; default: <kb.dir>/uploads
  // A cross-encoder GGUF (loaded at Start): searches and chat retrieval let it
  // reorder their first passages unless a request says "rerank": false.
  std::string rerank_model;
  // The most passages one request may have the cross-encoder read: the
  // reranker is shared, so one deep request holds up every other. Requests
  // without rerank_depth get min(the default, this); above it: 400.
  int max_rerank_depth = 100;

  // Ranges, and the loopback rule for servers without keys.
  Status Validate() const;
};

class Server {
 public:
  // Validates, opens (or creates) the knowledge base, binds and starts
  // serving on background threads. Models load on first use.
  static Result<std::unique_ptr<Server>> Start(const ServeOptions& options);
  ~Server();  // Stop() and Wait()

  int port() const;
  std::string url() const;  // "http://HOST:PORT"

  // Stops accepting connections; requests in flight run to completion.
  void Stop();
  // Blocks until the server has stopped and every request has finished.
  void Wait();

 private:
  Server();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quarry
