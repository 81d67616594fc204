// x8 packing and the scalar reference of the packed int8-activation GEMM (qgemm.h).
// The reference is the spec the SIMD variants must reproduce bit for bit: same
// integer sums, same f32 products and fmas, in the same order.
#include <cmath>
#include <cstring>

#include "backend/cpu/quant/qgemm.h"
#include "bigdl/dtype.h"

namespace bigdl::detail::quant {

namespace {

// Per type: bytes of the block's header fields (d, and m for Q4_1) and of its qs, and
// the width of one qs "column" group copied per row into a 32-byte vector (4 bytes).
struct PackInfo {
  int64_t n_scales;  // fp16 fields per block (1: d; 2: d, m)
  int64_t qs_bytes;  // 16 (4-bit) or 32 (8-bit)
};

bool pack_info(QType type, PackInfo& p) {
  switch (type) {
    case QType::sym_int4: p = {1, 16}; return true;
    case QType::asym_int4: p = {2, 16}; return true;
    case QType::sym_int8: p = {1, 32}; return true;
    default: return false;
  }
}

// Block `blk` (its qtype_info block_bytes bytes: fp16 fields first, then qs) into slot r
// of `tile`.
void put_block(const PackInfo& p, const uint8_t* blk, int64_t r, uint8_t* tile) {
  for (int64_t f = 0; f < p.n_scales; ++f) std::memcpy(tile + f * 16 + 2 * r, blk + 2 * f, 2);
  const uint8_t* qs = blk + 2 * p.n_scales;
  uint8_t* tq = tile + 16 * p.n_scales;
  for (int64_t j = 0; j < p.qs_bytes / 4; ++j) std::memcpy(tq + 32 * j + 4 * r, qs + 4 * j, 4);
}
void get_block(const PackInfo& p, const uint8_t* tile, int64_t r, uint8_t* blk) {
  for (int64_t f = 0; f < p.n_scales; ++f) std::memcpy(blk + 2 * f, tile + f * 16 + 2 * r, 2);
  uint8_t* qs = blk + 2 * p.n_scales;
  const uint8_t* tq = tile + 16 * p.n_scales;
  for (int64_t j = 0; j < p.qs_bytes / 4; ++j) std::memcpy(qs + 4 * j, tq + 32 * j + 4 * r, 4);
}

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
int level_q8(const uint8_t* qs, int64_t r, int i) {
  return static_cast<int8_t>(qs[32 * (i / 4) + 4 * r + i % 4]);
}

void gemm_ref(QType type, int64_t nb, const void* group, const BlockQ8A* x, int64_t n, float* y, int64_t ldy) {
  const int64_t tb = packed_tile_bytes(type);
  const auto* g = static_cast<const uint8_t*>(group);
  for (int64_t t = 0; t < n; ++t) {
    const BlockQ8A* xt = x + t * nb;
    for (int64_t r = 0; r < kPackRows; ++r) {
      float acc = 0.0f, corr = 0.0f;
      for (int64_t k = 0; k < nb; ++k) {
        const uint8_t* tile = g + k * tb;
        const float d = h2f(tile + 2 * r);
        int32_t isum = 0;
        if (type == QType::sym_int8) {
          for (int i = 0; i < 32; ++i) isum += level_q8(tile + 16, r, i) * xt[k].qs[i];
        } else {
          const uint8_t* qs = tile + (type == QType::asym_int4 ? 32 : 16);
          for (int i = 0; i < 32; ++i) isum += level_q4(qs, r, i) * xt[k].qs[i];
        }
        acc = std::fma(d * xt[k].d, static_cast<float>(isum), acc);
        if (type == QType::sym_int4) corr = std::fma(d, xt[k].s, corr);
        if (type == QType::asym_int4) corr = std::fma(h2f(tile + 16 + 2 * r), xt[k].s, corr);
      }
      float out = acc;
      if (type == QType::sym_int4) out = std::fma(-8.0f, corr, acc);
      if (type == QType::asym_int4) out = acc + corr;
      y[t * ldy + r] = out;
    }
  }
}

void gemm_ref_sym_int4(int64_t nb, const void* g, const BlockQ8A* x, int64_t n, float* y, int64_t ldy) {
  gemm_ref(QType::sym_int4, nb, g, x, n, y, ldy);
}
void gemm_ref_asym_int4(int64_t nb, const void* g, const BlockQ8A* x, int64_t n, float* y, int64_t ldy) {
  gemm_ref(QType::asym_int4, nb, g, x, n, y, ldy);
}
void gemm_ref_sym_int8(int64_t nb, const void* g, const BlockQ8A* x, int64_t n, float* y, int64_t ldy) {
  gemm_ref(QType::sym_int8, nb, g, x, n, y, ldy);
}

}  // namespace

bool packable(QType type) {
  PackInfo p;
  return pack_info(type, p);
}

int64_t packed_tile_bytes(QType type) {
  PackInfo p;
  if (!pack_info(type, p)) return 0;
  return kPackRows * (2 * p.n_scales + p.qs_bytes);
}

int64_t packed_bytes(QType type, int64_t rows, int64_t cols) {
  return rows / kPackRows * (cols / kBlockSize) * packed_tile_bytes(type);
}

void pack_rows(QType type, const void* src, int64_t rows, int64_t cols, void* dst) {
  PackInfo p;
  if (!pack_info(type, p)) return;
  const int64_t nb = cols / kBlockSize, bb = qtype_info(type).block_bytes, tb = packed_tile_bytes(type);
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  for (int64_t g = 0; g < rows / kPackRows; ++g)
    for (int64_t r = 0; r < kPackRows; ++r) {
      const uint8_t* row = s + (g * kPackRows + r) * nb * bb;
      for (int64_t k = 0; k < nb; ++k) put_block(p, row + k * bb, r, d + (g * nb + k) * tb);
    }
}

void unpack_row(QType type, const void* packed, int64_t cols, int64_t r, void* dst) {
  PackInfo p;
  if (!pack_info(type, p)) return;
  const int64_t nb = cols / kBlockSize, bb = qtype_info(type).block_bytes, tb = packed_tile_bytes(type);
  const auto* g = static_cast<const uint8_t*>(packed) + (r / kPackRows) * nb * tb;
  for (int64_t k = 0; k < nb; ++k) get_block(p, g + k * tb, r % kPackRows, static_cast<uint8_t*>(dst) + k * bb);
}

PackedKernels make_packed_kernels(const char* name, PackedGemmFn sym_int4, PackedGemmFn asym_int4, PackedGemmFn sym_int8) {
  PackedKernels t{};
  t.name = name;
  t.gemm[static_cast<int>(QType::sym_int4)] = sym_int4;
  t.gemm[static_cast<int>(QType::asym_int4)] = asym_int4;
  t.gemm[static_cast<int>(QType::sym_int8)] = sym_int8;
  return t;
}

const PackedKernels& packed_kernels_ref() {
  static const PackedKernels table = make_packed_kernels("scalar", gemm_ref_sym_int4, gemm_ref_asym_int4, gemm_ref_sym_int8);
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
