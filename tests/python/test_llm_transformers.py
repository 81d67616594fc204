"""bigdl_cpp.llm.transformers (issue 11, must-show 1): bigdl-llm's Python API on our engine.

  - from_pretrained on the tiny HF fixtures of tests/llm/fixtures gives transformers'
    greedy ids (golden.json, from tests/llm/gen_arch_golden.py with transformers 4.46.3)
    and the same text as the `bigdl llm generate` CLI;
  - save_low_bit -> load_low_bit gives identical logits and ids;
  - HF's AutoTokenizer and TextStreamer work with it; torch / NumPy in and out; batches
    with left padding equal each row alone; errors are Python exceptions with our one-line
    messages; the GIL is released while generating; a real model (SmolLM2-135M, GGUF)
    answers a chat question.

Run by scripts/test.sh (PYTHONPATH=build/python, the venv of scripts/make_test_venv.sh).
"""
import glob
import json
import os
import subprocess
import threading
import time

import numpy as np
import pytest
import torch

from bigdl_cpp.llm.transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "llm", "fixtures")
BIN = os.environ.get("BIGDL_BIN", os.path.join(ROOT, "build", "bigdl"))
SMOLLM2 = os.environ.get("BIGDL_SMOLLM2",
                         os.path.expanduser("~/.cache/bigdl-cpp/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
SHARED = os.environ.get("BIGDL_SHARED_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data"))
STORIES_Q4 = os.path.join(SHARED, "llm", "stories260K", "stories260K-q4_0.gguf")


def golden_fixtures():
    out = []
    for f in sorted(glob.glob(os.path.join(FIXTURES, "*", "golden.json"))):
        with open(f) as fh:
            g = json.load(fh)
        if g.get("transformers") and g.get("greedy"):
            out.append(os.path.basename(os.path.dirname(f)))
    return out


def load_golden(name):
    with open(os.path.join(FIXTURES, name, "golden.json")) as fh:
        return json.load(fh)


@pytest.mark.parametrize("name", golden_fixtures())
def test_greedy_ids_equal_transformers(name):
    # f32 KV cache: the default f16 cache rounds each cached value (relative 2^-11), which
    # can flip a near-tie of these random-weight models (it does on arch_gemma2_scale).
    g = load_golden(name)
    model = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, name), kv_type="f32")
    prompt = torch.tensor([g["prompt"]])
    out = model.generate(prompt, max_new_tokens=len(g["greedy"]), eos_token_id=[])  # no EOS stop: golden runs on
    assert isinstance(out, torch.Tensor) and out.dtype == torch.int64
    assert out[0, :len(g["prompt"])].tolist() == g["prompt"]
    assert out[0, len(g["prompt"]):].tolist() == g["greedy"]


@pytest.mark.parametrize("name", ["hf_llama", "hf_qwen2", "arch_llama", "arch_gemma2"])
def test_logits_equal_transformers(name):
    g = load_golden(name)
    logits = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, name))(torch.tensor([g["prompt"]])).logits
    assert tuple(logits.shape) == (1, len(g["prompt"]), len(g["logits"][0]))
    err = np.abs(logits[0].numpy() - np.asarray(g["logits"], dtype=np.float32)).max() / g["logits_std"]
    assert err < 1e-4, f"max |ours - transformers| = {err:.2e} x std"


