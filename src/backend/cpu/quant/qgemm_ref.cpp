// x8 packing and the scalar reference of the packed int8-activation GEMM (qgemm.h).
// The reference is the spec the SIMD variants must reproduce bit for bit: same
// integer sums, same f32 products and fmas, in the same order.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/quant/qgemm.h"
#include "bigdl/dtype.h"

namespace bigdl::detail::quant {

namespace {

// Per 32-weight type: the block's fp16 header fields (d, and m for the asym types),
// whether a 32-bit qh of fifth bits follows them, and the bytes of its qs.
struct PackInfo {
  int64_t n_scales;  // fp16 fields per block (1: d; 2: d, m)
  bool qh;           // Q5_0 / Q5_1: 4 bytes of fifth bits before qs
  int64_t qs_bytes;  // 16 (4-bit nibbles) or 32 (8-bit)
  const int8_t* lut = nullptr;  // nf4 / fp4: the int8 level of each 4-bit code
  float divisor = 1.0f;         // nf4 / fp4: the final division (127 / 12), as vec_dot_q8
};

bool pack_info(QType type, PackInfo& p) {
  switch (type) {
    case QType::sym_int4: p = {1, false, 16}; return true;
    case QType::asym_int4: p = {2, false, 16}; return true;
    case QType::sym_int5: p = {1, true, 16}; return true;
    case QType::asym_int5: p = {2, true, 16}; return true;
    case QType::sym_int8: p = {1, false, 32}; return true;
    case QType::nf4: p = {1, false, 16, kNf4Levels8, 127.0f}; return true;
    case QType::fp4: p = {1, false, 16, kFp4Levels8, 12.0f}; return true;
    case QType::iq4_nl: p = {1, false, 16, kIq4nlLevels, 1.0f}; return true;
    default: return false;
  }
}

// How a tile stores one field of the block (qgemm.h): `row_bytes` bytes per row, the 8
// rows' copies one after another in the tile, in the order of the layout's fields.
struct Field {
  enum Kind : uint8_t {
    half,      // 2 bytes (an fp16 scale, or IQ4_XS's scales_h): row r at 2r
    lanes,     // `bytes` bytes, a multiple of 4: vector j holds row r's bytes 4j..4j+3 at 32j + 4r
    qh2,       // Q5_0 / Q5_1's 32-bit qh, bit-permuted (qh2_byte)
    iq4xs_sc,  // IQ4_XS's scales_h + scales_l (6 bytes) as 8 int8 sub-block scales ls - 32, as lanes
  };
  Kind kind;
  int off;    // byte offset in the block
  int bytes;  // bytes in the block
  int row_bytes() const { return kind == iq4xs_sc ? 8 : bytes; }
};
struct Layout {
  int n = 0;
  Field f[5];
};

bool layout(QType type, Layout& l) {
  PackInfo p;
  if (pack_info(type, p)) {
    int off = 0;
    for (int64_t i = 0; i < p.n_scales; ++i, off += 2) l.f[l.n++] = {Field::half, off, 2};
    if (p.qh) l.f[l.n++] = {Field::qh2, off, 4}, off += 4;
    l.f[l.n++] = {Field::lanes, off, static_cast<int>(p.qs_bytes)};
    return true;
  }
  switch (type) {  // offsets: the ggml structs of quant.h
    case QType::q4_k: l = {4, {{Field::half, 0, 2}, {Field::half, 2, 2}, {Field::lanes, 4, 12}, {Field::lanes, 16, 128}}}; return true;
    case QType::q5_k:
      l = {5, {{Field::half, 0, 2}, {Field::half, 2, 2}, {Field::lanes, 4, 12}, {Field::lanes, 16, 32}, {Field::lanes, 48, 128}}};
      return true;
    case QType::q6_k: l = {4, {{Field::half, 208, 2}, {Field::lanes, 192, 16}, {Field::lanes, 128, 64}, {Field::lanes, 0, 128}}}; return true;
    case QType::iq4_xs: l = {3, {{Field::half, 0, 2}, {Field::iq4xs_sc, 2, 6}, {Field::lanes, 8, 128}}}; return true;
    default: return false;
  }
}

// The qh2 byte of row r, lane byte b (0..3) from the row's 32 fifth bits: bit j (j = 0..3)
// is weight 4j + b's, bit 4 + j is weight 16 + 4j + b's (qgemm.h).
uint8_t qh2_byte(uint32_t qh, int b) {
  uint8_t v = 0;
  for (int j = 0; j < 4; ++j) {
    v = static_cast<uint8_t>(v | (((qh >> (4 * j + b)) & 1u) << j));
    v = static_cast<uint8_t>(v | (((qh >> (16 + 4 * j + b)) & 1u) << (4 + j)));
  }
  return v;
}

// Block `blk` (its qtype_info block_bytes bytes) into slot r of `tile`, field by field.
void put_block(const Layout& l, const uint8_t* blk, int64_t r, uint8_t* tile) {
  for (int i = 0; i < l.n; ++i) {
    const Field& f = l.f[i];
    const uint8_t* src = blk + f.off;
    switch (f.kind) {
      case Field::half: std::memcpy(tile + 2 * r, src, 2); break;
      case Field::lanes:
        for (int j = 0; j < f.bytes / 4; ++j) std::memcpy(tile + 32 * j + 4 * r, src + 4 * j, 4);
        break;
      case Field::qh2: {
        uint32_t qh;
        std::memcpy(&qh, src, 4);
        for (int b = 0; b < 4; ++b) tile[4 * r + b] = qh2_byte(qh, b);
        break;
      }
      case Field::iq4xs_sc: {
        const uint32_t hi = src[0] | (src[1] << 8);
        for (int j = 0; j < 8; ++j) {
          const int ls = ((src[2 + j / 2] >> (4 * (j % 2))) & 0x0F) | (((hi >> (2 * j)) & 3) << 4);
          tile[32 * (j / 4) + 4 * r + j % 4] = static_cast<uint8_t>(static_cast<int8_t>(ls - 32));
        }
        break;
      }
    }
    tile += kPackRows * f.row_bytes();
  }
}
void get_block(const Layout& l, const uint8_t* tile, int64_t r, uint8_t* blk) {
  for (int i = 0; i < l.n; ++i) {
    const Field& f = l.f[i];
    uint8_t* dst = blk + f.off;
    switch (f.kind) {
      case Field::half: std::memcpy(dst, tile + 2 * r, 2); break;
      case Field::lanes:
        for (int j = 0; j < f.bytes / 4; ++j) std::memcpy(dst + 4 * j, tile + 32 * j + 4 * r, 4);
        break;
      case Field::qh2: {
        uint32_t qh = 0;
        for (int b = 0; b < 4; ++b) {
          const uint32_t v = tile[4 * r + b];
          for (int j = 0; j < 4; ++j) {
            qh |= ((v >> j) & 1u) << (4 * j + b);
            qh |= ((v >> (4 + j)) & 1u) << (16 + 4 * j + b);
          }
        }
        std::memcpy(dst, &qh, 4);
        break;
      }
      case Field::iq4xs_sc: {
        uint32_t hi = 0;
        std::memset(dst + 2, 0, 4);
        for (int j = 0; j < 8; ++j) {
          const int ls = static_cast<int8_t>(tile[32 * (j / 4) + 4 * r + j % 4]) + 32;
          dst[2 + j / 2] = static_cast<uint8_t>(dst[2 + j / 2] | ((ls & 0x0F) << (4 * (j % 2))));
          hi |= static_cast<uint32_t>(ls >> 4) << (2 * j);
        }
        dst[0] = static_cast<uint8_t>(hi & 0xFF);
        dst[1] = static_cast<uint8_t>(hi >> 8);
        break;
      }
    }
    tile += kPackRows * f.row_bytes();
  }
}

// Tile offsets of the 32-weight types' qh2 and qs fields.
int64_t tile_qh_offset(const PackInfo& p) { return 16 * p.n_scales; }
int64_t tile_qs_offset(const PackInfo& p) { return 16 * p.n_scales + (p.qh ? 32 : 0); }

float h2f(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// The stored level of weight i (0..31) of row r in a tile's qs.
int level_q4(const uint8_t* qs, int64_t r, int i) {
  const int j = (i % 16) / 4;
  const uint8_t byte = qs[32 * j + 4 * r + i % 4];
  return i < 16 ? (byte & 0x0F) : (byte >> 4);
}
// Q5: the nibble plus 16 times the fifth bit from the tile's qh2.
int level_q5(const uint8_t* qh2, const uint8_t* qs, int64_t r, int i) {
  const int j = (i % 16) / 4, b = i % 4;
  const int bit = (qh2[4 * r + b] >> (i < 16 ? j : 4 + j)) & 1;
  return level_q4(qs, r, i) | (bit << 4);
}
int level_q8(const uint8_t* qs, int64_t r, int i) {
  return static_cast<int8_t>(qs[32 * (i / 4) + 4 * r + i % 4]);
}

void gemm_ref(QType type, int64_t nb, const void* group, const BlockQ8A* x, int64_t n, float* y, int64_t ldy) {
  PackInfo p;
  pack_info(type, p);
  const int64_t tb = packed_tile_bytes(type);
  const bool asym = p.n_scales == 2;
  // The zero point of the sym types' unsigned levels (Q8_0's and the codebooks' levels are
  // signed: none).
  const float zero = type == QType::sym_int4 ? 8.0f : type == QType::sym_int5 ? 16.0f : 0.0f;
  const auto* g = static_cast<const uint8_t*>(group);
  for (int64_t t = 0; t < n; ++t) {
    const BlockQ8A* xt = x + t * nb;
    for (int64_t r = 0; r < kPackRows; ++r) {
      float acc = 0.0f, corr = 0.0f;
      for (int64_t k = 0; k < nb; ++k) {
        const uint8_t* tile = g + k * tb;
        const uint8_t* qs = tile + tile_qs_offset(p);
        const float d = h2f(tile + 2 * r);
        int32_t isum = 0;
        for (int i = 0; i < 32; ++i) {
          const int q = type == QType::sym_int8 ? level_q8(qs, r, i)
                        : p.qh                  ? level_q5(tile + tile_qh_offset(p), qs, r, i)
                        : p.lut                 ? p.lut[level_q4(qs, r, i)]
                                                : level_q4(qs, r, i);
          isum += q * xt[k].qs[i];
        }
        acc = std::fma(d * xt[k].d, static_cast<float>(isum), acc);
        if (zero != 0.0f) corr = std::fma(d, xt[k].s, corr);
        if (asym) corr = std::fma(h2f(tile + 16 + 2 * r), xt[k].sm, corr);
      }
      float out = acc;
      if (zero != 0.0f) out = std::fma(-zero, corr, acc);
      if (asym) out = acc + corr;
      if (p.lut) out = acc / p.divisor;
      y[t * ldy + r] = out;
    }
  }
}


// The super-block types (qgemm.h): each row's block read back from the tile and decoded
// to its integer form once, then met by all n activation rows.
void gemm_ref_k(QType type, int64_t nb, const void* group, const BlockQ8K* x, int64_t n, float* y, int64_t ldy) {
  Layout l;
  layout(type, l);
  const int64_t tb = packed_tile_bytes(type);
  const auto* g = static_cast<const uint8_t*>(group);
  uint8_t blk[sizeof(BlockQ6K)];  // the largest of Q4_K / Q5_K / Q6_K / IQ4_XS
  static_assert(sizeof(BlockQ6K) >= sizeof(BlockQ5K) && sizeof(BlockQ6K) >= sizeof(BlockIQ4XS));
  KBlockInts o;
  std::vector<float> acc(static_cast<size_t>(n));
  for (int64_t r = 0; r < kPackRows; ++r) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int64_t k = 0; k < nb; ++k) {
      get_block(l, g + k * tb, r, blk);
      decode_k_ints(type, blk, o);
      for (int64_t t = 0; t < n; ++t) {
        const BlockQ8K& xb = x[t * nb + k];
        int32_t isum = 0, msum = 0;
        for (int gi = 0; gi < 16; ++gi) {
          int32_t s = 0;
          for (int i = 16 * gi; i < 16 * gi + 16; ++i) s += o.q[i] * xb.qs[i];
          isum += o.sc[gi] * s;
          msum += o.mn[gi] * xb.bsums[gi];
        }
        float& a = acc[size_t(t)];
        if (o.has_min) a = std::fma(o.dmin * xb.d, -static_cast<float>(msum), a);
        a = std::fma(o.d * xb.d, static_cast<float>(isum), a);
      }
    }
    for (int64_t t = 0; t < n; ++t) y[t * ldy + r] = acc[size_t(t)];
  }
}

#define BIGDL_GEMM_REF(name, fn, Act)                                                                 \
  void gemm_ref_##name(int64_t nb, const void* g, const void* x, int64_t n, float* y, int64_t ldy) {     \
    fn(QType::name, nb, g, static_cast<const Act*>(x), n, y, ldy);                                      \
  }                                                                                                     \
  void gemv2_ref_##name(int64_t nb, const void* ga, const void* gb, const void* x, float* ya, float* yb) { \
    fn(QType::name, nb, ga, static_cast<const Act*>(x), 1, ya, 0);                                      \
    fn(QType::name, nb, gb, static_cast<const Act*>(x), 1, yb, 0);                                      \
  }
