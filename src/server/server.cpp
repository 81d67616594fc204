// The OpenAI-compatible HTTP front (bigdl/serve/server.h).
#include "bigdl/serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "bigdl/error.h"
#include "bigdl/llm/chat.h"
#include "bigdl/llm/embed.h"
#include "bigdl/llm/generate.h"

namespace bigdl::serve {

using json = nlohmann::json;

namespace {

// A request the client got wrong: status, OpenAI error type, message, offending field.
struct ApiError {
  ApiError(int s, std::string m, std::string t = "invalid_request_error", std::string p = "", std::string c = "")
      : status(s), message(std::move(m)), type(std::move(t)), param(std::move(p)), code(std::move(c)) {}
  int status;
  std::string message;
  std::string type;
  std::string param;
  std::string code;
};

// Generated text may hold invalid UTF-8 (a model's byte tokens that form no character,
// flushed at the end): JSON gets U+FFFD for such bytes instead of an exception.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_error(httplib::Response& res, const ApiError& e) {
  json err = {{"message", e.message}, {"type", e.type}, {"param", nullptr}, {"code", nullptr}};
  if (!e.param.empty()) err["param"] = e.param;
  if (!e.code.empty()) err["code"] = e.code;
  res.status = e.status;
  res.set_content(dump(json{{"error", err}}), "application/json");
}

bool is_route(const std::string& path, std::string* method);

// A known path asked with a method it does not take: 405 with Allow, and true. It answers
// before the body is read, so the connection closes after the answer.
bool method_not_allowed(const std::string& got, const std::string& path, httplib::Response& res) {
  std::string method;
  if (!is_route(path, &method) || got == method || (method == "GET" && got == "HEAD")) return false;
  res.set_header("Allow", method == "GET" ? "GET, HEAD" : method);
  res.set_header("Connection", "close");
  send_error(res, {405, got + " is not allowed on " + path + " (it takes " + method + ")", "invalid_request_error", "", "method_not_allowed"});
  return true;
}

bool same_key(const std::string& got, const std::string& want) {
  // Constant time in the key's content (the length of the expected key is not a secret).
  unsigned diff = got.size() == want.size() ? 0u : 1u;
  for (size_t i = 0; i < want.size(); ++i) diff |= unsigned(uint8_t(want[i]) ^ uint8_t(i < got.size() ? got[i] : 0));
  return diff == 0;
}

// ---- field readers: a wrong type or range is ApiError 400 naming the field ----

const json* field(const json& body, const char* name) {
  const auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}
double number(const json& body, const char* name, double def, double lo, double hi) {
  const json* v = field(body, name);
  if (!v) return def;
  if (!v->is_number()) throw ApiError{400, std::string("'") + name + "' must be a number", "invalid_request_error", name};
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi))
    throw ApiError{400, std::string("'") + name + "' must be in [" + json(lo).dump() + ", " + json(hi).dump() + "], got " + v->dump(),
                   "invalid_request_error", name};
  return x;
}
int64_t integer(const json& body, const char* name, int64_t def, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (!v) return def;
  if (!v->is_number_integer()) throw ApiError{400, std::string("'") + name + "' must be an integer", "invalid_request_error", name};
  // Beyond INT64_MAX the JSON value is unsigned: as int64_t it would wrap to a negative number.
  const bool above = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX);
  const int64_t x = v->get<int64_t>();
  if (above || x < lo || x > hi)
    throw ApiError{400, std::string("'") + name + "' must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " +
                            v->dump(),
                   "invalid_request_error", name};
  return x;
}
bool boolean(const json& body, const char* name, bool def) {
  const json* v = field(body, name);
  if (!v) return def;
  if (!v->is_boolean()) throw ApiError{400, std::string("'") + name + "' must be a boolean", "invalid_request_error", name};
  return v->get<bool>();
}

// What a completion request asks for besides its prompt.
struct Common {
  bool stream = false;
  bool include_usage = false;
  int64_t max_tokens = -1;  // -1: as many as fit
  int64_t max_tokens_fit = -1;  // the largest of max_tokens / max_completion_tokens given: it must fit the context
  int top_logprobs = -1;
  bool json_object = false;
  llm::GenerateOptions gen;
};

