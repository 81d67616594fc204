// bigdl_cpp._native.llm: include/bigdl/llm seen from Python. The HF-style API
// (bigdl_cpp/llm/transformers) is written in Python on top of these few calls.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/convert.h"
#include "bigdl/llm/generate.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/sampler.h"
#include "bigdl/llm/vocab.h"
#include "native.h"

namespace py = pybind11;
using namespace bigdl;
using namespace bigdl::llm;

namespace {

// A loaded model and where it came from (save_low_bit converts from the source again).
struct PyModel {
  std::shared_ptr<const Model> model;
  std::string path;
  std::string low_bit;
  std::string imatrix;
};

PyModel load(const std::string& path, const std::string& low_bit, const std::string& imatrix) {
  LoadOptions o;
  o.low_bit = LowBit::parse(low_bit, "from_pretrained");
  o.imatrix = imatrix;
  std::shared_ptr<const Model> model;
  {
    py::gil_scoped_release release;
    model = load_model(path, o);
  }
  return {std::move(model), path, low_bit, imatrix};
}

py::dict config_dict(const ModelConfig& c) {
  py::dict d;
  d["arch"] = c.arch;
  d["model_type"] = c.source_type;
  d["n_vocab"] = c.n_vocab;
  d["n_embd"] = c.n_embd;
  d["n_layer"] = c.n_layer;
  d["n_head"] = c.n_head;
  d["n_head_kv"] = c.n_head_kv;
  d["head_dim"] = c.head_dim;
  d["n_ff"] = c.n_ff;
  d["n_ctx_train"] = c.n_ctx_train;
  d["rope_freq_base"] = c.rope_freq_base;
  d["norm_eps"] = c.norm_eps;
  d["n_expert"] = c.n_expert;
  d["tied_output"] = c.tied_output;
  d["causal"] = c.causal;
  d["pooling"] = c.pooling;
  return d;
}

// Logits of every position of `ids` (an encoder: its last hidden states) as [n][width].
py::array_t<float> forward_all(const PyModel& m, const std::vector<int32_t>& ids, const std::string& kv_type) {
  BIGDL_CHECK(!ids.empty(), ValueError, "forward", "input_ids is empty");
  const ModelConfig& c = m.model->config();
  const int64_t width = c.causal ? c.n_vocab : c.n_embd;
  py::array_t<float> out({int64_t(ids.size()), width});
  float* dst = out.mutable_data();
  {
    py::gil_scoped_release release;
    Context ctx(m.model, {.n_ctx = int64_t(ids.size()), .kv_type = kv_type});
    const float* rows = ctx.forward_batch_all(ids.data(), int64_t(ids.size()), 0);
    std::memcpy(dst, rows, sizeof(float) * ids.size() * size_t(width));
  }
  return out;
}

struct GenArgs {
  int64_t max_new_tokens = 20;
  SamplerOptions sampler;
  std::vector<int32_t> eos_ids;
  std::string kv_type = "f16";
};

// transformers' sampling: no min_p, temperature before top_k / top_p (temperature 0: greedy).
SamplerOptions hf_sampler(float temperature, int32_t top_k, float top_p, float repetition_penalty, uint64_t seed) {
  SamplerOptions o;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.min_p = 0.0f;
  o.repetition_penalty = repetition_penalty;
  o.seed = seed;
  o.temperature_first = true;
  return o;
}

using PyMessages = std::vector<std::pair<std::string, std::string>>;  // (role, content)

std::vector<ChatMessage> to_messages(const PyMessages& messages) {
  std::vector<ChatMessage> out;
  for (const auto& [role, content] : messages) out.push_back({role, content});
  return out;
}

// Raises KeyboardInterrupt (and any other pending signal's exception) between steps.
void check_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

// HF's generate for a batch of prompts (no padding: each row its own length): every row
// is one Context and one Sampler; the prompts go through one multi-sequence forward,
// then each step feeds the still-running rows' tokens in one forward (llm::forward_batch).
// A row stops at one of eos_ids (kept in its output) or after max_new_tokens. `on_step`,
// when set, gets each step's new token per row (-1 for a row already finished).
std::vector<std::vector<int32_t>> generate_rows(const PyModel& m, const std::vector<std::vector<int32_t>>& prompts,
                                                const GenArgs& a, const std::function<void(const std::vector<int32_t>&)>& on_step) {
  const ModelConfig& c = m.model->config();
  BIGDL_CHECK(c.causal, ValueError, "generate", "model '" + m.path + "' is an encoder (" + c.arch + "): it has no next-token logits");
  BIGDL_CHECK(a.max_new_tokens >= 0, ValueError, "generate", "max_new_tokens must be >= 0, got " + std::to_string(a.max_new_tokens));
  const size_t n_rows = prompts.size();
  std::vector<std::vector<int32_t>> out(n_rows);
  if (n_rows == 0 || a.max_new_tokens == 0) return out;
  std::vector<Context> ctxs;
  std::vector<Sampler> samplers;
  ctxs.reserve(n_rows);
  samplers.reserve(n_rows);
  for (size_t r = 0; r < n_rows; ++r) {
    BIGDL_CHECK(!prompts[r].empty(), ValueError, "generate", "input_ids row " + std::to_string(r) + " is empty");
    ctxs.emplace_back(m.model, ContextOptions{.n_ctx = int64_t(prompts[r].size()) + a.max_new_tokens, .kv_type = a.kv_type});
    SamplerOptions so = a.sampler;
    so.seed = a.sampler.seed + r;  // rows draw independent streams
    so.repeat_last_n = int32_t(std::min<int64_t>(ctxs.back().n_ctx(), INT32_MAX));  // HF: the whole sequence
    samplers.emplace_back(int32_t(c.n_vocab), so);
    for (int32_t id : prompts[r]) samplers.back().accept(id);
  }
  std::vector<BatchSeq> items(n_rows);
  std::vector<size_t> row_of(n_rows);
  std::vector<int32_t> next(n_rows), step_ids(n_rows);
  for (size_t r = 0; r < n_rows; ++r) {
    items[r] = {&ctxs[r], prompts[r].data(), int64_t(prompts[r].size()), 0, false};
    row_of[r] = r;
  }
  std::vector<const float*> logits = forward_batch(items);
  for (int64_t step = 0; !items.empty(); ++step) {
    std::fill(step_ids.begin(), step_ids.end(), -1);
    size_t n_live = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      const size_t r = row_of[i];
      const int32_t id = samplers[r].sample(logits[i]);
      samplers[r].accept(id);
      out[r].push_back(id);
      step_ids[r] = id;
      const bool eos = std::find(a.eos_ids.begin(), a.eos_ids.end(), id) != a.eos_ids.end();
      if (eos || int64_t(out[r].size()) >= a.max_new_tokens) continue;
      next[r] = id;
      items[n_live] = {&ctxs[r], &next[r], 1, int64_t(prompts[r].size() + out[r].size()) - 1, false};
      row_of[n_live++] = r;
    }
    items.resize(n_live);
    if (on_step) {
      py::gil_scoped_acquire gil;
      on_step(step_ids);
    }
    check_signals();
    if (!items.empty()) logits = forward_batch(items);
  }
  return out;
}

}  // namespace

