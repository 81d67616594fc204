// Llama (llama, llama 2, TinyLlama, llama2.c checkpoints converted to GGUF).
//
// Per layer:  x += Wo · attn(rope(Wq·n), rope(Wk·n), Wv·n)   with n = rmsnorm(x)·attn_norm
//             x += Wdown · (silu(Wgate·m) * (Wup·m))          with m = rmsnorm(x)·ffn_norm
// then logits = Woutput · rmsnorm(x)·output_norm (Woutput = token_embd when absent).
//
// RoPE pairs adjacent values (2i, 2i+1) of each head (ggml rope mode 0): llama.cpp's
// converters permute the Q/K rows of HF checkpoints into that order, and llama2.c
// checkpoints already use it. Verified by the stories260K golden logits
// (tests/llm/test_llama_stories.cpp: max abs diff 3e-6 at step 0).
//
// Hugging Face checkpoints (load_llama_hf; model_type llama, mistral, qwen2) are read
// through HfCheckpoint, converted to f32 at load and owned by the model. HF applies RoPE
// with rotate_half, pairing (i, i + head_dim/2); the Q/K rows of every head (and Qwen2's
// q/k biases) are permuted at load, new row 2i = old row i, new row 2i+1 = old row
// i + head_dim/2, so the adjacent-pair kernel computes the same attention (q·k is
// unchanged by a permutation applied to both; V and the output are not touched).
// Mistral's sliding window only matters past `sliding_window` positions, so the default
// context is capped there and a larger LoadOptions::n_ctx is refused (ValueError).
// Qwen2 is Llama plus biases on q/k/v. Verified against transformers 4.40.2 by
// tests/llm/test_hf_golden.cpp (fixtures from tests/llm/gen_hf_golden.py).
// RoPE scaling: linear (positions / factor) or Llama 3 (theta_i / f_i per frequency pair,
// from config.json's rope_scaling or the GGUF tensor rope_freqs.weight), the latter
// verified against transformers 4.46.3 (fixture hf_llama3).
#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <vector>

#include "backend/cpu/quant/qgemm.h"
#include "bigdl/tensor.h"  // shape_str
#include "bigdl/error.h"
#include "bigdl/io/gguf_writer.h"
#include "llm/arch.h"
#include "llm/graph.h"
#include "llm/kv_cache.h"

