// The generic model: loading any architecture's tensors (by GGUF name, from a GGUF file
// or through an HF name map), the one layer function, and GGUF export. See model_impl.h
// and arch.h.
#include "llm/model_impl.h"
#include "llm/imatrix.h"
#include "llm/low_bit_mix.h"

#include <algorithm>
#include <optional>
#include <cmath>
#include <cstring>
#include <new>
#include <numbers>

#include "backend/cpu/quant/qgemm.h"
#include "bigdl/dtype.h"
#include "bigdl/error.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/llm/convert.h"
#include "bigdl/tensor.h"  // shape_str
#include "core/internal.h"
#include "llm/tensor_source.h"

namespace bigdl::llm {

using namespace detail;  // NOLINT: this file is the detail layer's implementation

namespace {

constexpr const char* kOp = "load_model";
// The KV cache is sized n_ctx times a per-position size: a context past 2^24 positions
// (longer than any model's) would overflow those sizes or ask for more memory than a
// machine has, so it is refused before anything is allocated.
constexpr int64_t kMaxContext = int64_t(1) << 24;

std::string blk(int64_t l, const char* name) { return "blk." + std::to_string(l) + "." + name; }

// ---- loading ----

// Reads tensors from a source into the model: shape and type checks, low-bit
// conversion, page release, export records.
class Builder {
 public:
  Builder(Model::Impl& m, const TensorSource& src, const Imatrix* im) : m_(m), src_(src), im_(im) {}

  bool has(const std::string& name) const { return src_.has(name); }

  // A 2-D matrix [rows, cols], converted as lb asks and split into `parts` row counts
  // (none: the whole matrix). Not recorded for export (the caller records the Weights
  // where they end up).
  std::vector<Weight> matrix(const std::string& name, int64_t rows, int64_t cols, const LowBit& lb,
                             const std::vector<int64_t>& parts = {}) {
    return tensor(name, {rows, cols}, lb, parts.empty() ? std::vector<int64_t>{rows} : parts);
  }
  // A 3-D [n, rows, cols] tensor as n matrices (MoE experts).
  std::vector<Weight> stacked(const std::string& name, int64_t n, int64_t rows, int64_t cols, const LowBit& lb) {
    return tensor(name, {n, rows, cols}, lb, std::vector<int64_t>(static_cast<size_t>(n), rows));
  }

  // A 1-D f32 vector of n values (F16 / BF16 widened); recorded for export.
  const float* vector(const std::string& name, int64_t n, bool record = true) {
    return vector(name, std::vector<int64_t>{n}, record);
  }
  // The same for an f32 tensor of any shape (StableLM's per-head norms are [n_head, head_dim]).
  const float* vector(const std::string& name, const std::vector<int64_t>& shape, bool record = true) {
    SrcTensor t = src_.get(name, m_.owned_f32);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    BIGDL_CHECK(t.shape == shape, ShapeError, kOp, t.file, ": tensor '", t.name, "' has shape ", shape_str(t.shape),
                ", expected ", shape_str(shape));
    const float* out = nullptr;
    if (t.type == io::GgufType::F32) {
      BIGDL_CHECK(reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0, FormatError, kOp, t.file, ": tensor '",
                  t.name, "' data is not 4-byte aligned");
      out = reinterpret_cast<const float*>(t.data);
    } else if (t.type == io::GgufType::F16 || t.type == io::GgufType::BF16) {
      std::vector<float> v(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        v[size_t(i)] = t.type == io::GgufType::F16 ? half_to_float(h) : bf16_to_float(h);
      }
      m_.owned_f32.push_back(std::move(v));
      out = m_.owned_f32.back().data();
    } else {
      throw DTypeError(bigdl::detail::cat("[", kOp, "] ", t.file, ": tensor '", t.name, "' has type ",
                                          gguf_type_name(t.type), ", expected f32"));
    }
    if (record) m_.exports.push_back(ExportTensor{name, shape, {}, out});
    return out;
  }
  const float* vector_if(const std::string& name, int64_t n, bool want) {
    return want ? vector(name, n) : nullptr;
  }
  Norm norm(const std::string& prefix, int64_t n, bool weight, bool bias) {
    Norm r;
    if (weight) r.w = vector(prefix + ".weight", n);
    if (bias) r.b = vector(prefix + ".bias", n);
    return r;
  }

 private:
  std::vector<Weight> tensor(const std::string& name, const std::vector<int64_t>& shape, const LowBit& lb,
                             const std::vector<int64_t>& parts) {
    SrcTensor t = src_.get(name, m_.owned_f32);
    BIGDL_CHECK(t.shape == shape, ShapeError, kOp, t.file, ": tensor '", t.name, "' has shape ", shape_str(t.shape),
                ", expected ", shape_str(shape));
    const int64_t cols = shape.back();
    int64_t rows = 0;
    for (int64_t p : parts) rows += p;
    Weight w;
    w.name = name;
    w.rows = rows;
    w.cols = cols;
    w.data = t.data;
    if (t.type == io::GgufType::F32) {
      BIGDL_CHECK(reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0, FormatError, kOp, t.file, ": tensor '",
                  t.name, "' data is not 4-byte aligned");
      w.is_f32 = true;
    } else {
      BIGDL_CHECK(qtype_of(t.type, w.qtype), DTypeError, kOp, t.file, ": tensor '", t.name, "' has type ",
                  gguf_type_name(t.type), "; supported: ", supported_gguf_types());
      const int64_t block = quant::qtype_info(w.qtype).block_size;
      // (F16 / BF16 rows of any length are fine: apply_low_bit widens them to f32.)
      const bool raw16 = w.qtype == quant::QType::fp16 || w.qtype == quant::QType::bf16;
      BIGDL_CHECK(raw16 || cols % block == 0, FormatError, kOp, t.file, ": tensor '", t.name, "' of type ",
                  gguf_type_name(t.type), " has rows of ", cols, " values, not whole blocks of ", block);
      const uintptr_t align = w.qtype == quant::QType::q8_k ? 4 : 2;  // the block struct's alignment
      BIGDL_CHECK(reinterpret_cast<uintptr_t>(t.data) % align == 0, FormatError, kOp, t.file, ": tensor '", t.name,
                  "' data is not ", align, "-byte aligned");
      w.is_f32 = false;
    }
    // Split (views of the source rows), then each part converted on its own.
    std::vector<Weight> out;
    int64_t r0 = 0;
    bool all_converted = true;
    const int64_t n_parts = static_cast<int64_t>(parts.size());
    for (int64_t i = 0; i < n_parts; ++i) {
      const int64_t p = parts[size_t(i)];
      Weight part = parts.size() == 1 ? w : w.rows_slice(r0, p);
      // The importance weights of this part's columns when quantizing with an imatrix (a
      // stack of experts has one row of them per expert; fused q/k/v share one).
      const float* qw = im_ != nullptr ? im_->for_part(name, cols, i, n_parts) : nullptr;
      // An F16 / BF16 row that is not whole blocks (block kernels cannot read it) is
      // widened even when lb keeps the stored types (apply_low_bit).
      Weight conv = apply_low_bit(part, lb, m_.owned_bytes, qw);
      all_converted = all_converted && conv.data != part.data;
      out.push_back(conv);
      r0 += p;
    }
    if (all_converted) {
      // Nothing reads the source any more: a file's pages go (they fault back in from the
      // page cache if export reads them), an HF tensor's f32 copy is freed.
      if (t.mapped) {
        release_mapped_pages(t.data, t.nbytes);
      } else {
        for (auto& v : m_.owned_f32)
          if (reinterpret_cast<const uint8_t*>(v.data()) == t.data) {
            src_.recycle(std::move(v));  // the next tensor reads into it
            std::vector<float>().swap(v);
          }
      }
    }
    return out;
  }

