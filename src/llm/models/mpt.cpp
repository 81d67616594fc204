// MPT: ALiBi instead of positions (slopes for max bias 8), LayerNorm without biases, a
// fused Wqkv [q; k; v] optionally clamped to +-clip_qkv, no biases anywhere, a GELU MLP of
// 4 x d_model (erf from HF; llama.cpp computes tanh), tied classifier. qk_ln and a
// softmax_scale other than 1/sqrt(head_dim) are refused (transformers ignores qk_ln,
// llama.cpp softmax_scale). GGUF "mpt". Verified by tests/llm/test_arch_golden.cpp
// (arch_mpt).
#include <cmath>

#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void mpt_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  c.n_vocab = hf_positive(ck, "vocab_size");
  c.n_embd = hf_positive(ck, "d_model");
  c.n_layer = hf_positive(ck, "n_layers");
  c.n_head = hf_positive(ck, "n_heads");
  c.n_head_kv = c.n_head;
  c.head_dim = c.n_embd / c.n_head;
  c.n_ff = 4 * c.n_embd;  // transformers' MptMLP, whatever expansion_ratio says
  c.n_ctx_train = hf_positive(ck, "max_seq_len", 2048);
  c.norm_eps = static_cast<float>(ck.get_float("layer_norm_epsilon", 1e-5));
  c.tied_output = ck.get_bool("tie_word_embeddings", true);
  if (ck.get_bool("attn_config.qk_ln", false)) hf_unsupported(ck, "attn_config.qk_ln", "true", "transformers ignores it");
  if (ck.has("attn_config.softmax_scale"))
    hf_unsupported(ck, "attn_config.softmax_scale", std::to_string(ck.get_float("attn_config.softmax_scale")),
                   "1/sqrt(head_dim) only, as llama.cpp");
  spec.clip_qkv = static_cast<float>(ck.get_float("attn_config.clip_qkv", 0.0));
  // transformers always applies ALiBi with alibi_bias_max; MPT's own code with alibi false
  // uses a learned position table instead, which no converter writes.
  if (!ck.get_bool("attn_config.alibi", true))
    hf_unsupported(ck, "attn_config.alibi", "false", "ALiBi only, as transformers and llama.cpp");
  spec.max_alibi_bias = static_cast<float>(ck.get_float("attn_config.alibi_bias_max", 8.0));
  BIGDL_CHECK(std::isfinite(spec.max_alibi_bias) && spec.max_alibi_bias > 0, FormatError, "load_model",
              ck.config_path(), ": field 'attn_config.alibi_bias_max' is ", spec.max_alibi_bias, ", expected > 0");
  spec.act = Act::gelu_erf;  // nn.GELU(approximate="none")
}
}  // namespace

extern const ArchDef kArch_mpt = {
    .gguf_arch = "mpt",
    .hf_types = {"mpt"},
    .spec = [] {
      ArchSpec s;
      s.norm = NormKind::layer;
      s.pos = PosKind::alibi;
      s.ffn = FfnKind::plain;
      s.act = Act::gelu_tanh;  // llama.cpp's; an HF checkpoint says its own
      s.fused_qkv = true;
      return s;
    }(),
    .hf_config = mpt_hf_config,
    .hf_tensors = {
        {"token_embd.weight", "transformer.wte.weight"},
        {"output_norm.weight", "transformer.norm_f.weight"},
        {"output.weight", "lm_head.weight"},
        {"blk.%d.attn_norm.weight", "transformer.blocks.%d.norm_1.weight"},
        {"blk.%d.attn_qkv.weight", "transformer.blocks.%d.attn.Wqkv.weight"},
        {"blk.%d.attn_output.weight", "transformer.blocks.%d.attn.out_proj.weight"},
        {"blk.%d.ffn_norm.weight", "transformer.blocks.%d.norm_2.weight"},
        {"blk.%d.ffn_up.weight", "transformer.blocks.%d.ffn.up_proj.weight"},
        {"blk.%d.ffn_down.weight", "transformer.blocks.%d.ffn.down_proj.weight"},
    },
};

}  // namespace bigdl::llm::detail
