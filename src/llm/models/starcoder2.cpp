// StarCoder2: GQA with rotate_half RoPE over the whole head, LayerNorms with biases, a
// plain GELU MLP (c_fc, c_proj), biases on every projection (use_bias), tied embeddings by
// default, and Mistral's sliding window in config.json (kept in
// starcoder2.attention.sliding_window; llama.cpp ignores it, which only matters past the
// window). GGUF "starcoder2". Verified by tests/llm/test_arch_golden.cpp (arch_starcoder2,
// against transformers and llama.cpp). Added by following docs/llm.md "Adding an
// architecture".
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void starcoder2_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "norm_epsilon", /*tie_default=*/true);
  spec.act = hf_act(ck, "hidden_act", "gelu_pytorch_tanh");
  spec.bias_qkv = spec.bias_o = spec.bias_ffn = ck.get_bool("use_bias", true);
  c.sliding_window = ck.get_int("sliding_window", 0);
  BIGDL_CHECK(c.sliding_window >= 0, FormatError, "load_model", ck.config_path(), ": field 'sliding_window' is ",
              c.sliding_window, ", expected >= 0");
}

void starcoder2_gguf_config(const GgufMeta& m, ModelConfig&, ArchSpec& spec) {
  spec.bias_qkv = m.file().tensor("blk.0.attn_q.bias") != nullptr;
  spec.bias_o = m.file().tensor("blk.0.attn_output.bias") != nullptr;
  spec.bias_ffn = m.file().tensor("blk.0.ffn_up.bias") != nullptr;
}
}  // namespace

extern const ArchDef kArch_starcoder2 = {
    .gguf_arch = "starcoder2",
    .hf_types = {"starcoder2"},
    .spec = [] {
      ArchSpec s;
      s.norm = NormKind::layer;
      s.norm_bias = true;
      s.rope_neox = true;
      s.ffn = FfnKind::plain;
      s.act = Act::gelu_tanh;
      s.bias_qkv = s.bias_o = s.bias_ffn = true;
      return s;
    }(),
    .hf_config = starcoder2_hf_config,
    .gguf_config = starcoder2_gguf_config,
    .hf_tensors = hf_join({hf_decoder_tensors(), {
        {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.c_fc.weight"},
        {"blk.%d.ffn_up.bias", "model.layers.%d.mlp.c_fc.bias"},
        {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.c_proj.weight"},
        {"blk.%d.ffn_down.bias", "model.layers.%d.mlp.c_proj.bias"},
    }}),
};

}  // namespace bigdl::llm::detail
