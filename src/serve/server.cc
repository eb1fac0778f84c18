// quarry serve: HTTP front end over the public API (include/quarry/ only).
//
// Requests run on cpp-httplib's worker threads. Nothing here is shared
// between requests without a lock: searches, reads and embeddings lease a
// KnowledgeBase from a pool, chat requests lease a Generator slot (a bounded
// queue waits for one; past it, 429), and uploads and deletes go through one
// writer KnowledgeBase under a mutex, so searches keep being answered while a
// file is ingested.
#include "quarry/serve.h"

#include <httplib.h>
#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "quarry/json.h"
#include "quarry/rag.h"
#include "quarry/registry.h"
#include "web_assets.h"

namespace quarry {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The socket a request arrived on (httplib 0.11 does not hand it to handlers):
// the descriptor whose two ends are the request's addresses, or -1. It stays
// this connection's while the handler runs on it.
int ConnectionSocket(const httplib::Request& req) {
  auto numeric = [](const sockaddr_storage& a, socklen_t len, std::string* host, int* port) {
    char h[NI_MAXHOST], p[NI_MAXSERV];
    if (getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
      return false;
    }
    *host = h;
    *port = std::atoi(p);
    return true;
  };
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* e = readdir(dir)) {
    const int fd = std::atoi(e->d_name);
    if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(dir)) continue;
    sockaddr_storage peer{}, self{};
    socklen_t peer_len = sizeof peer, self_len = sizeof self;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&self), &self_len) != 0) {
      continue;  // not a connected socket
    }
    std::string peer_host, self_host;
    int peer_port = -1, self_port = -1;
    if (numeric(peer, peer_len, &peer_host, &peer_port) && numeric(self, self_len, &self_host, &self_port) &&
        peer_port == req.remote_port && self_port == req.local_port && peer_host == req.remote_addr) {
      found = fd;
      break;
    }
  }
  closedir(dir);
  return found;
}

// True once the client has closed (or reset) its end of the connection.
bool PeerClosed(int fd) {
  char c;
  const ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

// Text from documents and models may hold invalid UTF-8: replaced, never thrown.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---------------------------------------------------------------------------
// Errors, in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.

struct HttpError {
  int status = 400;
  std::string message, param, code;
};

const char* ErrorType(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "invalid_request_error";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

json ErrorJson(const HttpError& e) {
  return {{"error",
           {{"message", e.message},
            {"type", ErrorType(e.status)},
            {"param", e.param.empty() ? json(nullptr) : json(e.param)},
            {"code", e.code.empty() ? json(nullptr) : json(e.code)}}}};
}

void SendError(httplib::Response& res, const HttpError& e) {
  res.status = e.status;
  res.set_content(Dump(ErrorJson(e)), "application/json");
}

HttpError FromStatus(const Status& s) {
  HttpError e;
  e.message = s.message();
  e.param = s.option();
  switch (s.code()) {
    case Status::Code::kInvalidArgument: e.status = 400; break;
    case Status::Code::kNotFound: e.status = 404; break;
    case Status::Code::kUnsupported: e.status = 415; break;
    case Status::Code::kCorruption: e.status = 422; break;
    case Status::Code::kUnavailable: e.status = 503; break;
    default: e.status = 500; break;
  }
  return e;
}

void SendJson(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(Dump(j), "application/json");
}

// ---------------------------------------------------------------------------
// Request bodies: a JSON object whose fields are known and of the right type.

class Body {
 public:
  // Fails (400) on anything but a JSON object, or a field not in `known`.
  static bool Parse(const httplib::Request& req, std::initializer_list<const char*> known, Body* out, HttpError* err) {
    out->j_ = json::parse(req.body, nullptr, false);
    if (out->j_.is_discarded() || !out->j_.is_object()) {
      *err = {400, "the request body must be a JSON object", "", "invalid_json"};
      return false;
    }
    const std::set<std::string> allowed(known.begin(), known.end());
    for (const auto& [key, value] : out->j_.items()) {
      if (!allowed.count(key)) {
        std::string list;
        for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        *err = {400, "unknown field '" + key + "' (known: " + list + ")", key, "unknown_field"};
        return false;
      }
    }
    return true;
  }

  const json& raw() const { return j_; }
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }

  // Each getter leaves *out alone when the field is absent or null, and
  // fails with a 400 naming the field when it has the wrong type.
  bool Get(const char* key, std::string* out, HttpError* err) const {
    if (!has(key)) return true;
    if (!j_[key].is_string()) return Wrong(key, "a string", err);
    *out = j_[key].get<std::string>();
    return true;
  }
  bool Get(const char* key, bool* out, HttpError* err) const {
    if (!has(key)) return true;
    if (!j_[key].is_boolean()) return Wrong(key, "true or false", err);
    *out = j_[key].get<bool>();
    return true;
  }
  template <typename Int>
  bool GetInt(const char* key, Int* out, HttpError* err) const {
    if (!has(key)) return true;
    const json& v = j_[key];
    if (!v.is_number_integer()) return Wrong(key, "an integer", err);
    // nlohmann keeps a JSON integer >= 0 as unsigned, a negative one as signed.
    const bool fits = v.is_number_unsigned()
                          ? v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<Int>::max())
                          : std::is_signed_v<Int> && v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<Int>::min());
    if (!fits) {
      *err = {400, "'" + std::string(key) + "' is out of range", key, "invalid_value"};
      return false;
    }
    *out = v.get<Int>();
    return true;
  }
  template <typename Float>
  bool GetNumber(const char* key, Float* out, HttpError* err) const {
    if (!has(key)) return true;
    if (!j_[key].is_number()) return Wrong(key, "a number", err);
    *out = static_cast<Float>(j_[key].get<double>());
    return true;
  }
  bool Get(const char* key, std::vector<std::string>* out, HttpError* err) const {
    if (!has(key)) return true;
    const json& v = j_[key];
    if (v.is_string()) {
      *out = {v.get<std::string>()};
      return true;
    }
    if (!v.is_array()) return Wrong(key, "a string or a list of strings", err);
    out->clear();
    for (const auto& s : v) {
      if (!s.is_string()) return Wrong(key, "a string or a list of strings", err);
      out->push_back(s.get<std::string>());
    }
    return true;
  }

 private:
  static bool Wrong(const char* key, const char* what, HttpError* err) {
    *err = {400, "'" + std::string(key) + "' must be " + what, key, "invalid_type"};
    return false;
  }
  json j_;
};

// ---------------------------------------------------------------------------
// A bounded pool of objects opened on demand (knowledge base handles,
// generation slots). Acquire waits for a free one; past max_waiting waiters
// it refuses at once (overload), and after timeout it gives up.

template <typename T>
class Pool {
 public:
  using Opener = std::function<Result<std::unique_ptr<T>>()>;
  Pool(int size, int max_waiting, Opener open) : size_(size), max_waiting_(max_waiting), open_(std::move(open)) {}

  class Lease {
   public:
    Lease() = default;
    Lease(Pool* pool, std::unique_ptr<T> obj) : pool_(pool), obj_(std::move(obj)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), obj_(std::move(o.obj_)) {}
    Lease& operator=(Lease&& o) noexcept {
      Reset();
      pool_ = o.pool_;
      obj_ = std::move(o.obj_);
      return *this;
    }
    ~Lease() { Reset(); }
    T& operator*() const { return *obj_; }
    T* operator->() const { return obj_.get(); }