Common read_common(const json& body, bool chat, uint64_t fallback_seed) {
  Common c;
  c.stream = boolean(body, "stream", false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) throw ApiError{400, "'stream_options' must be an object", "invalid_request_error", "stream_options"};
    c.include_usage = boolean(*so, "include_usage", false);
  }
  c.max_tokens = integer(body, "max_tokens", -1, 1, int64_t(1) << 30);
  c.max_tokens_fit = c.max_tokens;
  if (chat) {
    // max_completion_tokens (the newer name) wins, but a max_tokens beside it is checked as well.
    c.max_tokens = integer(body, "max_completion_tokens", c.max_tokens, 1, int64_t(1) << 30);
    c.max_tokens_fit = std::max(c.max_tokens_fit, c.max_tokens);
  }
  if (!chat && c.max_tokens < 0 && !field(body, "max_tokens")) c.max_tokens = 16;  // OpenAI's default for completions
  if (integer(body, "n", 1, 1, 1) != 1) throw ApiError{400, "only n = 1 is supported", "invalid_request_error", "n"};
  llm::SamplerOptions& s = c.gen.sampler;
  s.temperature = float(number(body, "temperature", 1.0, 0.0, 2.0));
  const double top_p = number(body, "top_p", 1.0, 0.0, 1.0);
  if (top_p <= 0.0) throw ApiError{400, "'top_p' must be in (0, 1]", "invalid_request_error", "top_p"};
  // A positive top_p below float's range (5e-324 is valid JSON) keeps the top token, as any tiny one does.
  s.top_p = std::max(float(top_p), std::numeric_limits<float>::denorm_min());
  s.top_k = int32_t(integer(body, "top_k", 0, 0, 1 << 20));  // extension (llama-server's)
  s.min_p = float(number(body, "min_p", 0.0, 0.0, 1.0));   // extension
  s.presence_penalty = float(number(body, "presence_penalty", 0.0, -2.0, 2.0));
  s.frequency_penalty = float(number(body, "frequency_penalty", 0.0, -2.0, 2.0));
  s.repetition_penalty = float(number(body, "repetition_penalty", 1.0, 1e-3, 100.0));  // extension
  s.seed = uint64_t(integer(body, "seed", int64_t(fallback_seed & 0x7FFFFFFFFFFFFFFFull), INT64_MIN, INT64_MAX));
  if (const json* st = field(body, "stop")) {
    if (st->is_string()) {
      c.gen.stop_strings.push_back(st->get<std::string>());
    } else if (st->is_array() && st->size() <= 4) {
      for (const auto& x : *st) {
        if (!x.is_string()) throw ApiError{400, "'stop' must be a string or an array of up to 4 strings", "invalid_request_error", "stop"};
        c.gen.stop_strings.push_back(x.get<std::string>());
      }
    } else {
      throw ApiError{400, "'stop' must be a string or an array of up to 4 strings", "invalid_request_error", "stop"};
    }
    for (const auto& x : c.gen.stop_strings)
      if (x.empty()) throw ApiError{400, "'stop' strings must not be empty", "invalid_request_error", "stop"};
  }
  if (chat) {
    if (boolean(body, "logprobs", false)) c.top_logprobs = int(integer(body, "top_logprobs", 0, 0, 20));
    else if (field(body, "top_logprobs")) throw ApiError{400, "'top_logprobs' needs 'logprobs': true", "invalid_request_error", "top_logprobs"};
  } else {
    c.top_logprobs = int(integer(body, "logprobs", -1, 0, 5));
  }
  if (const json* rf = field(body, "response_format")) {
    const json* t = rf->is_object() ? field(*rf, "type") : nullptr;
    if (!t || !t->is_string())
      throw ApiError{400, "'response_format' must be {\"type\": \"text\" | \"json_object\"}", "invalid_request_error", "response_format"};
    const std::string type = t->get<std::string>();
    if (type == "json_object") c.json_object = true;
    else if (type != "text")
      throw ApiError{400, "response_format type '" + type + "' is not supported (supported: text, json_object)",
                     "invalid_request_error", "response_format"};
  }
  return c;
}

std::string message_text(const json& content, size_t i) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_array()) {
    std::string out;
    for (const auto& part : content) {
      const json* type = part.is_object() ? field(part, "type") : nullptr;
      const json* text = part.is_object() ? field(part, "text") : nullptr;
      if (!type || !text || *type != "text" || !text->is_string())
        throw ApiError{400, "messages[" + std::to_string(i) + "].content: only text parts are supported", "invalid_request_error",
                       "messages"};
      out += text->get<std::string>();
    }
    return out;
  }
  throw ApiError{400, "messages[" + std::to_string(i) + "].content must be a string or an array of text parts",
                 "invalid_request_error", "messages"};
}

std::string finish_reason(llm::StopReason r) {
  return r == llm::StopReason::Eos || r == llm::StopReason::StopString ? "stop" : "length";
}

json usage_of(const llm::GenerateResult& r) {
  return {{"prompt_tokens", r.n_prompt}, {"completion_tokens", r.n_generated}, {"total_tokens", r.n_prompt + r.n_generated}};
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char ch : s) b.push_back(int(ch));
  return b;
}

std::string openapi_json(const std::string& model_id, int64_t n_ctx, int64_t n_vocab, bool generator, bool api_key);

// RFC 4648 base64 of n bytes (the f32 values as they lie in memory: little-endian on x86).
std::string base64_of(const void* data, size_t n) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = static_cast<const unsigned char*>(data);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = uint32_t(p[i]) << 16 | (i + 1 < n ? uint32_t(p[i + 1]) << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

}  // namespace

struct Server::Impl {
  std::shared_ptr<const llm::Model> model;
  Engine* engine;  // null for an encoder
  const llm::Vocab& vocab;
  int parallel;
  // Encoders: contexts lent to /v1/embeddings requests, one at a time each.
  std::vector<std::unique_ptr<llm::Context>> idle_ctx;
  std::mutex ctx_mu;
  std::condition_variable ctx_cv;
  ServerOptions opt;
  std::string chat_template;
  httplib::Server svr;
  std::atomic<bool> draining{false};
  std::atomic<uint64_t> counter{0};
  std::atomic<int64_t> http_4xx{0}, http_5xx{0};

  Impl(std::shared_ptr<const llm::Model> m, Engine* e, const llm::Vocab& v, ServerOptions o, int par)
      : model(std::move(m)), engine(e), vocab(v), parallel(par), opt(std::move(o)) {
    BIGDL_CHECK(engine != nullptr || !model->config().causal, ValueError, "serve", "a generator model needs an Engine");
    if (!engine)
      // An f32 cache, as `bigdl llm embed`: an encoder reads it once, so f16 only loses precision.
      for (int i = 0; i < parallel; ++i) idle_ctx.push_back(std::make_unique<llm::Context>(model, llm::ContextOptions{.kv_type = "f32"}));
    chat_template = !opt.chat_template.empty() ? opt.chat_template : vocab.chat_template();
    try {
      llm::detect_chat_format(chat_template);
    } catch (const std::exception&) {
      chat_template = "chatml";  // no template, or one we cannot run: ChatML, as llama-server
    }
    routes();
  }

  std::string next_id(const char* prefix) { return prefix + std::to_string(::getpid()) + "-" + std::to_string(++counter); }

  void routes();
  void completion(const httplib::Request& req, httplib::Response& res, bool chat);
  void embeddings(const httplib::Request& req, httplib::Response& res);
  std::string metrics() const;
};

