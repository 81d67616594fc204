// OLMo (the first release, model_type "olmo"): Llama's layer with LayerNorms that have no
// weight or bias (eps 1e-5), q / k / v clamped to +-clip_qkv, RoPE (GGUF "olmo" pairs
// adjacent values: the Q/K rows are permuted at load, as llama.cpp's converter does).
// Verified by tests/llm/test_arch_golden.cpp (arch_olmo).
#include "bigdl/io/gguf.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

const std::vector<HfTensor>& llama_hf_tensors();  // models/llama.cpp: the same names and row order

namespace {
void olmo_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, nullptr);
  c.norm_eps = 1e-5f;  // OlmoLayerNorm's, not configurable
  spec.act = hf_act(ck, "hidden_act", "silu");
  spec.clip_qkv = static_cast<float>(ck.get_float("clip_qkv", 0.0));
  spec.bias_qkv = spec.bias_o = ck.get_bool("attention_bias", false);
}
}  // namespace

extern const ArchDef kArch_olmo = {
    .gguf_arch = "olmo",
    .hf_types = {"olmo"},
    .spec = [] {
      ArchSpec s;
      s.norm = NormKind::layer;
      s.norm_weight = false;
      return s;
    }(),
    .hf_config = olmo_hf_config,
    .hf_tensors = llama_hf_tensors(),
};

}  // namespace bigdl::llm::detail
