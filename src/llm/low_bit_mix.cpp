// Per-tensor low-bit types (low_bit_mix.h): llama-quantize's file-type rules.
#include "llm/low_bit_mix.h"

#include <cstring>

namespace bigdl::llm::detail {

namespace {

using quant::QType;

struct MixRow {
  const char* name;
  QType base;
  int ftype;
};
const MixRow kMixes[] = {
#define BIGDL_LLM_MIX_ROW(name, base, ftype) {#name, QType::base, ftype},
    BIGDL_LLM_MIXES(BIGDL_LLM_MIX_ROW)
#undef BIGDL_LLM_MIX_ROW
};

LowBit single(QType t) { return LowBit::single(static_cast<int>(t)); }

// llama.cpp's "more bits here" layers: the first and last eighth, and every third one
// in between.
bool more_bits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// The type of a matrix of a mix, before the row-length fallback.
QType mix_type(Mix mix, const Site& s) {
  const QType base = mix_base(mix);
  const int64_t i = s.layer, n = s.n_layer;
  const bool moe8 = s.n_expert == 8;
  switch (s.role) {
    case Role::output:
    case Role::token_embd: {
      if (s.role == Role::token_embd && !s.tied_output) return base;
      // The classifier: Q6_K, or Q8_0 where rows are not whole blocks of the base type.
      if (s.falcon || s.cols % quant::qtype_info(base).block_size != 0) return QType::sym_int8;
      return base == QType::sym_int8 ? QType::sym_int8 : QType::q6_k;
    }
    case Role::attn_v:
    case Role::attn_qkv: {  // llama.cpp counts a fused QKV as attn_v
      QType t = base;
      switch (mix) {
        case Mix::q2_k: t = s.n_gqa >= 4 ? QType::q4_k : QType::q3_k; break;
        case Mix::q3_k_m: t = i < 2 ? QType::q5_k : QType::q4_k; break;
        case Mix::q3_k_l: t = QType::q5_k; break;
        case Mix::iq4_nl:
        case Mix::iq4_xs: if (s.n_gqa >= 4) t = QType::q5_k; break;
        case Mix::q4_k_m:
        case Mix::q5_k_m: if (more_bits(i, n)) t = QType::q6_k; break;
        case Mix::q4_k_s: if (i < 4) t = QType::q5_k; break;
        default: break;
      }
      return moe8 ? QType::sym_int8 : t;
    }
    case Role::attn_k:
      return moe8 ? QType::sym_int8 : base;
    case Role::ffn_down:
      switch (mix) {
        case Mix::q2_k: return QType::q3_k;
        case Mix::q3_k_m: return i < n / 16 ? QType::q5_k : (!s.falcon || more_bits(i, n)) ? QType::q4_k : QType::q3_k;
        case Mix::q3_k_l: return s.falcon ? QType::q4_k : QType::q5_k;
        case Mix::q4_k_m:
          if (s.falcon) return i < n / 16 ? QType::q6_k : more_bits(i, n) ? QType::q5_k : QType::q4_k;
          return more_bits(i, n) ? QType::q6_k : base;
        case Mix::iq4_nl:
        case Mix::iq4_xs: return i < n / 8 && !s.has_imatrix ? QType::q5_k : base;
        case Mix::q5_k_m: return more_bits(i, n) ? QType::q6_k : base;
        case Mix::q4_k_s: return !s.falcon && i < n / 8 ? QType::q5_k : base;
        case Mix::q4_0: return s.has_imatrix && i < n / 8 ? QType::asym_int4 : base;
        case Mix::q5_0: return s.has_imatrix && i < n / 8 ? QType::asym_int5 : base;
        default: return base;
      }
    case Role::attn_output:
      if (s.falcon) return mix == Mix::q3_k_l ? QType::q4_k : base;
      if (moe8) {
        switch (mix) {
          case Mix::q2_k: case Mix::q3_k_s: case Mix::q3_k_m: case Mix::iq4_nl: case Mix::q4_k_s: case Mix::q4_k_m:
          case Mix::iq4_xs: return QType::q5_k;
          default: return base;
        }
      }
      switch (mix) {
        case Mix::q2_k: return QType::q3_k;
        case Mix::q3_k_m: return QType::q4_k;
        case Mix::q3_k_l: return QType::q5_k;
        default: return base;
      }
    default:
      return base;
  }
}

}  // namespace

bool mix_named(const std::string& name, Mix& out) {
  for (size_t i = 0; i < std::size(kMixes); ++i) {
    if (name == kMixes[i].name) {
      out = static_cast<Mix>(i);
      return true;
    }
  }
  return false;
}

const char* mix_name(Mix m) { return kMixes[static_cast<int>(m)].name; }
QType mix_base(Mix m) { return kMixes[static_cast<int>(m)].base; }
int mix_ftype(Mix m) { return kMixes[static_cast<int>(m)].ftype; }

Role role_of(const std::string& n) {
  const auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
  if (n == "output.weight") return Role::output;
  if (n == "token_embd.weight") return Role::token_embd;
  if (has("attn_qkv.weight")) return Role::attn_qkv;
  if (has("attn_v.weight")) return Role::attn_v;
  if (has("attn_k.weight")) return Role::attn_k;
  if (has("attn_q.weight")) return Role::attn_q;
  if (has("attn_output.weight")) return Role::attn_output;
  if (has("ffn_up")) return Role::ffn_up;
  if (has("ffn_gate")) return Role::ffn_gate;
  if (has("ffn_down")) return Role::ffn_down;
  return Role::other;
}

LowBit tensor_low_bit(const LowBit& lb, const Site& s) {
  const bool classifier = s.role == Role::output || (s.role == Role::token_embd && s.tied_output);
  switch (lb.kind()) {
    case LowBit::Kind::keep:
    case LowBit::Kind::f32:
      return lb;
    case LowBit::Kind::quant:
      // bigdl-llm's rule: the classifier keeps at least 8 bits.
      return classifier && lb.bits_per_weight() < 8.0 ? single(QType::sym_int8) : lb;
    case LowBit::Kind::mix:
      return single(mix_type(static_cast<Mix>(lb.quant_index()), s));
  }
  return lb;
}

}  // namespace bigdl::llm::detail