void Server::Impl::routes() {
  // Every admitted or queued request holds a thread while it runs; a few more answer
  // /health, /metrics and the requests that are refused.
  const int threads = opt.http_threads > 0 ? opt.http_threads
                      : engine ? int(engine->options().parallel + engine->options().max_queue + 16)
                               : 4 * parallel + 16;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  svr.set_payload_max_length(size_t(opt.max_body_bytes));
  svr.set_read_timeout(30, 0);
  svr.set_write_timeout(30, 0);
  // These answers come before httplib reads the body: the connection closes after them, or
  // the body's bytes would be read as the next request on it (a 400 for someone else's request).
  svr.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path.rfind("/v1/", 0) == 0 || req.path == "/v1") {
      if (!opt.api_key.empty()) {
        const std::string auth = req.get_header_value("Authorization");
        const std::string prefix = "Bearer ";
        if (auth.rfind(prefix, 0) != 0 || !same_key(auth.substr(prefix.size()), opt.api_key)) {
          res.set_header("Connection", "close");
          send_error(res, {401, "invalid or missing API key (send Authorization: Bearer KEY)", "invalid_request_error", "", "invalid_api_key"});
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      if (draining && req.method == "POST") {
        res.set_header("Connection", "close");
        send_error(res, {503, "the server is shutting down", "server_error"});
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    // A known path with another method: 405 naming the one it takes (httplib would answer
    // 404, or 400 for a method it does not know, such as TRACE).
    return method_not_allowed(req.method, req.path, res) ? httplib::Server::HandlerResponse::Handled
                                                         : httplib::Server::HandlerResponse::Unhandled;
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // an error object already
    // A request line httplib refuses before routing (a method it does not know, such as
    // QUERY: 400, and no path parsed) on a known path is 405 too.
    if (res.status == 400 && req.path.empty() && method_not_allowed(req.method, req.target.substr(0, req.target.find('?')), res)) return;
    // httplib's own 400 (a request it cannot parse, a multipart body without a boundary) and
    // 413 leave the body unread: the connection closes, or it would be read as the next request.
    if (res.status != 404) res.set_header("Connection", "close");
    if (res.status == 404) send_error(res, {404, "no route for " + req.method + " " + req.path, "invalid_request_error", "", "not_found"});
    else if (res.status == 413) send_error(res, {413, "the request body is larger than the limit", "invalid_request_error"});
    else send_error(res, {res.status, "HTTP " + std::to_string(res.status), res.status < 500 ? "invalid_request_error" : "server_error"});
  });
  svr.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(res, {500, what, "server_error"});
  });
  svr.set_logger([this](const httplib::Request&, const httplib::Response& res) {
    if (res.status >= 500) ++http_5xx;
    else if (res.status >= 400) ++http_4xx;
  });
  svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (draining) {
      res.status = 503;
      res.set_content(R"({"status":"draining"})", "application/json");
    } else {
      res.set_content(R"({"status":"ok"})", "application/json");
    }
  });
  svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const json m = {{"id", opt.model_id}, {"object", "model"}, {"created", int64_t(std::time(nullptr))}, {"owned_by", "bigdl-cpp"}};
    res.set_content(dump(json{{"object", "list"}, {"data", json::array({m})}}), "application/json");
  });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) { res.set_content(metrics(), "text/plain; version=0.0.4"); });
  const std::string doc = engine ? openapi_json(opt.model_id, engine->n_ctx(), engine->config().n_vocab, true, !opt.api_key.empty())
                                  : openapi_json(opt.model_id, 0, model->config().n_vocab, false, !opt.api_key.empty());
  svr.Get("/openapi.json", [doc](const httplib::Request&, httplib::Response& res) { res.set_content(doc, "application/json"); });
  svr.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, true); });
  svr.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { completion(req, res, false); });
  svr.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) { embeddings(req, res); });
}

// The request body as a JSON object naming the served model (errors: 400, 404).
json read_body(const httplib::Request& req, const std::string& model_id) {
  json body;
  try {
    body = json::parse(req.body);
  } catch (const json::parse_error& e) {
    throw ApiError{400, std::string("the body is not valid JSON: ") + e.what()};
  }
  if (!body.is_object()) throw ApiError{400, "the body must be a JSON object"};
  const json* model = field(body, "model");
  if (!model) throw ApiError{400, "'model' is required", "invalid_request_error", "model"};
  if (!model->is_string()) throw ApiError{400, "'model' must be a string", "invalid_request_error", "model"};
  if (model->get<std::string>() != model_id)
    throw ApiError{404, "the model '" + model->get<std::string>() + "' does not exist (this server has '" + model_id + "')",
                   "invalid_request_error", "model", "model_not_found"};
  return body;
}

