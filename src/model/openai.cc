// Generator and Embedder backed by an OpenAI-compatible HTTP server
// (llama.cpp's llama-server, vLLM, Ollama, OpenAI itself): /v1/chat/completions,
// /v1/completions and /v1/embeddings.
#include "model/openai.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>

namespace quarry {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string ApiKey() {
  for (const char* var : {"QUARRY_API_KEY", "OPENAI_API_KEY"}) {
    const char* v = std::getenv(var);
    if (v && *v) return v;
  }
  return {};
}

// One server: where it is and how to talk to it. Each call opens its own
// connection, so calls may run on several threads.
class Endpoint {
 public:
  explicit Endpoint(OpenAiSpec spec) : spec_(std::move(spec)), key_(ApiKey()) {}

  const OpenAiSpec& spec() const { return spec_; }
  std::string label() const { return "openai:" + spec_.url; }

  // POSTs body to base path + path. on_data, when set, receives the response
  // body as it arrives (streaming); otherwise the body is returned.
  Result<std::string> Post(const std::string& path, const json& body,
                           const std::function<bool(std::string_view)>& on_data = nullptr) const {
    httplib::Client cli(spec_.scheme_host_port);
    cli.set_connection_timeout(10);
    cli.set_read_timeout(600);
    cli.set_write_timeout(600);
    httplib::Request req;
    req.method = "POST";
    req.path = spec_.base_path + path;
    // Text a user or a document supplied may hold invalid UTF-8: sent as U+FFFD, never a throw.
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    req.set_header("Content-Type", "application/json");
    if (!key_.empty()) req.set_header("Authorization", "Bearer " + key_);
    std::string received, error_body;
    int status = 0;
    req.response_handler = [&](const httplib::Response& r) {
      status = r.status;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
      if (status != 200 || !on_data) {
        (status == 200 ? received : error_body).append(data, len);
        return true;
      }
      return on_data(std::string_view(data, len));
    };
    httplib::Response res;
    httplib::Error err = httplib::Error::Success;
    if (!cli.send(req, res, err) && err != httplib::Error::Canceled) {
      return Status::IOError(label() + ": " + httplib::to_string(err) + " (" + req.path +
                             "); is the server running and the URL right?");
    }
    if (status != 200) {
      std::string detail = error_body.substr(0, 300);
      try {
        json j = json::parse(error_body);
        if (j.contains("error")) detail = j["error"].is_object() ? j["error"].value("message", detail) : j["error"].dump();
      } catch (const json::exception&) {
      }
      std::string hint = status == 401 || status == 403 ? "; set QUARRY_API_KEY (or OPENAI_API_KEY)" : "";
      return Status::IOError(label() + req.path.substr(spec_.base_path.size()) + ": HTTP " + std::to_string(status) + ": " +
                             detail + hint);
    }
    return received;
  }

