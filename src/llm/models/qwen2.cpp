// Qwen2 / Qwen2.5: Llama with q/k/v biases and rotate_half RoPE (GGUF "qwen2" keeps HF's
// row order and runs NeoX-style RoPE, as llama.cpp). Sliding-window attention
// (use_sliding_window) is refused: no released Qwen2 model turns it on. Verified against
// transformers by tests/llm/test_arch_golden.cpp (hf_qwen2) and against llama.cpp on the
// GGUF our convert writes.
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void qwen2_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "rms_norm_eps");
  BIGDL_CHECK(!ck.get_bool("use_sliding_window", false), FormatError, "load_model", ck.config_path(),
              ": field 'use_sliding_window' true is not supported");
}
}  // namespace

extern const ArchDef kArch_qwen2 = {
    .gguf_arch = "qwen2",
    .hf_types = {"qwen2"},
    .spec = [] {
      ArchSpec s;
      s.rope_neox = true;
      s.bias_qkv = true;
      return s;
    }(),
    .hf_config = qwen2_hf_config,
    .hf_tensors = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight"},
        {"output.weight", "lm_head.weight"},
        {"blk.%d.attn_norm.weight", "model.layers.%d.input_layernorm.weight"},
        {"blk.%d.attn_q.weight", "model.layers.%d.self_attn.q_proj.weight"},
        {"blk.%d.attn_k.weight", "model.layers.%d.self_attn.k_proj.weight"},
        {"blk.%d.attn_v.weight", "model.layers.%d.self_attn.v_proj.weight"},
        {"blk.%d.attn_output.weight", "model.layers.%d.self_attn.o_proj.weight"},
        {"blk.%d.attn_q.bias", "model.layers.%d.self_attn.q_proj.bias"},
        {"blk.%d.attn_k.bias", "model.layers.%d.self_attn.k_proj.bias"},
        {"blk.%d.attn_v.bias", "model.layers.%d.self_attn.v_proj.bias"},
        {"blk.%d.ffn_norm.weight", "model.layers.%d.post_attention_layernorm.weight"},
        {"blk.%d.ffn_gate.weight", "model.layers.%d.mlp.gate_proj.weight"},
        {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.up_proj.weight"},
        {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.down_proj.weight"},
    },
};

}  // namespace bigdl::llm::detail