void Server::Impl::embeddings(const httplib::Request& req, httplib::Response& res) {
  try {
    const json body = read_body(req, opt.model_id);
    if (engine)
      throw ApiError{400, "this model is a generator; /v1/embeddings needs an embedding model (--model of a BERT-style encoder)",
                     "invalid_request_error", "model"};
    const json* input = field(body, "input");
    std::vector<std::string> texts;
    if (input && input->is_string()) texts.push_back(input->get<std::string>());
    else if (input && input->is_array() && !input->empty() && input->size() <= 2048 &&
             std::all_of(input->begin(), input->end(), [](const json& x) { return x.is_string(); }))
      for (const auto& x : *input) texts.push_back(x.get<std::string>());
    else throw ApiError{400, "'input' must be a string or an array of 1 to 2048 strings", "invalid_request_error", "input"};
    bool base64 = false;  // the openai client asks for base64 (little-endian f32) by default
    if (const json* f = field(body, "encoding_format")) {
      if (*f == "base64") base64 = true;
      else if (*f != "float") throw ApiError{400, "'encoding_format' must be \"float\" or \"base64\"", "invalid_request_error", "encoding_format"};
    }
    std::unique_ptr<llm::Context> ctx;
    {
      std::unique_lock<std::mutex> lk(ctx_mu);
      ctx_cv.wait(lk, [&] { return !idle_ctx.empty(); });
      ctx = std::move(idle_ctx.back());
      idle_ctx.pop_back();
    }
    struct Return {
      Impl& s;
      std::unique_ptr<llm::Context>& c;
      ~Return() {
        std::lock_guard<std::mutex> lk(s.ctx_mu);
        s.idle_ctx.push_back(std::move(c));
        s.ctx_cv.notify_one();
      }
    } give_back{*this, ctx};
    json data = json::array();
    int64_t tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const int64_t n = int64_t(vocab.encode(texts[i], /*add_special=*/true, /*parse_special=*/false).size());
      if (n > ctx->n_ctx())
        throw ApiError{400, "input[" + std::to_string(i) + "] is " + std::to_string(n) + " tokens, more than the context length " +
                                std::to_string(ctx->n_ctx()),
                       "invalid_request_error", "input", "context_length_exceeded"};
      std::vector<float> e;
      try {
        e = llm::embed(*ctx, vocab, texts[i]);
      } catch (const bigdl::Error& ex) {
        throw ApiError{400, "input[" + std::to_string(i) + "]: " + ex.what(), "invalid_request_error", "input"};
      }
      tokens += n;
      if (base64) data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", base64_of(e.data(), e.size() * sizeof(float))}});
      else data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", e}});
    }
    res.set_content(dump(json{{"object", "list"}, {"data", data}, {"model", opt.model_id},
                              {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}}),
                    "application/json");
  } catch (const ApiError& e) {
    send_error(res, e);
  }
}