  // Token count from llama-server's /tokenize; an upper estimate (one token
  // per 3 bytes, which English and CJK text stay under) when the server has none.
  int CountTokens(std::string_view text) const {
    if (!no_tokenize_) {
      httplib::Client cli(spec_.scheme_host_port);
      cli.set_connection_timeout(10);
      httplib::Headers h;
      if (!key_.empty()) h.emplace("Authorization", "Bearer " + key_);
      auto r = cli.Post("/tokenize", h, json{{"content", text}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
      if (r && r->status == 200) {
        try {
          return static_cast<int>(json::parse(r->body).at("tokens").size());
        } catch (const json::exception&) {
        }
      }
      no_tokenize_ = true;
    }
    return static_cast<int>(text.size() / 3 + 1);
  }

 private:
  OpenAiSpec spec_;
  std::string key_;
  mutable std::atomic<bool> no_tokenize_{false};
};

// Fills g from one OpenAI "choice" (chat or completion, whole or a stream delta).
// choices: SamplingOptions::choices, weighed from the first token's top_logprobs
// (a choice not among them gets 0).
void TakeChoice(const json& choice, bool chat, const std::vector<std::string>& choices, Generation* g, std::string* piece) {
  if (chat) {
    const char* field = choice.contains("delta") ? "delta" : "message";
    if (choice.contains(field) && choice[field].contains("content") && choice[field]["content"].is_string()) {
      *piece = choice[field]["content"].get<std::string>();
    }
  } else if (choice.contains("text") && choice["text"].is_string()) {
    *piece = choice["text"].get<std::string>();
  }
  if (choice.contains("finish_reason") && choice["finish_reason"].is_string()) {
    g->finish_reason = choice["finish_reason"].get<std::string>();
  }
  if (choice.contains("logprobs") && choice["logprobs"].is_object() && choice["logprobs"].contains("content") &&
      choice["logprobs"]["content"].is_array()) {
    const json& content = choice["logprobs"]["content"];
    for (const auto& t : content) g->sum_logprob += t.value("logprob", 0.0);
    if (!choices.empty() && g->choice_probs.empty() && !content.empty() && content[0].contains("top_logprobs") &&
        content[0]["top_logprobs"].is_array()) {
      g->choice_probs.assign(choices.size(), 0.0);
      for (const auto& top : content[0]["top_logprobs"]) {
        if (!top.contains("token") || !top["token"].is_string() || !top.contains("logprob") || !top["logprob"].is_number()) continue;
        for (size_t i = 0; i < choices.size(); ++i) {
          if (top["token"].get<std::string>() == choices[i]) g->choice_probs[i] += std::exp(top["logprob"].get<double>());
        }
      }
    }
  }
}

class OpenAiGenerator final : public Generator {
 public:
  OpenAiGenerator(OpenAiSpec spec, const GeneratorOptions& o)
      : ep_(std::move(spec)), id_("openai:" + ep_.spec().url + "#" + ep_.spec().model),
        context_(o.context > 0 ? o.context : 4096), sequences_(std::max(o.sequences, 1)) {}

  Result<std::string> FormatChat(const std::vector<ChatMessage>&) const override {
    return Status::Unsupported(ep_.label() + ": a remote server applies its own chat template");
  }

  Result<std::vector<Generation>> ChatBatch(const std::vector<std::vector<ChatMessage>>& conversations,
                                            const SamplingOptions& sampling, const TokenCallback& on_piece) override {
    QUARRY_RETURN_IF_ERROR(sampling.Validate());
    // Candidates go to the server together; one with parallel slots decodes them at once.
    std::vector<std::future<Result<Generation>>> rest;
    for (size_t i = 1; i < conversations.size(); ++i) {
      rest.push_back(std::async(std::launch::async, [&, i] {
        return Run(true, MessagesJson(conversations[i]), sampling, static_cast<uint32_t>(i), nullptr);
      }));
    }
    std::vector<Generation> out;
    Status first_error;
    if (!conversations.empty()) {
      auto g = Run(true, MessagesJson(conversations[0]), sampling, 0, on_piece);
      if (g.ok()) out.push_back(std::move(*g));
      else first_error = g.status();
    }
    for (auto& f : rest) {
      auto g = f.get();
      if (g.ok()) out.push_back(std::move(*g));
      else if (first_error.ok()) first_error = g.status();
    }
    if (!first_error.ok()) return first_error;
    return out;
  }

  Result<Generation> Complete(std::string_view prompt, const SamplingOptions& sampling, const TokenCallback& on_piece) override {
    QUARRY_RETURN_IF_ERROR(sampling.Validate());
    return Run(false, json(std::string(prompt)), sampling, 0, on_piece);
  }

  int context_size() const override { return context_; }
  int max_sequences() const override { return sequences_; }
  int CountTokens(std::string_view text) const override { return ep_.CountTokens(text); }
  const std::string& model_id() const override { return id_; }

 private:
  static json MessagesJson(const std::vector<ChatMessage>& messages) {
    json m = json::array();
    for (const auto& x : messages) m.push_back({{"role", x.role}, {"content", x.content}});
    return m;
  }

  Result<Generation> Run(bool chat, json input, const SamplingOptions& sampling, uint32_t index,
                         const TokenCallback& on_piece) const {
    const auto t0 = Clock::now();
    SamplingOptions s = sampling;
    if (index == 0 && s.greedy_first) s.temperature = 0;
    json body = {{"model", ep_.spec().model.empty() ? "default" : ep_.spec().model},
                 {"max_tokens", s.max_tokens},
                 {"temperature", s.temperature},
                 {"top_p", s.temperature <= 0 ? 1.0f : s.top_p},
                 {"seed", s.seed + index}};
    if (s.top_k > 0 && s.temperature > 0) body["top_k"] = s.top_k;  // llama-server and vLLM extensions
    if (s.repeat_penalty != 1.0f) body["repeat_penalty"] = s.repeat_penalty;
    if (s.ignore_eos) body["ignore_eos"] = true;
    if (!s.stop.empty()) body["stop"] = s.stop;
    body[chat ? "messages" : "prompt"] = std::move(input);
    if (s.logprobs) {
      if (chat) body["logprobs"] = true;
      else body["logprobs"] = 1;
    }
    if (!s.choices.empty() && chat) body["logprobs"] = true, body["top_logprobs"] = 20;  // OpenAI's most
    const std::vector<std::string> choices = chat ? s.choices : std::vector<std::string>{};
    Generation g;
    g.finish_reason = "length";
    bool first = true;
    auto on_first = [&] {
      if (!first) return;
      first = false;
      g.time_to_first_token_ms = MsSince(t0);
      g.prompt_ms = g.time_to_first_token_ms;
    };
    auto take_usage = [&](const json& j) {
      if (j.contains("usage") && j["usage"].is_object()) {
        g.prompt_tokens = j["usage"].value("prompt_tokens", g.prompt_tokens);
        g.completion_tokens = j["usage"].value("completion_tokens", g.completion_tokens);
      }
    };
    Clock::time_point t_first;
    if (!on_piece) {
      auto r = ep_.Post(chat ? "/chat/completions" : "/completions", body);
      if (!r.ok()) return r.status();
      try {
        json j = json::parse(*r);
        std::string piece;
        TakeChoice(j.at("choices").at(0), chat, choices, &g, &piece);
        g.text = piece;
        take_usage(j);
      } catch (const json::exception& e) {
        return Status::Corruption(ep_.label() + ": unexpected response: " + std::string(e.what()));
      }
      on_first();
      return g;
    }
    body["stream"] = true;
    std::string buf;
    bool stopped = false, bad = false;
    int chunks = 0;
    auto r = ep_.Post(chat ? "/chat/completions" : "/completions", body, [&](std::string_view data) {
      buf.append(data);
      for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
        std::string line = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.rfind("data:", 0) != 0) continue;
        std::string payload = line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5);
        if (payload == "[DONE]") continue;
        try {
          json j = json::parse(payload);
          take_usage(j);
          if (!j.contains("choices") || j["choices"].empty()) continue;
          std::string piece;
          TakeChoice(j["choices"][0], chat, choices, &g, &piece);
          if (piece.empty()) continue;
          if (first) {
            on_first();
            t_first = Clock::now();
          }
          ++chunks;
          g.text += piece;
          if (!on_piece(piece)) {
            stopped = true;
            g.finish_reason = "stop";
            return false;
          }
        } catch (const json::exception&) {
          bad = true;
          return false;
        }
      }
      return true;
    });
    if (!r.ok() && !stopped) return r.status();
    if (bad) return Status::Corruption(ep_.label() + ": malformed server-sent event in the stream");
    if (g.completion_tokens == 0) g.completion_tokens = chunks;
    if (!first) g.generation_ms = MsSince(t_first);
    return g;
  }

