// The OpenAI-compatible HTTP front of `bigdl llm serve` (docs/serve.md): cpp-httplib for
// HTTP, nlohmann::json for the bodies, the continuous-batching Engine underneath.
//
//   POST /v1/chat/completions   chat template applied; stream: server-sent events ending in
//                               "data: [DONE]"
//   POST /v1/completions        raw prompt
//   POST /v1/embeddings         an encoder model's sentence embeddings (llm::embed)
//   GET  /v1/models             the one model served
//   GET  /health                {"status": "ok"} (503 "draining" while shutting down)
//   GET  /metrics               Prometheus text
//   GET  /openapi.json          an OpenAPI 3.0 description of this server, true to it
//                               (benchmarks/serve/schemathesis_run.sh fuzzes against it)
//
// Errors are OpenAI error objects {"error": {"message", "type", "param", "code"}} with a 4xx
// status: 400 bad JSON / field, 401 missing or wrong key (when one is set, every /v1 path
// needs "Authorization: Bearer KEY"; compared in constant time), 404 unknown model or path,
// 405 another method on a known path (Allow), 413 body over the limit, 429 queue full
// (Retry-After), 503 shutting down.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"
#include "bigdl/serve/engine.h"

namespace bigdl::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless told otherwise
  int port = 8000;                 // 0: any free port (port() says which)
  std::string api_key;             // empty: no key needed
  std::string model_id;            // the name /v1/models reports and requests must use
  std::string chat_template;       // empty: the vocab's (or chatml when it has none)
  int64_t max_body_bytes = 4 << 20;
  double timeout_s = 600;          // per-request deadline
  int http_threads = 0;            // 0: 4 * parallel + 8
};

class Server {
 public:
  // A generator: `engine` runs the completions. An encoder (model->config().causal false):
  // engine null, and /v1/embeddings answers with `parallel` contexts of the model (the
  // completion paths then answer 400).
  Server(std::shared_ptr<const llm::Model> model, Engine* engine, const llm::Vocab& vocab, ServerOptions options,
         int parallel = 4);
  ~Server();
  // Binds (IOError "[serve] cannot listen on host:port" when it cannot) and returns the port.
  int bind();
  // Serves until stop(); call bind() first.
  void run();
  // Graceful: new requests get 503, running ones finish (Engine::drain), then the listener
  // closes and run() returns.
  void shutdown();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace bigdl::serve