namespace bigdl::llm::detail {

namespace {

struct LlamaLayer {
  const float* attn_norm;
  Weight wq, wk, wv, wo;
  const float* bq = nullptr;  // Qwen2 q/k/v biases (nullptr: none)
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* ffn_norm;
  Weight w_gate, w_up, w_down;
};

// transformers' _compute_llama3_parameters (modeling_rope_utils.py, >= 4.43) as one divisor
// of theta_i = base^(-2i/head_dim) per frequency pair, which is what llama.cpp's converter
// writes to rope_freqs.weight: with wavelength w_i = 2*pi / theta_i, pairs with
// w_i < original / high keep their frequency (1), pairs with w_i > original / low are
// divided by `factor`, and in between 1 / ((1 - s) / factor + s) with
// s = (original / w_i - low) / (high - low) (the two ends meet it continuously).
std::vector<float> llama3_rope_factors(int64_t head_dim, double base, double factor, double low, double high,
                                       double original) {
  std::vector<float> f(static_cast<size_t>(head_dim / 2));
  for (size_t i = 0; i < f.size(); ++i) {
    const double theta = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelen = 2.0 * std::numbers::pi / theta;
    double d = 1.0;
    if (wavelen > original / low) {
      d = factor;
    } else if (wavelen >= original / high) {
      const double s = (original / wavelen - low) / (high - low);
      d = 1.0 / ((1.0 - s) / factor + s);
    }
    f[i] = static_cast<float>(d);
  }
  return f;
}

class LlamaModel final : public Model, public GgufExportable {
 public:
  LlamaModel(io::GgufFile file, const LoadOptions& options) : file_(std::move(file)) {
    const io::GgufFile& f = *file_;
    const LowBit lb = parse_low_bit(options.low_bit, "load_model");
    auto& c = config_;
    c.arch = "llama";
    const std::string& fname = f.name();
    c.n_embd = f.get_int("llama.embedding_length");
    c.n_layer = f.get_int("llama.block_count");
    c.n_head = f.get_int("llama.attention.head_count");
    c.n_head_kv = f.find("llama.attention.head_count_kv") ? f.get_int("llama.attention.head_count_kv") : c.n_head;
    c.n_ff = f.get_int("llama.feed_forward_length");
    c.n_ctx_train = f.get_int("llama.context_length");
    c.rope_freq_base = f.find("llama.rope.freq_base") ? static_cast<float>(f.get_float("llama.rope.freq_base")) : 10000.0f;
    c.rms_eps = static_cast<float>(f.get_float("llama.attention.layer_norm_rms_epsilon"));
    if (const auto* st = f.find("llama.rope.scaling.type")) {  // what convert() writes for HF linear scaling
      const std::string& type = st->as_string(fname + ": metadata key 'llama.rope.scaling.type'");
      BIGDL_CHECK(type == "linear" || type == "none", FormatError, "load_model", fname, ": rope scaling type '", type,
                  "' is not supported (supported: linear)");
      if (type == "linear") rope_factor_ = f.get_float("llama.rope.scaling.factor");
      BIGDL_CHECK(rope_factor_ > 0, FormatError, "load_model", fname, ": llama.rope.scaling.factor ", rope_factor_,
                  " is not positive");
    }
    auto positive = [&](int64_t v, const char* key) {
      BIGDL_CHECK(v > 0, FormatError, "load_model", fname, ": metadata key '", key, "' is ", v,
                  ", expected > 0");
    };
    positive(c.n_embd, "llama.embedding_length");
    positive(c.n_layer, "llama.block_count");
    positive(c.n_head, "llama.attention.head_count");
    positive(c.n_head_kv, "llama.attention.head_count_kv");
    positive(c.n_ff, "llama.feed_forward_length");
    positive(c.n_ctx_train, "llama.context_length");
    BIGDL_CHECK(c.n_embd % c.n_head == 0 && (c.n_embd / c.n_head) % 2 == 0, FormatError, "load_model",
                fname, ": embedding_length ", c.n_embd, " is not an even head size times head_count ",
                c.n_head);
    BIGDL_CHECK(c.n_head % c.n_head_kv == 0, FormatError, "load_model", fname, ": head_count ", c.n_head,
                " is not a multiple of head_count_kv ", c.n_head_kv);
    c.head_dim = c.n_embd / c.n_head;
    BIGDL_CHECK(options.n_ctx >= 0, ValueError, "load_model", "n_ctx ", options.n_ctx, " is negative");
    c.n_ctx = options.n_ctx > 0 ? options.n_ctx : c.n_ctx_train;

    WeightLoader w(f);
    const io::GgufTensorInfo* emb = f.tensor("token_embd.weight");
    BIGDL_CHECK(emb != nullptr, FormatError, "load_model", fname, ": tensor 'token_embd.weight' missing");
    BIGDL_CHECK(emb->shape.size() == 2, ShapeError, "load_model", fname,
                ": tensor 'token_embd.weight' has ", emb->shape.size(), " dims, expected 2");
    c.n_vocab = emb->shape[0];
    if (const auto* toks = f.find("tokenizer.ggml.tokens")) {
      const int64_t n = static_cast<int64_t>(toks->count);
      BIGDL_CHECK(n == c.n_vocab, ShapeError, "load_model", fname, ": tokenizer.ggml.tokens has ", n,
                  " entries but tensor 'token_embd.weight' has ", c.n_vocab, " rows");
    }
    // The embedding is never quantized by low_bit (only made f32 by "fp32").
    token_embd_ = apply_low_bit(w.matrix("token_embd.weight", c.n_vocab, c.n_embd),
                                lb.kind == LowBit::f32 ? lb : LowBit{}, owned_bytes_);
    const auto mat = [&](const std::string& name, int64_t rows, int64_t cols) {
      const Weight src = w.matrix(name, rows, cols);
      Weight out = apply_low_bit(src, lb, owned_bytes_);
      // Converted: nothing reads the file's copy any more, so its pages go (they fault back
      // in from the page cache if anything did); a 1B model converted at load then holds
      // one copy of its weights instead of the file's plus ours.
      if (out.data != src.data) release_mapped_pages(src.data, f.tensor(name)->nbytes);
      return out;
    };
    const int64_t kv_dim = c.n_head_kv * c.head_dim;
    layers_.resize(c.n_layer);
    for (int64_t l = 0; l < c.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      auto& L = layers_[l];
      L.attn_norm = w.vector(p + "attn_norm.weight", c.n_embd);
      L.wq = mat(p + "attn_q.weight", c.n_embd, c.n_embd);
      L.wk = mat(p + "attn_k.weight", kv_dim, c.n_embd);
      L.wv = mat(p + "attn_v.weight", kv_dim, c.n_embd);
      L.wo = mat(p + "attn_output.weight", c.n_embd, c.n_embd);
      if (w.has(p + "attn_q.bias")) {  // Qwen2 converted by bigdl::llm::convert (Q/K in adjacent-pair order)
        L.bq = w.vector(p + "attn_q.bias", c.n_embd);
        L.bk = w.vector(p + "attn_k.bias", kv_dim);
        L.bv = w.vector(p + "attn_v.bias", kv_dim);
      }
      L.ffn_norm = w.vector(p + "ffn_norm.weight", c.n_embd);
      L.w_gate = mat(p + "ffn_gate.weight", c.n_ff, c.n_embd);
      L.w_up = mat(p + "ffn_up.weight", c.n_ff, c.n_embd);
      L.w_down = mat(p + "ffn_down.weight", c.n_embd, c.n_ff);
    }
    output_norm_ = w.vector("output_norm.weight", c.n_embd);
    c.tied_output = !w.has("output.weight");
    output_ = c.tied_output ? token_embd_ : mat("output.weight", c.n_vocab, c.n_embd);
    if (w.has("rope_freqs.weight")) {  // Llama 3 RoPE scaling as llama.cpp's converter stores it
      const float* f = w.vector("rope_freqs.weight", c.head_dim / 2);
      rope_freq_factors_.assign(f, f + c.head_dim / 2);
      for (const float x : rope_freq_factors_)
        BIGDL_CHECK(std::isfinite(x) && x > 0, FormatError, "load_model", fname,
                    ": tensor 'rope_freqs.weight' holds ", x, ", expected finite factors > 0");
    }

    allocate_state(options);
    build_rope();
  }

