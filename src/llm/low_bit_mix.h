// Which low-bit type each matrix of a model gets: llama-quantize's per-tensor rules for
// its file types (Q4_K_M, Q3_K_S, ...), and bigdl-llm's rule (one type, the classifier at
// least 8 bits) for the single-type names. The rule table, and where it departs from
// llama.cpp, is in docs/quant.md; tests/llm/test_kquant_files.cpp checks it tensor by
// tensor against what llama-quantize wrote (tests/llm/fixtures/kquant/mixes.json).
#pragma once

#include <cstdint>
#include <string>

#include "backend/cpu/quant/quant.h"
#include "bigdl/llm/low_bit.h"

namespace bigdl::llm::detail {

namespace quant = bigdl::detail::quant;

// llama.cpp's file types that `--low-bit` accepts: X(name, base type, llama_ftype id as
// written to general.file_type); the index is LowBit::quant_index() of a Kind::mix LowBit.
#define BIGDL_LLM_MIXES(X) \
  X(q2_k, q2_k, 10)        \
  X(q3_k_s, q3_k, 11)      \
  X(q3_k_m, q3_k, 12)      \
  X(q3_k_l, q3_k, 13)      \
  X(q4_k_s, q4_k, 14)      \
  X(q4_k_m, q4_k, 15)      \
  X(q5_k_s, q5_k, 16)      \
  X(q5_k_m, q5_k, 17)      \
  X(q6_k, q6_k, 18)        \
  X(iq4_nl, iq4_nl, 25)    \
  X(iq4_xs, iq4_xs, 30)    \
  X(q4_0, sym_int4, 2)     \
  X(q4_1, asym_int4, 3)    \
  X(q5_0, sym_int5, 8)     \
  X(q5_1, asym_int5, 9)    \
  X(q8_0, sym_int8, 7)

enum class Mix {
#define BIGDL_LLM_MIX_ENUM(name, base, ftype) name,
  BIGDL_LLM_MIXES(BIGDL_LLM_MIX_ENUM)
#undef BIGDL_LLM_MIX_ENUM
};
// The mix of that name, or false.
bool mix_named(const std::string& name, Mix& out);
const char* mix_name(Mix m);
// The type most matrices of the mix get (Q4_K for q4_k_m).
quant::QType mix_base(Mix m);
// llama.cpp's llama_ftype of the mix (15 for q4_k_m).
int mix_ftype(Mix m);

// What a matrix is, as llama-quantize's categories see it.
enum class Role { token_embd, output, attn_q, attn_k, attn_v, attn_qkv, attn_output, ffn_gate, ffn_up, ffn_down, other };

// Where a matrix sits in its model.
struct Site {
  Role role = Role::other;
  int64_t layer = 0, n_layer = 1;  // the block index and count
  int64_t n_gqa = 1;               // query heads per KV head
  int64_t n_expert = 0;
  bool falcon = false;             // llama.cpp treats Falcon's FFN / attention output differently
  bool tied_output = false;        // token_embd is the classifier too
  bool has_imatrix = false;
  int64_t cols = 0;                // weights per row
};

// The role of a GGUF tensor name ("blk.3.attn_v.weight" -> attn_v), as llama.cpp's
// tensor_get_category does (substring matches; ffn_down_exps is ffn_down).
Role role_of(const std::string& gguf_name);

// The LowBit the matrix at `site` gets when the model is loaded or converted with `lb`:
// keep / fp32 pass through; a single quant type gives every matrix that type except the
// classifier (output, or a tied token_embd), which gets sym_int8 unless the type has 8
// bits or more; a mix applies llama-quantize's rules. The result is never a mix (the
// row-length fallback, e.g. Q4_K -> Q5_0, is apply_low_bit's, weights.h).
LowBit tensor_low_bit(const LowBit& lb, const Site& site);

}  // namespace bigdl::llm::detail
