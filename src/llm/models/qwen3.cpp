// Qwen3 (dense): Qwen2 without biases and with an RMSNorm over each query and key head
// (q_norm / k_norm, head_dim weights) before RoPE; head_dim is set independently of
// hidden_size / num_attention_heads. transformers 4.46.3 (the newest Debian's torch 1.13
// admits) has no Qwen3 class, so the reference is llama.cpp on the same checkpoint as
// GGUF "qwen3" (tests/llm/test_arch_golden.cpp, arch_qwen3).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void qwen3_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "rms_norm_eps");
  if (ck.get_bool("use_sliding_window", false)) hf_unsupported(ck, "use_sliding_window", "true", "no release uses it");
  spec.bias_qkv = spec.bias_o = ck.get_bool("attention_bias", false);
}
}  // namespace

extern const ArchDef kArch_qwen3 = {
    .gguf_arch = "qwen3",
    .hf_types = {"qwen3"},
    .spec = [] {
      ArchSpec s;
      s.rope_neox = true;
      s.qk_norm = true;
      return s;
    }(),
    .hf_config = qwen3_hf_config,
    .hf_tensors = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight"},
        {"output.weight", "lm_head.weight"},
        {"blk.%d.attn_norm.weight", "model.layers.%d.input_layernorm.weight"},
        {"blk.%d.attn_q.weight", "model.layers.%d.self_attn.q_proj.weight"},
        {"blk.%d.attn_k.weight", "model.layers.%d.self_attn.k_proj.weight"},
        {"blk.%d.attn_v.weight", "model.layers.%d.self_attn.v_proj.weight"},
        {"blk.%d.attn_output.weight", "model.layers.%d.self_attn.o_proj.weight"},
        {"blk.%d.attn_q_norm.weight", "model.layers.%d.self_attn.q_norm.weight"},
        {"blk.%d.attn_k_norm.weight", "model.layers.%d.self_attn.k_norm.weight"},
        {"blk.%d.ffn_norm.weight", "model.layers.%d.post_attention_layernorm.weight"},
        {"blk.%d.ffn_gate.weight", "model.layers.%d.mlp.gate_proj.weight"},
        {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.up_proj.weight"},
        {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.down_proj.weight"},
    },
};

}  // namespace bigdl::llm::detail