void Server::Impl::completion(const httplib::Request& req, httplib::Response& res, bool chat) {
  try {
    const json body = read_body(req, opt.model_id);
    if (!engine)
      throw ApiError{400, "this model is an encoder (" + model->config().arch + "): it answers /v1/embeddings only",
                     "invalid_request_error", "model"};
    Common c = read_common(body, chat, uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) ^ counter.load());
    Request r;
    if (chat) {
      const json* msgs = field(body, "messages");
      if (!msgs || !msgs->is_array() || msgs->empty())
        throw ApiError{400, "'messages' must be a non-empty array", "invalid_request_error", "messages"};
      std::vector<llm::ChatMessage> conv;
      for (size_t i = 0; i < msgs->size(); ++i) {
        const json& m = (*msgs)[i];
        const json* role = m.is_object() ? field(m, "role") : nullptr;
        if (!role || !role->is_string())
          throw ApiError{400, "messages[" + std::to_string(i) + "].role must be a string", "invalid_request_error", "messages"};
        const std::string rs = role->get<std::string>();
        if (rs != "system" && rs != "user" && rs != "assistant" && rs != "developer")
          throw ApiError{400, "messages[" + std::to_string(i) + "].role '" + rs + "' is not supported (system, user, assistant)",
                         "invalid_request_error", "messages"};
        const json* content = field(m, "content");
        if (!content) throw ApiError{400, "messages[" + std::to_string(i) + "].content is required", "invalid_request_error", "messages"};
        conv.push_back({rs == "developer" ? "system" : rs, message_text(*content, i)});
      }
      c.gen = llm::chat_options(vocab, chat_template, std::move(c.gen));
      r.prompt = llm::encode_prompt(vocab, llm::format_chat(vocab, chat_template, conv), /*parse_special=*/true);
    } else {
      const json* p = field(body, "prompt");
      if (p && p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
      if (p && p->is_string()) {
        r.prompt = llm::encode_prompt(vocab, p->get<std::string>());
      } else if (p && p->is_array() && !p->empty() && std::all_of(p->begin(), p->end(), [](const json& x) { return x.is_number_integer(); })) {
        for (const auto& x : *p) {
          const int64_t id = x.get<int64_t>();
          if (id < 0 || id >= engine->config().n_vocab)
            throw ApiError{400, "prompt token " + std::to_string(id) + " is outside [0, " + std::to_string(engine->config().n_vocab) + ")",
                           "invalid_request_error", "prompt"};
          r.prompt.push_back(llm::TokenId(id));
        }
      } else {
        throw ApiError{400, "'prompt' must be a string, an array of one string, or an array of token ids", "invalid_request_error", "prompt"};
      }
      if (boolean(body, "echo", false)) throw ApiError{400, "'echo' is not supported", "invalid_request_error", "echo"};
    }
    const int64_t n_prompt = int64_t(r.prompt.size()), n_ctx = engine->n_ctx();
    if (n_prompt == 0)  // "", or only bytes the vocabulary has no token for (SmolLM2 has none for 0x1D)
      throw ApiError{400, "the prompt is empty (it gives no tokens)", "invalid_request_error", chat ? "messages" : "prompt", "empty_prompt"};
    if (n_prompt >= n_ctx || (c.max_tokens_fit > 0 && n_prompt + c.max_tokens_fit > n_ctx))
      throw ApiError{400, "the prompt (" + std::to_string(n_prompt) + " tokens) plus max_tokens (" +
                              (c.max_tokens_fit > 0 ? std::to_string(c.max_tokens_fit) : std::string("at least 1")) +
                              ") exceeds the context length " + std::to_string(n_ctx),
                     "invalid_request_error", "max_tokens", "context_length_exceeded"};
    c.gen.max_new_tokens = c.max_tokens > 0 ? c.max_tokens : n_ctx - n_prompt;
    r.gen = c.gen;
    r.top_logprobs = c.top_logprobs;
    r.json_object = c.json_object;
    r.deadline = Clock::now() + std::chrono::milliseconds(int64_t(opt.timeout_s * 1000));
    std::shared_ptr<Handle> h;
    try {
      h = engine->submit(std::move(r));
    } catch (const QueueFull& e) {
      res.set_header("Retry-After", "1");
      throw ApiError{429, e.what(), "rate_limit_error", "", "queue_full"};
    } catch (const Draining& e) {
      throw ApiError{503, e.what(), "server_error"};
    } catch (const bigdl::Error& e) {
      throw ApiError{400, e.what()};
    }
    const std::string id = next_id(chat ? "chatcmpl-" : "cmpl-");
    const int64_t created = int64_t(std::time(nullptr));
    const std::string model_id = opt.model_id;
    const llm::Vocab* vocab_p = &vocab;
    // One token's alternatives as legacy completions write them: {token text: logprob}.
    const auto lp_legacy_top = [vocab_p](const std::vector<TokenLogprob>& lp) {
      json top = json::object();
      for (size_t i = 1; i < lp.size(); ++i) top[vocab_p->token_to_piece(lp[i].id)] = lp[i].logprob;
      return top;
    };
    // One token's logprobs in the API's shape.
    const auto lp_chat = [vocab_p](const std::vector<TokenLogprob>& lp) {
      const std::string tok = vocab_p->token_to_piece(lp[0].id);
      json top = json::array();
      for (size_t i = 1; i < lp.size(); ++i) {
        const std::string t = vocab_p->token_to_piece(lp[i].id);
        top.push_back({{"token", t}, {"logprob", lp[i].logprob}, {"bytes", bytes_of(t)}});
      }
      return json{{"token", tok}, {"logprob", lp[0].logprob}, {"bytes", bytes_of(tok)}, {"top_logprobs", top}};
    };
    if (!c.stream) {
      std::string text;
      json lps = json::array();
      std::vector<json> legacy_top;
      std::vector<std::string> legacy_tokens;
      std::vector<float> legacy_lp;
      Event ev;
      while (h->next(ev)) {
        if (ev.kind == Event::Text) {
          text += ev.text;
          if (!ev.logprobs.empty()) {
            lps.push_back(lp_chat(ev.logprobs));
            legacy_tokens.push_back(vocab.token_to_piece(ev.logprobs[0].id));
            legacy_lp.push_back(ev.logprobs[0].logprob);
            legacy_top.push_back(lp_legacy_top(ev.logprobs));
          }
          continue;
        }
        if (ev.kind == Event::Error) {
          if (ev.error == "deadline exceeded") throw ApiError{408, "the request ran past its deadline (" + dump(json(opt.timeout_s)) + " s)", "timeout"};
          throw ApiError{500, ev.error, "server_error"};
        }
        const llm::GenerateResult& g = ev.result;
        json choice = {{"index", 0}, {"finish_reason", finish_reason(g.stop_reason)}, {"logprobs", nullptr}};
        if (chat) {
          choice["message"] = {{"role", "assistant"}, {"content", g.text}};
          if (c.top_logprobs >= 0) choice["logprobs"] = {{"content", lps}};
        } else {
          choice["text"] = g.text;
          if (c.top_logprobs >= 0) choice["logprobs"] = {{"tokens", legacy_tokens}, {"token_logprobs", legacy_lp}, {"top_logprobs", legacy_top}};
        }
        const json out = {{"id", id},
                          {"object", chat ? "chat.completion" : "text_completion"},
                          {"created", created},
                          {"model", model_id},
                          {"choices", json::array({choice})},
                          {"usage", usage_of(g)}};
        res.set_content(dump(out), "application/json");
        return;
      }
      throw ApiError{500, "the request ended without a result", "server_error"};
    }
    // Streaming: server-sent events, one per text piece.
    struct StreamState {
      bool sent_role = false;
      bool finished = false;
    };
    auto st = std::make_shared<StreamState>();
    const bool include_usage = c.include_usage;
    const int top_lp = c.top_logprobs;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [h, st, id, created, model_id, chat, include_usage, top_lp, lp_chat, lp_legacy_top, vocab_p](size_t, httplib::DataSink& sink) {
          const auto send = [&](const json& j) {
            const std::string line = "data: " + dump(j) + "\n\n";
            return sink.write(line.data(), line.size());
          };
          const auto chunk = [&](json choice) {
            return json{{"id", id},
                        {"object", chat ? "chat.completion.chunk" : "text_completion"},
                        {"created", created},
                        {"model", model_id},
                        {"choices", json::array({std::move(choice)})}};
          };
          if (chat && !st->sent_role) {
            st->sent_role = true;
            if (!send(chunk({{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}}))) {
              h->cancel();
              return false;
            }
          }
          Event ev;
          bool timed_out = false;
          if (!h->next_for(ev, std::chrono::milliseconds(200), timed_out)) {
            if (timed_out) {
              if (sink.is_writable()) return true;
              h->cancel();
              return false;
            }
            sink.done();
            return true;
          }
          bool ok = true;
          if (ev.kind == Event::Text) {
            json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
            if (chat) {
              choice["delta"] = {{"content", ev.text}};
              if (top_lp >= 0 && !ev.logprobs.empty()) choice["logprobs"] = {{"content", json::array({lp_chat(ev.logprobs)})}};
            } else {
              choice["text"] = ev.text;
              if (top_lp >= 0 && !ev.logprobs.empty()) {
                choice["logprobs"] = {{"tokens", {vocab_p->token_to_piece(ev.logprobs[0].id)}},
                                      {"token_logprobs", {ev.logprobs[0].logprob}},
                                      {"top_logprobs", json::array({lp_legacy_top(ev.logprobs)})}};
              }
            }
            ok = send(chunk(choice));
          } else if (ev.kind == Event::Done) {
            json choice = {{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish_reason(ev.result.stop_reason)}};
            if (chat) choice["delta"] = json::object();
            else choice["text"] = "";
            ok = send(chunk(choice));
            if (ok && include_usage) {
              json u = chunk(json::object());
              u["choices"] = json::array();
              u["usage"] = usage_of(ev.result);
              ok = send(u);
            }
            if (ok) {
              const std::string done = "data: [DONE]\n\n";
              ok = sink.write(done.data(), done.size());
            }
            st->finished = true;
            if (ok) sink.done();
          } else {
            ok = send(json{{"error", {{"message", ev.error}, {"type", "server_error"}, {"param", nullptr}, {"code", nullptr}}}});
            st->finished = true;
            if (ok) sink.done();
          }
          if (!ok) h->cancel();
          return ok;
        },
        [h](bool success) {
          if (!success) h->cancel();
        });
  } catch (const ApiError& e) {
    send_error(res, e);
  }
}

