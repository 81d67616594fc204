// Weights of an LLM in memory: a typed [rows, cols] matrix (Weight), the huge-page arena
// the packed copies live in, packing for the x8 kernels, and conversion to a low-bit type
// (LoadOptions::low_bit). The compute ops that read them are in llm/ops.h.
// Internal to src/llm; the public API is include/bigdl/llm/model.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/quant/quant.h"
#include "bigdl/io/gguf.h"
#include "bigdl/llm/low_bit.h"

namespace bigdl::llm::detail {

namespace quant = bigdl::detail::quant;

// A [rows, cols] row-major weight matrix: F32, or blocks of a quant type (incl. F16 /
// BF16), in place in a file mapping or owned by the model.
struct Weight {
  std::string name;  // the GGUF tensor name (a slice of a fused tensor keeps the tensor's name)
  int64_t rows = 0;
  int64_t cols = 0;
  bool is_f32 = true;
  quant::QType qtype = quant::QType::sym_int8;  // when !is_f32
  const uint8_t* data = nullptr;
  // x8 row-interleaved copy of rows [0, 8 * (rows / 8)) (backend/cpu/quant/qgemm.h),
  // made by pack_weight for the quant::packable types (Q4_0 ... IQ4_NL, Q4_K, Q5_K, Q6_K,
  // IQ4_XS); null otherwise.
  // When set, the ops read it (and `data` only for the rows % 8 tail rows); `data` stays
  // the original blocks for copy_row, conversion and export. A model may free the
  // original of a matrix whose rows are all packed and set `data` to null: copy_row and
  // unpack_weight then read the packed copy.
  const uint8_t* packed = nullptr;

  bool empty() const { return rows == 0; }
  // Rows [r0, r0 + n) as a Weight of their own (no copy: rows are contiguous). Only
  // before packing.
  Weight rows_slice(int64_t r0, int64_t n) const;
};

// The memory every packed weight of a model lives in: one anonymous mapping, 2 MiB
// aligned, with transparent huge pages asked for (madvise MADV_HUGEPAGE; advisory, so
// a kernel with THP off just gives 4 KiB pages). Why: decode streams every weight once
// per token, and with 4 KiB pages the hardware prefetchers restart at every page
// boundary; on the Zen 3 of benchmarks/README.md huge pages raise one thread's read
// bandwidth from ~20 to ~23 GB/s (docs/llm.md). reserve() sizes it once (pages are
// committed only as they are written); take() hands out 64-byte aligned slices of it.
class PackedArena {
 public:
  PackedArena() = default;
  PackedArena(const PackedArena&) = delete;
  PackedArena& operator=(const PackedArena&) = delete;
  ~PackedArena();
  // Maps `bytes` (rounded up to 2 MiB). Once; throws bigdl::Error when the
  // mapping fails ("[llm] cannot map N bytes for packed weights: ...").
  void reserve(int64_t bytes);
  // The next `bytes` of the reservation, 64-byte aligned; BIGDL_ASSERTs that it fits.
  uint8_t* take(int64_t bytes);

 private:
  uint8_t* base_ = nullptr;
  int64_t size_ = 0, used_ = 0;
};

// Bytes pack_weight gives w (0 when w is not packed: f32, not quant::packable, fewer than
// 8 rows, or already packed), plus the 64-byte alignment a
// PackedArena slice takes.
int64_t packed_weight_bytes(const Weight& w);
// Packs w for the x8 kernels when packed_weight_bytes(w) > 0 (sets w.packed to a slice of
// `arena`). Returns the packed bytes (0: not packable). release_source: w.data is an
// unmodified file mapping whose pages are released (release_mapped_pages) slice by slice
// as they are packed.
int64_t pack_weight(Weight& w, PackedArena& arena, bool release_source = false);
// Drops the resident pages of [p, p + n) from a read-only file mapping (madvise
// MADV_DONTNEED on the whole pages inside it); a later read faults them back in from
// the file. Only for memory that is a mapping of an unmodified file.
void release_mapped_pages(const void* p, uint64_t n);
// The original row-major blocks of w (unpacked from the packed copy when `data` is null).
std::vector<uint8_t> unpack_weight(const Weight& w);
// y[cols] = row `row` of W, dequantized when W is quantized.
void copy_row(const Weight& w, int64_t row, float* y);

// ---- types ----

// The quant type of a GGUF tensor type id, or false when no kernel reads it: q4_0..q8_0,
// the K-quants q2_K..q6_K and q8_K, iq4_nl, iq4_xs, F16 (fp16), BF16 (bf16) and bigdl's
// own ids 1024+ (nf4, nf3, fp4, fp8_*).
bool qtype_of(io::GgufType t, quant::QType& out);
// "f32, f16, bf16, q4_0, ..." : the GGUF types the engine reads, for error messages.
std::string supported_gguf_types();
// The type a matrix with rows of `cols` weights gets when `q` is asked for: q itself
// when cols is whole blocks of q, else llama-quantize's fallback (that of llama.cpp as in
// llama-cpp-python 0.3.36: q2_K, q3_K -> q4_0; iq4_xs -> iq4_nl; q4_K -> q5_0; q5_K ->
// q5_1; q6_K, q8_K -> q8_0), and false when not even that fits (cols not a multiple of
// 32: the matrix stays as stored).
bool fitting_qtype(quant::QType q, int64_t cols, quant::QType& out);
// "f32", "q4_0", ... (llama.cpp's name of a GGUF type; "unknown" for other ids).
const char* gguf_type_name(io::GgufType t);
// The GGUF tensor type and byte size of w.
io::GgufType gguf_type_of(const Weight& w);
uint64_t weight_bytes(const Weight& w);

// ---- low-bit conversion (LoadOptions::low_bit, bigdl::llm::convert) ----

// Row by row with the reference quantizer; cols a multiple of q's block size. rows *
// row_bytes bytes.
// With qw (cols importance weights, llama.cpp's imatrix) each row goes through
// quantize_row_imp (backend/cpu/quant/quantize_k.h) instead.
std::vector<uint8_t> quantize_matrix(quant::QType q, const float* x, int64_t rows, int64_t cols,
                                     const float* qw = nullptr);
// w converted as `lb` asks: w itself when nothing changes (keep; already that type; or a
// row length that is not whole blocks of 32, which stays as stored), else a converted
// copy (to fitting_qtype of the asked type: a K-quant falls back as llama-quantize does
// when the rows are not whole super-blocks) whose bytes are appended to `store`. A quantized w is
// dequantized first when it must change type. A GGUF F16 / BF16 matrix whose rows are
// not whole blocks of 32 (which the block kernels cannot read) becomes f32 whatever lb
// asks.
// qw: importance weights of w's columns for the quantizer (nullptr: none).
Weight apply_low_bit(const Weight& w, const LowBit& lb, std::vector<std::vector<uint8_t>>& store,
                     const float* qw = nullptr);
// The quant type of a LowBit that is quant(); asserts otherwise.
quant::QType low_bit_qtype(const LowBit& lb);

}  // namespace bigdl::llm::detail