  Endpoint ep_;
  std::string id_;
  int context_, sequences_;
};

class OpenAiEmbedder final : public Embedder {
 public:
  OpenAiEmbedder(OpenAiSpec spec, const EmbedderOptions& o)
      : ep_(std::move(spec)), options_(o), id_("openai:" + ep_.spec().url + "#" + ep_.spec().model) {}

  // The server applies whatever its model needs; Quarry sends the text as is.
  Result<std::vector<std::vector<float>>> Embed(const std::vector<std::string>& texts, Role /*role*/) override {
    std::vector<std::vector<float>> out;
    const size_t step = static_cast<size_t>(std::max(options_.max_batch_texts, 1));
    for (size_t i = 0; i < texts.size(); i += step) {
      json input = json::array();
      for (size_t j = i; j < std::min(texts.size(), i + step); ++j) input.push_back(texts[j].empty() ? std::string(" ") : texts[j]);
      json body = {{"model", ep_.spec().model.empty() ? "default" : ep_.spec().model}, {"input", input}};
      auto r = ep_.Post("/embeddings", body);
      if (!r.ok()) return r.status();
      try {
        json j = json::parse(*r);
        const json& data = j.at("data");
        if (data.size() != input.size()) {
          return Status::Corruption(ep_.label() + ": /embeddings returned " + std::to_string(data.size()) + " vectors for " +
                                    std::to_string(input.size()) + " texts");
        }
        std::vector<std::vector<float>> batch(data.size());
        for (size_t k = 0; k < data.size(); ++k) {
          size_t at = data[k].contains("index") ? data[k]["index"].get<size_t>() : k;
          if (at >= batch.size()) return Status::Corruption(ep_.label() + ": /embeddings index out of range");
          batch[at] = data[k].at("embedding").get<std::vector<float>>();
        }
        for (auto& v : batch) {
          if (dim_ == 0) dim_ = static_cast<int>(v.size());
          if (static_cast<int>(v.size()) != dim_) return Status::Corruption(ep_.label() + ": vectors of different lengths");
          if (options_.normalize) {
            double norm = 0;
            for (float x : v) norm += static_cast<double>(x) * x;
            if (norm > 0) for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
          }
          out.push_back(std::move(v));
        }
      } catch (const json::exception& e) {
        return Status::Corruption(ep_.label() + ": unexpected /embeddings response: " + std::string(e.what()));
      }
    }
    return out;
  }

