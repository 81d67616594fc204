// Gemma: RMSNorm whose weights hold w - 1 (the norm multiplies by 1 + w; GGUF stores the
// +1 folded in, as llama.cpp's converter writes it), embeddings scaled by sqrt(n_embd),
// GeGLU (tanh GELU) feed-forward, rotate_half RoPE, head_dim independent of
// n_embd / n_head (256 in the real models), multi-query attention in the 2B, tied
// classifier. GGUF "gemma". Verified by tests/llm/test_arch_golden.cpp (arch_gemma).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

// Shared with Gemma 2 (models/gemma2.cpp).
void gemma_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "rms_norm_eps", /*tie_default=*/true);
  // transformers reads hidden_activation (hidden_act is ignored; absent: gelu_pytorch_tanh).
  spec.act = hf_act(ck, "hidden_activation", "gelu_pytorch_tanh");
}

const std::vector<HfTensor>& gemma_hf_tensors() {
  static const std::vector<HfTensor> t =
      hf_join({hf_decoder_tensors({.norm = HfXform::plus_one}), hf_gated_mlp_tensors()});
  return t;
}

extern const ArchDef kArch_gemma = {
    .gguf_arch = "gemma",
    .hf_types = {"gemma"},
    .spec = [] {
      ArchSpec s;
      s.rope_neox = true;
      s.act = Act::gelu_tanh;
      s.embd_scale = true;
      return s;
    }(),
    .hf_config = gemma_hf_config,
    .hf_tensors = gemma_hf_tensors(),
};

}  // namespace bigdl::llm::detail