  LlamaModel(const HfCheckpoint& ck, const LoadOptions& options);

  const float* forward(int32_t token, int64_t pos) override;
  const float* forward_batch(const int32_t* tokens, int64_t n, int64_t pos0) override;
  const float* forward_batch_all(const int32_t* tokens, int64_t n, int64_t pos0) override;
  void export_gguf(io::GgufWriter& out) const override;

 private:
  // cos/sin tables for angle (pos / rope_factor_) * theta_i / f_i, f_i the Llama 3
  // per-pair factors (1 when none), as ggml_rope_ext with freq_factors.
  void build_rope() {
    const auto& c = config_;
    rope_tables(c.n_ctx, c.head_dim, c.rope_freq_base, rope_cos_, rope_sin_);
    if (rope_factor_ == 1.0 && rope_freq_factors_.empty()) return;
    const int64_t half = c.head_dim / 2;
    for (int64_t pos = 0; pos < c.n_ctx; ++pos)
      for (int64_t i = 0; i < half; ++i) {
        double theta = std::pow(static_cast<double>(c.rope_freq_base), -2.0 * i / c.head_dim);
        if (!rope_freq_factors_.empty()) theta /= rope_freq_factors_[i];
        const double a = static_cast<double>(pos) / rope_factor_ * theta;
        rope_cos_[pos * half + i] = static_cast<float>(std::cos(a));
        rope_sin_[pos * half + i] = static_cast<float>(std::sin(a));
      }
  }

  // Everything forward() touches is allocated here, once (not the RoPE tables), and the
  // quantized matrices are packed for the x8 kernels.
  void allocate_state(const LoadOptions& options) {
    auto& c = config_;
    const KvType kv_type = parse_kv_type(options.kv_type, "load_model");
    c.kv_type = kv_type_name(kv_type);
    const int64_t kv_dim = c.n_head_kv * c.head_dim;
    kv_.allocate(kv_type, c.n_layer, c.n_ctx, kv_dim);
    x_.assign(c.n_embd, 0.0f);
    xb_.assign(c.n_embd, 0.0f);
    xb2_.assign(c.n_embd, 0.0f);
    q_.assign(c.n_embd, 0.0f);
    k_.assign(kv_dim, 0.0f);
    v_.assign(kv_dim, 0.0f);
    hb_.assign(c.n_ff, 0.0f);
    scores_.assign(c.n_head * c.n_ctx, 0.0f);
    logits_.assign(c.n_vocab, 0.0f);
    pack_weights();
  }

  // Interleaved copies of the Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 / nf4 / fp4 projections and classifier (graph.h,
  // pack_weight). A matrix used in place from the GGUF mapping then has its pages
  // released, so the process holds one copy of the weights; they fault back in from the
  // file if export_gguf() or copy_row() reads them. A matrix that low_bit converted is
  // freed (export_gguf() unpacks it again).
  void pack_weights() {
    const auto pack = [&](Weight& w) {
      // file_ always comes from GgufFile::open (load_model -> load_llama), a read-only
      // private mapping of the file, so dropping its pages loses nothing.
      const io::GgufTensorInfo* t = file_ ? file_->tensor(w.name) : nullptr;
      const bool mapped = t && t->data == w.data;
      if (pack_weight(w, packed_, mapped) == 0 || mapped) return;
      // Converted by low_bit (owned): free the original when every row is packed.
      if (w.rows % bigdl::detail::quant::kPackRows != 0 || w.data == token_embd_.data) return;
      for (auto& b : owned_bytes_)
        if (b.data() == w.data) {
          std::vector<uint8_t>().swap(b);
          w.data = nullptr;
          return;
        }
    };
    std::vector<Weight*> all;
    for (auto& L : layers_)
      for (Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) all.push_back(w);
    all.push_back(&output_);
    int64_t total = 0;
    for (const Weight* w : all) total += packed_weight_bytes(*w);
    packed_.reserve(total);
    for (Weight* w : all) pack(*w);
  }

