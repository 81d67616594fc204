"""`bigdl llm serve` through the official `openai` client (issue 11, must-show 2), on
SmolLM2-135M-Instruct (scripts/get_smollm2.sh; $BIGDL_SMOLLM2) and stories260K.

Run by scripts/test.sh with the venv of scripts/make_test_venv.sh:
    BIGDL_BIN=build/bigdl ~/.cache/bigdl-cpp/venv/test/bin/python -m pytest tests/python
The server is started here (loopback, port 0, an API key) and stopped with SIGTERM, once
for the module; each test that needs other options starts its own.
"""
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import httpx
import openai
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BIGDL_BIN", os.path.join(ROOT, "build", "bigdl"))
SMOLLM2 = os.environ.get("BIGDL_SMOLLM2",
                         os.path.expanduser("~/.cache/bigdl-cpp/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
KEY = "test-key-123"
MODEL = os.path.basename(SMOLLM2)


class Server:
    def __init__(self, *args, model=SMOLLM2):
        if not os.path.exists(model):
            pytest.fail(f"{model} is missing: scripts/get_smollm2.sh fetches it (scripts/test.sh does)")
        self.proc = subprocess.Popen([BIN, "llm", "serve", "--model", model, "--port", "0", *args],
                                     stderr=subprocess.PIPE, text=True)
        self.log = []
        deadline = time.time() + 60
        self.port = None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if self.port is None:
            self.proc.kill()
            pytest.fail("server did not start: " + "".join(self.log))
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def client(self, key=KEY, **kw):
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, **kw)

    def metrics(self):
        text = httpx.get(self.url + "/metrics").text
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
        return self.proc.returncode


@pytest.fixture(scope="module")
def server():
    s = Server("--api-key", KEY, "--parallel", "4", "--ctx", "1024")
    yield s
    assert s.stop() == 0, "".join(s.log)


def chat(client, content, **kw):
    return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}],
                                          temperature=0, **kw)


def test_chat_answers(server):
    r = chat(server.client(), "What is the capital of France?", max_tokens=24)
    assert "Paris" in r.choices[0].message.content
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 5 and r.usage.completion_tokens >= 1
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_streaming_equals_non_streaming(server):
    c = server.client()
    whole = chat(c, "Name three colors.", max_tokens=20)
    pieces, finish, usage = [], None, None
    for chunk in chat(c, "Name three colors.", max_tokens=20, stream=True, stream_options={"include_usage": True}):
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            if ch.delta.content:
                pieces.append(ch.delta.content)
            if ch.finish_reason:
                finish = ch.finish_reason
    assert "".join(pieces) == whole.choices[0].message.content
    assert finish == whole.choices[0].finish_reason
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_completions_and_logprobs(server):
    c = server.client()
    r = c.completions.create(model=MODEL, prompt="The capital of France is", max_tokens=6, temperature=0, logprobs=3)
    lp = r.choices[0].logprobs
    assert r.choices[0].text.startswith(" Paris")
    assert "".join(lp.tokens) == r.choices[0].text
    for tok, val, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert val <= 0
        assert len(top) == 3
        # greedy: the chosen token is the most likely one
        assert max(top.values()) == pytest.approx(val, abs=1e-6) and tok in top
    r = chat(c, "Say yes.", max_tokens=3, logprobs=True, top_logprobs=2)
    content = r.choices[0].logprobs.content
    assert len(content) >= 1 and all(len(x.top_logprobs) == 2 for x in content)


def test_json_object_mode(server):
    # Constrained decoding: the answer is one JSON object (llm::JsonConstraint).
    for q in ["Give the name and age of a person as JSON.", "List three fruits."]:
        r = chat(server.client(), q, max_tokens=120, response_format={"type": "json_object"})
        assert r.choices[0].finish_reason == "stop"
        assert isinstance(json.loads(r.choices[0].message.content), dict)
    with pytest.raises(openai.BadRequestError):
        chat(server.client(), "hi", max_tokens=5, response_format={"type": "json_schema"})