BIGDL_GEMM_REF(sym_int4, gemm_ref, BlockQ8A)
BIGDL_GEMM_REF(asym_int4, gemm_ref, BlockQ8A)
BIGDL_GEMM_REF(sym_int5, gemm_ref, BlockQ8A)
BIGDL_GEMM_REF(asym_int5, gemm_ref, BlockQ8A)
BIGDL_GEMM_REF(sym_int8, gemm_ref, BlockQ8A)
BIGDL_GEMM_REF(nf4, gemm_ref, BlockQ8A)
BIGDL_GEMM_REF(fp4, gemm_ref, BlockQ8A)
BIGDL_GEMM_REF(iq4_nl, gemm_ref, BlockQ8A)
BIGDL_GEMM_REF(q4_k, gemm_ref_k, BlockQ8K)
BIGDL_GEMM_REF(q5_k, gemm_ref_k, BlockQ8K)
BIGDL_GEMM_REF(q6_k, gemm_ref_k, BlockQ8K)
BIGDL_GEMM_REF(iq4_xs, gemm_ref_k, BlockQ8K)
#undef BIGDL_GEMM_REF

}  // namespace

bool packable(QType type) {
  Layout l;
  return layout(type, l);
}

int64_t packed_tile_bytes(QType type) {
  // A table: the ops ask per row group in the decode loop.
  static const auto table = [] {
    std::array<int64_t, kNumQTypes> t{};
    for (int i = 0; i < kNumQTypes; ++i) {
      Layout l;
      if (layout(static_cast<QType>(i), l))
        for (int f = 0; f < l.n; ++f) t[size_t(i)] += kPackRows * l.f[f].row_bytes();
    }
    return t;
  }();
  return table[static_cast<size_t>(type)];
}

