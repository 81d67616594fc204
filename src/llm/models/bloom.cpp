// Bloom: ALiBi instead of positions, a LayerNorm on the embeddings
// (word_embeddings_layernorm), LayerNorm with biases, a fused query_key_value interleaved
// per head ([n_head][q, k, v][head_dim]; regrouped to [q; k; v] at load as llama.cpp's
// converter does), biases everywhere, a tanh-GELU MLP of 4 x hidden, tied classifier.
// apply_residual_connection_post_layernorm is refused (llama.cpp has no such wiring).
// GGUF "bloom". Verified by tests/llm/test_arch_golden.cpp (arch_bloom).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void bloom_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec&) {
  c.n_vocab = hf_positive(ck, "vocab_size");
  c.n_embd = ck.has("hidden_size") ? hf_positive(ck, "hidden_size") : hf_positive(ck, "n_embed");
  c.n_layer = ck.has("n_layer") ? hf_positive(ck, "n_layer") : hf_positive(ck, "num_hidden_layers");
  c.n_head = ck.has("n_head") ? hf_positive(ck, "n_head") : hf_positive(ck, "num_attention_heads");
  c.n_head_kv = c.n_head;
  BIGDL_CHECK(c.n_embd % c.n_head == 0, FormatError, "load_model", ck.config_path(), ": hidden_size ", c.n_embd,
              " is not a multiple of n_head ", c.n_head);
  c.head_dim = c.n_embd / c.n_head;
  c.n_ff = 4 * c.n_embd;
  // ALiBi has no position limit; seq_length when the checkpoint gives one.
  c.n_ctx_train = hf_positive(ck, "seq_length", 2048);
  c.norm_eps = static_cast<float>(ck.get_float("layer_norm_epsilon", 1e-5));
  c.tied_output = ck.get_bool("tie_word_embeddings", true);
  if (ck.get_bool("apply_residual_connection_post_layernorm", false))
    hf_unsupported(ck, "apply_residual_connection_post_layernorm", "true", "pre-norm residuals, as llama.cpp");
}
}  // namespace

extern const ArchDef kArch_bloom = {
    .gguf_arch = "bloom",
    .hf_types = {"bloom"},
    .spec = [] {
      ArchSpec s;
      s.norm = NormKind::layer;
      s.norm_bias = true;
      s.pos = PosKind::alibi;
      s.ffn = FfnKind::plain;
      s.act = Act::gelu_tanh;
      s.fused_qkv = true;
      s.bias_qkv = s.bias_o = s.bias_ffn = true;
      s.embd_norm = true;
      return s;
    }(),
    .hf_config = bloom_hf_config,
    .hf_tensors = {
        {"token_embd.weight", "word_embeddings.weight"},
        {"token_embd_norm.weight", "word_embeddings_layernorm.weight"},
        {"token_embd_norm.bias", "word_embeddings_layernorm.bias"},
        {"output_norm.weight", "ln_f.weight"},
        {"output_norm.bias", "ln_f.bias"},
        {"output.weight", "lm_head.weight"},
        {"blk.%d.attn_norm.weight", "h.%d.input_layernorm.weight"},
        {"blk.%d.attn_norm.bias", "h.%d.input_layernorm.bias"},
        {"blk.%d.attn_qkv.weight", "h.%d.self_attention.query_key_value.weight", HfXform::qkv_heads},
        {"blk.%d.attn_qkv.bias", "h.%d.self_attention.query_key_value.bias", HfXform::qkv_heads},
        {"blk.%d.attn_output.weight", "h.%d.self_attention.dense.weight"},
        {"blk.%d.attn_output.bias", "h.%d.self_attention.dense.bias"},
        {"blk.%d.ffn_norm.weight", "h.%d.post_attention_layernorm.weight"},
        {"blk.%d.ffn_norm.bias", "h.%d.post_attention_layernorm.bias"},
        {"blk.%d.ffn_up.weight", "h.%d.mlp.dense_h_to_4h.weight"},
        {"blk.%d.ffn_up.bias", "h.%d.mlp.dense_h_to_4h.bias"},
        {"blk.%d.ffn_down.weight", "h.%d.mlp.dense_4h_to_h.weight"},
        {"blk.%d.ffn_down.bias", "h.%d.mlp.dense_4h_to_h.bias"},
    },
    .hf_prefixes = {"transformer."},
};

}  // namespace bigdl::llm::detail
