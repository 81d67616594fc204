#!/usr/bin/env python3
"""`bigdl llm serve --parallel N` against llama-server `-np N -cb` (issue 11, must-show 4):
aggregate generated tokens/s and time to first token p50 / p99 at N concurrent streams, both
servers on the same GGUF, the same prompts, greedy, the same max_tokens, in one run.

Python: the test venv (scripts/make_test_venv.sh: Debian's python3 3.11 plus httpx 0.27.2):
    "$(scripts/make_test_venv.sh)" benchmarks/serve/vs_llama_server.py --model M.gguf
        --llama-server ~/.cache/bigdl-cpp/llama-server/build/bin/llama-server
        [--bigdl build/bigdl] [--streams 1,4,16,32] [--requests-per-stream 8 | --duration S]
        [--max-tokens 64] [--ctx 512] [--threads (all cores)] [--prefill-tokens 128]
        [--client build/benchmarks/bench_serve_client | --python-client]
llama-server: built from the llama.cpp that PyPI's llama-cpp-python 0.3.36 sdist vendors
(benchmarks/README.md, "Serving vs llama-server", has the commands).

For each N, each server in turn (llama-server first): start it on loopback at a free port
with N slots of --ctx positions each (llama-server: -np N -cb -c ctx*N, its -c being the
total over the slots; ours: --parallel N --ctx ctx), --threads for both (llama-server -t),
wait for /health, send one short warm-up request, then N concurrent streams of
POST /v1/completions (a raw prompt: no chat template, so both servers see the same text;
temperature 0, max_tokens, stream_options.include_usage) until each has made
--requests-per-stream requests (or until --duration seconds have passed). The streams are
build/benchmarks/bench_serve_client (benchmarks/serve/client.cpp: C++ threads, so the client
takes a few percent of the CPUs the servers share with it; --python-client runs the old
httpx threads instead, about a sixth of 2 cores at 16 streams). Request j of stream
k has its own prompt ("Request k.j: " + one of load.py's 16 prompts), the same for both
servers, so no request finds its prompt cached in a slot. Per request: time to the first
non-empty text chunk (TTFT) and the generated tokens that the server's final `usage` reports
(completion_tokens). Aggregate tokens/s = all generated tokens / wall time from the first
request sent to the last one finished. Then the server gets SIGTERM.

Prints one row per N: ours tok/s, llama-server tok/s, their ratio, TTFT p50 / p99 of each,
and a check line: mean prompt and generated tokens per request of each server (the two
tokenize the same prompt; a server that stops at EOS earlier generates fewer), and how many
answers are the same text on both. Before the table, the prefill tokens/s of the model in
`bigdl llm bench` (--prefill-tokens, same threads), for the goal "16-stream aggregate
>= 80% of prefill tok/s". Exit 1 when any request failed.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import PROMPTS, ROOT  # noqa: E402  (the load test's prompts and repository root)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prompt(k, j):
    return f"Request {k}.{j}: {PROMPTS[(k + j) % len(PROMPTS)]}"


def server_command(args, which, n, port):
    if which == "llama-server":
        return [args.llama_server, "-m", args.model, "--host", "127.0.0.1", "--port", str(port), "-np", str(n), "-cb",
                "-c", str(args.ctx * n), "-t", str(args.threads)]
    return [args.bigdl, "llm", "serve", "--model", args.model, "--host", "127.0.0.1", "--port", str(port),
            "--parallel", str(n), "--ctx", str(args.ctx), "--threads", str(args.threads), "--queue", str(max(64, 2 * n))]


class Server:
    """A server process on loopback, its output in a temporary log, ready when /health is 200."""

    def __init__(self, args, which, n):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(server_command(args, which, n, port), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        t_end = time.time() + args.start_timeout
        while True:
            if self.proc.poll() is not None:
                self.fail(f"{which} exited with {self.proc.returncode} before it was ready")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > t_end:
                self.fail(f"{which} was not ready after {args.start_timeout} s")
            time.sleep(0.2)
        self.model = httpx.get(self.url + "/v1/models", timeout=10).json()["data"][0]["id"]

    def fail(self, why):
        self.stop()
        self.log.seek(0)
        sys.exit(f"vs_llama_server.py: {why}; its log ends:\n" + "".join(self.log.readlines()[-20:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sse_chunks(response):
    """The JSON objects of a server-sent event stream up to `data: [DONE]`; raises when it has none or
    carries an error object."""
    for line in response.iter_lines():
        if line == "data: [DONE]":
            return
        if line.startswith("data: "):
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(str(chunk["error"])[:200])
            yield chunk
    raise RuntimeError("the stream ended without [DONE]")


def complete(url, model, text, max_tokens):
    """(text, ttft s, prompt tokens, completion tokens) of one streamed /v1/completions request."""
    body = {"model": model, "prompt": text, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    t0 = time.time()
    ttft, pieces, usage = None, [], None
    with httpx.stream("POST", url + "/v1/completions", json=body, timeout=600) as r:
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {r.read()[:200]!r}")
        for chunk in sse_chunks(r):
            usage = chunk.get("usage") or usage
            for ch in chunk.get("choices") or []:
                if ch.get("text"):
                    ttft = ttft if ttft is not None else time.time() - t0
                    pieces.append(ch["text"])
    if usage is None:
        raise RuntimeError("the stream ended without a usage object")
    return "".join(pieces), ttft if ttft is not None else time.time() - t0, usage["prompt_tokens"], usage["completion_tokens"]


def native_client(args, srv, n):
    """phase()'s results from bench_serve_client (client.cpp), which prints one JSON line a request."""
    port = srv.url.rsplit(":", 1)[1]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(PROMPTS, f)
        f.flush()
        load = ["--duration", str(args.duration)] if args.duration else ["--requests-per-stream", str(args.requests_per_stream)]
        out = subprocess.run([args.client, "--port", port, "--model", srv.model, "--prompts", f.name, "--streams", str(n),
                              "--max-tokens", str(args.max_tokens)] + load, capture_output=True, text=True, check=True).stdout
    results, wall = {}, None
    for line in out.splitlines():
        r = json.loads(line)
        if "wall" in r:
            wall = r["wall"]
        elif "error" in r:
            results[(r["k"], r["j"])] = r["error"]
        else:
            results[(r["k"], r["j"])] = (r["text"], r["ttft"], r["prompt_tokens"], r["completion_tokens"])
    return results, wall