   private:
    void Reset() {
      if (obj_) pool_->Release(std::move(obj_));
    }
    Pool* pool_ = nullptr;
    std::unique_ptr<T> obj_;
  };

  enum class Outcome { kOk, kOverloaded, kTimedOut, kFailed };

  Outcome Acquire(double timeout_s, Lease* lease, Status* failure) {
    std::unique_lock<std::mutex> lock(mu_);
    if (free_.empty() && opened_ >= size_) {
      if (waiting_ >= max_waiting_) return Outcome::kOverloaded;
      ++waiting_;
      const bool got = cv_.wait_for(lock, std::chrono::duration<double>(timeout_s),
                                    [&] { return !free_.empty() || opened_ < size_; });
      --waiting_;
      if (!got) return Outcome::kTimedOut;
    }
    if (!free_.empty()) {
      *lease = Lease(this, std::move(free_.back()));
      free_.pop_back();
      ++busy_;
      return Outcome::kOk;
    }
    ++opened_;  // reserve the slot, open outside the lock (loading a model takes seconds)
    lock.unlock();
    auto obj = open_();
    lock.lock();
    if (!obj.ok()) {
      --opened_;
      cv_.notify_one();
      *failure = obj.status();
      return Outcome::kFailed;
    }
    ++busy_;
    *lease = Lease(this, std::move(*obj));
    return Outcome::kOk;
  }

  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }
  int busy() {
    std::lock_guard<std::mutex> lock(mu_);
    return busy_;
  }

 private:
  void Release(std::unique_ptr<T> obj) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(obj));
    --busy_;
    cv_.notify_one();
  }

  const int size_, max_waiting_;
  Opener open_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<T>> free_;
  int opened_ = 0, waiting_ = 0, busy_ = 0;
};

template <typename T>
bool AcquireOrFail(Pool<T>& pool, double timeout_s, const char* what, typename Pool<T>::Lease* lease, httplib::Response& res) {
  Status failure;
  switch (pool.Acquire(timeout_s, lease, &failure)) {
    case Pool<T>::Outcome::kOk: return true;
    case Pool<T>::Outcome::kOverloaded:
      res.set_header("Retry-After", "5");
      SendError(res, {429, std::string("too many requests are waiting for a ") + what + "; retry later", "", "overloaded"});
      return false;
    case Pool<T>::Outcome::kTimedOut:
      res.set_header("Retry-After", "5");
      SendError(res, {503, std::string("no ") + what + " became free in time; retry later", "", "timeout"});
      return false;
    case Pool<T>::Outcome::kFailed:
      SendError(res, FromStatus(failure));
      return false;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Prometheus metrics.

struct Metrics {
  std::mutex mu;
  std::map<std::pair<std::string, int>, uint64_t> requests;          // (route, status) -> count
  std::map<std::string, std::pair<double, uint64_t>> latency;        // route -> (seconds, count)
  std::atomic<uint64_t> prompt_tokens{0}, completion_tokens{0}, documents_added{0}, cancelled{0};
  std::atomic<int> in_flight{0};  // requests inside a handler

  void Record(const std::string& route, int status, double seconds) {
    std::lock_guard<std::mutex> lock(mu);
    ++requests[{route, status}];
    auto& l = latency[route];
    l.first += seconds;
    ++l.second;
  }
};

// ---------------------------------------------------------------------------
// Uploads: the type comes from the bytes, the name is reduced to a safe one.

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The extension the content really has ("" when Quarry cannot read it):
// PDF and DOCX by their magic bytes; text (valid UTF-8, no NUL) keeps a
// claimed text extension, else is HTML when it looks like a page, else .txt.
std::string SniffExtension(const std::string& data, const std::string& claimed_ext) {
  if (data.rfind("%PDF-", 0) == 0) return ".pdf";
  if (data.rfind(std::string("PK\x03\x04", 4), 0) == 0) return ".docx";
  if (data.find('\0') != std::string::npos) return "";
  std::string_view head(data.data(), std::min<size_t>(data.size(), 1 << 16));
  // Do not reject a cut in the middle of a character at the end of the sample.
  if (!ValidUtf8(data.size() > head.size() ? head.substr(0, head.size() - 4) : head)) return "";
  static const std::set<std::string> text = {".txt", ".md", ".markdown", ".html", ".htm", ".jsonl", ".csv"};
  const std::string ext = Lower(claimed_ext);
  if (text.count(ext)) return ext;
  const size_t start = data.find_first_not_of(" \t\r\n");
  const std::string lead = Lower(data.substr(start == std::string::npos ? 0 : start, 15));
  if (lead.rfind("<!doctype html", 0) == 0 || lead.rfind("<html", 0) == 0) return ".html";
  return ".txt";
}

// A file name that cannot leave the upload folder: the last path component,
// letters, digits, '.', '-' and '_' only, no leading dot, at most 100 bytes.
std::string SafeStem(const std::string& filename) {
  std::string base = filename;
  const size_t slash = base.find_last_of("/\\");
  if (slash != std::string::npos) base = base.substr(slash + 1);
  const size_t dot = base.find_last_of('.');
  if (dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  std::string out;
  for (char c : base) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  while (!out.empty() && out[0] == '.') out.erase(0, 1);
  if (out.size() > 100) out.resize(100);
  return out.empty() ? "upload" : out;
}

std::string Extension(const std::string& filename) {
  const std::string base = fs::path(filename).filename().string();
  const size_t dot = base.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? "" : base.substr(dot);
}

bool ParseMode(const std::string& s, SearchOptions::Mode* m) {
  if (s == "hybrid") *m = SearchOptions::Mode::kHybrid;
  else if (s == "bm25") *m = SearchOptions::Mode::kBm25;
  else if (s == "dense") *m = SearchOptions::Mode::kDense;
  else return false;
  return true;
}

std::string RandomId(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}() ^ (counter++ << 32));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(prefix) + buf;
}

std::string Base64(const unsigned char* p, size_t n) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (i + 1 < n ? uint32_t{p[i + 1]} << 8 : 0) | (i + 2 < n ? uint32_t{p[i + 2]} : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// Compares every byte whatever the first difference, so the time taken says
// nothing about how much of a key was right.
bool SameKey(const std::string& given, const std::string& key) {
  unsigned char diff = given.size() == key.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ key[i % key.size()]);
  return diff == 0;
}

const web::Asset* WebAsset(const std::string& path) {
  for (size_t i = 0; i < web::kAssetCount; ++i) {
    if (path == web::kAssets[i].path) return &web::kAssets[i];
  }
  return nullptr;
}

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// The models /v1/models lists and /v1/chat/completions accepts.
constexpr const char* kRagModel = "quarry";        // answers from the knowledge base, with citations
constexpr const char* kChatModel = "quarry-chat";  // the same generator, no retrieval

}  // namespace

// ---------------------------------------------------------------------------

