// GPT-2: learned absolute positions, LayerNorm with biases, a fused c_attn [q; k; v] with
// bias, biases on every projection, a GELU (gelu_new: tanh) MLP, tied classifier. HF
// stores its projections as Conv1D ([in, out]; transposed to GGUF's [out, in] at load, as
// llama.cpp's converter does). scale_attn_by_inverse_layer_idx and
// scale_attn_weights=false change the attention and are refused. GGUF "gpt2". Verified by
// tests/llm/test_arch_golden.cpp (arch_gpt2).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

// Shared with GPTBigCode (models/starcoder.cpp): GPT-2's config names.
void gpt2_hf_dims(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  c.n_vocab = hf_positive(ck, "vocab_size");
  c.n_embd = hf_positive(ck, "n_embd");
  c.n_layer = hf_positive(ck, "n_layer");
  c.n_head = hf_positive(ck, "n_head");
  c.n_head_kv = c.n_head;
  BIGDL_CHECK(c.n_embd % c.n_head == 0, FormatError, "load_model", ck.config_path(), ": n_embd ", c.n_embd,
              " is not a multiple of n_head ", c.n_head);
  c.head_dim = c.n_embd / c.n_head;
  c.n_ff = hf_positive(ck, "n_inner", 4 * c.n_embd);
  c.n_ctx_train = hf_positive(ck, "n_positions");
  c.norm_eps = static_cast<float>(ck.get_float("layer_norm_epsilon", 1e-5));
  c.tied_output = ck.get_bool("tie_word_embeddings", true);
  if (!ck.get_bool("scale_attn_weights", true)) hf_unsupported(ck, "scale_attn_weights", "false", "1/sqrt(head_dim)");
  if (ck.get_bool("scale_attn_by_inverse_layer_idx", false))
    hf_unsupported(ck, "scale_attn_by_inverse_layer_idx", "true", "1/sqrt(head_dim)");
  spec.act = hf_act(ck, "activation_function", "gelu_new");
}

// GPT-2's layer as an ArchSpec (GPTBigCode's too).
ArchSpec gpt2_spec() {
  ArchSpec s;
  s.norm = NormKind::layer;
  s.norm_bias = true;
  s.pos = PosKind::learned;
  s.ffn = FfnKind::plain;
  s.act = Act::gelu_tanh;
  s.fused_qkv = true;
  s.bias_qkv = s.bias_o = s.bias_ffn = true;
  return s;
}

extern const ArchDef kArch_gpt2 = {
    .gguf_arch = "gpt2",
    .hf_types = {"gpt2"},
    .spec = gpt2_spec(),
    .hf_config = gpt2_hf_dims,
    .hf_tensors = {
        {"token_embd.weight", "wte.weight"},
        {"position_embd.weight", "wpe.weight"},
        {"output_norm.weight", "ln_f.weight"},
        {"output_norm.bias", "ln_f.bias"},
        {"output.weight", "lm_head.weight"},
        {"blk.%d.attn_norm.weight", "h.%d.ln_1.weight"},
        {"blk.%d.attn_norm.bias", "h.%d.ln_1.bias"},
        {"blk.%d.attn_qkv.weight", "h.%d.attn.c_attn.weight", HfXform::transpose},
        {"blk.%d.attn_qkv.bias", "h.%d.attn.c_attn.bias"},
        {"blk.%d.attn_output.weight", "h.%d.attn.c_proj.weight", HfXform::transpose},
        {"blk.%d.attn_output.bias", "h.%d.attn.c_proj.bias"},
        {"blk.%d.ffn_norm.weight", "h.%d.ln_2.weight"},
        {"blk.%d.ffn_norm.bias", "h.%d.ln_2.bias"},
        {"blk.%d.ffn_up.weight", "h.%d.mlp.c_fc.weight", HfXform::transpose},
        {"blk.%d.ffn_up.bias", "h.%d.mlp.c_fc.bias"},
        {"blk.%d.ffn_down.weight", "h.%d.mlp.c_proj.weight", HfXform::transpose},
        {"blk.%d.ffn_down.bias", "h.%d.mlp.c_proj.bias"},
    },
    .hf_prefixes = {"transformer."},
};

}  // namespace bigdl::llm::detail
