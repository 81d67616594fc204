// StarCoder / SantaCoder (GPTBigCode): GPT-2's layer with nn.Linear projections (no
// transpose) and multi-query attention (one KV head: c_attn is [q (n_embd); k; v]); the
// GELU follows activation_function (gelu_pytorch_tanh by default). Without multi_query the
// fused c_attn is per-head interleaved ([n_head][q, k, v][head_dim]) and is regrouped at
// load (llama.cpp's converter cannot). GGUF "starcoder". Verified by
// tests/llm/test_arch_golden.cpp (arch_starcoder).
#include "llm/arch.h"
#include "llm/tensor_source.h"

namespace bigdl::llm::detail {

// models/gpt2.cpp
void gpt2_hf_dims(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec);
ArchSpec gpt2_spec();

namespace {
void starcoder_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  gpt2_hf_dims(ck, c, spec);
  spec.act = hf_act(ck, "activation_function", "gelu_pytorch_tanh");
  if (ck.get_bool("multi_query", true)) c.n_head_kv = 1;
}

// [n_head][q, k, v][head_dim] rows (multi_query false) -> [q; k; v]; MQA's [q; k; v] as is.
std::vector<float> starcoder_qkv(const HfCheckpoint& ck, const ModelConfig& c, const std::string& name,
                                 std::vector<int64_t>& shape) {
  std::vector<float> v = ck.read_f32(name);
  shape = ck.tensor_shape(name);
  if (c.n_head_kv > 1) qkv_heads_to_blocks(v, c.n_head, c.head_dim, shape.size() == 2 ? shape[1] : 1);
  return v;
}
}  // namespace

extern const ArchDef kArch_starcoder = {
    .gguf_arch = "starcoder",
    .hf_types = {"gpt_bigcode"},
    .spec = gpt2_spec(),
    .hf_config = starcoder_hf_config,
    .hf_tensors = {
        {"token_embd.weight", "wte.weight"},
        {"position_embd.weight", "wpe.weight"},
        {"output_norm.weight", "ln_f.weight"},
        {"output_norm.bias", "ln_f.bias"},
        {"output.weight", "lm_head.weight"},
        {"blk.%d.attn_norm.weight", "h.%d.ln_1.weight"},
        {"blk.%d.attn_norm.bias", "h.%d.ln_1.bias"},
        {"blk.%d.attn_qkv.weight", "h.%d.attn.c_attn.weight", HfXform::custom, starcoder_qkv},
        {"blk.%d.attn_qkv.bias", "h.%d.attn.c_attn.bias", HfXform::custom, starcoder_qkv},
        {"blk.%d.attn_output.weight", "h.%d.attn.c_proj.weight"},
        {"blk.%d.attn_output.bias", "h.%d.attn.c_proj.bias"},
        {"blk.%d.ffn_norm.weight", "h.%d.ln_2.weight"},
        {"blk.%d.ffn_norm.bias", "h.%d.ln_2.bias"},
        {"blk.%d.ffn_up.weight", "h.%d.mlp.c_fc.weight"},
        {"blk.%d.ffn_up.bias", "h.%d.mlp.c_fc.bias"},
        {"blk.%d.ffn_down.weight", "h.%d.mlp.c_proj.weight"},
        {"blk.%d.ffn_down.bias", "h.%d.mlp.c_proj.bias"},
    },
    .hf_prefixes = {"transformer."},
};

}  // namespace bigdl::llm::detail