  Model::Impl& m_;
  const TensorSource& src_;
  const Imatrix* im_;
};


}  // namespace


void Model::Impl::load(const TensorSource& src, const LowBit& lb, const Imatrix* im) {
  const ModelConfig& c = cfg;
  Builder b(*this, src, im);
  const int64_t E = c.n_embd, nq = c.n_head * c.head_dim, nkv = c.n_head_kv * c.head_dim;
  const bool nb = spec.norm_bias, nw = spec.norm_weight;
  const LowBit f32 = LowBit::parse("fp32");
  // Export records point at the Weights where they end up: layers are sized once, first.
  layers.resize(static_cast<size_t>(c.n_layer));
  const auto record = [&](const std::string& name, std::vector<int64_t> shape, std::vector<const Weight*> parts) {
    exports.push_back(ExportTensor{name, std::move(shape), std::move(parts), nullptr});
  };
  // The type each matrix gets (low_bit_mix.h: lb itself, the classifier's 8 bits, or a
  // llama-quantize mix's per-tensor rule).
  Site site;
  site.n_layer = c.n_layer;
  site.n_gqa = c.n_head / std::max<int64_t>(1, c.n_head_kv);
  site.n_expert = c.n_expert;
  site.falcon = cfg.arch == "falcon";
  site.has_imatrix = im != nullptr;
  const auto pick = [&](const std::string& name, int64_t layer, int64_t cols) {
    Site s = site;
    s.role = role_of(name);
    s.layer = layer;
    s.cols = cols;
    return tensor_low_bit(lb, s);
  };
  const auto one = [&](Weight& dst, const std::string& name, int64_t rows, int64_t cols, const LowBit& l) {
    dst = b.matrix(name, rows, cols, l)[0];
    record(name, {rows, cols}, {&dst});
  };
  // A matrix of layer `l` (or of none, l = 0) in the type pick() gives it.
  const auto mat = [&](Weight& dst, const std::string& name, int64_t rows, int64_t cols, int64_t l) {
    one(dst, name, rows, cols, pick(name, l, cols));
  };
  int64_t layer = 0;
  const auto experts = [&](std::vector<Weight>& dst, const std::string& name, int64_t rows, int64_t cols) {
    dst = b.stacked(name, c.n_expert, rows, cols, pick(name, layer, cols));
    std::vector<const Weight*> parts;
    for (const Weight& w : dst) parts.push_back(&w);
    record(name, {c.n_expert, rows, cols}, std::move(parts));
  };

  // Embeddings. An untied token_embd takes the requested type like every matrix (as
  // llama-quantize does: one row is dequantized per token, and a 1B model's f32 embedding
  // would be a quarter of its file); a tied one is the classifier too and follows
  // output_low_bit.
  // GGUF: tied when output.weight is absent (llama.cpp's rule). HF: config.json's
  // tie_word_embeddings, unless the checkpoint has lm_head anyway; untied needs lm_head.
  cfg.tied_output = c.causal && !b.has("output.weight") && (file.has_value() || cfg.tied_output);
  site.tied_output = cfg.tied_output;
  mat(token_embd, "token_embd.weight", c.n_vocab, E, 0);
  if (spec.pos == PosKind::learned) one(pos_embd, "position_embd.weight", c.n_ctx_train, E, f32);
  if (spec.token_types) one(token_types, "token_types.weight", spec.n_token_types, E, f32);
  if (spec.embd_norm) embd_norm = b.norm("token_embd_norm", E, nw, nb);

  for (int64_t l = 0; l < c.n_layer; ++l) {
    layer = l;
    Layer& L = layers[size_t(l)];
    if (spec.residual != Residual::post_norm) L.attn_norm = b.norm(blk(l, "attn_norm"), E, nw, nb);
    if (spec.attn_norm_2) L.attn_norm_2 = b.norm(blk(l, "attn_norm_2"), E, nw, nb);
    if (spec.fused_qkv) {
      const std::string name = blk(l, "attn_qkv.weight");
      auto w = b.matrix(name, nq + 2 * nkv, E, pick(name, l, E), {nq, nkv, nkv});
      L.wq = w[0], L.wk = w[1], L.wv = w[2];
      record(name, {nq + 2 * nkv, E}, {&L.wq, &L.wk, &L.wv});
      if (spec.bias_qkv) {
        const float* bqkv = b.vector(blk(l, "attn_qkv.bias"), nq + 2 * nkv);
        L.bq = bqkv, L.bk = bqkv + nq, L.bv = bqkv + nq + nkv;
      }
    } else {
      mat(L.wq, blk(l, "attn_q.weight"), nq, E, l);
      mat(L.wk, blk(l, "attn_k.weight"), nkv, E, l);
      mat(L.wv, blk(l, "attn_v.weight"), nkv, E, l);
      if (spec.bias_qkv) {
        L.bq = b.vector(blk(l, "attn_q.bias"), nq);
        L.bk = b.vector(blk(l, "attn_k.bias"), nkv);
        L.bv = b.vector(blk(l, "attn_v.bias"), nkv);
      }
    }
    if (spec.qk_norm) {
      // one head_dim row for all heads, or a row per head ([heads, head_dim], StableLM 2 12B)
      const auto qk = [&](const char* n, int64_t heads) {
        const std::vector<int64_t> shape =
            spec.qk_norm_per_head ? std::vector<int64_t>{heads, c.head_dim} : std::vector<int64_t>{c.head_dim};
        Norm r;
        r.w = b.vector(blk(l, n) + ".weight", shape);
        return r;
      };
      L.q_norm = qk("attn_q_norm", c.n_head);
      L.k_norm = qk("attn_k_norm", c.n_head_kv);
    }
    mat(L.wo, blk(l, "attn_output.weight"), E, nq, l);
    if (spec.bias_o) L.bo = b.vector(blk(l, "attn_output.bias"), E);
    if (spec.post_norms) L.attn_post_norm = b.norm(blk(l, "post_attention_norm"), E, nw, nb);
    if (spec.residual == Residual::post_norm) L.attn_out_norm = b.norm(blk(l, "attn_output_norm"), E, nw, nb);
    else if (spec.ffn_norm) L.ffn_norm = b.norm(blk(l, "ffn_norm"), E, nw, nb);
    if (spec.ffn == FfnKind::moe) {
      one(L.gate_inp, blk(l, "ffn_gate_inp.weight"), c.n_expert, E, f32);
      experts(L.gate_exp, blk(l, "ffn_gate_exps.weight"), c.n_ff_exp, E);
      experts(L.up_exp, blk(l, "ffn_up_exps.weight"), c.n_ff_exp, E);
      experts(L.down_exp, blk(l, "ffn_down_exps.weight"), E, c.n_ff_exp);
      if (c.n_ff_shexp > 0) {
        if (spec.moe_shared_gate) L.gate_inp_shexp = b.vector(blk(l, "ffn_gate_inp_shexp.weight"), E);
        mat(L.gate_shexp, blk(l, "ffn_gate_shexp.weight"), c.n_ff_shexp, E, l);
        mat(L.up_shexp, blk(l, "ffn_up_shexp.weight"), c.n_ff_shexp, E, l);
        mat(L.down_shexp, blk(l, "ffn_down_shexp.weight"), E, c.n_ff_shexp, l);
      }
    } else {
      if (spec.ffn == FfnKind::gated && spec.fused_gate_up) {
        const std::string name = blk(l, "ffn_up.weight");
        auto w = b.matrix(name, 2 * c.n_ff, E, pick(name, l, E), {c.n_ff, c.n_ff});
        L.ffn_gate = w[0], L.ffn_up = w[1];
        record(name, {2 * c.n_ff, E}, {&L.ffn_gate, &L.ffn_up});
      } else {
        if (spec.ffn == FfnKind::gated) mat(L.ffn_gate, blk(l, "ffn_gate.weight"), c.n_ff, E, l);
        mat(L.ffn_up, blk(l, "ffn_up.weight"), c.n_ff, E, l);
      }
      if (spec.bias_ffn) {
        if (spec.ffn == FfnKind::gated && !spec.fused_gate_up) L.b_gate = b.vector(blk(l, "ffn_gate.bias"), c.n_ff);
        L.b_up = b.vector(blk(l, "ffn_up.bias"), c.n_ff);
      }
      mat(L.ffn_down, blk(l, "ffn_down.weight"), E, c.n_ff, l);
      if (spec.bias_ffn) L.b_down = b.vector(blk(l, "ffn_down.bias"), E);
    }
    if (spec.post_norms) L.ffn_post_norm = b.norm(blk(l, "post_ffw_norm"), E, nw, nb);
    if (spec.residual == Residual::post_norm) L.out_norm = b.norm(blk(l, "layer_output_norm"), E, nw, nb);
    L.window = c.sliding_window > 0 && (!spec.swa_even_layers || l % 2 == 0) ? c.sliding_window : 0;
  }
  if (spec.output_norm) output_norm = b.norm("output_norm", E, nw, nb);
  if (c.causal) {
    if (cfg.tied_output) output = token_embd;
    else mat(output, "output.weight", c.n_vocab, E, 0);
  }
  n_out = c.causal ? c.n_vocab : E;

  // RoPE factor tensors: Llama 3's scaling as llama.cpp's converter stores it, LongRoPE's.
  RopeScaling& rs = spec.rope_scaling;
  const auto factors = [&](const char* name, std::vector<float>& out) {
    const float* f = b.vector(name, c.n_rot / 2);
    out.assign(f, f + c.n_rot / 2);
    for (const float x : out)
      BIGDL_CHECK(std::isfinite(x) && x > 0, FormatError, kOp, src.name(), ": tensor '", name, "' holds ", x,
                  ", expected finite factors > 0");
  };
  if (c.n_rot > 0 && rs.freq_factors.empty() && b.has("rope_freqs.weight")) {
    factors("rope_freqs.weight", rs.freq_factors);
    if (cfg.rope_scaling == "none") cfg.rope_scaling = "llama3";
  }
  if (c.n_rot > 0 && rs.long_factors.empty() && b.has("rope_factors_long.weight")) {
    factors("rope_factors_long.weight", rs.long_factors);
    factors("rope_factors_short.weight", rs.short_factors);
    cfg.rope_scaling = "longrope";
  }
}

namespace {

// transformers' _compute_llama3_parameters (modeling_rope_utils.py, >= 4.43) as one divisor
// of theta_i = base^(-2i/n_rot) per frequency pair, which is what llama.cpp's converter
// writes to rope_freqs.weight: with wavelength w_i = 2*pi / theta_i, pairs with
// w_i < original / high keep their frequency (1), pairs with w_i > original / low are
// divided by `factor`, and in between 1 / ((1 - s) / factor + s) with
// s = (original / w_i - low) / (high - low) (the two ends meet it continuously).
std::vector<float> llama3_rope_factors(int64_t n_rot, double base, const RopeScaling& rs) {
  std::vector<float> f(static_cast<size_t>(n_rot / 2));
  for (size_t i = 0; i < f.size(); ++i) {
    const double theta = std::pow(base, -2.0 * static_cast<double>(i) / static_cast<double>(n_rot));
    const double wavelen = 2.0 * std::numbers::pi / theta;
    double d = 1.0;
    if (wavelen > rs.orig_ctx / rs.low_freq) {
      d = rs.factor;
    } else if (wavelen >= rs.orig_ctx / rs.high_freq) {
      const double s = (rs.orig_ctx / wavelen - rs.low_freq) / (rs.high_freq - rs.low_freq);
      d = 1.0 / ((1.0 - s) / rs.factor + s);
    }
    f[i] = static_cast<float>(d);
  }
  return f;
}

}  // namespace

void Model::Impl::build_rope() {
  const ModelConfig& c = cfg;
  if (spec.pos != PosKind::rope || c.n_rot == 0) return;
  RopeScaling& rs = spec.rope_scaling;
  const int64_t half = c.n_rot / 2;
  const double base = c.rope_freq_base;
  inv_freq.resize(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) inv_freq[size_t(i)] = std::pow(base, -2.0 * double(i) / double(c.n_rot));
  if (c.rope_scaling == "linear") {
    pos_div = rs.factor;
  } else if (c.rope_scaling == "llama3") {
    if (rs.freq_factors.empty()) rs.freq_factors = llama3_rope_factors(c.n_rot, base, rs);
    for (int64_t i = 0; i < half; ++i) inv_freq[size_t(i)] /= rs.freq_factors[size_t(i)];
  } else if (c.rope_scaling == "yarn") {
    // transformers' _compute_yarn_parameters: frequencies interpolated (divided by factor)
    // below a correction range of dimensions, extrapolated (kept) above it, a linear ramp
    // between; cos / sin scaled by 0.1 ln(factor) + 1 unless attention_factor is given.
    const double dim = double(c.n_rot);
    const auto corr = [&](double rot) {
      return dim * std::log(rs.orig_ctx / (rot * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
    };
    const double lo = std::max(0.0, std::floor(corr(rs.beta_fast)));
    double hi = std::min(dim - 1.0, std::ceil(corr(rs.beta_slow)));
    if (lo == hi) hi += 0.001;
    for (int64_t i = 0; i < half; ++i) {
      const double ramp = std::clamp((double(i) - lo) / (hi - lo), 0.0, 1.0);
      const double extrap = 1.0 - ramp;
      const double f = inv_freq[size_t(i)];
      inv_freq[size_t(i)] = f / rs.factor * (1.0 - extrap) + f * extrap;
    }
    attn_factor = static_cast<float>(rs.attn_factor > 0 ? rs.attn_factor : 0.1 * std::log(rs.factor) + 1.0);
  } else if (c.rope_scaling == "longrope") {
    // Phi-3's LongRoPE: theta_i divided by short_factor[i] within the original context,
    // by long_factor[i] beyond it (chosen per context by its n_ctx, as llama.cpp); cos /
    // sin scaled by sqrt(1 + ln(factor) / ln(original)) unless attention_factor is given.
    BIGDL_CHECK(int64_t(rs.short_factors.size()) == half && int64_t(rs.long_factors.size()) == half, FormatError, kOp,
                "longrope scaling needs ", half, " short and long factors");
    inv_freq_long = inv_freq;
    for (int64_t i = 0; i < half; ++i) {
      inv_freq[size_t(i)] /= rs.short_factors[size_t(i)];
      inv_freq_long[size_t(i)] /= rs.long_factors[size_t(i)];
    }
    const double f = rs.factor;
    attn_factor = static_cast<float>(rs.attn_factor > 0 ? rs.attn_factor
                                     : f <= 1.0     ? 1.0
                                                    : std::sqrt(1.0 + std::log(f) / std::log(rs.orig_ctx)));
    attn_factor_long = attn_factor;
  }
}

// Interleaved copies of every packable matrix (weights.h, pack_weight). A matrix used in
// place from the GGUF mapping then has its pages released, so the process holds one copy
// of the weights; they fault back in from the file if export or copy_row reads them. A
// matrix that low_bit converted is freed when all its rows are packed (export unpacks it).
void Model::Impl::pack() {
  std::vector<Weight*> all;
  for (auto& L : layers) {
    for (Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down, &L.gate_shexp, &L.up_shexp,
                      &L.down_shexp})
      all.push_back(w);
    for (auto* ws : {&L.gate_exp, &L.up_exp, &L.down_exp})
      for (Weight& w : *ws) all.push_back(&w);
  }
  if (cfg.causal) all.push_back(&output);
  int64_t total = 0;
  for (const Weight* w : all) total += packed_weight_bytes(*w);
  arena.reserve(total);
  for (Weight* w : all) {
    const io::GgufTensorInfo* t = file ? file->tensor(w->name) : nullptr;
    const bool mapped = t && w->data >= t->data && w->data < t->data + t->nbytes;
    if (pack_weight(*w, arena, mapped) == 0 || mapped) continue;
    if (w->rows % quant::kPackRows != 0 || w->data == token_embd.data) continue;
    for (auto& bytes : owned_bytes)
      if (bytes.data() == w->data) {
        std::vector<uint8_t>().swap(bytes);
        w->data = nullptr;
        break;
      }
  }
}

int64_t Model::Impl::bytes() const {
  int64_t n = 0;
  const auto count = [&](const Weight& w) {
    n += w.packed ? packed_weight_bytes(w) : static_cast<int64_t>(detail::weight_bytes(w));
  };
  for (const auto& L : layers) {
    for (const Weight* w : {&L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_gate, &L.ffn_up, &L.ffn_down, &L.gate_inp,
                            &L.gate_shexp, &L.up_shexp, &L.down_shexp})
      count(*w);
    for (const auto* ws : {&L.gate_exp, &L.up_exp, &L.down_exp})
      for (const Weight& w : *ws) count(w);
  }
  count(token_embd);
  if (cfg.causal && !cfg.tied_output) count(output);
  return n;
}

// ---- forward ----

namespace {

template <typename T>
T* grow(std::vector<T>& b, int64_t n) {
  if (static_cast<int64_t>(b.size()) < n) b.resize(static_cast<size_t>(n));
  return b.data();
}

// Buffers of one forward, per calling thread, grown to the largest step seen (no
// allocation per token once warm).
struct Scratch {
  std::vector<float> x, h, h2, h3, q, k, v, att, a, m, f, out, cs, moe_logits, moe_x, moe_f, moe_y;
  std::vector<AttnRow> rows;
  std::vector<int64_t> pos;
  std::vector<int32_t> tok;
  std::vector<int32_t> moe_idx, moe_count, moe_rows;
  std::vector<float> moe_w;
};
thread_local Scratch tls;

}  // namespace

void Model::Impl::norm(const Norm& n, const float* x, float* y, int64_t rows, int64_t dim) const {
  if (spec.norm == NormKind::rms) rms_norm_rows(x, n.w, y, rows, dim, cfg.norm_eps);
  else layer_norm_rows(x, n.w, n.b, y, rows, dim, cfg.norm_eps);
}

void Model::Impl::ffn(const Layer& L, const float* in, int64_t T, float* out) const {
  const ModelConfig& c = cfg;
  Scratch& s = tls;
  if (spec.ffn == FfnKind::moe) {
    moe(L, in, T, out);
    return;
  }
  float* f = grow(s.f, T * c.n_ff);
  if (spec.ffn == FfnKind::gated) {
    if (L.b_gate || L.b_up) {
      float* up = grow(s.m, T * c.n_ff);
      const Weight* ws[2] = {&L.ffn_gate, &L.ffn_up};
      float* ys[2] = {f, up};
      matmul_multi(ws, ys, 2, in, T);
      if (L.b_gate) add_rows(f, L.b_gate, T, c.n_ff);
      if (L.b_up) add_rows(up, L.b_up, T, c.n_ff);
      act_mul(spec.act, f, up, T * c.n_ff);
    } else {
      matmul_gated(L.ffn_gate, L.ffn_up, spec.act, in, T, f);
    }
  } else {
    matmul(L.ffn_up, in, T, f);
    if (L.b_up) add_rows(f, L.b_up, T, c.n_ff);
    act_inplace(spec.act, f, T * c.n_ff);
  }
  matmul(L.ffn_down, f, T, out);
  if (L.b_down) add_rows(out, L.b_down, T, c.n_embd);
}

// Mixture of experts: router logits, softmax over all experts, the top n_expert_used per
// row (renormalised when moe_norm_topk), then each expert's gated FFN over the rows routed
// to it (a decode step of N rows reads each used expert once), weighted sums added in
// expert order; plus the shared expert (Qwen2-MoE), gated by a sigmoid when moe_shared_gate.
void Model::Impl::moe(const Layer& L, const float* in, int64_t T, float* out) const {
  const ModelConfig& c = cfg;
  Scratch& s = tls;
  const auto& k = bigdl::detail::cpu_kernels();
  const int64_t E = c.n_embd, ne = c.n_expert, nu = c.n_expert_used, nf = c.n_ff_exp;
  float* logits = grow(s.moe_logits, T * ne);
  matmul(L.gate_inp, in, T, logits);
  int32_t* idx = grow(s.moe_idx, T * nu);
  float* wts = grow(s.moe_w, T * nu);
  // count[e + 1]: rows routed to expert e, then the prefix offsets; next: fill positions.
  int32_t* count = grow(s.moe_count, 2 * (ne + 1));
  int32_t* next = count + ne + 1;
  std::fill(count, count + ne + 1, 0);
  for (int64_t t = 0; t < T; ++t) {
    float* p = logits + t * ne;
    k.softmax_row(p, p, ne);
    // top nu by probability, the lower index first on ties (torch.topk's order here)
    for (int64_t j = 0; j < nu; ++j) {
      int64_t best = -1;
      for (int64_t e = 0; e < ne; ++e) {
        bool taken = false;
        for (int64_t i = 0; i < j; ++i) taken = taken || idx[t * nu + i] == e;
        if (!taken && (best < 0 || p[e] > p[best])) best = e;
      }
      idx[t * nu + j] = static_cast<int32_t>(best);
      wts[t * nu + j] = p[best];
    }
    if (spec.moe_norm_topk) {
      float sum = 0;
      for (int64_t j = 0; j < nu; ++j) sum += wts[t * nu + j];
      for (int64_t j = 0; j < nu; ++j) wts[t * nu + j] /= sum;
    }
    for (int64_t j = 0; j < nu; ++j) ++count[idx[t * nu + j] + 1];
  }
  for (int64_t e = 0; e < ne; ++e) count[e + 1] += count[e];  // offsets
  int32_t* rows = grow(s.moe_rows, T * nu);  // (t * nu + j) grouped by expert
  std::copy(count, count + ne, next);
  for (int64_t r = 0; r < T * nu; ++r) rows[next[idx[r]]++] = static_cast<int32_t>(r);
  std::fill(out, out + T * E, 0.0f);
  float* xe = grow(s.moe_x, T * E);
  float* fe = grow(s.moe_f, T * std::max(nf, c.n_ff_shexp));
  float* ye = grow(s.moe_y, T * E);
  for (int64_t e = 0; e < ne; ++e) {
    const int64_t n = count[e + 1] - count[e];
    if (n == 0) continue;
    const int32_t* rs = rows + count[e];
    for (int64_t i = 0; i < n; ++i) std::copy(in + (rs[i] / nu) * E, in + (rs[i] / nu + 1) * E, xe + i * E);
    matmul_gated(L.gate_exp[size_t(e)], L.up_exp[size_t(e)], spec.act, xe, n, fe);
    matmul(L.down_exp[size_t(e)], fe, n, ye);
    for (int64_t i = 0; i < n; ++i) k.axpy(wts[rs[i]], ye + i * E, out + (rs[i] / nu) * E, E);
  }
  if (c.n_ff_shexp > 0) {
    matmul_gated(L.gate_shexp, L.up_shexp, spec.act, in, T, fe);
    matmul(L.down_shexp, fe, T, ye);
    for (int64_t t = 0; t < T; ++t) {
      float g = 1.0f;
      if (L.gate_inp_shexp) {
        const float z = k.dot(L.gate_inp_shexp, in + t * E, E);
        g = 1.0f / (1.0f + std::exp(-z));
      }
      k.axpy(g, ye + t * E, out + t * E, E);
    }
  }
}

void Model::Impl::forward(std::span<const SeqRun> runs) const {
  const ModelConfig& c = cfg;
  const auto& k = bigdl::detail::cpu_kernels();
  Scratch& s = tls;
  const int64_t E = c.n_embd, hd = c.head_dim, nq = c.n_head * hd, nkv = c.n_head_kv * hd;
  int64_t T = 0, R = 0;
  for (const SeqRun& r : runs) {
    T += r.n;
    R += r.all_logits ? r.n : 1;
  }
  int32_t* tok = grow(s.tok, T);
  int64_t* pos = grow(s.pos, T);
  AttnRow* rows = grow(s.rows, T);
  {
    int64_t t = 0;
    for (const SeqRun& r : runs)
      for (int64_t i = 0; i < r.n; ++i, ++t) {
        tok[t] = r.tokens[i];
        pos[t] = r.pos0 + i;
        rows[t] = AttnRow{r.kv, r.pos0 + i, c.causal ? r.pos0 + i + 1 : r.pos0 + r.n};
      }
  }

  // Embeddings.
  float* x = grow(s.x, T * E);
  float* h = grow(s.h, T * E);
  for (int64_t t = 0; t < T; ++t) copy_row(token_embd, tok[t], x + t * E);
  if (spec.pos == PosKind::learned)
    for (int64_t t = 0; t < T; ++t) {
      copy_row(pos_embd, pos[t], h);
      k.add(x + t * E, h, x + t * E, E);
    }
  if (spec.token_types) add_rows(x, reinterpret_cast<const float*>(token_types.data), T, E);
  if (spec.embd_scale) {
    const float scale = std::sqrt(static_cast<float>(E));
    for (int64_t i = 0; i < T * E; ++i) x[i] *= scale;
  }
  if (spec.embd_norm) norm(embd_norm, x, x, T, E);

  // RoPE angles per row: cos then sin, n_rot / 2 each.
  const int64_t half = c.n_rot / 2;
  float* cs = grow(s.cs, T * 2 * std::max<int64_t>(half, 1));
  if (spec.pos == PosKind::rope && half > 0) {
    int64_t t = 0;
    for (const SeqRun& r : runs) {
      const bool lng = r.long_rope && !inv_freq_long.empty();
      for (int64_t i = 0; i < r.n; ++i, ++t)
        rope_angles(pos[t], (lng ? inv_freq_long : inv_freq).data(), half, pos_div,
                    lng ? attn_factor_long : attn_factor, cs + t * 2 * half, cs + t * 2 * half + half);
    }
  }

  float* h2 = grow(s.h2, T * E);
  float* h3 = grow(s.h3, T * E);
  float* q = grow(s.q, T * nq);
  float* kk = grow(s.k, T * nkv);
  float* vv = grow(s.v, T * nkv);
  float* att = grow(s.att, T * nq);
  float* a = grow(s.a, T * E);
  AttnParams ap;
  ap.n_head = c.n_head;
  ap.n_head_kv = c.n_head_kv;
  ap.head_dim = hd;
  ap.scale = spec.attn_scale > 0 ? spec.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));
  ap.softcap = c.attn_softcap;
  ap.alibi = spec.pos == PosKind::alibi ? alibi.data() : nullptr;

