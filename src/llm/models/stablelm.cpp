// StableLM / StableLM 2: LayerNorm with biases, rotate_half RoPE on the first
// partial_rotary_factor of each head, SwiGLU, optional q/k/v biases (use_qkv_bias), and in
// the 12B per-head LayerNorms on q and k (qk_layernorm: one weight row per head, stacked to
// GGUF's [n_head, head_dim]) with the parallel residual x += attn(n) + mlp(n) on one input
// norm (use_parallel_residual). GGUF "stablelm". Verified by tests/llm/test_arch_golden.cpp
// (arch_stablelm against transformers; arch_stablelm_qkln against llama.cpp: transformers'
// per-head LayerNorm needs torch >= 2.1).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void stablelm_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "layer_norm_eps");
  c.n_rot = static_cast<int64_t>(double(c.head_dim) * ck.get_float("partial_rotary_factor", 0.25)) / 2 * 2;
  spec.act = hf_act(ck, "hidden_act", "silu");
  spec.bias_qkv = ck.get_bool("use_qkv_bias", false);
  spec.qk_norm = spec.qk_norm_per_head = ck.get_bool("qk_layernorm", false);
  if (ck.get_bool("use_parallel_residual", false)) {
    spec.residual = Residual::parallel;
    spec.ffn_norm = false;
  }
}

// The per-head norms of the checkpoint: q_layernorm.norms.<h>.weight for each head, as one
// [heads * head_dim] vector (llama.cpp's stacked attn_q_norm / attn_k_norm).
std::vector<float> stack_heads(const HfCheckpoint& ck, const ModelConfig& c, const std::string& name,
                               std::vector<int64_t>& shape) {
  const bool q = name.find("q_layernorm") != std::string::npos;
  const int64_t heads = q ? c.n_head : c.n_head_kv;
  const std::string stem = name.substr(0, name.rfind(".0.weight"));
  std::vector<float> v;
  for (int64_t h = 0; h < heads; ++h) {
    const std::string n = stem + "." + std::to_string(h) + ".weight";
    const std::vector<float> part = ck.read_f32(n);  // FormatError naming it when missing
    BIGDL_CHECK(int64_t(part.size()) == c.head_dim, ShapeError, "load_model", ck.tensor_file(n), ": tensor '", n,
                "' has ", part.size(), " values, expected ", c.head_dim);
    v.insert(v.end(), part.begin(), part.end());
  }
  shape = {heads, c.head_dim};
  return v;
}

void stablelm_gguf_config(const GgufMeta& m, ModelConfig&, ArchSpec& spec) {
  spec.bias_qkv = m.file().tensor("blk.0.attn_q.bias") != nullptr;
  spec.qk_norm = spec.qk_norm_per_head = m.file().tensor("blk.0.attn_q_norm.weight") != nullptr;
  // llama.cpp's rule: no ffn_norm means the parallel residual.
  if (m.file().tensor("blk.0.ffn_norm.weight") == nullptr) {
    spec.residual = Residual::parallel;
    spec.ffn_norm = false;
  }
}
}  // namespace

extern const ArchDef kArch_stablelm = {
    .gguf_arch = "stablelm",
    .hf_types = {"stablelm", "stablelm_epoch"},
    .spec = [] {
      ArchSpec s;
      s.norm = NormKind::layer;
      s.norm_bias = true;
      s.rope_neox = true;
      return s;
    }(),
    .hf_config = stablelm_hf_config,
    .gguf_config = stablelm_gguf_config,
    .hf_tensors = hf_join({hf_decoder_tensors(), {
        {"blk.%d.attn_q_norm.weight", "model.layers.%d.self_attn.q_layernorm.norms.0.weight", HfXform::custom,
         stack_heads},
        {"blk.%d.attn_k_norm.weight", "model.layers.%d.self_attn.k_layernorm.norms.0.weight", HfXform::custom,
         stack_heads},
    }, hf_gated_mlp_tensors()}),
};

}  // namespace bigdl::llm::detail
