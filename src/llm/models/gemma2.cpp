// Gemma 2: Gemma plus a norm after each branch (post_attention_norm, post_ffw_norm; the
// FFN's input norm is pre_feedforward_layernorm), attention scores soft-capped
// (s = cap tanh(s / cap)) and scaled by query_pre_attn_scalar^-1/2, the logits soft-capped,
// and sliding-window attention on the even layers (0, 2, ...) with global attention on the
// odd ones. GGUF "gemma2": llama.cpp has no key for query_pre_attn_scalar (it uses
// 1/sqrt(n_embd / n_head) for the 46-layer 27B and 1/sqrt(head_dim) otherwise); our files
// write gemma2.attention.scale and the reader falls back to llama.cpp's rule. Verified by
// tests/llm/test_arch_golden.cpp (arch_gemma2, arch_gemma2_scale).
#include <cmath>

#include "bigdl/error.h"
#include "bigdl/io/gguf_writer.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

// models/gemma.cpp
void gemma_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec);
const std::vector<HfTensor>& gemma_hf_tensors();

namespace {
void gemma2_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  gemma_hf_config(ck, c, spec);
  const double scalar = ck.get_float("query_pre_attn_scalar", 224.0);
  BIGDL_CHECK(scalar > 0, FormatError, "load_model", ck.config_path(), ": field 'query_pre_attn_scalar' is ", scalar,
              ", expected > 0");
  spec.attn_scale = static_cast<float>(1.0 / std::sqrt(scalar));
  c.attn_softcap = static_cast<float>(ck.get_float("attn_logit_softcapping", 0.0));
  c.final_softcap = static_cast<float>(ck.get_float("final_logit_softcapping", 0.0));
  c.sliding_window = ck.get_int("sliding_window", 0);
}

void gemma2_gguf_config(const GgufMeta& m, ModelConfig& c, ArchSpec& spec) {
  const double fallback = c.n_layer == 46 ? 1.0 / std::sqrt(double(c.n_embd / c.n_head))
                                          : 1.0 / std::sqrt(double(c.head_dim));
  spec.attn_scale = static_cast<float>(m.get_float("attention.scale", fallback));
}

void gemma2_gguf_export(const ModelConfig&, const ArchSpec& spec, io::GgufWriter& w) {
  w.set("gemma2.attention.scale", io::gguf_f32(spec.attn_scale));
}

std::vector<HfTensor> gemma2_hf_tensors() {
  std::vector<HfTensor> t = gemma_hf_tensors();
  for (HfTensor& x : t)  // Gemma 2's FFN input norm has its own name
    if (std::string(x.gguf) == "blk.%d.ffn_norm.weight") x.hf = "model.layers.%d.pre_feedforward_layernorm.weight";
  t.push_back({"blk.%d.post_attention_norm.weight", "model.layers.%d.post_attention_layernorm.weight",
               HfXform::plus_one});
  t.push_back({"blk.%d.post_ffw_norm.weight", "model.layers.%d.post_feedforward_layernorm.weight", HfXform::plus_one});
  return t;
}
}  // namespace

extern const ArchDef kArch_gemma2 = {
    .gguf_arch = "gemma2",
    .hf_types = {"gemma2"},
    .spec = [] {
      ArchSpec s;
      s.rope_neox = true;
      s.act = Act::gelu_tanh;
      s.embd_scale = true;
      s.post_norms = true;
      s.swa_even_layers = true;
      return s;
    }(),
    .hf_config = gemma2_hf_config,
    .gguf_config = gemma2_gguf_config,
    .gguf_export = gemma2_gguf_export,
    .hf_tensors = gemma2_hf_tensors(),
};

}  // namespace bigdl::llm::detail