def phase(args, which, n):
    """{(k, j): (text, ttft, prompt tokens, completion tokens) or an error string}, wall seconds."""
    srv = Server(args, which, n)
    try:
        complete(srv.url, srv.model, "Warm-up.", 4)
        if not args.python_client:
            return native_client(args, srv, n)
        results, lock = {}, threading.Lock()
        t_end = time.time() + args.duration if args.duration else None

        def client(k):
            j = 0
            while (j < args.requests_per_stream) if t_end is None else (time.time() < t_end):
                try:
                    r = complete(srv.url, srv.model, prompt(k, j), args.max_tokens)
                except Exception as e:  # noqa: BLE001 - counted, the first one printed
                    r = f"{type(e).__name__}: {e}"[:200]
                with lock:
                    results[(k, j)] = r
                j += 1
        threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results, time.time() - t0
    finally:
        srv.stop()


def summary(results, wall):
    ok = [r for r in results.values() if not isinstance(r, str)]
    ttfts = sorted(r[1] for r in ok)
    p99 = ttfts[min(len(ttfts) - 1, int(0.99 * len(ttfts)))] if ttfts else 0.0
    mean = (lambda xs: sum(xs) / len(xs) if xs else 0.0)
    return {"tok_s": sum(r[3] for r in ok) / wall, "p50": 1e3 * statistics.median(ttfts) if ttfts else 0.0,
            "p99": 1e3 * p99, "requests": len(ok), "failed": len(results) - len(ok),
            "prompt": mean([r[2] for r in ok]), "gen": mean([r[3] for r in ok])}