Status ServeOptions::Validate() const {
  QUARRY_RETURN_IF_ERROR(kb.Validate());
  QUARRY_RETURN_IF_ERROR(add.Validate());
  if (port < 0 || port > 65535) return Status::InvalidArgument("the port must be in [0, 65535]").About("port");
  if (max_rerank_depth < 1 || max_rerank_depth > 1000) {
    return Status::InvalidArgument("the rerank depth limit must be in [1, 1000]").About("max_rerank_depth");
  }
  if (generators < 1 || generators > 64) return Status::InvalidArgument("generators must be in [1, 64]").About("generators");
  if (max_queued < 0) return Status::InvalidArgument("max_queued must be >= 0").About("max_queued");
  if (searchers < 1 || searchers > 256) return Status::InvalidArgument("searchers must be in [1, 256]").About("searchers");
  if (http_threads < 2 || http_threads > 1024) return Status::InvalidArgument("http_threads must be in [2, 1024]").About("http_threads");
  if (max_body_bytes < 1024) return Status::InvalidArgument("the body size limit must be at least 1 KiB").About("max_body_bytes");
  if (!(generation_timeout_s > 0)) return Status::InvalidArgument("the generation timeout must be positive").About("generation_timeout_s");
  if (!(queue_timeout_s > 0) || !(read_timeout_s > 0)) {
    return Status::InvalidArgument("the queue and read timeouts must be positive").About("queue_timeout_s");
  }
  for (const auto& k : api_keys) {
    if (k.size() < 8) return Status::InvalidArgument("an API key must be at least 8 characters long").About("api_keys");
  }
  if (api_keys.empty() && !IsLoopback(host)) {
    return Status::InvalidArgument("refusing to listen on " + host +
                                   " without API keys: anyone who can reach it could read and change the knowledge base; "
                                   "set API keys, or listen on 127.0.0.1")
        .About("api_keys");
  }
  return Status::OK();
}

struct Server::Impl {
  ServeOptions o;
  std::string llm;
  std::string upload_dir;
  httplib::Server http;
  int listen_fd = -1;
  std::thread listener;
  int port = 0;
  Metrics metrics;
  std::unique_ptr<Pool<KnowledgeBase>> readers;
  std::unique_ptr<Pool<Generator>> generators;
  std::unique_ptr<Reranker> reranker;  // shared: its calls queue on its own thread
  std::mutex writer_mu;
  std::unique_ptr<KnowledgeBase> writer;  // uploads and deletes, one at a time
  std::once_flag stopped;

  Result<std::unique_ptr<KnowledgeBase>> OpenKb(bool create) const { return KnowledgeBase::Open(o.kb, create); }
  // A request's "rerank" (default: on when the server has a cross-encoder).
  bool UseReranker(const Body& b, SearchOptions* so, HttpError* err) const;

  void Routes();
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  Handler Timed(const std::string& route, Handler h);

  void Chat(const httplib::Request& req, httplib::Response& res);
  void Embeddings(const httplib::Request& req, httplib::Response& res);
  void Search(const httplib::Request& req, httplib::Response& res);
  void Upload(const httplib::Request& req, httplib::Response& res);
  void ListDocuments(httplib::Response& res);
  void GetDocument(const httplib::Request& req, httplib::Response& res);
  void DeleteDocument(const httplib::Request& req, httplib::Response& res);
  void Stats(httplib::Response& res);
  void MetricsText(httplib::Response& res);
  static json OpenApi();
  static std::vector<std::string> MethodsServing(const std::string& path);
};

Server::Server() : impl_(new Impl) {}

Server::~Server() {
  Stop();
  Wait();
}

int Server::port() const { return impl_->port; }
std::string Server::url() const {
  const std::string& h = impl_->o.host;
  return "http://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(impl_->port);
}

void Server::Stop() {
  std::call_once(impl_->stopped, [&] { impl_->http.stop(); });
}

void Server::Wait() {
  if (impl_->listener.joinable()) impl_->listener.join();
}

Result<std::unique_ptr<Server>> Server::Start(const ServeOptions& options) {
  QUARRY_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Server> s(new Server());
  Impl& im = *s->impl_;
  im.o = options;
  im.llm = options.llm.empty() ? kDefaultGenerator : options.llm;
  im.upload_dir = options.upload_dir.empty() ? options.kb.dir + "/uploads" : options.upload_dir;
  auto w = im.OpenKb(true);
  if (!w.ok()) return w.status();
  im.writer = std::move(*w);
  std::error_code ec;
  fs::create_directories(im.upload_dir, ec);
  if (ec) return Status::IOError(im.upload_dir + ": cannot create the upload folder: " + ec.message());
  im.upload_dir = fs::canonical(im.upload_dir, ec).string();

  // Generation holds a reader too (retrieval), so readers never run out for searches.
  im.readers = std::make_unique<Pool<KnowledgeBase>>(options.searchers + options.generators, options.http_threads,
                                                     [&im] { return im.OpenKb(false); });
  // Slots share the cores: each gets its share (all of them on a machine of
  // one slot), or a slot's threads would contend with the others' for every
  // token (2 slots on 2 cores: 0.64x the aggregate of one slot).
  if (im.o.generator.threads == 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    im.o.generator.threads = std::max(1, cores / options.generators);
  }
  im.generators = std::make_unique<Pool<Generator>>(options.generators, options.max_queued, [&im] {
    return OpenGenerator(im.llm, im.o.generator);
  });
  if (!options.rerank_model.empty()) {  // loaded now: a wrong file fails the start, not the first request
    auto rr = Reranker::Open(options.rerank_model, im.o.generator.threads);
    if (!rr.ok()) return Status(rr.status()).About("rerank_model");
    im.reranker = std::move(*rr);
  }

  const int threads = options.http_threads;
  im.http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  im.http.set_payload_max_length(options.max_body_bytes);
  // Without it, Nagle's algorithm holds each response's last segment until the
  // client's delayed ACK: ~40 ms on every request that is not pipelined.
  im.http.set_tcp_nodelay(true);
  im.http.set_keep_alive_max_count(100);  // httplib's default, 5, makes a busy client reconnect every 5 requests
  im.http.set_socket_options([&im](socket_t sock) {
    httplib::default_socket_options(sock);
    im.listen_fd = sock;
  });
  const auto rt = std::chrono::duration<double>(options.read_timeout_s);
  im.http.set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(rt));
  im.Routes();

  im.port = options.port == 0 ? im.http.bind_to_any_port(options.host) : (im.http.bind_to_port(options.host, options.port) ? options.port : -1);
  if (im.port <= 0) {
    return Status::IOError("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                           " (the port is in use, or the address is not this machine's)")
        .About("port");
  }
  // Debian's libcpp-httplib listens with the compiled-in backlog of 5: 64
  // clients connecting at once overflow it and wait out SYN retries (1 s, 3 s).
  // listen() again on the bound socket raises it.
  if (im.listen_fd >= 0) ::listen(im.listen_fd, SOMAXCONN);
  im.listener = std::thread([&im] { im.http.listen_after_bind(); });
  return s;
}

Server::Impl::Handler Server::Impl::Timed(const std::string& route, Handler h) {
  return [this, route, h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
    const auto t = Clock::now();
    ++metrics.in_flight;
    struct Done {
      std::atomic<int>& n;
      ~Done() { --n; }
    } done{metrics.in_flight};
    h(req, res);
    metrics.Record(route, res.status, SecondsSince(t));
  };
}

// The methods that serve a path (none when no route does): the OpenAPI
// document's paths, where "{id}" stands for a number, and the web UI's files.
std::vector<std::string> Server::Impl::MethodsServing(const std::string& path) {
  if (path == "/" || WebAsset(path)) return {"GET"};
  static const json paths = OpenApi()["paths"];
  std::vector<std::string> out;
  for (const auto& [pattern, ops] : paths.items()) {
    const size_t id = pattern.find("{id}");
    const bool match = id == std::string::npos
                           ? path == pattern
                           : path.size() > id && path.compare(0, id, pattern, 0, id) == 0 &&
                                 std::all_of(path.begin() + static_cast<std::ptrdiff_t>(id), path.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!match) continue;
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      out.push_back(std::move(m));
    }
  }
  return out;
}

