// Baichuan / Baichuan2 (remote code): Llama's layer with a fused W_pack [q; k; v] (split at
// load, Q/K rows permuted to GGUF's adjacent-pair RoPE order, as llama.cpp's converter
// does). The 13B models replace RoPE with ALiBi; like llama.cpp we tell them by their 40
// layers. Baichuan2's NormHead (the classifier's rows L2-normalised before use) is applied
// at load from an HF folder of vocabulary 125696 (Baichuan2's); llama.cpp's converter does
// not apply it, so a GGUF it wrote is used as is. No transformers class: the reference is
// llama.cpp on the same checkpoint as GGUF "baichuan" (tests/llm/test_arch_golden.cpp,
// arch_baichuan and arch_baichuan13b).
#include <cmath>

#include "bigdl/error.h"
#include "llm/arch.h"
#include "llm/tensor_source.h"

namespace bigdl::llm::detail {

namespace {
constexpr int64_t kAlibiLayers = 40;      // Baichuan-13B / Baichuan2-13B
constexpr int64_t kBaichuan2Vocab = 125696;

void baichuan_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  c.n_vocab = hf_positive(ck, "vocab_size");
  c.n_embd = hf_positive(ck, "hidden_size");
  c.n_ff = hf_positive(ck, "intermediate_size");
  c.n_layer = hf_positive(ck, "num_hidden_layers");
  c.n_head = hf_positive(ck, "num_attention_heads");
  c.n_head_kv = c.n_head;
  BIGDL_CHECK(c.n_embd % c.n_head == 0, FormatError, "load_model", ck.config_path(), ": hidden_size ", c.n_embd,
              " is not a multiple of num_attention_heads ", c.n_head);
  c.head_dim = c.n_embd / c.n_head;
  c.n_rot = c.head_dim;
  c.n_ctx_train = ck.has("max_position_embeddings") ? hf_positive(ck, "max_position_embeddings")
                                                    : hf_positive(ck, "model_max_length", 4096);
  c.norm_eps = static_cast<float>(ck.get_float("rms_norm_eps", 1e-6));
  c.tied_output = ck.get_bool("tie_word_embeddings", false);
  spec.act = hf_act(ck, "hidden_act", "silu");
  if (c.n_layer == kAlibiLayers) spec.pos = PosKind::alibi;
  else read_hf_rope_scaling(ck, c, spec);
}

void baichuan_gguf_config(const GgufMeta&, ModelConfig& c, ArchSpec& spec) {
  if (c.n_layer == kAlibiLayers) spec.pos = PosKind::alibi;
}

// Third `part` of W_pack's rows (0 q, 1 k, 2 v), Q/K permuted for adjacent-pair RoPE.
std::vector<float> w_pack(const HfCheckpoint& ck, const ModelConfig& c, const std::string& name,
                          std::vector<int64_t>& shape, int part) {
  const std::vector<float> all = ck.read_f32(name);
  shape = ck.tensor_shape(name);
  BIGDL_CHECK(shape.size() == 2 && shape[0] == 3 * c.n_embd, ShapeError, "load_model", ck.tensor_file(name),
              ": tensor '", name, "' has ", shape.size() == 2 ? shape[0] : 0, " rows, expected ", 3 * c.n_embd,
              " (q, k, v)");
  const int64_t rows = c.n_embd, cols = shape[1];
  std::vector<float> v(all.begin() + part * rows * cols, all.begin() + (part + 1) * rows * cols);
  if (part < 2) rope_permute_rows(v, c.head_dim, cols);
  shape = {rows, cols};
  return v;
}
std::vector<float> w_pack_q(const HfCheckpoint& ck, const ModelConfig& c, const std::string& n,
                            std::vector<int64_t>& s) {
  return w_pack(ck, c, n, s, 0);
}
std::vector<float> w_pack_k(const HfCheckpoint& ck, const ModelConfig& c, const std::string& n,
                            std::vector<int64_t>& s) {
  return w_pack(ck, c, n, s, 1);
}
std::vector<float> w_pack_v(const HfCheckpoint& ck, const ModelConfig& c, const std::string& n,
                            std::vector<int64_t>& s) {
  return w_pack(ck, c, n, s, 2);
}

// Baichuan2's NormHead: every row of lm_head divided by its L2 norm (F.normalize, eps 1e-12).
std::vector<float> lm_head(const HfCheckpoint& ck, const ModelConfig& c, const std::string& name,
                           std::vector<int64_t>& shape) {
  std::vector<float> v = ck.read_f32(name);
  shape = ck.tensor_shape(name);
  if (c.n_vocab != kBaichuan2Vocab || shape.size() != 2) return v;
  for (int64_t r = 0; r < shape[0]; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < shape[1]; ++i) ss += double(v[size_t(r * shape[1] + i)]) * v[size_t(r * shape[1] + i)];
    const double inv = 1.0 / std::max(std::sqrt(ss), 1e-12);
    for (int64_t i = 0; i < shape[1]; ++i) v[size_t(r * shape[1] + i)] = float(v[size_t(r * shape[1] + i)] * inv);
  }
  return v;
}
}  // namespace

extern const ArchDef kArch_baichuan = {
    .gguf_arch = "baichuan",
    .hf_types = {"baichuan"},
    .spec = {},
    .hf_config = baichuan_hf_config,
    .gguf_config = baichuan_gguf_config,
    .hf_tensors = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight"},
        {"output.weight", "lm_head.weight", HfXform::custom, lm_head},
        {"blk.%d.attn_norm.weight", "model.layers.%d.input_layernorm.weight"},
        {"blk.%d.attn_q.weight", "model.layers.%d.self_attn.W_pack.weight", HfXform::custom, w_pack_q},
        {"blk.%d.attn_k.weight", "model.layers.%d.self_attn.W_pack.weight", HfXform::custom, w_pack_k},
        {"blk.%d.attn_v.weight", "model.layers.%d.self_attn.W_pack.weight", HfXform::custom, w_pack_v},
        {"blk.%d.attn_output.weight", "model.layers.%d.self_attn.o_proj.weight"},
        {"blk.%d.ffn_norm.weight", "model.layers.%d.post_attention_layernorm.weight"},
        {"blk.%d.ffn_gate.weight", "model.layers.%d.mlp.gate_proj.weight"},
        {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.up_proj.weight"},
        {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.down_proj.weight"},
    },
};

}  // namespace bigdl::llm::detail
