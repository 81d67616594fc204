// Phi-3 / Phi-3.5 (mini, medium): Llama's layer with fused weights: qkv_proj [q; k; v]
// (GGUF attn_qkv) and gate_up_proj [gate; up] (GGUF ffn_up, gate first), rotate_half RoPE,
// LongRoPE scaling for the 128k models (short factors within
// original_max_position_embeddings, long factors beyond; chosen per context by its n_ctx,
// as llama.cpp; cos / sin scaled by sqrt(1 + ln(scale) / ln(original))), and an optional
// sliding window (phi-3-mini-4k: 2047; applied as transformers does, llama.cpp ignores
// it). GGUF "phi3" (rope_factors_long / short tensors). Verified by
// tests/llm/test_arch_golden.cpp (arch_phi3, arch_phi3_longrope).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void phi3_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "rms_norm_eps");
  c.sliding_window = ck.get_int("sliding_window", 0);
  BIGDL_CHECK(c.sliding_window >= 0, FormatError, "load_model", ck.config_path(), ": field 'sliding_window' is ",
              c.sliding_window, ", expected >= 0");
  if (ck.has("partial_rotary_factor"))
    c.n_rot = static_cast<int64_t>(double(c.head_dim) * ck.get_float("partial_rotary_factor")) / 2 * 2;
  if (c.rope_scaling == "none" && ck.has("original_max_position_embeddings"))
    spec.rope_scaling.orig_ctx = double(ck.get_int("original_max_position_embeddings"));
}
}  // namespace

extern const ArchDef kArch_phi3 = {
    .gguf_arch = "phi3",
    .hf_types = {"phi3"},
    .spec = [] {
      ArchSpec s;
      s.rope_neox = true;
      s.fused_qkv = true;
      s.fused_gate_up = true;
      return s;
    }(),
    .hf_config = phi3_hf_config,
    .hf_tensors = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight"},
        {"output.weight", "lm_head.weight"},
        {"blk.%d.attn_norm.weight", "model.layers.%d.input_layernorm.weight"},
        {"blk.%d.attn_qkv.weight", "model.layers.%d.self_attn.qkv_proj.weight"},
        {"blk.%d.attn_output.weight", "model.layers.%d.self_attn.o_proj.weight"},
        {"blk.%d.ffn_norm.weight", "model.layers.%d.post_attention_layernorm.weight"},
        {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.gate_up_proj.weight"},
        {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.down_proj.weight"},
    },
};

}  // namespace bigdl::llm::detail