  // forward_batch / forward_batch_all: logits of the last token, or of all n (all_logits).
  const float* run_batch(const int32_t* tokens, int64_t n, int64_t pos0, bool all_logits);

  // HF tensor `name` as an owned f32 matrix of shape [rows, cols].
  Weight hf_matrix(const HfCheckpoint& ck, const std::string& name, int64_t rows, int64_t cols,
                   const LowBit& lb, int64_t rope_head_dim = 0);
  const float* hf_vector(const HfCheckpoint& ck, const std::string& name, int64_t n, int64_t rope_head_dim = 0);

  std::optional<io::GgufFile> file_;  // GGUF: keeps the mapping that every Weight points into alive
  std::vector<std::vector<float>> owned_;  // HF: the f32 weights every Weight points into
  std::vector<std::vector<uint8_t>> owned_bytes_;  // weights converted by LoadOptions::low_bit
  double rope_factor_ = 1.0;     // linear RoPE scaling: positions divided by it
  std::vector<float> rope_freq_factors_;  // Llama 3 RoPE scaling: theta_i divided by [i] (head_dim/2); empty: none
  int64_t ctx_limit_ = 0;        // > 0: sliding window; a converted file's context_length is capped here
  Weight token_embd_;
  std::vector<LlamaLayer> layers_;
  const float* output_norm_ = nullptr;
  Weight output_;
  PackedArena packed_;  // the x8 copies every Weight::packed points into
  KvCache kv_;                                // [n_layer][n_ctx][kv_dim] K and V
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, hb_, scores_, logits_;
  std::vector<float> rope_cos_, rope_sin_;  // [n_ctx][head_dim/2]
  // forward_batch scratch, [n][n_embd] / [n][kv_dim] / [n][n_ff] / [n][n_vocab], grown to
  // the largest batch seen.
  std::vector<float> bx_, bxb_, bxb2_, bq_, bk_, bv_, bhb_, bhb2_, blogits_;
};

const float* LlamaModel::forward(int32_t token, int64_t pos) {
  const auto& c = config_;
  BIGDL_CHECK(token >= 0 && token < c.n_vocab, IndexError, "llm", "token id ", token,
              " out of range [0, ", c.n_vocab, ")");
  BIGDL_CHECK(pos >= 0 && pos < c.n_ctx, IndexError, "llm", "position ", pos,
              " out of range [0, ", c.n_ctx, ") of the context");
  const auto& k = bigdl::detail::cpu_kernels();
  const int64_t kv_dim = c.n_head_kv * c.head_dim;
  const float* cos = rope_cos_.data() + pos * (c.head_dim / 2);
  const float* sin = rope_sin_.data() + pos * (c.head_dim / 2);
  float* x = x_.data();
  copy_row(token_embd_, token, x);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const auto& L = layers_[l];
    // attention: q/k/v in one parallel region, K/V rows converted into the cache
    rmsnorm(x, L.attn_norm, xb_.data(), c.n_embd, c.rms_eps);
    const Weight* qkv[3] = {&L.wq, &L.wk, &L.wv};
    float* out[3] = {q_.data(), k_.data(), v_.data()};
    matvec_multi(qkv, out, 3, xb_.data());
    if (L.bq) {
      k.add(q_.data(), L.bq, q_.data(), c.n_embd);
      k.add(k_.data(), L.bk, k_.data(), kv_dim);
      k.add(v_.data(), L.bv, v_.data(), kv_dim);
    }
    rope_adjacent(q_.data(), c.n_head, c.head_dim, cos, sin);
    rope_adjacent(k_.data(), c.n_head_kv, c.head_dim, cos, sin);
    kv_.store(l, pos, 1, k_.data(), v_.data());
    attention(q_.data(), kv_.layer(l), pos, c.n_head, c.n_head_kv, c.head_dim, scores_.data(), c.n_ctx, xb_.data());
    matvec(L.wo, xb_.data(), xb2_.data());
    k.add(x, xb2_.data(), x, c.n_embd);
    // feed-forward: gate, up and SwiGLU in one region, then down
    rmsnorm(x, L.ffn_norm, xb_.data(), c.n_embd, c.rms_eps);
    matvec_swiglu(L.w_gate, L.w_up, xb_.data(), hb_.data());
    matvec(L.w_down, hb_.data(), xb2_.data());
    k.add(x, xb2_.data(), x, c.n_embd);
  }
  rmsnorm(x, output_norm_, xb_.data(), c.n_embd, c.rms_eps);
  matvec(output_, xb_.data(), logits_.data());
  return logits_.data();
}

const float* LlamaModel::forward_batch(const int32_t* tokens, int64_t n, int64_t pos0) {
  return run_batch(tokens, n, pos0, false);
}

const float* LlamaModel::forward_batch_all(const int32_t* tokens, int64_t n, int64_t pos0) {
  return run_batch(tokens, n, pos0, true);
}

// forward() for n tokens at once: the same per-token kernels row by row (rmsnorm, rope,
// swiglu, bias adds), matmul() for every projection, attention_batch() after all n
// K/V rows of a layer are in the cache, and the classifier for the last token (or all).
const float* LlamaModel::run_batch(const int32_t* tokens, int64_t n, int64_t pos0, bool all_logits) {
  const auto& c = config_;
  BIGDL_CHECK(n >= 1 && pos0 >= 0 && pos0 + n <= c.n_ctx, ValueError, "llm", "batch of ", n,
              " tokens at position ", pos0, " exceeds the context length ", c.n_ctx);
  for (int64_t t = 0; t < n; ++t)
    BIGDL_CHECK(tokens[t] >= 0 && tokens[t] < c.n_vocab, IndexError, "llm", "token id ", tokens[t],
                " out of range [0, ", c.n_vocab, ")");
  const auto& k = bigdl::detail::cpu_kernels();
  const int64_t dim = c.n_embd, kv_dim = c.n_head_kv * c.head_dim, half = c.head_dim / 2;
  const auto grow = [](std::vector<float>& b, int64_t size) {
    if (static_cast<int64_t>(b.size()) < size) b.resize(static_cast<size_t>(size));
  };
  for (auto* b : {&bx_, &bxb_, &bxb2_, &bq_}) grow(*b, n * dim);
  for (auto* b : {&bk_, &bv_}) grow(*b, n * kv_dim);
  for (auto* b : {&bhb_, &bhb2_}) grow(*b, n * c.n_ff);
  float *x = bx_.data(), *xb = bxb_.data(), *xb2 = bxb2_.data(), *q = bq_.data();
  float *kn = bk_.data(), *vn = bv_.data(), *hb = bhb_.data(), *hb2 = bhb2_.data();
  for (int64_t t = 0; t < n; ++t) copy_row(token_embd_, tokens[t], x + t * dim);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const auto& L = layers_[l];
    // attention
    for (int64_t t = 0; t < n; ++t) rmsnorm(x + t * dim, L.attn_norm, xb + t * dim, dim, c.rms_eps);
    matmul(L.wq, xb, n, q);
    matmul(L.wk, xb, n, kn);
    matmul(L.wv, xb, n, vn);
    for (int64_t t = 0; t < n; ++t) {
      float *qt = q + t * dim, *kt = kn + t * kv_dim, *vt = vn + t * kv_dim;
      if (L.bq) {
        k.add(qt, L.bq, qt, dim);
        k.add(kt, L.bk, kt, kv_dim);
        k.add(vt, L.bv, vt, kv_dim);
      }
      const float* cos = rope_cos_.data() + (pos0 + t) * half;
      const float* sin = rope_sin_.data() + (pos0 + t) * half;
      rope_adjacent(qt, c.n_head, c.head_dim, cos, sin);
      rope_adjacent(kt, c.n_head_kv, c.head_dim, cos, sin);
    }
    kv_.store(l, pos0, n, kn, vn);
    attention_batch(q, kv_.layer(l), pos0, n, c.n_head, c.n_head_kv, c.head_dim, xb);
    matmul(L.wo, xb, n, xb2);
    k.add(x, xb2, x, n * dim);
    // feed-forward
    for (int64_t t = 0; t < n; ++t) rmsnorm(x + t * dim, L.ffn_norm, xb + t * dim, dim, c.rms_eps);
    matmul(L.w_gate, xb, n, hb);
    matmul(L.w_up, xb, n, hb2);
    swiglu(hb, hb2, n * c.n_ff);
    matmul(L.w_down, hb, n, xb2);
    k.add(x, xb2, x, n * dim);
  }
  if (!all_logits) {
    rmsnorm(x + (n - 1) * dim, output_norm_, xb_.data(), dim, c.rms_eps);
    matvec(output_, xb_.data(), logits_.data());
    return logits_.data();
  }
  for (int64_t t = 0; t < n; ++t) rmsnorm(x + t * dim, output_norm_, xb + t * dim, dim, c.rms_eps);
  grow(blogits_, n * c.n_vocab);
  matmul(output_, xb, n, blogits_.data());
  return blogits_.data();
}