  for (int64_t l = 0; l < c.n_layer; ++l) {
    const Layer& L = layers[size_t(l)];
    // Attention input: the layer's norm of x (post-norm layers: x itself).
    const float* hin = x;
    if (spec.residual != Residual::post_norm) {
      norm(L.attn_norm, x, h, T, E);
      hin = h;
    }
    const float* hatt = hin;
    if (spec.attn_norm_2) {
      norm(L.attn_norm_2, x, h2, T, E);
      hatt = h2;
    }
    const Weight* qkv[3] = {&L.wq, &L.wk, &L.wv};
    float* outs[3] = {q, kk, vv};
    matmul_multi(qkv, outs, 3, hatt, T);
    if (L.bq) {
      add_rows(q, L.bq, T, nq);
      add_rows(kk, L.bk, T, nkv);
      add_rows(vv, L.bv, T, nkv);
    }
    if (spec.clip_qkv > 0) {
      const float cl = spec.clip_qkv;
      for (float* p : {q, kk, vv}) {
        const int64_t n = T * (p == q ? nq : nkv);
        for (int64_t i = 0; i < n; ++i) p[i] = std::clamp(p[i], -cl, cl);
      }
    }
    if (spec.qk_norm) {
      if (spec.qk_norm_per_head) {  // each head its own weights (StableLM 2 12B)
        for (int64_t t = 0; t < T; ++t) {
          for (int64_t h = 0; h < c.n_head; ++h)
            norm(Norm{L.q_norm.w + h * hd, L.q_norm.b ? L.q_norm.b + h * hd : nullptr}, q + t * nq + h * hd,
                 q + t * nq + h * hd, 1, hd);
          for (int64_t h = 0; h < c.n_head_kv; ++h)
            norm(Norm{L.k_norm.w + h * hd, L.k_norm.b ? L.k_norm.b + h * hd : nullptr}, kk + t * nkv + h * hd,
                 kk + t * nkv + h * hd, 1, hd);
        }
      } else {
        norm(L.q_norm, q, q, T * c.n_head, hd);
        norm(L.k_norm, kk, kk, T * c.n_head_kv, hd);
      }
    }
    if (spec.pos == PosKind::rope && half > 0)
      for (int64_t t = 0; t < T; ++t) {
        const float* cos = cs + t * 2 * half;
        rope(q + t * nq, c.n_head, hd, c.n_rot, spec.rope_neox, cos, cos + half);
        rope(kk + t * nkv, c.n_head_kv, hd, c.n_rot, spec.rope_neox, cos, cos + half);
      }
    {
      int64_t t = 0;
      for (const SeqRun& r : runs) {
        r.kv->store(l, r.pos0, r.n, kk + t * nkv, vv + t * nkv);
        t += r.n;
      }
    }
    ap.window = L.window;
    attention(q, rows, T, l, ap, att);
    matmul(L.wo, att, T, a);
    if (L.bo) add_rows(a, L.bo, T, E);
    if (spec.post_norms) norm(L.attn_post_norm, a, a, T, E);

    float* m = h3;
    switch (spec.residual) {
      case Residual::serial:
        k.add(x, a, x, T * E);
        norm(L.ffn_norm, x, h, T, E);
        ffn(L, h, T, m);
        if (spec.post_norms) norm(L.ffn_post_norm, m, m, T, E);
        k.add(x, m, x, T * E);
        break;
      case Residual::parallel: {
        const float* fin = hin;
        if (spec.ffn_norm) {
          norm(L.ffn_norm, x, h2, T, E);
          fin = h2;
        }
        ffn(L, fin, T, m);
        k.add(x, a, x, T * E);
        k.add(x, m, x, T * E);
        break;
      }
      case Residual::post_norm:
        k.add(x, a, x, T * E);
        norm(L.attn_out_norm, x, x, T, E);
        ffn(L, x, T, m);
        k.add(x, m, x, T * E);
        norm(L.out_norm, x, x, T, E);
        break;
    }
  }

