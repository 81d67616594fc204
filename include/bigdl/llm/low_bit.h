// The low-bit weight type a model is loaded or converted to (bigdl-llm's load_in_low_bit),
// parsed once from its name at the API edge (CLI, Python, the server) into a typed value.
//
//   ""                keep the stored types (HF weights become f32; GGUF matrices stay as
//                     stored)
//   "fp32"            every matrix f32
//   "sym_int4" "asym_int4" "sym_int5" "asym_int5" "sym_int8"   ggml's Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
//   "nf4" "nf3"       NormalFloat (bitsandbytes' levels)
//   "fp4"             e2m1
//   "fp8_e4m3" "fp8_e5m2"  ("fp8" = "fp8_e5m2", as bigdl-llm)
//   "fp16" "bf16"
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
  enum class Kind { keep, f32, quant };

  LowBit() = default;  // keep the stored types
  // `op` names the operation in the error message ("[load_model] unknown low-bit type ...").
  static LowBit parse(std::string_view name, const char* op = "low_bit");
  // Every accepted name but "" and the alias "fp8", in the quant table's order, then "fp32".
  static std::vector<std::string> names();

  Kind kind() const { return kind_; }
  bool keep() const { return kind_ == Kind::keep; }
  // The quant type's index in the kernel table (backend/cpu/quant/quant.h QType); only
  // meaningful when kind() == Kind::quant.
  int quant_index() const { return index_; }
  // The canonical name: "" for keep, "fp32", "sym_int4", ... ("fp8" reads as "fp8_e5m2").
  const std::string& name() const { return name_; }
  // Bits per weight of the type, block scales included (4.5 for sym_int4; 32 for fp32;
  // 0 for keep).
  double bits_per_weight() const { return bpw_; }

  bool operator==(const LowBit& o) const { return kind_ == o.kind_ && index_ == o.index_; }

 private:
  Kind kind_ = Kind::keep;
  int index_ = -1;
  std::string name_;
  double bpw_ = 0;
};

}  // namespace bigdl::llm