Weight LlamaModel::hf_matrix(const HfCheckpoint& ck, const std::string& name, int64_t rows, int64_t cols,
                             const LowBit& lb, int64_t rope_head_dim) {
  const auto shape = ck.tensor_shape(name);
  BIGDL_CHECK(shape == (std::vector<int64_t>{rows, cols}), ShapeError, "load_model", ck.tensor_file(name),
              ": tensor '", name, "' has shape ", shape_str(shape), ", expected ", shape_str({rows, cols}));
  // Peak memory: this one f32 tensor plus its quantized copy.
  std::vector<float> v = ck.read_f32(name);
  if (rope_head_dim) rope_permute_rows(v, rope_head_dim, cols);
  Weight w;
  w.name = name;
  w.rows = rows;
  w.cols = cols;
  w.is_f32 = true;
  w.data = reinterpret_cast<const uint8_t*>(v.data());
  const Weight q = apply_low_bit(w, lb, owned_bytes_);
  if (q.data != w.data) return q;  // the f32 copy is dropped here
  owned_.push_back(std::move(v));  // the heap buffer (and w.data) stays put
  return w;
}

const float* LlamaModel::hf_vector(const HfCheckpoint& ck, const std::string& name, int64_t n,
                                   int64_t rope_head_dim) {
  const auto shape = ck.tensor_shape(name);
  BIGDL_CHECK(shape == (std::vector<int64_t>{n}), ShapeError, "load_model", ck.tensor_file(name), ": tensor '",
              name, "' has shape ", shape_str(shape), ", expected ", shape_str({n}));
  std::vector<float> v = ck.read_f32(name);
  if (rope_head_dim) rope_permute_rows(v, rope_head_dim, 1);
  owned_.push_back(std::move(v));
  return owned_.back().data();
}

