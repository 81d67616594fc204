// The load client of benchmarks/serve/vs_llama_server.py: N concurrent streams of
// streamed POST /v1/completions against one OpenAI-style server, one JSON line per request.
//
//   bench_serve_client --port P --model NAME --prompts FILE --streams N
//                      (--requests-per-stream M | --duration S) [--max-tokens 64]
//
// Why C++: on a 2-core machine the client shares the CPUs with the server it measures. The
// Python client (16 httpx threads parsing every server-sent event under the GIL) took about
// a sixth of the two cores at 16 streams; this one takes a few percent, so the table measures
// the servers, not the client.
//
// FILE is a JSON array of prompt strings; request j of stream k sends "Request k.j: " +
// prompts[(k + j) % size] (so no request finds its prompt cached in a slot, and both servers
// get the same texts), temperature 0, max_tokens, stream_options.include_usage. Per request
// it prints {"k", "j", "text", "ttft", "prompt_tokens", "completion_tokens"} (ttft: seconds to
// the first non-empty text chunk), or {"k", "j", "error"}; then {"wall": seconds from the
// first request sent to the last one finished}. Bad arguments: one line on stderr, exit 2.
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_args.h"

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Args {
  int port = 0;
  std::string model, prompts_file;
  long streams = 1, requests = 0, max_tokens = 64;
  double duration = 0;
};

// The server-sent events of one response, fed in arbitrary pieces: every complete
// "data: ..." line becomes an event; [DONE] ends the stream.
struct SseReader {
  std::string pending;
  bool done = false;
  template <class F>
  void feed(const char* p, size_t n, F&& on_data) {
    pending.append(p, n);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(pending.data() + start, nl - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line == "data: [DONE]") done = true;
      else if (line.substr(0, 6) == "data: ") on_data(line.substr(6));
    }
    pending.erase(0, start);
  }
};

json complete(httplib::Client& cli, const Args& a, const std::string& prompt) {
  const json body = {{"model", a.model},      {"prompt", prompt}, {"max_tokens", a.max_tokens}, {"temperature", 0},
                     {"stream", true}, {"stream_options", {{"include_usage", true}}}};
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  const auto t0 = Clock::now();
  double ttft = -1;
  std::string text, error;
  json usage;
  SseReader sse;
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    sse.feed(data, n, [&](std::string_view ev) {
      const json chunk = json::parse(ev, nullptr, false);
      if (chunk.is_discarded()) {
        error = "an event is not JSON";
        return;
      }
      if (chunk.contains("error")) error = chunk["error"].dump().substr(0, 200);
      if (chunk.contains("usage") && chunk["usage"].is_object()) usage = chunk["usage"];
      if (chunk.contains("choices"))
        for (const auto& ch : chunk["choices"])
          if (ch.contains("text") && ch["text"].is_string() && !ch["text"].get_ref<const std::string&>().empty()) {
            if (ttft < 0) ttft = std::chrono::duration<double>(Clock::now() - t0).count();
            text += ch["text"].get_ref<const std::string&>();
          }
    });
    return error.empty();
  };
  const auto res = cli.send(req);
  if (!error.empty()) return {{"error", error}};
  if (!res) return {{"error", "HTTP error " + httplib::to_string(res.error())}};
  if (res->status != 200) return {{"error", "HTTP " + std::to_string(res->status)}};
  if (!sse.done) return {{"error", "the stream ended without [DONE]"}};
  if (!usage.is_object()) return {{"error", "the stream ended without a usage object"}};
  if (ttft < 0) ttft = std::chrono::duration<double>(Clock::now() - t0).count();
  return {{"text", text},
          {"ttft", ttft},
          {"prompt_tokens", usage.value("prompt_tokens", 0)},
          {"completion_tokens", usage.value("completion_tokens", 0)}};
}

}  // namespace

int main(int argc, char** argv) {
  const char* kUsage =
      "usage: bench_serve_client --port P --model NAME --prompts FILE --streams N (--requests-per-stream M | "
      "--duration S) [--max-tokens T]";
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_serve_client: %s needs a value (%s)\n", k.c_str(), kUsage);
      return 2;
    }
    if (k == "--model") a.model = argv[i + 1];
    else if (k == "--prompts") a.prompts_file = argv[i + 1];
    else if (k == "--duration") a.duration = std::atof(argv[i + 1]);
    else if (k != "--port" && k != "--streams" && k != "--requests-per-stream" && k != "--max-tokens") {
      std::fprintf(stderr, "bench_serve_client: unknown option '%s' (%s)\n", k.c_str(), kUsage);
      return 2;
    }
  }
  a.port = static_cast<int>(bench::positive_arg(argc, argv, "bench_serve_client", "--port", 0));
  a.streams = bench::positive_arg(argc, argv, "bench_serve_client", "--streams", 1);
  a.max_tokens = bench::positive_arg(argc, argv, "bench_serve_client", "--max-tokens", 64);
  a.requests = bench::positive_arg(argc, argv, "bench_serve_client", "--requests-per-stream", 0);
  if (a.port <= 0 || a.model.empty() || a.prompts_file.empty() || (a.requests <= 0) == (a.duration <= 0)) {
    std::fprintf(stderr, "bench_serve_client: --port, --model, --prompts and one of --requests-per-stream / --duration are needed (%s)\n",
                 kUsage);
    return 2;
  }
  std::ifstream in(a.prompts_file);
  const json prompts = json::parse(in, nullptr, false);
  if (!in || prompts.is_discarded() || !prompts.is_array() || prompts.empty()) {
    std::fprintf(stderr, "bench_serve_client: %s: not a non-empty JSON array of prompts\n", a.prompts_file.c_str());
    return 2;
  }
  std::mutex out;
  const auto t0 = Clock::now();
  const auto t_end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.duration));
  std::vector<std::thread> streams;
  for (long k = 0; k < a.streams; ++k)
    streams.emplace_back([&, k] {
      httplib::Client cli("127.0.0.1", a.port);
      cli.set_read_timeout(600, 0);
      for (long j = 0; a.requests > 0 ? j < a.requests : Clock::now() < t_end; ++j) {
        const auto& base = prompts[static_cast<size_t>((k + j) % static_cast<long>(prompts.size()))];
        json r = complete(cli, a, "Request " + std::to_string(k) + "." + std::to_string(j) + ": " +
                                      (base.is_string() ? base.get<std::string>() : base.dump()));
        r["k"] = k;
        r["j"] = j;
        const std::string line = r.dump(-1, ' ', false, json::error_handler_t::replace);
        std::lock_guard<std::mutex> lock(out);
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fputc('\n', stdout);
      }
    });
  for (auto& t : streams) t.join();
  std::printf("{\"wall\": %.6f}\n", std::chrono::duration<double>(Clock::now() - t0).count());
  return 0;
}