def test_concurrent_requests_equal_each_alone(server):
    # Continuous batching: 8 requests at once (more than the 4 slots, so some wait and
    # join later), each greedy answer identical to the same request run alone.
    c = server.client()
    prompts = [f"Write one sentence about the number {i}." for i in range(8)]
    alone = [chat(c, p, max_tokens=24).choices[0].message.content for p in prompts]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        together = list(ex.map(lambda p: chat(c, p, max_tokens=24).choices[0].message.content, prompts))
    assert together == alone


def test_errors(server):
    with pytest.raises(openai.AuthenticationError):
        chat(server.client(key="wrong"), "hi", max_tokens=2)
    with pytest.raises(openai.NotFoundError):
        server.client().chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError) as e:
        chat(server.client(), "hi", max_tokens=100000)
    assert "context length" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        server.client().chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], temperature=5)
    h = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(server.url + "/v1/chat/completions", content=b"{not json", headers=h)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = httpx.post(server.url + "/v1/chat/completions", json={"model": MODEL, "messages": [{"role": 7}]}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["param"] == "messages"
    r = httpx.post(server.url + "/v1/completions", content=b"x" * (10 << 20), headers=h)
    assert r.status_code == 413 and "error" in r.json()
    assert httpx.get(server.url + "/v1/models").status_code == 401  # the key guards every /v1 path
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}