int64_t packed_bytes(QType type, int64_t rows, int64_t cols) {
  return rows / kPackRows * (cols / qtype_info(type).block_size) * packed_tile_bytes(type);
}

void pack_rows(QType type, const void* src, int64_t rows, int64_t cols, void* dst) {
  Layout l;
  if (!layout(type, l)) return;
  const int64_t nb = cols / qtype_info(type).block_size, bb = qtype_info(type).block_bytes, tb = packed_tile_bytes(type);
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < rows / kPackRows; ++g)
    for (int64_t r = 0; r < kPackRows; ++r) {
      const uint8_t* row = s + (g * kPackRows + r) * nb * bb;
      for (int64_t k = 0; k < nb; ++k) put_block(l, row + k * bb, r, d + (g * nb + k) * tb);
    }
}

void unpack_row(QType type, const void* packed, int64_t cols, int64_t r, void* dst) {
  Layout l;
  if (!layout(type, l)) return;
  const int64_t nb = cols / qtype_info(type).block_size, bb = qtype_info(type).block_bytes, tb = packed_tile_bytes(type);
  const auto* g = static_cast<const uint8_t*>(packed) + (r / kPackRows) * nb * tb;
  for (int64_t k = 0; k < nb; ++k) get_block(l, g + k * tb, r % kPackRows, static_cast<uint8_t*>(dst) + k * bb);
}