void Server::Impl::Routes() {
  // Authentication and CORS come before routing.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!o.cors_origins.empty() && req.has_header("Origin")) {
      const std::string origin = req.get_header_value("Origin");
      const bool any = std::find(o.cors_origins.begin(), o.cors_origins.end(), "*") != o.cors_origins.end();
      if (any || std::find(o.cors_origins.begin(), o.cors_origins.end(), origin) != o.cors_origins.end()) {
        res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
        res.set_header("Vary", "Origin");
        res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
        res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      }
      if (req.method == "OPTIONS") {
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // The UI's static files hold no data: the page loads, then asks for a key.
    if (o.api_keys.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const bool open_path = req.path == "/healthz" || (req.method == "GET" && (req.path == "/" || WebAsset(req.path)));
    if (open_path) return httplib::Server::HandlerResponse::Unhandled;
    const std::string auth = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    bool ok = false;
    if (auth.rfind(prefix, 0) == 0) {
      for (const auto& k : o.api_keys) ok |= SameKey(auth.substr(prefix.size()), k);
    }
    if (ok) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    SendError(res, {401, auth.empty() ? "missing API key: send Authorization: Bearer KEY" : "invalid API key", "", "invalid_api_key"});
    metrics.Record("unauthorized", 401, 0);
    return httplib::Server::HandlerResponse::Handled;
  });
  // httplib's own refusals (413 over the size limit, 404, 400) get a JSON body too.
  // A path served under other methods is a 405 naming them (httplib answers
  // 404, or 400 for a method it has no handlers for).
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    HttpError e{res.status, "", "", ""};
    if ((res.status == 404 || res.status == 400) && !req.path.empty() && req.path[0] == '/') {
      const std::vector<std::string> methods = MethodsServing(req.path);
      const std::string method = req.method == "HEAD" ? "GET" : req.method;
      if (methods.empty()) {
        res.status = 404;
      } else if (std::find(methods.begin(), methods.end(), method) == methods.end()) {
        std::string allowed;
        for (const auto& m : methods) allowed += (allowed.empty() ? "" : ", ") + m;
        res.set_header("Allow", allowed);
        return SendError(res, {405, req.method + " is not allowed on " + req.path + " (allowed: " + allowed + ")", "",
                               "method_not_allowed"});
      }
      e.status = res.status;
    }
    if (res.status == 404) e.message = "no route for " + req.method + " " + req.path, e.code = "unknown_route";
    else if (res.status == 413) e.message = "the request body is over the size limit", e.code = "body_too_large";
    else e.message = "bad request";
    SendError(res, e);
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SendError(res, {500, "internal error: " + what, "", "internal"});
  });

  for (size_t i = 0; i < web::kAssetCount; ++i) {
    const web::Asset& a = web::kAssets[i];
    auto serve = [&a](const httplib::Request&, httplib::Response& res) {
      res.set_content(reinterpret_cast<const char*>(a.data), a.size, a.content_type);
      res.set_header("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
    };
    http.Get(a.path, serve);
    if (std::string(a.path) == "/index.html") http.Get("/", serve);
  }
  http.Get("/healthz", Timed("/healthz", [](const httplib::Request&, httplib::Response& res) {
    SendJson(res, {{"status", "ok"}});
  }));
  http.Get("/v1/models", Timed("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    json data = json::array();
    data.push_back({{"id", kRagModel}, {"object", "model"}, {"created", 0}, {"owned_by", "quarry"},
                    {"description", "answers from the knowledge base with citations; generator " + llm}});
    data.push_back({{"id", kChatModel}, {"object", "model"}, {"created", 0}, {"owned_by", "quarry"},
                    {"description", "plain chat with " + llm + ", no retrieval"}});
    Pool<KnowledgeBase>::Lease kb;
    if (!AcquireOrFail(*readers, o.queue_timeout_s, "knowledge base handle", &kb, res)) return;
    auto s = kb->Stats();
    if (s.ok() && !s->embed_model.empty()) {
      data.push_back({{"id", s->embed_model}, {"object", "model"}, {"created", 0}, {"owned_by", "quarry"},
                      {"description", "the knowledge base's embedding model (POST /v1/embeddings)"}});
    }
    SendJson(res, {{"object", "list"}, {"data", data}});
  }));
  http.Post("/v1/chat/completions", Timed("/v1/chat/completions", [this](const httplib::Request& q, httplib::Response& r) { Chat(q, r); }));
  http.Post("/v1/embeddings", Timed("/v1/embeddings", [this](const httplib::Request& q, httplib::Response& r) { Embeddings(q, r); }));
  http.Post("/v1/search", Timed("/v1/search", [this](const httplib::Request& q, httplib::Response& r) { Search(q, r); }));
  http.Post("/v1/documents", Timed("/v1/documents", [this](const httplib::Request& q, httplib::Response& r) { Upload(q, r); }));
  http.Get("/v1/documents", Timed("/v1/documents", [this](const httplib::Request&, httplib::Response& r) { ListDocuments(r); }));
  http.Get(R"(/v1/documents/(\d+))", Timed("/v1/documents/{id}", [this](const httplib::Request& q, httplib::Response& r) { GetDocument(q, r); }));
  http.Delete(R"(/v1/documents/(\d+))", Timed("/v1/documents/{id}", [this](const httplib::Request& q, httplib::Response& r) { DeleteDocument(q, r); }));
  http.Get("/v1/stats", Timed("/v1/stats", [this](const httplib::Request&, httplib::Response& r) { Stats(r); }));
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) { MetricsText(r); });
  http.Get("/openapi.json", [](const httplib::Request&, httplib::Response& r) { SendJson(r, OpenApi()); });
}

// ---------------------------------------------------------------------------
// POST /v1/chat/completions