LlamaModel::LlamaModel(const HfCheckpoint& ck, const LoadOptions& options) {
  const LowBit lb = parse_low_bit(options.low_bit, "load_model");
  const LowBit emb_lb;  // the embedding stays f32
  auto& c = config_;
  const std::string cfg = ck.config_path();
  const std::string& type = ck.model_type();
  c.arch = type;
  c.n_vocab = ck.get_int("vocab_size");
  c.n_embd = ck.get_int("hidden_size");
  c.n_ff = ck.get_int("intermediate_size");
  c.n_layer = ck.get_int("num_hidden_layers");
  c.n_head = ck.get_int("num_attention_heads");
  c.n_head_kv = ck.get_int("num_key_value_heads", c.n_head);
  c.n_ctx_train = ck.get_int("max_position_embeddings");
  c.rms_eps = static_cast<float>(ck.get_float("rms_norm_eps"));
  c.rope_freq_base = static_cast<float>(ck.get_float("rope_theta", 10000.0));
  c.tied_output = ck.get_bool("tie_word_embeddings", false);  // the LlamaConfig / MistralConfig / Qwen2Config default
  for (const char* f : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                        "num_attention_heads", "num_key_value_heads", "max_position_embeddings"}) {
    const int64_t v = ck.get_int(f, c.n_head);
    BIGDL_CHECK(v > 0, FormatError, "load_model", cfg, ": field '", f, "' is ", v, ", expected > 0");
  }
  BIGDL_CHECK(c.n_embd % c.n_head == 0 && (c.n_embd / c.n_head) % 2 == 0, FormatError, "load_model", cfg,
              ": hidden_size ", c.n_embd, " is not an even head size times num_attention_heads ", c.n_head);
  BIGDL_CHECK(c.n_head % c.n_head_kv == 0, FormatError, "load_model", cfg, ": num_attention_heads ", c.n_head,
              " is not a multiple of num_key_value_heads ", c.n_head_kv);
  c.head_dim = c.n_embd / c.n_head;
  BIGDL_CHECK(ck.get_int("head_dim", c.head_dim) == c.head_dim, FormatError, "load_model", cfg,
              ": head_dim ", ck.get_int("head_dim"), " != hidden_size / num_attention_heads is not supported");
  const std::string act = ck.get_string("hidden_act", "silu");
  BIGDL_CHECK(act == "silu", FormatError, "load_model", cfg, ": hidden_act '", act, "' is not supported (silu)");
  BIGDL_CHECK(!ck.get_bool("attention_bias", false) || type == "qwen2", FormatError, "load_model", cfg,
              ": attention_bias true is not supported for model_type ", type);
  BIGDL_CHECK(!ck.get_bool("mlp_bias", false), FormatError, "load_model", cfg, ": mlp_bias true is not supported");

  // RoPE scaling: none, "linear" (positions divided by factor, as transformers 4.40) or
  // "llama3" (a divisor per frequency pair, transformers >= 4.43; see llama3_rope_factors).
  double rope_factor = 1.0;
  if (ck.has("rope_scaling")) {
    const std::string st = ck.has("rope_scaling.rope_type") ? ck.get_string("rope_scaling.rope_type")
                                                             : ck.get_string("rope_scaling.type");
    BIGDL_CHECK(st == "linear" || st == "llama3" || st == "default", FormatError, "load_model", cfg,
                ": rope_scaling type '", st, "' is not supported (supported: linear, llama3)");
    if (st == "linear") rope_factor = ck.get_float("rope_scaling.factor");
    BIGDL_CHECK(rope_factor > 0, FormatError, "load_model", cfg, ": rope_scaling.factor ", rope_factor,
                " is not positive");
    if (st == "llama3") {
      const double factor = ck.get_float("rope_scaling.factor");
      const double low = ck.get_float("rope_scaling.low_freq_factor");
      const double high = ck.get_float("rope_scaling.high_freq_factor");
      const double original = ck.get_float("rope_scaling.original_max_position_embeddings");
      BIGDL_CHECK(factor > 0 && low > 0 && high > low && original > 0, FormatError, "load_model", cfg,
                  ": rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and "
                  "original_max_position_embeddings > 0 (got ", factor, ", ", low, ", ", high, ", ", original, ")");
      rope_freq_factors_ = llama3_rope_factors(c.head_dim, c.rope_freq_base, factor, low, high, original);
    }
  }

  // Context. Mistral's sliding window (and Qwen2's, when use_sliding_window is true) is
  // not implemented: exact only while n_ctx <= sliding_window.
  BIGDL_CHECK(options.n_ctx >= 0, ValueError, "load_model", "n_ctx ", options.n_ctx, " is negative");
  int64_t window = 0;
  if (type == "mistral" || (type == "qwen2" && ck.get_bool("use_sliding_window", false)))
    window = ck.get_int("sliding_window", 0);
  c.n_ctx = options.n_ctx > 0 ? options.n_ctx : c.n_ctx_train;
  if (window > 0 && c.n_ctx > window) {
    BIGDL_CHECK(options.n_ctx == 0, ValueError, "load_model", "n_ctx ", options.n_ctx, " exceeds ", cfg,
                " sliding_window ", window, " (sliding-window attention is not implemented)");
    c.n_ctx = window;
  }
  ctx_limit_ = window;
  rope_factor_ = rope_factor;

  const bool qkv_bias = type == "qwen2";
  const int64_t kv_dim = c.n_head_kv * c.head_dim;
  token_embd_ = hf_matrix(ck, "model.embed_tokens.weight", c.n_vocab, c.n_embd, emb_lb);
  layers_.resize(c.n_layer);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    auto& L = layers_[l];
    L.attn_norm = hf_vector(ck, p + "input_layernorm.weight", c.n_embd);
    L.wq = hf_matrix(ck, p + "self_attn.q_proj.weight", c.n_embd, c.n_embd, lb, c.head_dim);
    L.wk = hf_matrix(ck, p + "self_attn.k_proj.weight", kv_dim, c.n_embd, lb, c.head_dim);
    L.wv = hf_matrix(ck, p + "self_attn.v_proj.weight", kv_dim, c.n_embd, lb);
    L.wo = hf_matrix(ck, p + "self_attn.o_proj.weight", c.n_embd, c.n_embd, lb);
    if (qkv_bias) {
      L.bq = hf_vector(ck, p + "self_attn.q_proj.bias", c.n_embd, c.head_dim);
      L.bk = hf_vector(ck, p + "self_attn.k_proj.bias", kv_dim, c.head_dim);
      L.bv = hf_vector(ck, p + "self_attn.v_proj.bias", kv_dim);
    }
    L.ffn_norm = hf_vector(ck, p + "post_attention_layernorm.weight", c.n_embd);
    L.w_gate = hf_matrix(ck, p + "mlp.gate_proj.weight", c.n_ff, c.n_embd, lb);
    L.w_up = hf_matrix(ck, p + "mlp.up_proj.weight", c.n_ff, c.n_embd, lb);
    L.w_down = hf_matrix(ck, p + "mlp.down_proj.weight", c.n_embd, c.n_ff, lb);
  }
  output_norm_ = hf_vector(ck, "model.norm.weight", c.n_embd);
  output_ = c.tied_output ? token_embd_ : hf_matrix(ck, "lm_head.weight", c.n_vocab, c.n_embd, lb);

  allocate_state(options);
  build_rope();
}

