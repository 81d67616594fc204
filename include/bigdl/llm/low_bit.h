// The low-bit weight type a model is loaded or converted to (bigdl-llm's load_in_low_bit,
// llama-quantize's file types), parsed once from its name at the API edge (CLI, Python,
// the server) into a typed value.
//
// One type for every matrix (bigdl-llm's names; the classifier keeps at least 8 bits,
// sym_int8, as bigdl-llm does):
//   ""                keep the stored types (HF weights become f32; GGUF matrices stay as
//                     stored)
//   "fp32"            every matrix f32
//   "sym_int4" "asym_int4" "sym_int5" "asym_int5" "sym_int8"   ggml's Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
//   "nf4" "nf3"       NormalFloat (bitsandbytes' levels)
//   "fp4"             e2m1
//   "fp8_e4m3" "fp8_e5m2"  ("fp8" = "fp8_e5m2", as bigdl-llm)
//   "fp16" "bf16"
//   "q3_k" "q4_k" "q5_k" "q8_k"   ggml's K-quants (bigdl-llm's q4_k); rows that are not whole
//                     super-blocks of 256 fall back as llama-quantize's do (q4_k -> q5_0, ...)
// A llama-quantize file type (the per-tensor mix llama.cpp's llama-quantize writes, e.g.
// Q4_K_M = Q4_K with Q6_K for the classifier and for half of attn_v / ffn_down; the
// rule table is in docs/quant.md):
//   "q2_k" "q3_k_s" "q3_k_m" "q3_k_l" "q4_k_s" "q4_k_m" "q5_k_s" "q5_k_m" "q6_k"
//   "iq4_nl" "iq4_xs" "q4_0" "q4_1" "q5_0" "q5_1" "q8_0"
// (q2_k, q6_k, iq4_nl and iq4_xs name llama.cpp's file types, not one type everywhere.)
// Layouts and error bounds: docs/quant.md; which tensors are converted: docs/llm.md.
//
// Errors: ValueError "[<op>] unknown low-bit type 'x' (known: sym_int4, ..., fp32)".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace bigdl::llm {

class LowBit {
 public:
  enum class Kind { keep, f32, quant, mix };

  LowBit() = default;  // keep the stored types
  // `op` names the operation in the error message ("[load_model] unknown low-bit type ...").
  static LowBit parse(std::string_view name, const char* op = "low_bit");
  // Every accepted name but "" and the alias "fp8": the single types in the quant table's
  // order (but q2_k, q6_k, iq4_nl, iq4_xs, which name file types), "fp32", then the
  // llama-quantize file types.
  static std::vector<std::string> names();
  // The single type at index `i` of the quant table (backend/cpu/quant/quant.h QType),
  // also those whose name parse() reads as a file type (the engine's per-tensor choice).
  static LowBit single(int quant_index);

  Kind kind() const { return kind_; }
  bool keep() const { return kind_ == Kind::keep; }
  // The quant type's index in the kernel table (backend/cpu/quant/quant.h QType) when
  // kind() == Kind::quant; the file type's index in the mix table (src/llm/low_bit_mix.h)
  // when kind() == Kind::mix.
  int quant_index() const { return index_; }
  // The canonical name: "" for keep, "fp32", "sym_int4", ... ("fp8" reads as "fp8_e5m2").
  const std::string& name() const { return name_; }
  // Bits per weight of the type, block scales included (4.5 for sym_int4; 32 for fp32;
  // 0 for keep; a mix: its base type's, 4.5 for q4_k_m).
  double bits_per_weight() const { return bpw_; }

  bool operator==(const LowBit& o) const { return kind_ == o.kind_ && index_ == o.index_; }

 private:
  Kind kind_ = Kind::keep;
  int index_ = -1;
  std::string name_;
  double bpw_ = 0;
};

}  // namespace bigdl::llm