void Server::Impl::Chat(const httplib::Request& req, httplib::Response& res) {
  Body b;
  HttpError err;
  if (!Body::Parse(req,
                   {"model", "messages", "stream", "max_tokens", "max_completion_tokens", "temperature", "top_p", "seed", "n",
                    "user", "stream_options", "retrieval", "k", "mode", "where", "candidates", "rerank", "rerank_depth",
                    "min_answerable", "relevance_cut", "stop",
                    // OpenAI fields clients send with their defaults; accepted at those values only
                    "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
                    "response_format", "tools", "tool_choice", "parallel_tool_calls"},
                   &b, &err)) {
    return SendError(res, err);
  }
  std::string model = kRagModel;
  bool stream = false, retrieval = true;
  int n = 1;
  AskOptions ask;
  SamplingOptions& sampling = ask.generate.sampling;
  std::string mode = "hybrid";
  if (!b.Get("model", &model, &err) || !b.Get("stream", &stream, &err) || !b.Get("retrieval", &retrieval, &err) ||
      !b.GetInt("n", &n, &err) || !b.GetInt("max_tokens", &sampling.max_tokens, &err) ||
      !b.GetInt("max_completion_tokens", &sampling.max_tokens, &err) || !b.GetNumber("temperature", &sampling.temperature, &err) ||
      !b.GetNumber("top_p", &sampling.top_p, &err) || !b.GetInt("seed", &sampling.seed, &err) ||
      !b.GetInt("k", &ask.search.k, &err) || !b.Get("mode", &mode, &err) || !b.Get("where", &ask.search.where, &err) ||
      !b.GetInt("candidates", &ask.generate.candidates, &err) || !b.GetNumber("min_answerable", &ask.min_answerable, &err) ||
      !b.GetNumber("relevance_cut", &ask.relevance_cut, &err)) {
    return SendError(res, err);
  }
  if (model != kRagModel && model != kChatModel) {
    return SendError(res, {404, "model '" + model + "' does not exist here (use " + std::string(kRagModel) +
                                    " to answer from the knowledge base, or " + kChatModel + " for plain chat)",
                           "model", "model_not_found"});
  }
  if (model == kChatModel) retrieval = false;
  if (n != 1) return SendError(res, {400, "only n = 1 is supported (use 'candidates' for several scored answers)", "n", "invalid_value"});
  // Fields many clients send at their defaults: fine there, refused (not ignored) otherwise.
  // "stop": a string or a list of at most 4; null or "" (a client's default) for none.
  if (!b.Get("stop", &sampling.stop, &err)) return SendError(res, err);
  if (sampling.stop.size() == 1 && sampling.stop[0].empty() && b.raw()["stop"].is_string()) sampling.stop.clear();
  for (const char* key : {"presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "tools",
                          "tool_choice", "parallel_tool_calls", "response_format"}) {
    if (!b.has(key)) continue;
    const json& v = b.raw()[key];
    const bool neutral = (v.is_number() && v.get<double>() == 0) || (v.is_boolean() && !v.get<bool>()) ||
                         (v.is_array() && v.empty()) || (v.is_object() && v.empty()) || (v.is_string() && v.get<std::string>().empty()) ||
                         (std::string(key) == "response_format" && v.is_object() && v.value("type", "") == "text") ||
                         (std::string(key) == "tool_choice" && v.is_string() && v.get<std::string>() == "none") ||
                         (std::string(key) == "parallel_tool_calls" && v.is_boolean());
    if (!neutral) return SendError(res, {400, "'" + std::string(key) + "' is not supported by this server", key, "unsupported_parameter"});
  }
  if (!ParseMode(mode, &ask.search.mode)) return SendError(res, {400, "'mode' must be hybrid, bm25 or dense", "mode", "invalid_value"});
  if (!UseReranker(b, &ask.search, &err)) return SendError(res, err);

  // Messages: {role, content} with content a string or a list of text parts.
  if (!b.has("messages") || !b.raw()["messages"].is_array() || b.raw()["messages"].empty()) {
    return SendError(res, {400, "'messages' must be a non-empty list of {role, content}", "messages", "invalid_type"});
  }
  std::vector<ChatMessage> messages;
  for (const auto& m : b.raw()["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return SendError(res, {400, "each message needs a 'role' string", "messages", "invalid_type"});
    }
    std::string role = m["role"].get<std::string>();
    if (role == "developer") role = "system";
    if (role != "system" && role != "user" && role != "assistant") {
      return SendError(res, {400, "message role '" + role + "' is not supported (system, user, assistant)", "messages", "invalid_value"});
    }
    std::string content;
    const json c = m.value("content", json(nullptr));
    if (c.is_string()) {
      content = c.get<std::string>();
    } else if (c.is_array()) {
      for (const auto& part : c) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
          return SendError(res, {400, "only text content parts are supported", "messages", "invalid_value"});
        }
        content += part["text"].get<std::string>();
      }
    } else {
      return SendError(res, {400, "message content must be a string or a list of text parts", "messages", "invalid_type"});
    }
    if (!ValidUtf8(content)) return SendError(res, {400, "message content is not valid UTF-8", "messages", "invalid_value"});
    messages.push_back({role, std::move(content)});
  }
  std::string question;
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->role == "user") {
      question = it->content;
      break;
    }
  }
  if (retrieval && question.find_first_not_of(" \t\r\n") == std::string::npos) {
    return SendError(res, {400, "no user message to answer", "messages", "invalid_value"});
  }
  if (Status st = retrieval ? ask.Validate() : ask.generate.Validate(); !st.ok()) return SendError(res, FromStatus(st));

  // Leases: a generation slot (bounded queue), then a knowledge base for retrieval.
  auto gen = std::make_shared<Pool<Generator>::Lease>();
  if (!AcquireOrFail(*generators, o.queue_timeout_s, "generation slot", gen.get(), res)) return;
  auto kb = std::make_shared<Pool<KnowledgeBase>::Lease>();
  if (retrieval && !AcquireOrFail(*readers, o.queue_timeout_s, "knowledge base handle", kb.get(), res)) return;

  const std::string id = RandomId("chatcmpl-");
  const auto created = static_cast<int64_t>(std::time(nullptr));
  // Runs the request; on_piece returns false to cancel (client gone).
  auto run = [gen, kb, retrieval, ask, messages, question](const TokenCallback& on_piece) -> Result<Answer> {
    if (retrieval) return quarry::Ask(**kb, **gen, question, ask, on_piece);
    auto g = (*gen)->Chat(messages, ask.generate.sampling, on_piece);
    if (!g.ok()) return g.status();
    Answer a;
    a.text = g->text;
    a.prompt_tokens = g->prompt_tokens;
    a.completion_tokens = g->completion_tokens;
    a.time_to_first_token_ms = g->time_to_first_token_ms;
    a.candidates.push_back({g->text, 0, {}, 0, *g});
    return a;
  };
  auto finish_reason = [](const Answer& a) {
    const auto& c = a.candidates;
    if (c.empty()) return std::string("stop");  // "I don't know" without generating
    return c[static_cast<size_t>(std::clamp<int>(a.selected, 0, static_cast<int>(c.size()) - 1))].generation.finish_reason;
  };
  auto usage = [](const Answer& a) {
    return json{{"prompt_tokens", a.prompt_tokens}, {"completion_tokens", a.completion_tokens},
                {"total_tokens", a.prompt_tokens + a.completion_tokens}};
  };

  // Past the deadline the next token ends the answer, which then reads as cut by a limit.
  const double limit_s = o.generation_timeout_s;
  auto in_time = [limit_s, start = Clock::now()] { return SecondsSince(start) < limit_s; };

  if (!stream) {
    // Nothing is written until the answer is done, so a closed connection is
    // seen on the socket itself, looked at every 100 ms between tokens.
    const int fd = ConnectionSocket(req);
    auto next_look = Clock::now();
    bool timed_out = false, gone = false;
    auto a = run([&](std::string_view) {
      if (!in_time()) return timed_out = true, false;
      if (fd >= 0 && Clock::now() >= next_look) {
        next_look = Clock::now() + std::chrono::milliseconds(100);
        gone = PeerClosed(fd);
      }
      return !gone;
    });
    if (a.ok()) {
      metrics.prompt_tokens += static_cast<uint64_t>(a->prompt_tokens);
      metrics.completion_tokens += static_cast<uint64_t>(a->completion_tokens);
    }
    if (gone) {
      ++metrics.cancelled;  // the client went away: generation stopped at its next token
      return;               // nobody to answer
    }
    if (!a.ok()) return SendError(res, FromStatus(a.status()));
    json j = {{"id", id},
              {"object", "chat.completion"},
              {"created", created},
              {"model", model},
              {"choices", json::array({{{"index", 0},
                                        {"message", {{"role", "assistant"}, {"content", a->text}}},
                                        {"finish_reason", timed_out ? "length" : finish_reason(*a)}}})},
              {"usage", usage(*a)}};
    if (retrieval) j["citations"] = CitationsJson(*a), j["grounded"] = a->grounded;
    if (a->answerable) j["answerable"] = *a->answerable;
    return SendJson(res, j);
  }

  // Server-sent events: a role chunk, content chunks as they are decoded, a
  // final chunk with finish_reason, usage and citations, then [DONE].
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider("text/event-stream", [this, id, created, model, retrieval, run, finish_reason, usage, in_time](
                                                            size_t, httplib::DataSink& sink) {
    auto event = [&](const json& j) {
      const std::string line = "data: " + Dump(j) + "\n\n";
      return sink.write(line.data(), line.size());
    };
    auto chunk = [&](const json& delta, const json& finish) {
      return json{{"id", id},
                  {"object", "chat.completion.chunk"},
                  {"created", created},
                  {"model", model},
                  {"choices", json::array({{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}})}};
    };
    bool open = event(chunk({{"role", "assistant"}, {"content", ""}}, nullptr));
    bool streamed = false, timed_out = false;
    auto a = run([&](std::string_view piece) {
      streamed = true;
      if (open) open = event(chunk({{"content", std::string(piece)}}, nullptr));
      if (open && !in_time()) timed_out = true;
      return open && !timed_out;  // a closed connection cancels the generation
    });
    if (a.ok()) {
      metrics.prompt_tokens += static_cast<uint64_t>(a->prompt_tokens);
      metrics.completion_tokens += static_cast<uint64_t>(a->completion_tokens);
    }
    if (!open) {
      ++metrics.cancelled;  // the client went away: generation stopped at its next token
      return false;
    }
    if (!a.ok()) {
      event(ErrorJson(FromStatus(a.status())));
    } else {
      // Not streamed (several candidates, or the "I don't know" gate): the whole text now.
      if (!streamed && !a->text.empty()) event(chunk({{"content", a->text}}, nullptr));
      json last = chunk(json::object(), timed_out ? std::string("length") : finish_reason(*a));
      last["usage"] = usage(*a);
      if (retrieval) last["citations"] = CitationsJson(*a), last["grounded"] = a->grounded;
      if (a->answerable) last["answerable"] = *a->answerable;
      event(last);
    }
    const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
    return true;
  });
}

