// ChatGLM2 / ChatGLM3 / GLM-4 (remote code, model_type "chatglm"): RMSNorm, a fused
// query_key_value [q; k; v] with bias and multi_query_group_num KV heads, RoPE on the first
// half of each head (kv_channels / 2 dims) in adjacent pairs with base 10000 x rope_ratio,
// and a fused dense_h_to_4h [gate; up] SwiGLU, untied output_layer. GGUF "chatglm". No
// transformers class: the reference is llama.cpp on the same checkpoint
// (tests/llm/test_arch_golden.cpp, arch_chatglm). ChatGLM-6B (v1: 2-D positions, GeLU,
// post-norm) is another architecture and is not supported.
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void chatglm_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  c.n_vocab = hf_positive(ck, "padded_vocab_size");
  c.n_embd = hf_positive(ck, "hidden_size");
  c.n_ff = hf_positive(ck, "ffn_hidden_size");
  c.n_layer = hf_positive(ck, "num_layers");
  c.n_head = hf_positive(ck, "num_attention_heads");
  c.n_head_kv = ck.get_bool("multi_query_attention", false) ? hf_positive(ck, "multi_query_group_num") : c.n_head;
  c.head_dim = hf_positive(ck, "kv_channels", c.n_embd / c.n_head);
  BIGDL_CHECK(c.n_head % c.n_head_kv == 0, FormatError, "load_model", ck.config_path(), ": num_attention_heads ",
              c.n_head, " is not a multiple of multi_query_group_num ", c.n_head_kv);
  c.n_rot = c.head_dim / 2 / 2 * 2;
  c.n_ctx_train = hf_positive(ck, "seq_length", 8192);
  c.norm_eps = static_cast<float>(ck.get_float("layernorm_epsilon", 1e-5));
  c.rope_freq_base = static_cast<float>(10000.0 * ck.get_float("rope_ratio", 1.0));
  c.tied_output = false;
  if (!ck.get_bool("rmsnorm", true)) hf_unsupported(ck, "rmsnorm", "false", "RMSNorm only");
  if (!ck.get_bool("post_layer_norm", true)) hf_unsupported(ck, "post_layer_norm", "false", "a final norm, as llama.cpp");
  if (ck.get_bool("apply_residual_connection_post_layernorm", false))
    hf_unsupported(ck, "apply_residual_connection_post_layernorm", "true", "pre-norm residuals");
  if (ck.get_bool("add_bias_linear", false)) hf_unsupported(ck, "add_bias_linear", "true", "biases on q/k/v only");
  spec.bias_qkv = ck.get_bool("add_qkv_bias", false);
  read_hf_rope_scaling(ck, c, spec);  // ChatGLM scales with rope_ratio; a rope_scaling too
}

void chatglm_gguf_config(const GgufMeta& m, ModelConfig&, ArchSpec& spec) {
  spec.bias_qkv = m.file().tensor("blk.0.attn_qkv.bias") != nullptr;
}
}  // namespace

extern const ArchDef kArch_chatglm = {
    .gguf_arch = "chatglm",
    .hf_types = {"chatglm"},
    .spec = [] {
      ArchSpec s;
      s.fused_qkv = true;
      s.fused_gate_up = true;
      return s;
    }(),
    .hf_config = chatglm_hf_config,
    .gguf_config = chatglm_gguf_config,
    .hf_tensors = {
        {"token_embd.weight", "transformer.embedding.word_embeddings.weight"},
        {"output_norm.weight", "transformer.encoder.final_layernorm.weight"},
        {"output.weight", "transformer.output_layer.weight"},
        {"blk.%d.attn_norm.weight", "transformer.encoder.layers.%d.input_layernorm.weight"},
        {"blk.%d.attn_qkv.weight", "transformer.encoder.layers.%d.self_attention.query_key_value.weight"},
        {"blk.%d.attn_qkv.bias", "transformer.encoder.layers.%d.self_attention.query_key_value.bias"},
        {"blk.%d.attn_output.weight", "transformer.encoder.layers.%d.self_attention.dense.weight"},
        {"blk.%d.ffn_norm.weight", "transformer.encoder.layers.%d.post_attention_layernorm.weight"},
        {"blk.%d.ffn_up.weight", "transformer.encoder.layers.%d.mlp.dense_h_to_4h.weight"},
        {"blk.%d.ffn_down.weight", "transformer.encoder.layers.%d.mlp.dense_4h_to_h.weight"},
    },
};

}  // namespace bigdl::llm::detail
