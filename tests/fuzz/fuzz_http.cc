// libFuzzer target: the HTTP server. Input: the raw bytes of one request
// (request line, headers, body), sent to a `quarry serve` Server running in
// this process on loopback; the server's request parser (cpp-httplib) and
// every handler behind it (JSON bodies, multipart uploads, routes with ids)
// run under ASan + UBSan. The knowledge base is BM25-only and the models do
// not exist, so chat and embedding requests fail fast after validation.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "quarry/serve.h"

namespace {

quarry::Server* StartServer() {
  static std::unique_ptr<quarry::Server> server = [] {
    char tmpl[] = "/tmp/quarry-fuzz-http-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    quarry::ServeOptions o;
    o.port = 0;
    o.kb.dir = dir + "/kb";
    o.kb.embed_model = dir + "/no-such-embedder.gguf";
    o.llm = dir + "/no-such-generator.gguf";
    o.add.embed = false;
    o.max_body_bytes = 256 << 10;
    o.read_timeout_s = 2;
    o.queue_timeout_s = 1;
    o.http_threads = 4;
    auto s = quarry::Server::Start(o);
    if (!s.ok()) {
      fprintf(stderr, "fuzz_http: cannot start the server: %s\n", s.status().message().c_str());
      abort();
    }
    return std::move(*s);
  }();
  return server.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  quarry::Server* server = StartServer();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(server->port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    size_t sent = 0;
    while (sent < size) {
      const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    shutdown(fd, SHUT_WR);  // end of request: the server answers or closes now
    char buf[4096];
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
  }
  close(fd);
  return 0;
}