// ---------------------------------------------------------------------------
// POST /v1/embeddings

void Server::Impl::Embeddings(const httplib::Request& req, httplib::Response& res) {
  Body b;
  HttpError err;
  if (!Body::Parse(req, {"input", "model", "encoding_format", "user", "dimensions"}, &b, &err)) return SendError(res, err);
  std::vector<std::string> input;
  std::string model, format = "float";
  if (!b.Get("input", &input, &err) || !b.Get("model", &model, &err) || !b.Get("encoding_format", &format, &err)) {
    return SendError(res, err);
  }
  if (!b.has("input") || input.empty()) return SendError(res, {400, "'input' must be a string or a non-empty list of strings", "input", "invalid_value"});
  if (input.size() > 2048) return SendError(res, {400, "at most 2048 inputs per request", "input", "invalid_value"});
  if (format != "float" && format != "base64") {
    return SendError(res, {400, "encoding_format must be float or base64", "encoding_format", "invalid_value"});
  }
  if (b.has("dimensions")) return SendError(res, {400, "'dimensions' is not supported (the model's own size is used)", "dimensions", "invalid_value"});
  for (size_t i = 0; i < input.size(); ++i) {
    if (!ValidUtf8(input[i])) return SendError(res, {400, "input is not valid UTF-8", "input", "invalid_value"});
    // A blank text has nothing to embed; OpenAI refuses an empty string the same way.
    if (input[i].find_first_not_of(" \t\r\n") == std::string::npos) {
      return SendError(res, {400, "input[" + std::to_string(i) + "] is empty: there is nothing to embed", "input", "invalid_value"});
    }
  }
  Pool<KnowledgeBase>::Lease kb;
  if (!AcquireOrFail(*readers, o.queue_timeout_s, "knowledge base handle", &kb, res)) return;
  auto stats = kb->Stats();
  if (!stats.ok()) return SendError(res, FromStatus(stats.status()));
  if (!model.empty() && model != stats->embed_model && !stats->embed_model.empty()) {
    return SendError(res, {404, "model '" + model + "' is not this knowledge base's embedding model (" + stats->embed_model + ")",
                           "model", "model_not_found"});
  }
  auto v = kb->Embed(input, Embedder::Role::kDocument);
  if (!v.ok()) return SendError(res, FromStatus(v.status()));
  json data = json::array();
  for (size_t i = 0; i < v->size(); ++i) {
    // base64: the little-endian float32 bytes, as OpenAI sends them (the Python client's default).
    json e = format == "base64" ? json(Base64(reinterpret_cast<const unsigned char*>((*v)[i].data()), (*v)[i].size() * sizeof(float)))
                                : json((*v)[i]);
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(e)}});
  }
  int64_t tokens = 0;
  for (const auto& s : input) {
    auto n = kb->EmbeddingTokens(s);
    if (!n.ok()) return SendError(res, FromStatus(n.status()));
    tokens += *n;
  }
  SendJson(res, {{"object", "list"}, {"data", data}, {"model", stats->embed_model},
                 {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

// ---------------------------------------------------------------------------
bool Server::Impl::UseReranker(const Body& b, SearchOptions* so, HttpError* err) const {
  bool on = reranker != nullptr;
  const size_t given = so->rerank_depth;
  if (!b.Get("rerank", &on, err) || !b.GetInt("rerank_depth", &so->rerank_depth, err)) return false;
  if (on && !reranker) {
    *err = {400, "this server has no reranker (start it with --rerank-model FILE.gguf)", "rerank", "invalid_value"};
    return false;
  }
  const size_t most = static_cast<size_t>(o.max_rerank_depth);
  if (!b.has("rerank_depth")) {
    so->rerank_depth = std::min(given, most);
  } else if (on && so->rerank_depth > most) {
    *err = {400, "rerank_depth is at most " + std::to_string(most) + " on this server (quarry serve --max-rerank-depth)",
            "rerank_depth", "invalid_value"};
    return false;
  }
  so->reranker = on ? reranker.get() : nullptr;
  return true;
}

// POST /v1/search

void Server::Impl::Search(const httplib::Request& req, httplib::Response& res) {
  Body b;
  HttpError err;
  if (!Body::Parse(req, {"query", "k", "mode", "fusion", "where", "candidates", "rrf_k", "dense_weight", "mmr", "mmr_lambda", "rerank",
                         "rerank_depth", "per_document"},
                   &b, &err)) {
    return SendError(res, err);
  }
  std::string query, mode = "hybrid", fusion = "rrf";
  SearchOptions so;
  if (!b.Get("query", &query, &err) || !b.GetInt("k", &so.k, &err) || !b.Get("mode", &mode, &err) || !b.Get("fusion", &fusion, &err) ||
      !b.Get("where", &so.where, &err) || !b.GetInt("candidates", &so.candidates, &err) || !b.GetInt("rrf_k", &so.rrf_k, &err) ||
      !b.GetNumber("dense_weight", &so.dense_weight, &err) || !b.Get("mmr", &so.mmr, &err) ||
      !b.GetNumber("mmr_lambda", &so.mmr_lambda, &err) || !b.Get("per_document", &so.per_document, &err)) {
    return SendError(res, err);
  }
  if (!b.has("query")) return SendError(res, {400, "'query' is required", "query", "missing_field"});
  if (!ValidUtf8(query)) return SendError(res, {400, "the query is not valid UTF-8", "query", "invalid_value"});
  if (!ParseMode(mode, &so.mode)) return SendError(res, {400, "'mode' must be hybrid, bm25 or dense", "mode", "invalid_value"});
  if (fusion != "rrf" && fusion != "weighted") return SendError(res, {400, "'fusion' must be rrf or weighted", "fusion", "invalid_value"});
  so.fusion = fusion == "weighted" ? SearchOptions::Fusion::kWeighted : SearchOptions::Fusion::kRrf;
  if (!UseReranker(b, &so, &err)) return SendError(res, err);
  if (Status st = so.Validate(); !st.ok()) return SendError(res, FromStatus(st));
  Pool<KnowledgeBase>::Lease kb;
  if (!AcquireOrFail(*readers, o.queue_timeout_s, "knowledge base handle", &kb, res)) return;
  const auto t = Clock::now();
  auto hits = kb->Search(query, so);
  if (!hits.ok()) return SendError(res, FromStatus(hits.status()));
  json results = json::array();
  int rank = 0;
  for (const auto& h : *hits) results.push_back(ToJson(h, ++rank));
  SendJson(res, {{"query", query}, {"mode", mode}, {"results", results}, {"took_ms", SecondsSince(t) * 1000}});
}

// ---------------------------------------------------------------------------
// Documents

void Server::Impl::Upload(const httplib::Request& req, httplib::Response& res) {
  if (!req.is_multipart_form_data()) {
    return SendError(res, {415, "upload files as multipart/form-data (field 'file', repeatable)", "", "unsupported_media_type"});
  }
  std::string metadata = "{}";
  if (req.has_file("metadata")) metadata = req.get_file_value("metadata").content;
  AddOptions ao = o.add;
  ao.metadata = metadata;
  if (Status st = ao.Validate(); !st.ok()) return SendError(res, FromStatus(st));
  json files = json::array();
  int added = 0, replaced = 0, unchanged = 0, embedded = 0, failed = 0;
  int64_t chunks = 0;
  size_t parts = 0;
  for (const auto& [field, f] : req.files) {
    if (field == "metadata") continue;
    if (f.filename.empty()) {
      return SendError(res, {400, "form field '" + field + "' is not a file: send files with a file name (field 'file'), metadata as 'metadata'",
                             field, "unknown_field"});
    }
    ++parts;
    json r = {{"filename", f.filename}};
    const std::string ext = SniffExtension(f.content, Extension(f.filename));
    if (ext.empty()) {
      r["status"] = "failed";
      r["reason"] = "not a type Quarry reads (PDF, DOCX, or UTF-8 text: plain, Markdown, HTML, JSONL, CSV)";
      ++failed;
      files.push_back(r);
      continue;
    }
    const std::string path = upload_dir + "/" + SafeStem(f.filename) + ext;
    std::lock_guard<std::mutex> lock(writer_mu);
    const std::string tmp = path + ".part";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(f.content.data(), static_cast<std::streamsize>(f.content.size()));
      if (!out) {
        std::error_code ec;
        fs::remove(tmp, ec);
        return SendError(res, {500, "cannot store the upload (disk full?)", "", "io_error"});
      }
    }
    // A new upload of a name replaces its document (as `quarry add` of a
    // changed file does); if the new one fails, the old file is put back, and
    // its document was never touched.
    std::error_code ec;
    const std::string backup = path + ".bak";
    const bool had = fs::exists(path, ec);
    if (had) fs::rename(path, backup, ec);
    fs::rename(tmp, path, ec);
    auto rep = writer->Add({path}, ao);
    const bool bad = !rep.ok() || rep->failed > 0;
    if (bad && had) {
      fs::rename(backup, path, ec);
    } else if (bad) {
      fs::remove(path, ec);
    } else if (had) {
      fs::remove(backup, ec);
    }
    if (!rep.ok()) return SendError(res, FromStatus(rep.status()));
    r["source"] = path;
    r["chunks"] = rep->chunks;
    if (rep->failed) {
      r["status"] = "failed";
      r["reason"] = rep->failures.empty() ? "failed" : rep->failures[0].reason;
      if (!rep->failures.empty() && !rep->failures[0].option.empty()) r["param"] = rep->failures[0].option;
      ++failed;
    } else {
      r["status"] = rep->replaced ? "replaced" : rep->added ? "added" : rep->embedded ? "embedded" : "unchanged";
      added += rep->added, replaced += rep->replaced, unchanged += rep->unchanged, embedded += rep->embedded;
    }
    chunks += rep->chunks;
    files.push_back(r);
  }
  if (parts == 0) return SendError(res, {400, "no file in the upload (multipart field 'file')", "file", "missing_field"});
  metrics.documents_added += static_cast<uint64_t>(added + replaced);
  SendJson(res, {{"files", files}, {"added", added}, {"replaced", replaced}, {"unchanged", unchanged}, {"embedded", embedded},
                 {"failed", failed}, {"chunks", chunks}},
           failed == static_cast<int>(parts) ? 422 : 200);
}

void Server::Impl::ListDocuments(httplib::Response& res) {
  Pool<KnowledgeBase>::Lease kb;
  if (!AcquireOrFail(*readers, o.queue_timeout_s, "knowledge base handle", &kb, res)) return;
  auto docs = kb->ListDocuments();
  if (!docs.ok()) return SendError(res, FromStatus(docs.status()));
  json data = json::array();
  for (const auto& d : *docs) data.push_back(ToJson(d));
  SendJson(res, {{"object", "list"}, {"data", data}});
}

void Server::Impl::GetDocument(const httplib::Request& req, httplib::Response& res) {
  const int64_t id = std::strtoll(req.matches[1].str().c_str(), nullptr, 10);
  Pool<KnowledgeBase>::Lease kb;
  if (!AcquireOrFail(*readers, o.queue_timeout_s, "knowledge base handle", &kb, res)) return;
  auto d = kb->GetDocument(id);
  if (!d.ok()) return SendError(res, FromStatus(d.status()));
  if (!*d) return SendError(res, {404, "no document " + req.matches[1].str(), "id", "not_found"});
  json j = ToJson(**d);
  if (req.get_param_value("text") == "1" || req.get_param_value("text") == "true") {
    auto t = kb->GetDocumentText(id);
    if (!t.ok()) return SendError(res, FromStatus(t.status()));
    j["text"] = *t;
  }
  if (req.get_param_value("chunks") == "1" || req.get_param_value("chunks") == "true") {
    auto cs = kb->GetChunks(id);
    if (!cs.ok()) return SendError(res, FromStatus(cs.status()));
    json arr = json::array();
    for (const auto& c : *cs) {
      arr.push_back({{"id", c.id}, {"seq", c.seq}, {"start", c.start}, {"end", c.end}, {"heading", c.heading}, {"tokens", c.tokens}, {"text", c.text}});
    }
    j["chunk_list"] = arr;
  }
  SendJson(res, j);
}

void Server::Impl::DeleteDocument(const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1].str();
  std::lock_guard<std::mutex> lock(writer_mu);
  auto d = writer->GetDocument(std::strtoll(id.c_str(), nullptr, 10));
  if (!d.ok()) return SendError(res, FromStatus(d.status()));
  if (!*d) return SendError(res, {404, "no document " + id, "id", "not_found"});
  auto removed = writer->Remove(id);
  if (!removed.ok()) return SendError(res, FromStatus(removed.status()));
  // An uploaded file goes with its document; nothing outside the upload folder is touched.
  const std::string source = (*d)->source;
  if (source.rfind(upload_dir + "/", 0) == 0 && source.find("/..") == std::string::npos) {
    std::error_code ec;
    fs::remove(source, ec);
  }
  SendJson(res, {{"id", (*d)->id}, {"object", "document"}, {"deleted", true}, {"source", source}});
}

void Server::Impl::Stats(httplib::Response& res) {
  Pool<KnowledgeBase>::Lease kb;
  if (!AcquireOrFail(*readers, o.queue_timeout_s, "knowledge base handle", &kb, res)) return;
  auto s = kb->Stats();
  if (!s.ok()) return SendError(res, FromStatus(s.status()));
  SendJson(res, {{"documents", s->documents}, {"chunks", s->chunks}, {"embeddings", s->embeddings}, {"bytes", s->bytes},
                 {"embed_model", s->embed_model}, {"embed_dim", s->embed_dim}, {"generator", llm},
                 {"db_bytes", s->db_bytes}, {"bm25_bytes", s->bm25_bytes}, {"hnsw_bytes", s->hnsw_bytes}});
}

void Server::Impl::MetricsText(httplib::Response& res) {
  std::string out;
  out += "# HELP quarry_http_requests_total HTTP requests by route and status.\n# TYPE quarry_http_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(metrics.mu);
    for (const auto& [key, n] : metrics.requests) {
      out += "quarry_http_requests_total{route=\"" + key.first + "\",code=\"" + std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
    }
    out += "# HELP quarry_http_request_duration_seconds Time spent in handlers (streams: until the handler returns).\n"
           "# TYPE quarry_http_request_duration_seconds summary\n";
    for (const auto& [route, l] : metrics.latency) {
      out += "quarry_http_request_duration_seconds_sum{route=\"" + route + "\"} " + std::to_string(l.first) + "\n";
      out += "quarry_http_request_duration_seconds_count{route=\"" + route + "\"} " + std::to_string(l.second) + "\n";
    }
  }
  out += "# HELP quarry_tokens_total Tokens processed by chat completions.\n# TYPE quarry_tokens_total counter\n";
  out += "quarry_tokens_total{kind=\"prompt\"} " + std::to_string(metrics.prompt_tokens.load()) + "\n";
  out += "quarry_tokens_total{kind=\"completion\"} " + std::to_string(metrics.completion_tokens.load()) + "\n";
  out += "# HELP quarry_generations_cancelled_total Generations stopped because the client disconnected.\n"
         "# TYPE quarry_generations_cancelled_total counter\n";
  out += "quarry_generations_cancelled_total " + std::to_string(metrics.cancelled.load()) + "\n";
  out += "# HELP quarry_documents_ingested_total Documents added or replaced by uploads.\n# TYPE quarry_documents_ingested_total counter\n";
  out += "quarry_documents_ingested_total " + std::to_string(metrics.documents_added.load()) + "\n";
  out += "# HELP quarry_http_requests_in_flight Requests inside a handler (a streamed answer: until its handler returns).\n"
         "# TYPE quarry_http_requests_in_flight gauge\n";
  out += "quarry_http_requests_in_flight " + std::to_string(metrics.in_flight.load()) + "\n";
  out += "# HELP quarry_generation_queue_depth Chat requests waiting for a generation slot.\n# TYPE quarry_generation_queue_depth gauge\n";
  out += "quarry_generation_queue_depth " + std::to_string(generators->waiting()) + "\n";
  out += "# HELP quarry_generation_slots_busy Generation slots in use.\n# TYPE quarry_generation_slots_busy gauge\n";
  out += "quarry_generation_slots_busy " + std::to_string(generators->busy()) + "\n";
  res.set_content(out, "text/plain; version=0.0.4");
}