def cli_text(model, prompt, n, *extra):
    r = subprocess.run([BIN, "llm", "generate", "--model", model, "--prompt", prompt, "--n-predict", str(n),
                        "--temperature", "0", *extra], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(prompt)
    return r.stdout[len(prompt):].rstrip("\n")


@pytest.mark.parametrize("model,low_bit", [(os.path.join(FIXTURES, "hf_llama"), None),
                                           (os.path.join(FIXTURES, "arch_qwen2"), "sym_int4"),
                                           (STORIES_Q4, None)])
def test_greedy_text_equals_cli(model, low_bit):
    prompt = "Once upon a time"
    m = AutoModelForCausalLM.from_pretrained(model, load_in_low_bit=low_bit)
    tok = AutoTokenizer.from_pretrained(model)
    ids = tok(prompt, return_tensors="pt").input_ids
    out = m.generate(ids, max_new_tokens=24, eos_token_id=[])
    ours = tok.decode(out[0, ids.shape[1]:])
    extra = ["--low-bit", low_bit] if low_bit else []
    # the CLI stops at EOS; compare up to where it stopped
    cli = cli_text(model, prompt, 24, *extra)
    assert ours.startswith(cli) and len(cli) > 0


def test_stories_greedy_equals_golden_text():
    # stories260K q4_0: llama.cpp's greedy continuation (llamacpp-gguf-generations.txt) starts so.
    m, tok = AutoModelForCausalLM.from_gguf(STORIES_Q4)
    out = m.generate(tok.encode("Once upon a time", return_tensors="np"), max_new_tokens=16)
    assert isinstance(out, np.ndarray)
    assert tok.decode(out[0], skip_special_tokens=True).startswith("Once upon a time, there was a little girl named Lily.")
    assert tok.decode(out[0]).startswith("<s>Once upon a time,")


@pytest.mark.parametrize("low_bit", ["sym_int4", "q4_k_m", "nf4"])
def test_save_low_bit_round_trip(tmp_path, low_bit):
    src = os.path.join(FIXTURES, "arch_llama")
    model = AutoModelForCausalLM.from_pretrained(src, load_in_low_bit=low_bit)
    ids = np.asarray([load_golden("arch_llama")["prompt"]])
    before = model(ids).logits
    model.save_low_bit(tmp_path / "saved")
    assert sorted(os.listdir(tmp_path / "saved")) == ["bigdl_low_bit.json", "config.json", "model.gguf",
                                                       "tokenizer.json"]
    loaded = AutoModelForCausalLM.load_low_bit(tmp_path / "saved")
    assert loaded.low_bit == ""  # used as saved: no re-quantization
    assert np.array_equal(loaded(ids).logits, before)
    assert np.array_equal(loaded.generate(ids, max_new_tokens=16), model.generate(ids, max_new_tokens=16))
    with pytest.raises(ValueError, match=r"\[load_low_bit\] .*: not a save_low_bit folder"):
        AutoModelForCausalLM.load_low_bit(src)


def test_hf_autotokenizer_and_text_streamer(capsys):
    import transformers  # in the test venv (scripts/make_test_venv.sh)
    folder = os.path.join(FIXTURES, "hf_llama")
    hf_tok = transformers.AutoTokenizer.from_pretrained(folder)
    ours = AutoTokenizer.from_pretrained(folder)
    # (the fixture's tokenizer.json has no post_processor; HF's LlamaTokenizerFast adds a BOS
    # by its class, ours by the file, so the texts are compared without special tokens)
    for text in ["Once upon a time", "hello world, again", "abc xyz 123"]:
        assert ours.encode(text, add_special_tokens=False) == hf_tok.encode(text, add_special_tokens=False)
    model = AutoModelForCausalLM.from_pretrained(folder)
    ids = hf_tok("Once upon a time", return_tensors="pt").input_ids
    streamer = transformers.TextStreamer(hf_tok, skip_prompt=True)
    out = model.generate(ids, max_new_tokens=12, streamer=streamer, eos_token_id=[])
    printed = capsys.readouterr().out
    assert printed.strip() == hf_tok.decode(out[0, ids.shape[1]:]).strip()


def test_left_padded_batch_equals_rows_alone():
    m = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, "arch_mistral"))
    tok = AutoTokenizer.from_pretrained(os.path.join(FIXTURES, "arch_mistral"))
    texts = ["Once upon a time", "hi", "the quick brown fox jumps"]
    batch = tok(texts, return_tensors="pt", padding=True)
    out = m.generate(**batch, max_new_tokens=10, eos_token_id=[])
    width = batch.input_ids.shape[1]
    for i, t in enumerate(texts):
        alone = m.generate(tok(t, return_tensors="pt").input_ids, max_new_tokens=10, eos_token_id=[])
        assert out[i, width:].tolist() == alone[0, -10:].tolist()


def test_eos_stops_and_pads():
    m = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, "hf_llama"))
    g = load_golden("hf_llama")
    stop = g["greedy"][2]
    short = [0] * 6 + g["prompt"][:6]
    mask = [[1] * 12, [0] * 6 + [1] * 6]
    out = m.generate(np.asarray([g["prompt"], short]), attention_mask=np.asarray(mask), max_new_tokens=8,
                     eos_token_id=stop, pad_token_id=0)
    row0 = out[0, len(g["prompt"]):].tolist()
    assert row0[:3] == g["greedy"][:3] and row0[3:] == [0] * 5


