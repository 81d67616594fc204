// GPT-NeoX (Pythia, Dolly-v2): LayerNorm with biases, a fused query_key_value interleaved
// per head ([n_head][q, k, v][head_dim]; regrouped to [q; k; v] at load as llama.cpp's
// converter does), rotate_half RoPE on the first rotary_pct of each head, a GELU MLP with
// biases, and the parallel residual x += attn(ln1(x)) + mlp(ln2(x)) (use_parallel_residual;
// serial otherwise), untied embed_out. The GELU is erf (hidden_act "gelu") from HF;
// llama.cpp computes tanh, which a GGUF without bigdl.ffn_activation gets. GGUF "gptneox".
// Verified by tests/llm/test_arch_golden.cpp (arch_gpt_neox).
#include "bigdl/io/gguf_writer.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void gptneox_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "layer_norm_eps");
  const double pct = ck.get_float("rotary_pct", ck.get_float("partial_rotary_factor", 0.25));
  c.n_rot = static_cast<int64_t>(double(c.head_dim) * pct) / 2 * 2;
  c.rope_freq_base = static_cast<float>(ck.get_float("rotary_emb_base", ck.get_float("rope_theta", 10000.0)));
  spec.act = hf_act(ck, "hidden_act", "gelu");
  spec.residual = ck.get_bool("use_parallel_residual", true) ? Residual::parallel : Residual::serial;
  spec.bias_qkv = spec.bias_o = ck.get_bool("attention_bias", true);
}

void gptneox_gguf_config(const GgufMeta& m, ModelConfig&, ArchSpec& spec) {
  spec.residual = m.get_bool("use_parallel_residual", true) ? Residual::parallel : Residual::serial;
}

void gptneox_gguf_export(const ModelConfig&, const ArchSpec& spec, io::GgufWriter& w) {
  w.set("gptneox.use_parallel_residual", io::gguf_bool(spec.residual == Residual::parallel));
}
}  // namespace

extern const ArchDef kArch_gptneox = {
    .gguf_arch = "gptneox",
    .hf_types = {"gpt_neox"},
    .spec = [] {
      ArchSpec s;
      s.norm = NormKind::layer;
      s.norm_bias = true;
      s.rope_neox = true;
      s.ffn = FfnKind::plain;
      s.act = Act::gelu_tanh;  // llama.cpp's; an HF checkpoint says its own
      s.residual = Residual::parallel;
      s.fused_qkv = true;
      s.bias_qkv = s.bias_o = s.bias_ffn = true;
      return s;
    }(),
    .hf_config = gptneox_hf_config,
    .gguf_config = gptneox_gguf_config,
    .gguf_export = gptneox_gguf_export,
    .hf_tensors = {
        {"token_embd.weight", "gpt_neox.embed_in.weight"},
        {"output_norm.weight", "gpt_neox.final_layer_norm.weight"},
        {"output_norm.bias", "gpt_neox.final_layer_norm.bias"},
        {"output.weight", "embed_out.weight"},
        {"blk.%d.attn_norm.weight", "gpt_neox.layers.%d.input_layernorm.weight"},
        {"blk.%d.attn_norm.bias", "gpt_neox.layers.%d.input_layernorm.bias"},
        {"blk.%d.attn_qkv.weight", "gpt_neox.layers.%d.attention.query_key_value.weight", HfXform::qkv_heads},
        {"blk.%d.attn_qkv.bias", "gpt_neox.layers.%d.attention.query_key_value.bias", HfXform::qkv_heads},
        {"blk.%d.attn_output.weight", "gpt_neox.layers.%d.attention.dense.weight"},
        {"blk.%d.attn_output.bias", "gpt_neox.layers.%d.attention.dense.bias"},
        {"blk.%d.ffn_norm.weight", "gpt_neox.layers.%d.post_attention_layernorm.weight"},
        {"blk.%d.ffn_norm.bias", "gpt_neox.layers.%d.post_attention_layernorm.bias"},
        {"blk.%d.ffn_up.weight", "gpt_neox.layers.%d.mlp.dense_h_to_4h.weight"},
        {"blk.%d.ffn_up.bias", "gpt_neox.layers.%d.mlp.dense_h_to_4h.bias"},
        {"blk.%d.ffn_down.weight", "gpt_neox.layers.%d.mlp.dense_4h_to_h.weight"},
        {"blk.%d.ffn_down.bias", "gpt_neox.layers.%d.mlp.dense_4h_to_h.bias"},
    },
};

}  // namespace bigdl::llm::detail
