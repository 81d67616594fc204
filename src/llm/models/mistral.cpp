// Mistral: Llama with sliding-window attention on every layer (a query at position i sees
// keys i - sliding_window < j <= i, as transformers' mask). llama.cpp converts Mistral to
// GGUF "llama" and ignores the window; our files keep it in llama.attention.sliding_window,
// which the generic GGUF reader applies (llama.cpp differs from both past the window).
// Verified against transformers by tests/llm/test_arch_golden.cpp (arch_mistral: a window of
// 8 in a 24-token prompt; hf_mistral: F16 in 3 shards).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

// models/llama.cpp
const std::vector<HfTensor>& llama_hf_tensors();
void llama_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec);

namespace {
void mistral_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  llama_hf_config(ck, c, spec);
  c.sliding_window = ck.get_int("sliding_window", 0);
  BIGDL_CHECK(c.sliding_window >= 0, FormatError, "load_model", ck.config_path(), ": field 'sliding_window' is ",
              c.sliding_window, ", expected >= 0");
}
}  // namespace

extern const ArchDef kArch_mistral = {
    .gguf_arch = "llama",
    .hf_types = {"mistral"},
    .spec = {},
    .hf_config = mistral_hf_config,
    .hf_tensors = llama_hf_tensors(),
    .gguf_primary = false,
};

}  // namespace bigdl::llm::detail
