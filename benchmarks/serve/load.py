#!/usr/bin/env python3
"""Load test of `bigdl llm serve` (issue 11, must-show 3): N concurrent streaming clients for
a fixed time, every answer checked against the same request run alone.

Run it with the test venv (scripts/make_test_venv.sh: httpx) after scripts/build.sh:
    "$(scripts/make_test_venv.sh)" benchmarks/serve/load.py [--model M.gguf] [--clients 8,16,32]
        [--seconds 60] [--max-tokens 64] [--parallel 0 (= clients)] [--build build]

For each client count N: start the server (--parallel N unless given, loopback, port 0),
run 16 distinct prompts one at a time for the reference answers (greedy, max_tokens), then
N threads stream chat completions (prompt i, i+1, ... in turn) until --seconds have passed.
Every response must be 200, end with [DONE], and equal the reference text for its prompt.
While the clients run, a client process is started and killed with SIGKILL mid-stream. At
the end /metrics must show no KV blocks held by running sequences and the server's peak
RSS (sampled from /proc every 0.2 s) is reported. Prints one row per N: requests,
failures, mismatches, generated tokens/s (all clients together), time to first token p50 /
p99, peak RSS. Exit 1 when any request failed or differed.
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPTS = [f"Write one sentence about {t}." for t in (
    "the sea", "a red car", "winter", "coffee", "a small dog", "mountains", "the moon", "a library",
    "rain", "bread", "a bicycle", "music", "a garden", "the desert", "a clock", "friendship")]


def start_server(bin_, model, parallel):
    p = subprocess.Popen([bin_, "llm", "serve", "--model", model, "--port", "0", "--parallel", str(parallel),
                          "--queue", "256", "--ctx", "512"], stderr=subprocess.PIPE, text=True)
    for line in p.stderr:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, f"http://127.0.0.1:{m.group(1)}"
    sys.exit("load.py: the server did not start")


def stream(url, model, prompt, max_tokens):
    """(text, ttft seconds, completion tokens); raises on any protocol error."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    t0 = time.time()
    ttft, text, tokens, done = None, [], 0, False
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=300) as r:
        if r.status_code != 200:
            raise RuntimeError(f"HTTP {r.status_code}: {r.read()[:200]!r}")
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                break
            chunk = json.loads(data)
            if "error" in chunk:
                raise RuntimeError(chunk["error"]["message"])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            for ch in chunk["choices"]:
                piece = ch.get("delta", {}).get("content")
                if piece:
                    if ttft is None:
                        ttft = time.time() - t0
                    text.append(piece)
    if not done:
        raise RuntimeError("the stream ended without [DONE]")
    return "".join(text), ttft if ttft is not None else time.time() - t0, tokens


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run(args, n):
    parallel = args.parallel or n
    proc, url = start_server(os.path.join(args.build, "bigdl"), args.model, parallel)
    model = httpx.get(url + "/v1/models").json()["data"][0]["id"]
    try:
        ref = [stream(url, model, p, args.max_tokens)[0] for p in PROMPTS]
        peak = [rss_mib(proc.pid)]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mib(proc.pid))
                time.sleep(0.2)
        threading.Thread(target=sample, daemon=True).start()
        results, lock = [], threading.Lock()
        t_end = time.time() + args.seconds

        def client(k):
            i = k
            while time.time() < t_end:
                p = i % len(PROMPTS)
                try:
                    text, ttft, toks = stream(url, model, PROMPTS[p], args.max_tokens)
                    r = ("ok" if text == ref[p] else "mismatch", ttft, toks)
                except Exception as e:  # noqa: BLE001 - counted, printed once
                    r = ("fail: " + str(e)[:120], 0.0, 0)
                with lock:
                    results.append(r)
                i += 1
        threads = [threading.Thread(target=client, args=(k,)) for k in range(n)]
        t0 = time.time()
        for t in threads:
            t.start()
        # A client killed with SIGKILL mid-stream.
        killer = subprocess.Popen([sys.executable, "-c", (
            "import httpx,sys\n"
            f"b={{'model':{model!r},'messages':[{{'role':'user','content':'Tell me a long story.'}}],"
            "'max_tokens':300,'temperature':0,'stream':True}\n"
            f"with httpx.stream('POST',{url!r}+'/v1/chat/completions',json=b,timeout=300) as r:\n"
            "  for l in r.iter_lines(): print(l, flush=True)\n")], stdout=subprocess.PIPE, text=True)
        killer.stdout.readline()
        killer.stdout.readline()
        killer.send_signal(signal.SIGKILL)
        killer.wait()
        for t in threads:
            t.join()
        wall = time.time() - t0
        stop.set()
        time.sleep(1.0)
        metrics = {}
        for line in httpx.get(url + "/metrics").text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                metrics[k] = float(v)
        ok = [r for r in results if r[0] == "ok"]
        fails = [r[0] for r in results if r[0].startswith("fail")]
        mism = sum(1 for r in results if r[0] == "mismatch")
        ttfts = sorted(r[1] for r in ok)
        toks = sum(r[2] for r in ok)
        p99 = ttfts[min(len(ttfts) - 1, int(0.99 * len(ttfts)))] if ttfts else 0
        row = (n, parallel, len(results), len(fails), mism, toks / wall, 1e3 * statistics.median(ttfts) if ttfts else 0,
               1e3 * p99, peak[0], metrics.get("bigdl_kv_blocks_used", -1), metrics.get('bigdl_requests_total{status="cancelled"}', 0))
        if fails:
            print(f"  first failure: {fails[0]}", file=sys.stderr)
        return row
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.environ.get(
        "BIGDL_SMOLLM2", os.path.expanduser("~/.cache/bigdl-cpp/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    ap.add_argument("--clients", default="8,16,32")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--parallel", type=int, default=0)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    rows = [run(a, int(n)) for n in a.clients.split(",")]
    print(f"model {os.path.basename(a.model)}; {a.seconds:.0f} s per row; greedy, max_tokens {a.max_tokens}; "
          f"{os.cpu_count()} CPUs")
    print(f"{'clients':>7} {'slots':>5} {'requests':>8} {'failed':>6} {'differ':>6} {'gen tok/s':>9} "
          f"{'TTFT p50 ms':>11} {'p99 ms':>8} {'peak RSS MiB':>12} {'KV blocks left':>14} {'cancelled':>9}")
    bad = False
    for r in rows:
        print(f"{r[0]:7d} {r[1]:5d} {r[2]:8d} {r[3]:6d} {r[4]:6d} {r[5]:9.1f} {r[6]:11.0f} {r[7]:8.0f} {r[8]:12.0f} "
              f"{r[9]:14.0f} {r[10]:9.0f}")
        bad = bad or r[3] > 0 or r[4] > 0 or r[9] != 0
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