  int CountTokens(std::string_view text) const override { return ep_.CountTokens(text); }
  int dimension() const override { return dim_; }
  int max_tokens() const override { return 512; }
  const std::string& model_id() const override { return id_; }

 private:
  Endpoint ep_;
  EmbedderOptions options_;
  std::string id_;
  int dim_ = 0;
};

}  // namespace

Result<OpenAiSpec> ParseOpenAiSpec(const std::string& spec) {
  if (spec.rfind("openai:", 0) != 0) return Status::InvalidArgument(spec + ": not an openai:URL spec");
  OpenAiSpec s;
  std::string rest = spec.substr(7);
  if (size_t hash = rest.find('#'); hash != std::string::npos) {
    s.model = rest.substr(hash + 1);
    rest.resize(hash);
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  size_t scheme = rest.find("://");
  if (scheme == std::string::npos || (rest.compare(0, scheme, "http") != 0 && rest.compare(0, scheme, "https") != 0)) {
    return Status::InvalidArgument(spec + ": expected openai:http://HOST:PORT/v1[#MODEL]");
  }
  size_t path = rest.find('/', scheme + 3);
  s.scheme_host_port = rest.substr(0, path);
  s.base_path = path == std::string::npos ? "/v1" : rest.substr(path);
  s.url = s.scheme_host_port + s.base_path;
  return s;
}

Result<std::unique_ptr<Generator>> OpenOpenAiGenerator(const std::string& spec, const GeneratorOptions& options) {
  auto s = ParseOpenAiSpec(spec);
  if (!s.ok()) return s.status();
  return std::unique_ptr<Generator>(new OpenAiGenerator(std::move(*s), options));
}

Result<std::unique_ptr<Embedder>> OpenOpenAiEmbedder(const std::string& spec, const EmbedderOptions& options) {
  auto s = ParseOpenAiSpec(spec);
  if (!s.ok()) return s.status();
  auto e = std::make_unique<OpenAiEmbedder>(std::move(*s), options);
  // The dimension is whatever the server's model makes: ask once.
  auto probe = e->Embed({"dimension probe"}, Embedder::Role::kDocument);
  if (!probe.ok()) return probe.status();
  return std::unique_ptr<Embedder>(std::move(e));
}

}  // namespace quarry