namespace bigdl_py {

void bind_llm(py::module_ m) {
  py::class_<PyModel>(m, "Model", "A loaded model (bigdl::llm::Model): GGUF file, HF folder or low-bit folder.")
      .def(py::init(&load), py::arg("path"), py::arg("low_bit") = "", py::arg("imatrix") = "")
      .def_readonly("path", &PyModel::path)
      .def_readonly("low_bit", &PyModel::low_bit)
      .def_readonly("imatrix", &PyModel::imatrix)
      .def_property_readonly("config", [](const PyModel& p) { return config_dict(p.model->config()); })
      .def_property_readonly("weight_bytes", [](const PyModel& p) { return p.model->weight_bytes(); })
      .def("forward_all", &forward_all, py::arg("ids"), py::arg("kv_type") = "f32",
           "Logits after every position of ids, [n, n_vocab] float32 (encoders: hidden states [n, n_embd]).");

  py::class_<Vocab>(m, "Tokenizer", "The model's tokenizer (bigdl::llm::Vocab): GGUF metadata or tokenizer.json.")
      .def(py::init([](const std::string& path) {
             py::gil_scoped_release release;
             return Vocab::load(path);
           }),
           py::arg("path"))
      .def("encode", &Vocab::encode, py::arg("text"), py::arg("add_special") = true, py::arg("parse_special") = false)
      .def("decode", &Vocab::decode, py::arg("ids"), py::arg("render_special") = false)
      .def("token_to_piece", &Vocab::token_to_piece, py::arg("id"), py::arg("render_special") = false)
      .def("text", &Vocab::text, py::arg("id"))
      .def("find", &Vocab::find, py::arg("text"), "The id whose text is exactly `text`, or -1.")
      .def_property_readonly("size", &Vocab::size)
      .def_property_readonly("bos_id", &Vocab::bos_id)
      .def_property_readonly("eos_id", &Vocab::eos_id)
      .def_property_readonly("unk_id", &Vocab::unk_id)
      .def_property_readonly("add_bos", &Vocab::add_bos)
      .def_property_readonly("chat_template", &Vocab::chat_template)
      .def("format_chat",
           [](const Vocab& v, const PyMessages& messages, const std::string& tmpl) {
             return format_chat(v, tmpl.empty() ? v.chat_template() : tmpl, to_messages(messages));
           },
           py::arg("messages"), py::arg("template") = "",
           "The conversation as the chat feeds it (template applied, generation prompt added).");

  m.def(
      "generate",
      [](const PyModel& model, const std::vector<std::vector<int32_t>>& prompts, int64_t max_new_tokens,
         float temperature, int32_t top_k, float top_p, float repetition_penalty, uint64_t seed,
         std::vector<int32_t> eos_ids, const std::string& kv_type,
         std::function<void(const std::vector<int32_t>&)> on_step) {
        GenArgs a;
        a.max_new_tokens = max_new_tokens;
        a.sampler = hf_sampler(temperature, top_k, top_p, repetition_penalty, seed);
        a.eos_ids = std::move(eos_ids);
        a.kv_type = kv_type;
        py::gil_scoped_release release;
        return generate_rows(model, prompts, a, on_step);
      },
      py::arg("model"), py::arg("prompts"), py::arg("max_new_tokens"), py::arg("temperature") = 0.0f,
      py::arg("top_k") = 0, py::arg("top_p") = 1.0f, py::arg("repetition_penalty") = 1.0f, py::arg("seed") = 0,
      py::arg("eos_ids") = std::vector<int32_t>{}, py::arg("kv_type") = "f16", py::arg("on_step") = nullptr,
      "New token ids per prompt (temperature 0: greedy), HF's generate order of warpers.");

  m.def(
      "chat",
      [](const PyModel& model, const Vocab& vocab, const PyMessages& messages,
         const std::string& tmpl, int64_t max_new_tokens, float temperature, int32_t top_k, float top_p,
         float repetition_penalty, uint64_t seed, int64_t n_ctx, const std::string& kv_type,
         std::function<void(const std::string&)> on_text) {
        const std::string t = tmpl.empty() ? vocab.chat_template() : tmpl;
        GenerateOptions o;
        o.max_new_tokens = max_new_tokens;
        o.sampler = hf_sampler(temperature, top_k, top_p, repetition_penalty, seed);
        o = chat_options(vocab, t, std::move(o));
        if (on_text)
          o.callback = [&on_text](std::string_view s) {
            py::gil_scoped_acquire gil;
            on_text(std::string(s));
          };
        GenerateResult r;
        {
          py::gil_scoped_release release;
          Context ctx(model.model, {.n_ctx = n_ctx, .kv_type = kv_type});
          r = generate(ctx, vocab, format_chat(vocab, t, to_messages(messages)), o);
        }
        return py::make_tuple(r.text, r.n_prompt, r.n_generated, to_string(r.stop_reason));
      },
      py::arg("model"), py::arg("tokenizer"), py::arg("messages"), py::arg("template") = "",
      py::arg("max_new_tokens") = 256, py::arg("temperature") = 0.0f, py::arg("top_k") = 0, py::arg("top_p") = 1.0f,
      py::arg("repetition_penalty") = 1.0f, py::arg("seed") = 0, py::arg("n_ctx") = 0, py::arg("kv_type") = "f16",
      py::arg("on_text") = nullptr,
      "One assistant answer: (text, n_prompt, n_generated, stop_reason).");

  m.def(
      "save_low_bit",
      [](const std::string& src, const std::string& dir, const std::string& low_bit, const std::string& imatrix,
         std::function<void(int64_t, int64_t, const std::string&)> progress) {
        LoadOptions o;
        o.low_bit = LowBit::parse(low_bit, "save_low_bit");
        o.imatrix = imatrix;
        ConvertCallback cb;
        if (progress)
          cb = [&progress](const ConvertProgress& p) {
            py::gil_scoped_acquire gil;
            progress(p.index, p.count, p.name);
          };
        ConvertStats s;
        {
          py::gil_scoped_release release;
          s = llm::save_low_bit(src, dir, o, cb);
        }
        return py::make_tuple(s.n_tensors, s.bytes_out, s.seconds);
      },
      py::arg("src"), py::arg("dir"), py::arg("low_bit") = "", py::arg("imatrix") = "", py::arg("progress") = nullptr,
      "bigdl-llm's save_low_bit: dir/model.gguf + bigdl_low_bit.json (+ the HF tokenizer files).");
  m.def("is_low_bit_folder", &is_low_bit_folder, py::arg("path"));
  m.def("supported_architectures", &supported_architectures);
  m.def("low_bit_names", &LowBit::names, "Every name load_in_low_bit accepts.");
}

}  // namespace bigdl_py
