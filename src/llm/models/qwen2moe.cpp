// Qwen2-MoE (Qwen1.5-MoE, Qwen2-57B-A14B): Qwen2's attention (q/k/v biases, rotate_half
// RoPE) and a mixture of experts whose top-k weights are NOT renormalised unless
// norm_topk_prob, plus a shared expert on every token scaled by
// sigmoid(shared_expert_gate . x) (transformers' Qwen2MoeSparseMoeBlock). Models that mix
// dense and MoE layers (decoder_sparse_step > 1, mlp_only_layers) are refused, as by
// llama.cpp's converter. GGUF "qwen2moe". Verified by tests/llm/test_arch_golden.cpp
// (arch_qwen2_moe).
#include "bigdl/error.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

namespace {
void qwen2moe_hf_config(const HfCheckpoint& ck, ModelConfig& c, ArchSpec& spec) {
  read_hf_common(ck, c, spec, "rms_norm_eps");
  if (ck.get_int("decoder_sparse_step", 1) != 1)
    hf_unsupported(ck, "decoder_sparse_step", std::to_string(ck.get_int("decoder_sparse_step")),
                   "every layer must be MoE");
  if (ck.has("mlp_only_layers") && !ck.get_float_array("mlp_only_layers").empty())
    hf_unsupported(ck, "mlp_only_layers", "non-empty", "every layer must be MoE");
  if (ck.get_bool("use_sliding_window", false)) hf_unsupported(ck, "use_sliding_window", "true", "no release uses it");
  c.n_expert = hf_positive(ck, "num_experts");
  c.n_expert_used = hf_positive(ck, "num_experts_per_tok");
  c.n_ff_exp = hf_positive(ck, "moe_intermediate_size");
  c.n_ff_shexp = ck.get_int("shared_expert_intermediate_size", 0);
  spec.moe_norm_topk = ck.get_bool("norm_topk_prob", false);
}
}  // namespace

extern const ArchDef kArch_qwen2moe = {
    .gguf_arch = "qwen2moe",
    .hf_types = {"qwen2_moe"},
    .spec = [] {
      ArchSpec s;
      s.rope_neox = true;
      s.bias_qkv = true;
      s.ffn = FfnKind::moe;
      s.moe_norm_topk = false;
      s.moe_shared_gate = true;
      return s;
    }(),
    .hf_config = qwen2moe_hf_config,
    .hf_tensors = hf_join({hf_decoder_tensors(), {
        {"blk.%d.ffn_gate_inp.weight", "model.layers.%d.mlp.gate.weight"},
        {"blk.%d.ffn_gate_exps.weight", "model.layers.%d.mlp.experts.%e.gate_proj.weight", HfXform::experts},
        {"blk.%d.ffn_up_exps.weight", "model.layers.%d.mlp.experts.%e.up_proj.weight", HfXform::experts},
        {"blk.%d.ffn_down_exps.weight", "model.layers.%d.mlp.experts.%e.down_proj.weight", HfXform::experts},
        {"blk.%d.ffn_gate_inp_shexp.weight", "model.layers.%d.mlp.shared_expert_gate.weight", HfXform::flatten},
        {"blk.%d.ffn_gate_shexp.weight", "model.layers.%d.mlp.shared_expert.gate_proj.weight"},
        {"blk.%d.ffn_up_shexp.weight", "model.layers.%d.mlp.shared_expert.up_proj.weight"},
        {"blk.%d.ffn_down_shexp.weight", "model.layers.%d.mlp.shared_expert.down_proj.weight"},
    }}),
};

}  // namespace bigdl::llm::detail