  // Output rows: each run's last row, or all of them.
  float* g = h;
  {
    int64_t t = 0, o = 0;
    for (const SeqRun& r : runs) {
      const int64_t first = r.all_logits ? 0 : r.n - 1;
      for (int64_t i = first; i < r.n; ++i, ++o) std::copy(x + (t + i) * E, x + (t + i + 1) * E, g + o * E);
      t += r.n;
    }
  }
  if (spec.output_norm) norm(output_norm, g, g, R, E);
  // One step's runs all want logits, or all hidden states (Context keeps them apart).
  const bool hidden = !c.causal || runs[0].hidden;
  const int64_t width = hidden ? E : n_out;
  float* dst = runs.size() == 1 ? runs[0].out : grow(s.out, R * width);
  if (hidden) {
    std::copy(g, g + R * E, dst);
  } else {
    matmul(output, g, R, dst);
    if (c.final_softcap > 0) softcap(dst, R * n_out, c.final_softcap);
  }
  if (runs.size() > 1) {
    int64_t o = 0;
    for (const SeqRun& r : runs) {
      const int64_t n = r.all_logits ? r.n : 1;
      std::copy(dst + o * width, dst + (o + n) * width, r.out);
      o += n;
    }
  }
}

// ---- export ----

void Model::Impl::export_gguf(io::GgufWriter& w) const {
  const ModelConfig& c = cfg;
  const std::string a = c.arch + ".";
  const auto u32 = [](int64_t v) { return io::gguf_u32(static_cast<uint32_t>(v)); };
  w.set("general.architecture", io::gguf_string(c.arch));
  if (file && file->find("general.name")) w.set("general.name", *file->find("general.name"));
  w.set(a + "context_length", u32(c.n_ctx_train));
  w.set(a + "embedding_length", u32(c.n_embd));
  w.set(a + "block_count", u32(c.n_layer));
  w.set(a + "feed_forward_length", u32(c.n_ff));
  w.set(a + "attention.head_count", u32(c.n_head));
  w.set(a + "attention.head_count_kv", u32(c.n_head_kv));
  if (c.head_dim * c.n_head != c.n_embd) {
    w.set(a + "attention.key_length", u32(c.head_dim));
    w.set(a + "attention.value_length", u32(c.head_dim));
  }
  w.set(a + (spec.norm == NormKind::rms ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon"),
        io::gguf_f32(c.norm_eps));
  if (spec.pos == PosKind::rope) {
    w.set(a + "rope.dimension_count", u32(c.n_rot));
    w.set(a + "rope.freq_base", io::gguf_f32(c.rope_freq_base));
  }
  const RopeScaling& rs = spec.rope_scaling;
  if (c.rope_scaling == "linear" || c.rope_scaling == "yarn") {
    w.set(a + "rope.scaling.type", io::gguf_string(c.rope_scaling));
    w.set(a + "rope.scaling.factor", io::gguf_f32(static_cast<float>(rs.factor)));
  }
  if (c.rope_scaling == "yarn" || c.rope_scaling == "longrope")
    w.set(a + "rope.scaling.original_context_length", u32(static_cast<int64_t>(rs.orig_ctx)));
  if (c.rope_scaling == "yarn" && rs.attn_factor > 0) w.set(a + "rope.scaling.attn_factor", io::gguf_f32(float(rs.attn_factor)));
  if (c.rope_scaling == "longrope") w.set(a + "rope.scaling.attn_factor", io::gguf_f32(attn_factor));
  if (c.n_expert > 0) {
    w.set(a + "expert_count", u32(c.n_expert));
    w.set(a + "expert_used_count", u32(c.n_expert_used));
    w.set(a + "expert_feed_forward_length", u32(c.n_ff_exp));
    if (c.n_ff_shexp > 0) w.set(a + "expert_shared_feed_forward_length", u32(c.n_ff_shexp));
  }
  if (c.sliding_window > 0) w.set(a + "attention.sliding_window", u32(c.sliding_window));
  if (c.attn_softcap > 0) w.set(a + "attn_logit_softcapping", io::gguf_f32(c.attn_softcap));
  if (c.final_softcap > 0) w.set(a + "final_logit_softcapping", io::gguf_f32(c.final_softcap));
  if (spec.clip_qkv > 0) w.set(a + "attention.clamp_kqv", io::gguf_f32(spec.clip_qkv));
  if (spec.pos == PosKind::alibi) w.set(a + "attention.max_alibi_bias", io::gguf_f32(spec.max_alibi_bias));
  if (!c.causal) w.set(a + "attention.causal", io::gguf_bool(false));
  if (spec.ffn == FfnKind::moe && def && spec.moe_norm_topk != def->spec.moe_norm_topk)
    w.set(a + "expert_weights_norm", io::gguf_bool(spec.moe_norm_topk));
  if (c.pooling != "none")
    w.set(a + "pooling_type", u32(c.pooling == "mean" ? 1 : c.pooling == "cls" ? 2 : 3));
  if (def && spec.act != def->spec.act) w.set("bigdl.ffn_activation", io::gguf_string(act_name(spec.act)));
  if (def && def->gguf_export) def->gguf_export(c, spec, w);
  if (file)  // the tokenizer travels with a GGUF source
    for (const auto& [key, v] : file->metadata())
      if (key.rfind("tokenizer.", 0) == 0) w.set(key, v);

  for (const ExportTensor& e : exports) {
    if (e.vec) {
      int64_t n = 1;
      for (int64_t d : e.shape) n *= d;
      w.add_tensor(e.name, e.shape, io::GgufType::F32, e.vec, static_cast<uint64_t>(n) * 4);
      continue;
    }
    const Weight& w0 = *e.parts[0];
    const io::GgufType type = gguf_type_of(w0);
    for (const Weight* p : e.parts)
      BIGDL_ASSERT(gguf_type_of(*p) == type);  // the parts of one tensor share a conversion
    if (e.parts.size() == 1 && w0.data) {
      w.add_tensor(e.name, e.shape, type, w0.data, detail::weight_bytes(w0));
    } else {
      std::vector<const Weight*> parts = e.parts;
      w.add_tensor(e.name, e.shape, type, [parts] {
        std::vector<uint8_t> bytes;
        for (const Weight* p : parts) {
          const std::vector<uint8_t> b = unpack_weight(*p);
          bytes.insert(bytes.end(), b.begin(), b.end());
        }
        return bytes;
      });
    }
  }
  // RoPE factors computed from config.json (a GGUF source recorded its tensors at load).
  const auto has_export = [&](const char* n) {
    return std::any_of(exports.begin(), exports.end(), [&](const ExportTensor& e) { return e.name == n; });
  };
  const auto vec = [&](const char* name, const std::vector<float>& v) {
    w.add_tensor(name, {static_cast<int64_t>(v.size())}, io::GgufType::F32,
                 std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(v.data()),
                                      reinterpret_cast<const uint8_t*>(v.data() + v.size())));
  };
  if (c.rope_scaling == "llama3" && !has_export("rope_freqs.weight")) vec("rope_freqs.weight", rs.freq_factors);
  if (c.rope_scaling == "longrope" && !has_export("rope_factors_long.weight")) {
    vec("rope_factors_long.weight", rs.long_factors);
    vec("rope_factors_short.weight", rs.short_factors);
  }
}