def prefill_tok_s(args):
    out = subprocess.run([args.bigdl, "llm", "bench", "--model", args.model, "--n-prompt", str(args.prefill_tokens),
                          "--n-gen", "16", "--threads", str(args.threads), "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["prefill_tok_s"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--llama-server", default=os.path.expanduser("~/.cache/bigdl-cpp/llama-server/build/bin/llama-server"))
    ap.add_argument("--bigdl", default=os.path.join(ROOT, "build", "bigdl"))
    ap.add_argument("--client", default=os.path.join(ROOT, "build", "benchmarks", "bench_serve_client"))
    ap.add_argument("--python-client", action="store_true", help="httpx threads instead of bench_serve_client")
    ap.add_argument("--streams", default="1,4,16,32")
    ap.add_argument("--requests-per-stream", type=int, default=8)
    ap.add_argument("--duration", type=float, default=0, help="seconds per phase instead of --requests-per-stream")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--ctx", type=int, default=512, help="positions per slot (llama-server: -c ctx*N)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--prefill-tokens", type=int, default=128)
    ap.add_argument("--start-timeout", type=float, default=300)
    a = ap.parse_args()
    for path in (a.model, a.llama_server, a.bigdl) + (() if a.python_client else (a.client,)):
        if not os.path.exists(path):
            sys.exit(f"vs_llama_server.py: {path} does not exist")
    prefill = prefill_tok_s(a)
    rows = []
    for n in (int(x) for x in a.streams.split(",")):
        theirs, wall_t = phase(a, "llama-server", n)
        ours, wall_o = phase(a, "bigdl", n)
        same = sum(1 for key, r in ours.items() if not isinstance(r, str) and not isinstance(theirs.get(key, ""), str)
                   and r[0] == theirs[key][0])
        both = sum(1 for key, r in ours.items() if not isinstance(r, str) and not isinstance(theirs.get(key, ""), str))
        rows.append((n, summary(ours, wall_o), summary(theirs, wall_t), same, both))
        for name, res in (("llama-server", theirs), ("ours", ours)):
            errs = [r for r in res.values() if isinstance(r, str)]
            if errs:
                print(f"  {name}, {n} streams: {len(errs)} failed, the first: {errs[0]}", file=sys.stderr)
    load = f"{a.duration:.0f} s per phase" if a.duration else f"{a.requests_per_stream} requests per stream"
    load += ", Python client" if a.python_client else ", C++ client"
    print(f"model {os.path.basename(a.model)}; /v1/completions streamed, greedy, max_tokens {a.max_tokens}, {load}; "
          f"ctx {a.ctx} per slot; {a.threads} threads each; {os.cpu_count()} CPUs")
    print(f"prefill (bigdl llm bench, {a.prefill_tokens}-token prompt, {a.threads} threads): {prefill:.1f} tok/s")
    print(f"{'streams':>7} | {'ours tok/s':>10} {'llama-server tok/s':>18} {'ratio':>5} | "
          f"{'ours TTFT p50/p99 ms':>20} | {'llama-server TTFT p50/p99 ms':>28}")
    for n, o, t, _, _ in rows:
        ratio = o["tok_s"] / t["tok_s"] if t["tok_s"] else float("nan")
        print(f"{n:7d} | {o['tok_s']:10.1f} {t['tok_s']:18.1f} {ratio:5.2f} | {o['p50']:9.0f} / {o['p99']:8.0f} | "
              f"{t['p50']:13.0f} / {t['p99']:12.0f}")
    print("check: requests ok (failed), mean prompt / generated tokens per request, answers equal on both")
    for n, o, t, same, both in rows:
        print(f"{n:7d} | ours {o['requests']} ({o['failed']}), {o['prompt']:.1f} / {o['gen']:.1f} | llama-server "
              f"{t['requests']} ({t['failed']}), {t['prompt']:.1f} / {t['gen']:.1f} | same text {same} of {both}")
    for n, o, _, _, _ in rows:
        if n == 16:
            print(f"16-stream aggregate (ours) / prefill: {100 * o['tok_s'] / prefill:.0f}% (goal >= 80%)")
    sys.exit(1 if any(o["failed"] or t["failed"] for _, o, t, _, _ in rows) else 0)


if __name__ == "__main__":
    main()
