// Llama 1 / 2 / 3 / 3.1 / 3.2 (and TinyLlama, SmolLM, llama2.c checkpoints converted to
// GGUF): RMSNorm, RoPE, grouped-query attention, SwiGLU, tied or untied classifier.
//
//   x += Wo attn(rope(Wq n), rope(Wk n), Wv n)     n = rmsnorm(x) attn_norm
//   x += Wdown (silu(Wgate m) * Wup m)            m = rmsnorm(x) ffn_norm
//   logits = Woutput rmsnorm(x) output_norm       (Woutput = token_embd when absent)
//
// GGUF "llama" pairs RoPE values (2i, 2i+1) of each head (ggml mode 0): llama.cpp's
// converter permutes the Q/K rows of HF checkpoints into that order (HfXform::rope_q / k;
// llama2.c checkpoints already use it). RoPE scaling: linear, llama3 (config.json's
// rope_scaling or the GGUF tensor rope_freqs.weight), yarn. Optional q/k/v/o biases
// (attention_bias) and FFN biases (mlp_bias). Verified against transformers by
// tests/llm/test_arch_golden.cpp (fixtures hf_llama, hf_llama_tied, hf_llama3) and the
// stories260K goldens.
#include "bigdl/io/gguf.h"
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

// Shared with Mistral and Mixtral (models/mistral.cpp, mixtral.cpp).
void llama_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "rms_norm_eps");
  const std::string act = ck.get_string("hidden_act", "silu");
  BIGDL_CHECK(act == "silu", FormatError, "load_model", ck.config_path(), ": field 'hidden_act' is '", act,
              "', expected silu");
  spec.bias_qkv = spec.bias_o = ck.get_bool("attention_bias", false);
  spec.bias_ffn = ck.get_bool("mlp_bias", false);
}

namespace {

// Biases are optional in llama.cpp's llama graph; a file tells by having them.
void llama_gguf_config(const GgufMeta& m, ModelConfig&, ArchSpec& spec) {
  spec.bias_qkv = m.file().tensor("blk.0.attn_q.bias") != nullptr;
  spec.bias_o = m.file().tensor("blk.0.attn_output.bias") != nullptr;
  spec.bias_ffn = m.file().tensor("blk.0.ffn_up.bias") != nullptr;
}

}  // namespace

// The HF <-> GGUF names of every Llama-like decoder (Mistral's and Mixtral's files use them
// too; a function, so their static ArchDefs never see it uninitialised).
const std::vector<HfTensor>& llama_hf_tensors() {
  static const std::vector<HfTensor> t = hf_join({hf_decoder_tensors({.rope_rows = true}), hf_gated_mlp_tensors()});
  return t;
}

extern const ArchDef kArch_llama = {
    .gguf_arch = "llama",
    .hf_types = {"llama"},
    .spec = {},
    .hf_config = llama_hf_config,
    .gguf_config = llama_gguf_config,
    .hf_tensors = llama_hf_tensors(),
};

}  // namespace bigdl::llm::detail