PackedKernels make_packed_kernels(const char* name, const PackedGemmFn (&gemm)[kNumPackedTypes],
                                  const PackedGemv2Fn (&gemv2)[kNumPackedTypes]) {
  PackedKernels t{};
  t.name = name;
  for (int i = 0; i < kNumPackedTypes; ++i) {
    t.gemm[static_cast<int>(kPackedTypes[i])] = gemm[i];
    t.gemv2[static_cast<int>(kPackedTypes[i])] = gemv2[i];
  }
  return t;
}

const PackedKernels& packed_kernels_ref() {
  static const PackedKernels table =
      make_packed_kernels("scalar",
                          {gemm_ref_sym_int4, gemm_ref_asym_int4, gemm_ref_sym_int5, gemm_ref_asym_int5, gemm_ref_sym_int8,
                           gemm_ref_nf4, gemm_ref_fp4, gemm_ref_iq4_nl, gemm_ref_q4_k, gemm_ref_q5_k, gemm_ref_q6_k,
                           gemm_ref_iq4_xs},
                          {gemv2_ref_sym_int4, gemv2_ref_asym_int4, gemv2_ref_sym_int5, gemv2_ref_asym_int5,
                           gemv2_ref_sym_int8, gemv2_ref_nf4, gemv2_ref_fp4, gemv2_ref_iq4_nl, gemv2_ref_q4_k,
                           gemv2_ref_q5_k, gemv2_ref_q6_k, gemv2_ref_iq4_xs});
  return table;
}

const PackedKernels* packed_kernels_for(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(detect_isa())) return nullptr;
  switch (isa) {
    case Isa::scalar: return &packed_kernels_ref();
    case Isa::avx2: return &packed_kernels_avx2();
    case Isa::avx512: return nullptr;  // no 512-bit variant: packed_kernels() uses the AVX2 one there
    case Isa::avx512vnni: return &packed_kernels_avx512vnni();
  }
  return nullptr;
}

const PackedKernels& packed_kernels() {
  static const PackedKernels* const table = [] {
    const Isa isa = chosen_isa();
    if (isa == Isa::avx512) return packed_kernels_for(Isa::avx2);
    return packed_kernels_for(isa);
  }();
  return *table;
}

}  // namespace bigdl::detail::quant