std::string Server::Impl::metrics() const {
  const EngineStats s = engine ? engine->stats() : EngineStats{};
  std::ostringstream o;
  const auto metric = [&](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  };
  metric("bigdl_requests_total", "counter", "Generation requests by how they ended.");
  o << "bigdl_requests_total{status=\"done\"} " << s.requests_done << "\n";
  o << "bigdl_requests_total{status=\"failed\"} " << s.requests_failed << "\n";
  o << "bigdl_requests_total{status=\"cancelled\"} " << s.requests_cancelled << "\n";
  o << "bigdl_requests_total{status=\"rejected\"} " << s.requests_rejected << "\n";
  metric("bigdl_http_errors_total", "counter", "HTTP responses with a 4xx or 5xx status.");
  o << "bigdl_http_errors_total{class=\"4xx\"} " << http_4xx.load() << "\n";
  o << "bigdl_http_errors_total{class=\"5xx\"} " << http_5xx.load() << "\n";
  // A metric with one unlabelled value.
  const auto single = [&](const char* name, const char* type, const char* help, double value) {
    metric(name, type, help);
    o << name << " " << value << "\n";
  };
  single("bigdl_prompt_tokens_total", "counter", "Prompt tokens fed.", double(s.prompt_tokens));
  single("bigdl_generated_tokens_total", "counter", "Tokens generated.", double(s.generated_tokens));
  single("bigdl_queue_depth", "gauge", "Requests waiting for a sequence slot.", double(s.waiting));
  single("bigdl_active_sequences", "gauge", "Sequences being generated.", double(s.active));
  single("bigdl_kv_blocks_used", "gauge", "KV-cache blocks (64 positions) of running sequences (a shared block once).",
         double(s.kv_blocks_used));
  single("bigdl_kv_blocks_cached", "gauge", "Other KV-cache blocks in use: kept by idle slots for prefix reuse.",
         double(s.kv_blocks_cached));
  single("bigdl_kv_blocks_total", "gauge", "KV-cache blocks of the pool all slots share.", double(s.kv_blocks_total));
  single("bigdl_prompt_tokens_cached_total", "counter", "Prompt tokens not fed: a slot's cache held them.",
         double(s.prompt_tokens_cached));
  single("bigdl_prompt_tokens_shared_total", "counter",
         "Of those, tokens whose KV blocks were taken from another slot (shared, copy on write).",
         double(s.prompt_tokens_shared));
  metric("bigdl_time_to_first_token_seconds", "summary", "Submit to first generated token, finished requests.");
  o << "bigdl_time_to_first_token_seconds_sum " << s.ttft_sum_s << "\n";
  o << "bigdl_time_to_first_token_seconds_count " << s.requests_done << "\n";
  single("bigdl_forward_steps_total", "counter", "Batched forward passes.", double(s.steps));
  single("bigdl_tokens_per_second", "gauge", "Generated tokens per second of forward time, since start.",
         s.busy_s > 0 ? double(s.generated_tokens) / s.busy_s : 0.0);
  return o.str();
}