// A llama GGUF with llama.cpp's tensor names; Q/K rows are already in adjacent-pair
// order (permuted at HF load), which is what llama.cpp's converter writes.
void LlamaModel::export_gguf(io::GgufWriter& out) const {
  const auto& c = config_;
  out.set("general.architecture", io::gguf_string("llama"));
  if (file_ && file_->find("general.name")) out.set("general.name", *file_->find("general.name"));
  const int64_t ctx = ctx_limit_ > 0 ? std::min(ctx_limit_, c.n_ctx_train) : c.n_ctx_train;
  out.set("llama.context_length", io::gguf_u32(static_cast<uint32_t>(ctx)));
  out.set("llama.embedding_length", io::gguf_u32(static_cast<uint32_t>(c.n_embd)));
  out.set("llama.block_count", io::gguf_u32(static_cast<uint32_t>(c.n_layer)));
  out.set("llama.feed_forward_length", io::gguf_u32(static_cast<uint32_t>(c.n_ff)));
  out.set("llama.rope.dimension_count", io::gguf_u32(static_cast<uint32_t>(c.head_dim)));
  out.set("llama.attention.head_count", io::gguf_u32(static_cast<uint32_t>(c.n_head)));
  out.set("llama.attention.head_count_kv", io::gguf_u32(static_cast<uint32_t>(c.n_head_kv)));
  out.set("llama.rope.freq_base", io::gguf_f32(c.rope_freq_base));
  out.set("llama.attention.layer_norm_rms_epsilon", io::gguf_f32(c.rms_eps));
  if (rope_factor_ != 1.0) {
    out.set("llama.rope.scaling.type", io::gguf_string("linear"));
    out.set("llama.rope.scaling.factor", io::gguf_f32(static_cast<float>(rope_factor_)));
  }
  if (file_)  // the tokenizer travels with a GGUF source
    for (const auto& [k, v] : file_->metadata())
      if (k.rfind("tokenizer.", 0) == 0) out.set(k, v);
  const auto mat = [&](const std::string& name, const Weight& w) {
    if (w.data) out.add_tensor(name, {w.rows, w.cols}, gguf_type_of(w), w.data, weight_bytes(w));
    else out.add_tensor(name, {w.rows, w.cols}, gguf_type_of(w), [&w] { return unpack_weight(w); });
  };
  const auto vec = [&](const std::string& name, const float* v, int64_t n) {
    out.add_tensor(name, {n}, io::GgufType::F32, v, static_cast<uint64_t>(n) * 4);
  };
  const int64_t kv_dim = c.n_head_kv * c.head_dim;
  mat("token_embd.weight", token_embd_);
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const auto& L = layers_[l];
    vec(p + "attn_norm.weight", L.attn_norm, c.n_embd);
    mat(p + "attn_q.weight", L.wq);
    mat(p + "attn_k.weight", L.wk);
    mat(p + "attn_v.weight", L.wv);
    mat(p + "attn_output.weight", L.wo);
    if (L.bq) {
      vec(p + "attn_q.bias", L.bq, c.n_embd);
      vec(p + "attn_k.bias", L.bk, kv_dim);
      vec(p + "attn_v.bias", L.bv, kv_dim);
    }
    vec(p + "ffn_norm.weight", L.ffn_norm, c.n_embd);
    mat(p + "ffn_gate.weight", L.w_gate);
    mat(p + "ffn_up.weight", L.w_up);
    mat(p + "ffn_down.weight", L.w_down);
  }
  vec("output_norm.weight", output_norm_, c.n_embd);
  if (!c.tied_output) mat("output.weight", output_);
  if (!rope_freq_factors_.empty())  // llama.cpp's form of Llama 3 RoPE scaling (no metadata key)
    vec("rope_freqs.weight", rope_freq_factors_.data(), c.head_dim / 2);
}

}  // namespace

std::unique_ptr<Model> load_llama(io::GgufFile file, const LoadOptions& options) {
  return std::make_unique<LlamaModel>(std::move(file), options);
}

std::unique_ptr<Model> load_llama_hf(const HfCheckpoint& ckpt, const LoadOptions& options) {
  return std::make_unique<LlamaModel>(ckpt, options);
}

}  // namespace bigdl::llm::detail
