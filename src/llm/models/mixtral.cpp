// Mixtral: Llama whose FFN is a mixture of experts. A router [n_expert, n_embd] scores
// every expert, softmax over all of them, the top num_experts_per_tok are kept and
// renormalised to sum 1, and each kept expert's SwiGLU (w1 gate, w3 up, w2 down) adds its
// weighted output (transformers' MixtralSparseMoeBlock, llama.cpp's build_moe_ffn). GGUF:
// "llama" with the experts stacked into ffn_{gate,up,down}_exps [n_expert, rows, cols], as
// llama.cpp writes it. Verified by tests/llm/test_arch_golden.cpp (arch_mixtral).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

// models/llama.cpp
const std::vector<HfTensor>& llama_hf_tensors();
void llama_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec);

namespace {
void mixtral_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  llama_hf_config(ck, c, spec);
  c.n_expert = hf_positive(ck, "num_local_experts");
  c.n_expert_used = hf_positive(ck, "num_experts_per_tok");
  c.n_ff_exp = c.n_ff;
  c.sliding_window = ck.get_int("sliding_window", 0);
  spec.ffn = FfnKind::moe;
}

std::vector<HfTensor> mixtral_hf_tensors() {
  std::vector<HfTensor> t = llama_hf_tensors();
  t.push_back({"blk.%d.ffn_gate_inp.weight", "model.layers.%d.block_sparse_moe.gate.weight"});
  t.push_back({"blk.%d.ffn_gate_exps.weight", "model.layers.%d.block_sparse_moe.experts.%e.w1.weight", HfXform::experts});
  t.push_back({"blk.%d.ffn_down_exps.weight", "model.layers.%d.block_sparse_moe.experts.%e.w2.weight", HfXform::experts});
  t.push_back({"blk.%d.ffn_up_exps.weight", "model.layers.%d.block_sparse_moe.experts.%e.w3.weight", HfXform::experts});
  return t;
}
}  // namespace

extern const ArchDef kArch_mixtral = {
    .gguf_arch = "llama",
    .hf_types = {"mixtral"},
    .spec = {},
    .hf_config = mixtral_hf_config,
    .hf_tensors = mixtral_hf_tensors(),
    .gguf_primary = false,
};

}  // namespace bigdl::llm::detail
