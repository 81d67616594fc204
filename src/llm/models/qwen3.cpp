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
    .hf_tensors = hf_join({hf_decoder_tensors(),
                           {{"blk.%d.attn_q_norm.weight", "model.layers.%d.self_attn.q_norm.weight"},
                            {"blk.%d.attn_k_norm.weight", "model.layers.%d.self_attn.k_norm.weight"}},
                           hf_gated_mlp_tensors()}),
};

}  // namespace bigdl::llm::detail