json Server::Impl::OpenApi() {
  auto op = [](const char* summary, bool body) {
    json path = {{"summary", summary}, {"responses", {{"200", {{"description", "OK"}}}, {"default", {{"description", "an OpenAI-shaped error"}}}}}};
    if (body) path["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    return path;
  };
  json upload = op("Upload files (multipart/form-data, field 'file', repeatable; optional 'metadata' JSON object); returns a report per file", false);
  upload["requestBody"] = {{"required", true}, {"content", {{"multipart/form-data", {{"schema", {{"type", "object"}}}}}}}};
  return {{"openapi", "3.0.3"},
          {"info", {{"title", "Quarry"}, {"version", "0.1.0"}, {"description", "Retrieval-augmented generation over a local knowledge base"}}},
          {"components", {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}}},
          {"security", json::array({{{"bearer", json::array()}}})},
          {"paths",
           {{"/v1/chat/completions", {{"post", op("OpenAI chat completion; model 'quarry' answers from the knowledge base with citations, 'quarry-chat' without retrieval; stream: true for server-sent events. Extra fields: retrieval, k, mode, where, candidates, rerank, rerank_depth, min_answerable, relevance_cut", true)}}},
            {"/v1/embeddings", {{"post", op("OpenAI embeddings with the knowledge base's embedding model", true)}}},
            {"/v1/models", {{"get", op("Models: quarry, quarry-chat and the embedding model", false)}}},
            {"/v1/search", {{"post", op("Search: {query, k, mode (hybrid|bm25|dense), fusion, where, candidates, rrf_k, dense_weight, mmr, mmr_lambda, rerank (default: on with --rerank-model), rerank_depth, per_document}", true)}}},
            {"/v1/documents", {{"get", op("List documents", false)}, {"post", upload}}},
            {"/v1/documents/{id}", {{"get", op("One document; ?text=1 adds its text, ?chunks=1 its chunks", false)}, {"delete", op("Delete a document", false)}}},
            {"/v1/stats", {{"get", op("Collection statistics", false)}}},
            {"/healthz", {{"get", op("Liveness (no authentication)", false)}}},
            {"/metrics", {{"get", op("Prometheus metrics", false)}}},
            {"/openapi.json", {{"get", op("This document", false)}}}}}};
}

}  // namespace quarry
