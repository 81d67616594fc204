// Falcon: parallel attention and MLP on one LayerNorm'd input, x += attn(n) + mlp(n)
// (7B: one input_layernorm; 40B / 180B, new_decoder_architecture: ln_attn for the attention
// and ln_mlp for the MLP), rotate_half RoPE, multi-query (7B) or grouped KV heads (40B: the
// fused query_key_value holds [q_0..q_r-1, k, v] per KV group, regrouped to [q; k; v] at
// load as llama.cpp's converter does), no biases, a GELU MLP (erf from HF; llama.cpp
// computes tanh). ALiBi, biases and serial layers (falcon-rw) are refused, as llama.cpp
// does. GGUF "falcon" (ln_mlp is attn_norm, ln_attn attn_norm_2). Verified by
// tests/llm/test_arch_golden.cpp (arch_falcon, arch_falcon40b).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void falcon_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  c.n_vocab = hf_positive(ck, "vocab_size");
  c.n_embd = ck.has("hidden_size") ? hf_positive(ck, "hidden_size") : hf_positive(ck, "n_embed");
  c.n_layer = ck.has("num_hidden_layers") ? hf_positive(ck, "num_hidden_layers") : hf_positive(ck, "n_layer");
  c.n_head = ck.has("num_attention_heads") ? hf_positive(ck, "num_attention_heads") : hf_positive(ck, "n_head");
  const bool new_arch = ck.get_bool("new_decoder_architecture", false);
  // transformers: KV heads = num_kv_heads unless multi_query on the old architecture (1).
  c.n_head_kv = !new_arch && ck.get_bool("multi_query", true) ? 1 : hf_positive(ck, "num_kv_heads", c.n_head);
  BIGDL_CHECK(c.n_embd % c.n_head == 0 && c.n_head % c.n_head_kv == 0, FormatError, "load_model", ck.config_path(),
              ": hidden_size ", c.n_embd, ", num_attention_heads ", c.n_head, " and KV heads ", c.n_head_kv,
              " do not divide");
  c.head_dim = c.n_embd / c.n_head;
  c.n_rot = c.head_dim;
  c.n_ff = hf_positive(ck, "ffn_hidden_size", 4 * c.n_embd);
  c.n_ctx_train = hf_positive(ck, "max_position_embeddings", 2048);
  c.norm_eps = static_cast<float>(ck.get_float("layer_norm_epsilon", 1e-5));
  c.rope_freq_base = static_cast<float>(ck.get_float("rope_theta", 10000.0));
  c.tied_output = ck.get_bool("tie_word_embeddings", true);
  if (ck.get_bool("alibi", false)) hf_unsupported(ck, "alibi", "true", "Falcon with RoPE only, as llama.cpp");
  if (ck.get_bool("bias", false)) hf_unsupported(ck, "bias", "true", "Falcon without biases, as llama.cpp");
  if (!ck.get_bool("parallel_attn", true)) hf_unsupported(ck, "parallel_attn", "false", "parallel layers only");
  read_hf_rope_scaling(ck, c, spec);
  spec.act = hf_act(ck, "activation", "gelu");
  spec.attn_norm_2 = new_arch && ck.get_int("num_ln_in_parallel_attn", 2) == 2;
}

void falcon_gguf_config(const GgufMeta& m, ModelConfig&, ArchSpec& spec) {
  spec.attn_norm_2 = m.file().tensor("blk.0.attn_norm_2.weight") != nullptr;
}

// query_key_value rows [kv group][r queries, k, v][head_dim] (r = n_head / n_head_kv) ->
// [q; k; v]; with one KV head (7B) the layout is already that.
std::vector<float> falcon_qkv(const HfCheckpoint& ck, const ModelConfig& c, const std::string& name,
                              std::vector<int64_t>& shape) {
  std::vector<float> v = ck.read_f32(name);
  shape = ck.tensor_shape(name);
  if (c.n_head_kv == 1 || shape.size() != 2) return v;
  const int64_t cols = shape[1], hd = c.head_dim, g = c.n_head_kv, r = c.n_head / g;
  if (shape[0] != (c.n_head + 2 * g) * hd) return v;  // the builder names the shape
  std::vector<float> out(v.size());
  const auto row = [&](int64_t dst, int64_t src) {
    std::copy(v.begin() + src * cols, v.begin() + (src + 1) * cols, out.begin() + dst * cols);
  };
  for (int64_t k = 0; k < g; ++k)
    for (int64_t i = 0; i < hd; ++i) {
      for (int64_t j = 0; j < r; ++j) row((k * r + j) * hd + i, (k * (r + 2) + j) * hd + i);
      row(c.n_head * hd + k * hd + i, (k * (r + 2) + r) * hd + i);
      row((c.n_head + g) * hd + k * hd + i, (k * (r + 2) + r + 1) * hd + i);
    }
  return out;
}
}  // namespace

extern const ArchDef kArch_falcon = {
    .gguf_arch = "falcon",
    .hf_types = {"falcon", "RefinedWeb", "RefinedWebModel"},
    .spec = [] {
      ArchSpec s;
      s.norm = NormKind::layer;
      s.norm_bias = true;
      s.rope_neox = true;
      s.ffn = FfnKind::plain;
      s.act = Act::gelu_tanh;  // llama.cpp's; an HF checkpoint says its own
      s.residual = Residual::parallel;
      s.fused_qkv = true;
      s.ffn_norm = false;
      return s;
    }(),
    .hf_config = falcon_hf_config,
    .gguf_config = falcon_gguf_config,
    .hf_tensors = {
        {"token_embd.weight", "word_embeddings.weight"},
        {"output_norm.weight", "ln_f.weight"},
        {"output_norm.bias", "ln_f.bias"},
        {"output.weight", "lm_head.weight"},
        {"blk.%d.attn_norm.weight", "h.%d.input_layernorm.weight"},
        {"blk.%d.attn_norm.bias", "h.%d.input_layernorm.bias"},
        {"blk.%d.attn_norm.weight", "h.%d.ln_mlp.weight"},
        {"blk.%d.attn_norm.bias", "h.%d.ln_mlp.bias"},
        {"blk.%d.attn_norm_2.weight", "h.%d.ln_attn.weight"},
        {"blk.%d.attn_norm_2.bias", "h.%d.ln_attn.bias"},
        {"blk.%d.attn_qkv.weight", "h.%d.self_attention.query_key_value.weight", HfXform::custom, falcon_qkv},
        {"blk.%d.attn_output.weight", "h.%d.self_attention.dense.weight"},
        {"blk.%d.ffn_up.weight", "h.%d.mlp.dense_h_to_4h.weight"},
        {"blk.%d.ffn_down.weight", "h.%d.mlp.dense_4h_to_h.weight"},
    },
    .hf_prefixes = {"transformer."},
};

}  // namespace bigdl::llm::detail
