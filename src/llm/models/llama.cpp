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
  static const std::vector<HfTensor> t = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
    {"blk.%d.attn_norm.weight", "model.layers.%d.input_layernorm.weight"},
    {"blk.%d.attn_q.weight", "model.layers.%d.self_attn.q_proj.weight", HfXform::rope_q},
    {"blk.%d.attn_k.weight", "model.layers.%d.self_attn.k_proj.weight", HfXform::rope_k},
    {"blk.%d.attn_v.weight", "model.layers.%d.self_attn.v_proj.weight"},
    {"blk.%d.attn_output.weight", "model.layers.%d.self_attn.o_proj.weight"},
    {"blk.%d.attn_q.bias", "model.layers.%d.self_attn.q_proj.bias", HfXform::rope_q},
    {"blk.%d.attn_k.bias", "model.layers.%d.self_attn.k_proj.bias", HfXform::rope_k},
    {"blk.%d.attn_v.bias", "model.layers.%d.self_attn.v_proj.bias"},
    {"blk.%d.attn_output.bias", "model.layers.%d.self_attn.o_proj.bias"},
    {"blk.%d.ffn_norm.weight", "model.layers.%d.post_attention_layernorm.weight"},
    {"blk.%d.ffn_gate.weight", "model.layers.%d.mlp.gate_proj.weight"},
    {"blk.%d.ffn_up.weight", "model.layers.%d.mlp.up_proj.weight"},
    {"blk.%d.ffn_down.weight", "model.layers.%d.mlp.down_proj.weight"},
    {"blk.%d.ffn_gate.bias", "model.layers.%d.mlp.gate_proj.bias"},
    {"blk.%d.ffn_up.bias", "model.layers.%d.mlp.up_proj.bias"},
    {"blk.%d.ffn_down.bias", "model.layers.%d.mlp.down_proj.bias"},
  };
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