// ---- loading entry points ----

namespace {

// The generic GGUF keys (llama.cpp's LLM_KV names under "<arch>.").
void read_gguf_config(const GgufMeta& m, ModelConfig& c, ArchSpec& spec) {
  c.n_embd = m.get_int("embedding_length");
  c.n_layer = m.get_int("block_count");
  c.n_head = m.get_int("attention.head_count");
  c.n_head_kv = m.get_int("attention.head_count_kv", c.n_head);
  c.n_ctx_train = m.get_int("context_length");
  c.head_dim = m.get_int("attention.key_length", c.n_head > 0 ? c.n_embd / c.n_head : 0);
  BIGDL_CHECK(m.has("attention.key_length") || (c.n_head > 0 && c.n_embd % c.n_head == 0), FormatError, kOp,
              m.file().name(), ": embedding_length ", c.n_embd, " is not a multiple of head_count ", c.n_head);
  c.n_rot = spec.pos == PosKind::rope ? m.get_int("rope.dimension_count", c.head_dim) : 0;
  c.rope_freq_base = static_cast<float>(m.get_float("rope.freq_base", 10000.0));
  c.norm_eps = static_cast<float>(spec.norm == NormKind::rms ? m.get_float("attention.layer_norm_rms_epsilon")
                                                             : m.get_float("attention.layer_norm_epsilon"));
  c.n_expert = m.get_int("expert_count", 0);
  c.n_ff = m.get_int("feed_forward_length", 0);
  if (c.n_expert > 0) {
    spec.ffn = FfnKind::moe;
    c.n_expert_used = m.get_int("expert_used_count");
    c.n_ff_exp = m.get_int("expert_feed_forward_length", c.n_ff);
    c.n_ff_shexp = m.get_int("expert_shared_feed_forward_length", 0);
    if (c.n_ff == 0) c.n_ff = c.n_ff_exp;
  }
  c.sliding_window = m.get_int("attention.sliding_window", 0);
  c.attn_softcap = static_cast<float>(m.get_float("attn_logit_softcapping", 0.0));
  c.final_softcap = static_cast<float>(m.get_float("final_logit_softcapping", 0.0));
  spec.clip_qkv = static_cast<float>(m.get_float("attention.clamp_kqv", spec.clip_qkv));
  spec.max_alibi_bias = static_cast<float>(m.get_float("attention.max_alibi_bias", spec.max_alibi_bias));
  c.causal = m.get_bool("attention.causal", c.causal);
  spec.moe_norm_topk = m.get_bool("expert_weights_norm", spec.moe_norm_topk);
  switch (m.get_int("pooling_type", 0)) {
    case 1: c.pooling = "mean"; break;
    case 2: c.pooling = "cls"; break;
    case 3: c.pooling = "last"; break;
    default: c.pooling = "none"; break;
  }
  // llama.cpp computes every GELU with the tanh form; a file of ours says when the
  // checkpoint's was another (so HF -> GGUF -> us changes nothing).
  if (const io::GgufValue* v = m.file().find("bigdl.ffn_activation")) {
    const std::string a = v->as_string(m.file().name() + ": metadata key 'bigdl.ffn_activation'");
    bool found = false;
    for (Act x : {Act::silu, Act::gelu_tanh, Act::gelu_erf, Act::relu})
      if (a == act_name(x)) spec.act = x, found = true;
    BIGDL_CHECK(found, FormatError, kOp, m.file().name(), ": metadata key 'bigdl.ffn_activation' is '", a,
                "' (known: silu, gelu_tanh, gelu_erf, relu)");
  }
  RopeScaling& rs = spec.rope_scaling;
  const std::string st = m.get_string("rope.scaling.type", "none");
  if (st == "linear" || st == "yarn") {
    c.rope_scaling = st;
    rs.factor = m.get_float("rope.scaling.factor");
    c.rope_scaling_factor = static_cast<float>(rs.factor);
    BIGDL_CHECK(std::isfinite(rs.factor) && rs.factor > 0, FormatError, kOp, m.file().name(), ": metadata key '",
                m.arch(), ".rope.scaling.factor' is ", rs.factor, ", expected > 0");
    if (st == "yarn") {
      rs.orig_ctx = double(m.get_int("rope.scaling.original_context_length", c.n_ctx_train));
      rs.attn_factor = m.get_float("rope.scaling.attn_factor", 0.0);
    }
  } else if (st != "none") {
    throw FormatError(bigdl::detail::cat("[", kOp, "] ", m.file().name(), ": rope scaling type '", st,
                                         "' is not supported (supported: linear, yarn)"));
  }
  if (m.has("rope.scaling.original_context_length")) rs.orig_ctx = double(m.get_int("rope.scaling.original_context_length"));
  if (m.has("rope.scaling.attn_factor")) rs.attn_factor = m.get_float("rope.scaling.attn_factor");
}

// A model whose buffers do not fit in memory: one line, not bad_alloc.
template <typename Load>
auto load_checked(const std::string& path, Load load) {
  try {
    return load();
  } catch (const std::bad_alloc&) {
    throw ValueError(bigdl::detail::cat("[load_model] ", path, ": out of memory allocating the model"));
  }
}

void check_context(int64_t n, const std::string& where) {
  BIGDL_CHECK(n <= kMaxContext, ValueError, "load_model", where, " ", n, " exceeds the limit of ", kMaxContext,
              " positions");
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
const ModelConfig& Model::config() const { return impl_->cfg; }
int64_t Model::weight_bytes() const { return impl_->bytes(); }

std::shared_ptr<const Model> load_model(const std::string& path_in, const LoadOptions& options) {
  // A folder save_low_bit wrote: its GGUF (convert.h).
  const std::string path = is_low_bit_folder(path_in) ? low_bit_folder_gguf(path_in) : path_in;
  auto impl = std::make_unique<Model::Impl>();
  ModelConfig& c = impl->cfg;
  ArchSpec& spec = impl->spec;
  std::optional<Imatrix> imatrix;
  if (!options.imatrix.empty()) {
    BIGDL_CHECK(options.low_bit.kind() == LowBit::Kind::quant || options.low_bit.kind() == LowBit::Kind::mix,
                ValueError, kOp, "an importance matrix (", options.imatrix, ") needs a quantized low-bit type, got '",
                options.low_bit.keep() ? "keep" : options.low_bit.name(), "'");
    imatrix = read_imatrix(options.imatrix);
    impl->imatrix = Model::Impl::ImatrixRecord{options.imatrix, imatrix->datasets.empty() ? "" : imatrix->datasets.front(),
                                               static_cast<int64_t>(imatrix->values.size()), imatrix->chunk_count};
  }
  if (is_hf_checkpoint(path)) {  // a Hugging Face folder (bigdl/llm/hf.h)
    const HfCheckpoint ck = HfCheckpoint::open(path);
    const ArchDef* def = find_hf_arch(ck.model_type());
    BIGDL_CHECK(def != nullptr, FormatError, kOp, ck.config_path(), ": model_type '", ck.model_type(),
                "' is not supported (supported: ", hf_type_names(), ")");
    impl->def = def;
    spec = def->spec;
    c.arch = def->gguf_arch;
    c.source_type = ck.model_type();
    def->hf_config(ck, c, spec);
    if (ck.has("max_position_embeddings"))
      check_context(c.n_ctx_train, ck.config_path() + ": field 'max_position_embeddings'");
    check_config(c, ck.config_path());
    if (spec.pos == PosKind::rope && c.n_rot == 0) spec.pos = PosKind::none;
    const auto src = hf_source(ck, *def, c);
    load_checked(path, [&] {
      impl->load(*src, options.low_bit, imatrix.has_value() ? &*imatrix : nullptr);
      return 0;
    });
  } else {
    io::GgufFile file = io::GgufFile::open(path);
    const std::string& arch = file.get_string("general.architecture");
    const ArchDef* def = find_gguf_arch(arch);
    BIGDL_CHECK(def != nullptr, FormatError, kOp, path, ": architecture '", arch, "' is not supported (supported: ",
                gguf_arch_names(), ")");
    impl->def = def;
    spec = def->spec;
    c.arch = arch;
    c.source_type = arch;
    const GgufMeta meta(file, arch);
    const std::string ctx_key = arch + ".context_length";
    if (const io::GgufValue* v = file.find(ctx_key); v != nullptr && v->is_integer())
      check_context(v->as_int(path + ": metadata key '" + ctx_key + "'"), path + ": metadata key '" + ctx_key + "'");
    read_gguf_config(meta, c, spec);
    if (def->gguf_config) def->gguf_config(meta, c, spec);
    const io::GgufTensorInfo* emb = file.tensor("token_embd.weight");
    BIGDL_CHECK(emb != nullptr, FormatError, kOp, path, ": tensor 'token_embd.weight' missing");
    BIGDL_CHECK(emb->shape.size() == 2, ShapeError, kOp, path, ": tensor 'token_embd.weight' has ", emb->shape.size(),
                " dims, expected 2");
    c.n_vocab = emb->shape[0];
    if (const auto* toks = file.find("tokenizer.ggml.tokens")) {
      const int64_t n = static_cast<int64_t>(toks->count);
      BIGDL_CHECK(n == c.n_vocab, ShapeError, kOp, path, ": tokenizer.ggml.tokens has ", n,
                  " entries but tensor 'token_embd.weight' has ", c.n_vocab, " rows");
    }
    check_config(c, path);
    impl->file.emplace(std::move(file));
    const auto src = gguf_source(*impl->file);
    load_checked(path, [&] {
      impl->load(*src, options.low_bit, imatrix.has_value() ? &*imatrix : nullptr);
      return 0;
    });
  }
  if (spec.pos == PosKind::alibi) {
    impl->alibi.resize(static_cast<size_t>(c.n_head));
    alibi_slopes(c.n_head, spec.max_alibi_bias, impl->alibi.data());
  }
  impl->build_rope();
  load_checked(path, [&] {
    impl->pack();
    return 0;
  });
  return std::make_shared<const Model>(std::move(impl));
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> r;
  const auto add = [&](const std::string& list) {
    size_t start = 0;
    while (start < list.size()) {
      size_t end = list.find(", ", start);
      if (end == std::string::npos) end = list.size();
      const std::string name = list.substr(start, end - start);
      if (std::find(r.begin(), r.end(), name) == r.end()) r.push_back(name);
      start = end + 2;
    }
  };
  add(gguf_arch_names());
  add(hf_type_names());
  return r;
}

int32_t argmax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int32_t>(best);
}

}  // namespace bigdl::llm
