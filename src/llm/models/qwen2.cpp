// Qwen2 / Qwen2.5: Llama with q/k/v biases and rotate_half RoPE (GGUF "qwen2" keeps HF's
// row order and runs NeoX-style RoPE, as llama.cpp). Sliding-window attention
// (use_sliding_window) is refused: no released Qwen2 model turns it on. Verified against
// transformers by tests/llm/test_arch_golden.cpp (hf_qwen2) and against llama.cpp on the
// GGUF our convert writes.
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void qwen2_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "rms_norm_eps");
  BIGDL_CHECK(!ck.get_bool("use_sliding_window", false), FormatError, "load_model", ck.config_path(),
              ": field 'use_sliding_window' true is not supported");
}
}  // namespace

extern const ArchDef kArch_qwen2 = {
    .gguf_arch = "qwen2",
    .hf_types = {"qwen2"},
    .spec = [] {
      ArchSpec s;
      s.rope_neox = true;
      s.bias_qkv = true;
      return s;
    }(),
    .hf_config = qwen2_hf_config,
    .hf_tensors = hf_join({hf_decoder_tensors(), hf_gated_mlp_tensors()}),
};

}  // namespace bigdl::llm::detail