def test_sampling_is_seeded():
    m = AutoModelForCausalLM.from_pretrained(os.path.join(FIXTURES, "arch_llama"))
    ids = torch.tensor([load_golden("arch_llama")["prompt"]])
    kw = dict(max_new_tokens=24, do_sample=True, temperature=1.5, top_k=0, eos_token_id=[])
    a = m.generate(ids, seed=7, **kw)
    assert torch.equal(a, m.generate(ids, seed=7, **kw))
    assert not torch.equal(a, m.generate(ids, seed=8, **kw))
    torch.manual_seed(3)
    b = m.generate(ids, **kw)
    torch.manual_seed(3)
    assert torch.equal(b, m.generate(ids, **kw))
    greedy = m.generate(ids, max_new_tokens=24, eos_token_id=[])
    assert not torch.equal(a, greedy)


def test_errors_are_python_exceptions_with_one_line_messages(tmp_path):
    folder = os.path.join(FIXTURES, "hf_llama")
    with pytest.raises(OSError, match=r"\[from_pretrained\] .*nope: no such file"):
        AutoModelForCausalLM.from_pretrained(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match=r"unknown low-bit type 'int3'") as e:
        AutoModelForCausalLM.from_pretrained(folder, load_in_low_bit="int3")
    assert "\n" not in str(e.value)
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 16)
    with pytest.raises(ValueError, match=r"bad\.gguf"):
        AutoModelForCausalLM.from_pretrained(str(bad))
    m = AutoModelForCausalLM.from_pretrained(folder)
    with pytest.raises(IndexError, match=r"token id"):
        m.generate(np.asarray([[1, 5000]]), max_new_tokens=2)
    with pytest.raises(ValueError, match=r"num_beams=4 is not supported"):
        m.generate(np.asarray([[1, 2]]), num_beams=4)
    with pytest.raises(TypeError, match=r"from_pretrained.*quantization_config"):
        AutoModelForCausalLM.from_pretrained(folder, quantization_config={})
    with pytest.raises(TypeError, match=r"integer token ids"):
        m.generate(np.asarray([[1.5, 2.0]]))


def test_generate_releases_the_gil():
    # One generate call long enough to see (SmolLM2, 96 tokens, ~0.3 s or more): another
    # thread ticking every millisecond keeps ticking during it only if the GIL is released
    # (held, it could not run at all until the call returned).
    if not os.path.exists(SMOLLM2):
        pytest.fail(f"{SMOLLM2} is missing: scripts/get_smollm2.sh fetches it (scripts/test.sh does)")
    m = AutoModelForCausalLM.from_pretrained(SMOLLM2)
    ids = np.asarray([[1, 504, 3458, 282, 253, 730]])
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=tick)
    t.start()
    time.sleep(0.01)
    start = time.perf_counter()
    m.generate(ids, max_new_tokens=96, eos_token_id=[])
    end = time.perf_counter()
    done.set()
    t.join()
    inside = [x for x in ticks if start < x < end]
    assert len(inside) >= max(20, 0.2 * (end - start) * 1000), (len(inside), end - start)


def test_smollm2_chat_and_quick_start():
    if not os.path.exists(SMOLLM2):
        pytest.fail(f"{SMOLLM2} is missing: scripts/get_smollm2.sh fetches it (scripts/test.sh does)")
    model = AutoModelForCausalLM.from_pretrained(SMOLLM2, load_in_4bit=True)
    answer, history = model.chat(query="What is the capital of France?", max_new_tokens=40)
    assert "Paris" in answer
    assert history[-1] == {"role": "assistant", "content": answer}
    tokenizer = AutoTokenizer.from_pretrained(SMOLLM2)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Name a primary color."}],
                                        return_tensors="pt")
    out = model.generate(ids, max_new_tokens=32)
    text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert any(c in text.lower() for c in ("red", "blue", "yellow")), text


def test_encoder_last_hidden_state_equals_transformers():
    g = load_golden("arch_bert")
    from bigdl_cpp.llm.transformers import AutoModel

    model = AutoModel.from_pretrained(os.path.join(FIXTURES, "arch_bert"))
    out = model(np.asarray([g["prompt"]]))
    assert "logits" not in out
    hidden = out.last_hidden_state[0]
    err = np.abs(hidden - np.asarray(g["hidden"], dtype=np.float32)).max() / g["logits_std"]
    assert err < 1e-4, f"max |ours - transformers| = {err:.2e} x std"
    with pytest.raises(ValueError, match=r"\[generate\] .*is an encoder"):
        model.generate(np.asarray([g["prompt"]]), max_new_tokens=2)