def test_repeated_prefix_is_not_fed_again(server):
    # A slot keeps its cache: the same conversation continued feeds only the new tokens,
    # and the answer is the one a fresh slot gives.
    c = server.client()
    first = chat(c, "Remember the word banana.", max_tokens=16)
    before = server.metrics()["bigdl_prompt_tokens_cached_total"]
    msgs = [{"role": "user", "content": "Remember the word banana."},
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": "Which word?"}]
    r = c.chat.completions.create(model=MODEL, messages=msgs, temperature=0, max_tokens=16)
    assert server.metrics()["bigdl_prompt_tokens_cached_total"] >= before + 10
    assert r.choices[0].message.content


def test_models_metrics_openapi(server):
    models = server.client().models.list()
    assert [m.id for m in models.data] == [MODEL]
    m = server.metrics()
    assert m['bigdl_requests_total{status="done"}'] >= 1 and "bigdl_kv_blocks_used" in m
    assert m["bigdl_kv_blocks_total"] > 0 and "bigdl_prompt_tokens_shared_total" in m
    doc = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"} <= set(doc["paths"])


def test_openapi_is_true_to_the_server(server):
    # What schemathesis (benchmarks/serve/schemathesis_run.sh) holds the server to: the
    # served id is the only model, max_tokens fits the context, optional fields are nullable,
    # the key is declared, and only the paths the model answers are listed.
    doc = httpx.get(server.url + "/openapi.json").json()
    chat_op = doc["paths"]["/v1/chat/completions"]["post"]
    body = chat_op["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["model"]["enum"] == [MODEL]
    assert body["properties"]["max_tokens"]["maximum"] == 1023 and body["properties"]["max_tokens"]["nullable"]
    assert body["properties"]["top_p"]["exclusiveMinimum"] is True  # OpenAPI 3.0: a boolean beside minimum
    assert "developer" in body["properties"]["messages"]["items"]["properties"]["role"]["enum"]
    assert chat_op["security"] == [{"bearer": []}] and "401" in chat_op["responses"]
    assert set(chat_op["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    err = chat_op["responses"]["400"]["content"]["application/json"]["schema"]["properties"]["error"]
    assert set(err["required"]) == {"message", "type", "param", "code"}
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/v1/embeddings" not in doc["paths"]  # a generator answers it 400


def test_other_methods_are_405(server):
    # Found by schemathesis: httplib answered 404, or 400 for a method it does not know.
    h = {"Authorization": f"Bearer {KEY}"}
    for method, path, allow in [("TRACE", "/health", "GET, HEAD"), ("QUERY", "/health", "GET, HEAD"),
                                ("PUT", "/v1/models", "GET, HEAD"), ("DELETE", "/metrics", "GET, HEAD"),
                                ("GET", "/v1/chat/completions", "POST"), ("PATCH", "/v1/completions", "POST")]:
        r = httpx.request(method, server.url + path, headers=h)
        assert r.status_code == 405 and r.headers["allow"] == allow, (method, path, r.status_code)
        assert r.json()["error"]["code"] == "method_not_allowed"
    assert httpx.head(server.url + "/health").status_code == 200


def test_answers_before_the_body_close_the_connection(server):
    # Found by schemathesis: a 401 (or 405) is sent before httplib reads the body, and a
    # GET's body was then read as the next request on the connection: a 400 for it.
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for method, path, status in [("GET", "/v1/models", 401), ("TRACE", "/health", 405), ("POST", "/v1/completions", 401)]:
        c.request(method, path, body=json.dumps({"model": MODEL, "prompt": "hi"}), headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        assert r.status == status and r.getheader("Connection") == "close"
        c.request("GET", "/health")  # the same HTTPConnection: it reconnects after the close
        r = c.getresponse()
        assert (r.status, json.loads(r.read())) == (200, {"status": "ok"}), method
    # httplib's own 400 (a multipart body without a boundary) may leave the body unread too
    c.request("POST", "/v1/completions", body=json.dumps({"model": MODEL, "prompt": "hi"}),
              headers={"Content-Type": "multipart/form-data", "Authorization": f"Bearer {KEY}"})
    r = c.getresponse()
    r.read()
    assert r.status == 400 and r.getheader("Connection") == "close"
    c.close()


def test_edge_values_of_sampling_fields(server):
    # Found by schemathesis (except the temperature): values the schema allows or forbids.
    h = {"Authorization": f"Bearer {KEY}"}
    url = server.url + "/v1/completions"

    def complete(**kw):
        return httpx.post(url, json={"model": MODEL, "prompt": "The capital of France is", "max_tokens": 6, **kw},
                          headers=h, timeout=60)

    greedy = complete(temperature=0).json()["choices"][0]["text"]
    # top_p 5e-324 is valid JSON in (0, 1] but 0 as a float: it was refused with 400
    assert complete(top_p=5e-324, temperature=1).json()["choices"][0]["text"] == greedy
    # temperature 1e-40 is a float: logits / T overflowed and the sampler picked garbage
    for t in (1e-40, 1e-37):
        assert complete(temperature=t).json()["choices"][0]["text"] == greedy, t
    # seed 2**63 wrapped to a negative int64 and was accepted
    r = complete(seed=2 ** 63)
    assert r.status_code == 400 and r.json()["error"]["param"] == "seed"
    assert complete(seed=2 ** 63 - 1, temperature=0).status_code == 200
    # a max_tokens beyond the context was not checked when max_completion_tokens was given
    r = httpx.post(server.url + "/v1/chat/completions", headers=h, timeout=60,
                   json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1024,
                         "max_completion_tokens": 2})
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
    # a prompt of only bytes the vocabulary has no token for (SmolLM2: 0x1D) gives no tokens
    r = complete(prompt="\x1d")
    assert r.status_code == 400 and r.json()["error"]["code"] == "empty_prompt"


def test_burst_of_connections_is_accepted_at_once(server):
    """64 clients connecting in the same millisecond are all answered at once: with httplib's
    default listen backlog of 5 the kernel dropped the SYNs beyond the accept queue and those
    clients got in only on TCP's retry, a second later."""
    n = 64
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        t0 = time.time()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as c:
            c.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := c.recv(4096):
                reply += chunk
        return time.time() - t0, reply.split(b"\r\n", 1)[0]

    # While the engine keeps both CPUs busy (so the accept thread is not always running).
    busy = concurrent.futures.ThreadPoolExecutor(4)
    body = {"model": MODEL, "prompt": "Once upon a time", "max_tokens": 300, "temperature": 0}
    load = [busy.submit(httpx.post, server.url + "/v1/completions", json=body,
                        headers={"Authorization": f"Bearer {KEY}"}, timeout=120) for _ in range(4)]
    time.sleep(1.0)
    for _ in range(3):  # three bursts: the drops depend on the accept thread's timing
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            results = list(pool.map(one, range(n)))
        assert all(status == b"HTTP/1.1 200 OK" for _, status in results), results
        slowest = max(t for t, _ in results)
        assert slowest < 0.8, f"slowest of {n} simultaneous connections took {slowest:.2f} s (a dropped SYN retries after 1 s)"
    assert all(f.result().status_code == 200 for f in load)
    busy.shutdown()


def test_client_that_disconnects_frees_its_sequence(server):
    before = server.metrics()['bigdl_requests_total{status="cancelled"}']
    h = {"Authorization": f"Bearer {KEY}"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": 500,
            "temperature": 0, "stream": True}
    with httpx.stream("POST", server.url + "/v1/chat/completions", json=body, headers=h) as r:
        lines = r.iter_lines()
        for _ in range(4):
            next(lines)
    # the connection is closed here, mid-stream
    deadline = time.time() + 20
    while time.time() < deadline:
        m = server.metrics()
        if m['bigdl_requests_total{status="cancelled"}'] > before and m["bigdl_active_sequences"] == 0:
            break
        time.sleep(0.2)
    assert m['bigdl_requests_total{status="cancelled"}'] == before + 1
    assert m["bigdl_kv_blocks_used"] == 0


def test_full_queue_is_429():
    s = Server("--parallel", "1", "--queue", "1", "--ctx", "512")
    try:
        c = s.client()
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            futs = [ex.submit(lambda: chat(c, "Tell me a story.", max_tokens=60)) for _ in range(6)]
            outcomes = []
            for f in futs:
                try:
                    f.result()
                    outcomes.append("ok")
                except openai.RateLimitError as e:
                    assert e.response.headers.get("retry-after") == "1"
                    outcomes.append("429")
        assert outcomes.count("ok") >= 1 and outcomes.count("429") >= 1, outcomes
    finally:
        assert s.stop() == 0


def test_sigterm_drains_running_requests():
    s = Server("--parallel", "2", "--ctx", "512")
    c = s.client()
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        fut = ex.submit(lambda: chat(c, "Tell me a story about a cat.", max_tokens=400))
        deadline = time.time() + 30
        while s.metrics()["bigdl_active_sequences"] < 1 and not fut.done() and time.time() < deadline:
            time.sleep(0.02)
        assert not fut.done(), "the request ended before SIGTERM could be sent"
        s.proc.send_signal(signal.SIGTERM)
        r = fut.result(timeout=120)  # the running request still completes
    assert r.usage.completion_tokens >= 1
    assert s.proc.wait(timeout=60) == 0
    assert any("draining" in line for line in s.log)


def test_embeddings_of_an_encoder_equal_the_cli():
    minilm = os.environ.get("BIGDL_MINILM", os.path.expanduser("~/.cache/bigdl-cpp/minilm/all-MiniLM-L6-v2"))
    texts = ["A man is eating food.", "A man is riding a horse."]
    cli = subprocess.run([BIN, "llm", "embed", "-m", minilm, "-p", texts[0]], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    want = json.loads(cli.stdout.strip().splitlines()[0])
    s = Server("--parallel", "2", model=minilm)
    try:
        c = s.client()
        model = c.models.list().data[0].id
        r = c.embeddings.create(model=model, input=texts)
        assert [d.index for d in r.data] == [0, 1]
        got = r.data[0].embedding
        assert len(got) == 384 and max(abs(a - b) for a, b in zip(got, want)) < 1e-6
        assert abs(sum(x * x for x in r.data[1].embedding) - 1) < 1e-4
        assert r.usage.prompt_tokens > 10
        with pytest.raises(openai.BadRequestError):  # an encoder does not generate
            c.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.BadRequestError):
            c.embeddings.create(model=model, input=[])
        # longer than the context: a 400 that says so (schemathesis accepts it for valid data)
        r = httpx.post(s.url + "/v1/embeddings", json={"model": model, "input": "word " * 600})
        assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"
        assert set(httpx.get(s.url + "/openapi.json").json()["paths"]) == {"/v1/embeddings", "/v1/models", "/health", "/metrics"}
    finally:
        assert s.stop() == 0