namespace {

// The paths this server routes and the one method each takes (GET also answers HEAD). Any
// other method on them is 405 with Allow; any other path is 404.
struct Route {
  const char* path;
  const char* method;
};
constexpr Route kRoutes[] = {{"/v1/chat/completions", "POST"}, {"/v1/completions", "POST"}, {"/v1/embeddings", "POST"},
                             {"/v1/models", "GET"},           {"/health", "GET"},          {"/metrics", "GET"},
                             {"/openapi.json", "GET"}};

bool is_route(const std::string& path, std::string* method) {
  for (const Route& r : kRoutes)
    if (path == r.path) {
      *method = r.method;
      return true;
    }
  return false;
}

// The OpenAPI 3.0 document of this server, as it behaves (schemathesis checks it both ways:
// what the schema allows is answered 2xx, what it does not is answered 4xx, and every
// answer matches its declared schema). So it is per server: the model id is the only
// accepted `model`, max_tokens is bounded by the context, token ids by the vocabulary, and
// only the endpoints the model answers are listed (a generator's /v1/embeddings and an
// encoder's completion paths are always 400). Optional fields are nullable: null means the
// default, as in OpenAI's API.
std::string openapi_json(const std::string& model_id, int64_t n_ctx, int64_t n_vocab, bool generator, bool api_key) {
  const auto nullable = [](json s) {
    s["nullable"] = true;
    if (s.contains("enum")) s["enum"].push_back(nullptr);
    return s;
  };
  const auto type = [](const char* t) { return json{{"type", t}}; };
  const auto ranged = [](const char* t, json lo, json hi) { return json{{"type", t}, {"minimum", lo}, {"maximum", hi}}; };
  const auto object = [](std::vector<std::string> required, json props) {
    json o = {{"type", "object"}, {"properties", std::move(props)}};
    if (!required.empty()) o["required"] = std::move(required);
    return o;
  };
  const auto array = [](json items, int64_t min_items = 0, int64_t max_items = -1) {
    json a = {{"type", "array"}, {"items", std::move(items)}};
    if (min_items > 0) a["minItems"] = min_items;
    if (max_items >= 0) a["maxItems"] = max_items;
    return a;
  };
  const json string1 = {{"type", "string"}, {"minLength", 1}};
  const json error = object({"error"}, {{"error", object({"message", "type", "param", "code"},
                                                         {{"message", type("string")},
                                                          {"type", type("string")},
                                                          {"param", nullable(type("string"))},
                                                          {"code", nullable(type("string"))}})}});
  const json usage = object({"prompt_tokens", "completion_tokens", "total_tokens"},
                            {{"prompt_tokens", type("integer")}, {"completion_tokens", type("integer")}, {"total_tokens", type("integer")}});
  const auto content = [](const char* media, json schema) { return json{{media, {{"schema", std::move(schema)}}}}; };
  const auto answer = [&](const char* what, json c) { return json{{"description", what}, {"content", std::move(c)}}; };
  // A POST's answers: 200 (JSON; or events when it streams), and the errors it can give.
  const auto post_responses = [&](json ok, bool streams) {
    json c = content("application/json", std::move(ok));
    // Each event (schemathesis validates them one by one): data is a chunk object's JSON, or [DONE] last.
    if (streams) c["text/event-stream"] = {{"schema", object({"data"}, {{"data", type("string")}})}};
    json r = {{"200", answer(streams ? "the result (server-sent events when stream is true)" : "the result", c)}};
    std::vector<const char*> codes = {"400", "404", "408", "413", "429", "500", "503"};
    if (api_key) codes.push_back("401");
    for (const char* code : codes) r[code] = answer("an OpenAI error object", content("application/json", error));
    return r;
  };
  const auto post = [&](const char* summary, json request, json ok, bool streams) {
    json op = {{"summary", summary},
               {"requestBody", {{"required", true}, {"content", content("application/json", std::move(request))}}},
               {"responses", post_responses(std::move(ok), streams)}};
    if (api_key) op["security"] = json::array({{{"bearer", json::array()}}});
    return json{{"post", std::move(op)}};
  };

  // Sampling fields both completion paths take.
  const json max_tokens = nullable(ranged("integer", 1, n_ctx - 1));  // the prompt takes at least one position
  json sampling = {
      {"model", {{"type", "string"}, {"enum", {model_id}}}},
      {"max_tokens", max_tokens},
      {"temperature", nullable(ranged("number", 0, 2))},
      {"top_p", nullable(json{{"type", "number"}, {"minimum", 0}, {"exclusiveMinimum", true}, {"maximum", 1}})},
      {"top_k", nullable(ranged("integer", 0, 1 << 20))},
      {"min_p", nullable(ranged("number", 0, 1))},
      {"presence_penalty", nullable(ranged("number", -2, 2))},
      {"frequency_penalty", nullable(ranged("number", -2, 2))},
      {"repetition_penalty", nullable(ranged("number", 1e-3, 100))},
      {"seed", nullable(ranged("integer", INT64_MIN, INT64_MAX))},
      {"stop", nullable(json{{"oneOf", {string1, array(string1, 0, 4)}}})},
      {"stream", nullable(type("boolean"))},
      {"stream_options", nullable(object({}, {{"include_usage", nullable(type("boolean"))}}))},
      {"n", nullable(ranged("integer", 1, 1))}};
  const json logprob = object({"token", "logprob", "bytes"},
                              {{"token", type("string")}, {"logprob", type("number")}, {"bytes", array(ranged("integer", 0, 255))}});
  json token_logprob = logprob;
  token_logprob["required"].push_back("top_logprobs");
  token_logprob["properties"]["top_logprobs"] = array(logprob);
  const auto result = [&](const char* object_name, json choice) {
    return object({"id", "object", "created", "model", "choices", "usage"},
                  {{"id", type("string")},
                   {"object", {{"type", "string"}, {"enum", {object_name}}}},
                   {"created", type("integer")},
                   {"model", type("string")},
                   {"choices", array(std::move(choice), 1, 1)},
                   {"usage", usage}});
  };
  const json finish = {{"type", "string"}, {"enum", {"stop", "length"}}};

  json chat = object({"model", "messages"}, sampling);
  const json text_part = object({"type", "text"}, {{"type", {{"type", "string"}, {"enum", {"text"}}}}, {"text", type("string")}});
  chat["properties"]["max_completion_tokens"] = max_tokens;
  chat["properties"]["messages"] =
      array(object({"role", "content"}, {{"role", {{"type", "string"}, {"enum", {"system", "user", "assistant", "developer"}}}},
                                         {"content", {{"oneOf", {type("string"), array(text_part)}}}}}),
            1);
  chat["properties"]["logprobs"] = nullable(type("boolean"));
  chat["properties"]["top_logprobs"] = nullable(ranged("integer", 0, 20));
  // top_logprobs (not null) needs logprobs: true.
  const json no_top = {{"not", {{"required", {"top_logprobs"}}}}};
  const json null_top = {{"properties", {{"top_logprobs", nullable(json{{"enum", json::array()}})}}}};
  const json with_logprobs = {{"required", {"logprobs"}}, {"properties", {{"logprobs", {{"enum", {true}}}}}}};
  chat["anyOf"] = json::array({no_top, null_top, with_logprobs});
  chat["properties"]["response_format"] =
      nullable(object({"type"}, {{"type", {{"type", "string"}, {"enum", {"text", "json_object"}}}}}));
  const json chat_ok = result("chat.completion", object({"index", "message", "finish_reason", "logprobs"},
                                                        {{"index", type("integer")},
                                                         {"message", object({"role", "content"}, {{"role", {{"type", "string"}, {"enum", {"assistant"}}}},
                                                                                                  {"content", type("string")}})},
                                                         {"finish_reason", finish},
                                                         {"logprobs", nullable(object({"content"}, {{"content", array(token_logprob)}}))}}));

  json comp = object({"model", "prompt"}, sampling);
  comp["properties"]["prompt"] = {
      {"oneOf", {string1, array(string1, 1, 1), array(ranged("integer", 0, n_vocab - 1), 1)}}};
  comp["properties"]["logprobs"] = nullable(ranged("integer", 0, 5));
  comp["properties"]["echo"] = nullable(json{{"type", "boolean"}, {"enum", {false}}});
  const json comp_ok = result(
      "text_completion",
      object({"index", "text", "finish_reason", "logprobs"},
             {{"index", type("integer")},
              {"text", type("string")},
              {"finish_reason", finish},
              {"logprobs", nullable(object({"tokens", "token_logprobs", "top_logprobs"},
                                           {{"tokens", array(type("string"))},
                                            {"token_logprobs", array(type("number"))},
                                            {"top_logprobs", array(json{{"type", "object"}, {"additionalProperties", type("number")}})}}))}}));

  const json embed = object({"model", "input"}, {{"model", {{"type", "string"}, {"enum", {model_id}}}},
                                                 {"input", {{"oneOf", {type("string"), array(type("string"), 1, 2048)}}}},
                                                 {"encoding_format", nullable(json{{"type", "string"}, {"enum", {"float", "base64"}}})}});
  const json embed_ok =
      object({"object", "data", "model", "usage"},
             {{"object", {{"type", "string"}, {"enum", {"list"}}}},
              {"data", array(object({"object", "index", "embedding"},
                                    {{"object", {{"type", "string"}, {"enum", {"embedding"}}}},
                                     {"index", type("integer")},
                                     {"embedding", {{"oneOf", {array(type("number"), 1), type("string")}}}}}),
                             1, 2048)},
              {"model", type("string")},
              {"usage", object({"prompt_tokens", "total_tokens"}, {{"prompt_tokens", type("integer")}, {"total_tokens", type("integer")}})}});

  const auto get = [&](const char* summary, json responses, bool guarded) {
    json op = {{"summary", summary}, {"responses", std::move(responses)}};
    if (guarded && api_key) {
      op["security"] = json::array({{{"bearer", json::array()}}});
      op["responses"]["401"] = answer("an OpenAI error object", content("application/json", error));
    }
    return json{{"get", std::move(op)}};
  };
  const json models = object({"object", "data"}, {{"object", {{"type", "string"}, {"enum", {"list"}}}},
                                                  {"data", array(object({"id", "object", "created", "owned_by"},
                                                                        {{"id", {{"type", "string"}, {"enum", {model_id}}}},
                                                                         {"object", {{"type", "string"}, {"enum", {"model"}}}},
                                                                         {"created", type("integer")},
                                                                         {"owned_by", type("string")}}),
                                                                 1, 1)}});
  const auto status = [&](const char* s) { return object({"status"}, {{"status", {{"type", "string"}, {"enum", {s}}}}}); };

  json paths = {
      {"/v1/models", get("The model served", {{"200", answer("the one model", content("application/json", models))}}, true)},
      {"/health", get("Liveness", {{"200", answer("serving", content("application/json", status("ok")))},
                                   {"503", answer("shutting down", content("application/json", status("draining")))}},
                      false)},
      {"/metrics", get("Prometheus metrics", {{"200", answer("Prometheus text", content("text/plain", type("string")))}}, false)}};
  if (generator) {
    paths["/v1/chat/completions"] = post("Chat completion", chat, chat_ok, true);
    paths["/v1/completions"] = post("Text completion", comp, comp_ok, true);
  } else {
    paths["/v1/embeddings"] = post("Embeddings", embed, embed_ok, false);
  }
  json doc = {{"openapi", "3.0.3"},
              {"info", {{"title", "bigdl-cpp OpenAI-compatible server"}, {"version", "1"}}},
              {"paths", std::move(paths)}};
  if (api_key) doc["components"] = {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}}};
  return doc.dump(2);
}

}  // namespace

Server::Server(std::shared_ptr<const llm::Model> model, Engine* engine, const llm::Vocab& vocab, ServerOptions options,
               int parallel)
    : impl_(std::make_unique<Impl>(std::move(model), engine, vocab, std::move(options), parallel)) {}

Server::~Server() = default;

int Server::bind() {
  const auto& o = impl_->opt;
  // Debian's httplib (a compiled library) listens with a backlog of 5: a burst of more
  // simultaneous connections (16 clients starting together while the engine keeps the CPUs
  // busy) overflowed the accept queue, the kernel dropped the extra SYNs and those clients
  // got in only on TCP's retry a second later (time to first token 1.09 s against 70 ms for
  // the rest; test_serve.py::test_burst_of_connections_is_accepted_at_once). The socket is
  // noted as httplib creates it (with its own default options), and listen() again raises
  // the backlog to the kernel's limit (Linux updates a listening socket's backlog).
  int fd = -1;
  impl_->svr.set_socket_options([&fd](socket_t sock) {
    httplib::default_socket_options(sock);
    fd = sock;
  });
  if (o.port == 0) port_ = impl_->svr.bind_to_any_port(o.host);
  else port_ = impl_->svr.bind_to_port(o.host, o.port) ? o.port : -1;
  BIGDL_CHECK(port_ > 0, IOError, "serve", "cannot listen on ", o.host, ":", o.port, " (in use, or not an address of this host)");
  impl_->svr.set_socket_options(httplib::default_socket_options);  // the lambda's fd is about to go
  if (fd >= 0) ::listen(fd, SOMAXCONN);
  return port_;
}

void Server::run() { impl_->svr.listen_after_bind(); }

void Server::shutdown() {
  impl_->draining = true;
  if (impl_->engine) impl_->engine->drain();
  impl_->svr.stop();
}

}  // namespace bigdl::serve
