// Weights in memory: packing, page release, low-bit conversion (weights.h) and the
// public LowBit (bigdl/llm/low_bit.h).
#include "llm/weights.h"
#include "llm/low_bit_mix.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "backend/cpu/quant/qgemm.h"
#include "backend/cpu/quant/quantize_k.h"
#include "bigdl/dtype.h"  // half_to_float, bf16_to_float
#include "bigdl/error.h"
#include "core/internal.h"  // parallel_for

namespace bigdl::llm {

// ---- LowBit ----

LowBit LowBit::single(int quant_index) {
  namespace quant = bigdl::detail::quant;
  BIGDL_ASSERT(quant_index >= 0 && quant_index < quant::kNumQTypes);
  const auto& info = quant::qtype_info(static_cast<quant::QType>(quant_index));
  LowBit lb;
  lb.kind_ = Kind::quant;
  lb.index_ = quant_index;
  lb.name_ = info.name;
  lb.bpw_ = 8.0 * double(info.block_bytes) / double(info.block_size);
  return lb;
}

LowBit LowBit::parse(std::string_view name, const char* op) {
  namespace quant = bigdl::detail::quant;
  LowBit lb;
  if (name.empty()) return lb;
  if (name == "fp32") {
    lb.kind_ = Kind::f32;
    lb.name_ = "fp32";
    lb.bpw_ = 32;
    return lb;
  }
  // llama-quantize's file types first: q2_k, q6_k, iq4_nl, iq4_xs name those, not one type.
  detail::Mix mix;
  if (detail::mix_named(std::string(name), mix)) {
    const LowBit base = single(static_cast<int>(detail::mix_base(mix)));
    lb.kind_ = Kind::mix;
    lb.index_ = static_cast<int>(mix);
    lb.name_ = detail::mix_name(mix);
    lb.bpw_ = base.bpw_;
    return lb;
  }
  // bigdl-llm's "fp8" is e5m2 (ggml_tensor_qtype["fp8"] == ["fp8_e5m2"]).
  const std::string_view key = name == "fp8" ? std::string_view("fp8_e5m2") : name;
  for (int i = 0; i < quant::kNumQTypes; ++i)
    if (key == quant::qtype_info(static_cast<quant::QType>(i)).name) return single(i);
  std::string known;
  for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
  throw ValueError(bigdl::detail::cat("[", op, "] unknown low-bit type '", name, "' (known: ", known, ")"));
}

std::vector<std::string> LowBit::names() {
  namespace quant = bigdl::detail::quant;
  std::vector<std::string> r, mixes;
  detail::Mix mix;
  for (int i = 0; i < quant::kNumQTypes; ++i) {
    const std::string n = quant::qtype_info(static_cast<quant::QType>(i)).name;
    if (!detail::mix_named(n, mix)) r.push_back(n);
  }
  r.emplace_back("fp32");
#define BIGDL_LLM_MIX_NAME(name, base, ftype) r.emplace_back(#name);
  BIGDL_LLM_MIXES(BIGDL_LLM_MIX_NAME)
#undef BIGDL_LLM_MIX_NAME
  return r;
}

}  // namespace bigdl::llm

namespace bigdl::llm::detail {

namespace {
constexpr int64_t kHugePage = int64_t(2) << 20;
constexpr int64_t kSliceAlign = 64;
int64_t round_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }
int64_t group_bytes(const Weight& w) { return quant::packed_bytes(w.qtype, quant::kPackRows, w.cols); }
}  // namespace

Weight Weight::rows_slice(int64_t r0, int64_t n) const {
  BIGDL_ASSERT(r0 >= 0 && n >= 0 && r0 + n <= rows && packed == nullptr && data != nullptr);
  Weight w = *this;
  w.rows = n;
  w.data = data + r0 * (is_f32 ? cols * 4 : quant::row_bytes(qtype, cols));
  return w;
}

PackedArena::~PackedArena() {
  if (base_ != nullptr) munmap(base_, static_cast<size_t>(size_));
}

void PackedArena::reserve(int64_t bytes) {
  BIGDL_ASSERT(base_ == nullptr && bytes >= 0);
  if (bytes == 0) return;
  // Over-map by one huge page so the usable start can be 2 MiB aligned (THP needs
  // aligned 2 MiB ranges); the unused head and tail are unmapped again.
  const int64_t want = round_up(bytes, kHugePage);
  const size_t map_size = static_cast<size_t>(want + kHugePage);
  void* p = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw bigdl::Error(bigdl::detail::cat("[llm] cannot map ", bytes, " bytes for packed weights: ", std::strerror(errno)));
  const auto a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (a + kHugePage - 1) / kHugePage * kHugePage;
  if (start > a) munmap(p, start - a);
  const uintptr_t end = a + map_size, used_end = start + static_cast<uintptr_t>(want);
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
  base_ = reinterpret_cast<uint8_t*>(start);
  size_ = want;
#ifdef MADV_HUGEPAGE
  madvise(base_, static_cast<size_t>(size_), MADV_HUGEPAGE);  // advisory: a failure changes nothing
#endif
}

uint8_t* PackedArena::take(int64_t bytes) {
  const int64_t n = round_up(bytes, kSliceAlign);
  BIGDL_ASSERT(base_ != nullptr && used_ + n <= size_);
  uint8_t* p = base_ + used_;
  used_ += n;
  return p;
}

int64_t packed_weight_bytes(const Weight& w) {
  if (w.is_f32 || w.packed || !quant::packable(w.qtype) || w.rows < quant::kPackRows ||
      w.cols % quant::qtype_info(w.qtype).block_size != 0)
    return 0;
  return round_up(quant::packed_bytes(w.qtype, w.rows, w.cols), kSliceAlign);
}

int64_t pack_weight(Weight& w, PackedArena& arena, bool release_source) {
  if (packed_weight_bytes(w) == 0) return 0;
  const int64_t bytes = quant::packed_bytes(w.qtype, w.rows, w.cols);
  uint8_t* const buf = arena.take(bytes);
  // In slices of about 1 MiB of source, each released right after it is packed, so the
  // peak memory is the packed copy plus one slice (not plus the whole matrix).
  const int64_t rb = quant::row_bytes(w.qtype, w.cols), R = quant::kPackRows;
  const int64_t slice = std::max<int64_t>(1, (int64_t(1) << 20) / (R * rb)) * R;
  const int64_t packed_rows = w.rows / R * R;
  for (int64_t r0 = 0; r0 < packed_rows; r0 += slice) {
    const int64_t n = std::min(slice, packed_rows - r0);
    quant::pack_rows(w.qtype, w.data + r0 * rb, n, w.cols, buf + r0 / R * group_bytes(w));
    if (release_source) release_mapped_pages(w.data + r0 * rb, static_cast<uint64_t>(n * rb));
  }
  if (release_source && packed_rows < w.rows)
    release_mapped_pages(w.data + packed_rows * rb, static_cast<uint64_t>((w.rows - packed_rows) * rb));
  w.packed = buf;
  return bytes;
}

void release_mapped_pages(const void* p, uint64_t n) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t b = (a + page - 1) / page * page, e = (a + n) / page * page;
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);  // advisory: a failure changes nothing
}

std::vector<uint8_t> unpack_weight(const Weight& w) {
  if (w.data) return std::vector<uint8_t>(w.data, w.data + weight_bytes(w));
  const int64_t rb = quant::row_bytes(w.qtype, w.cols);
  std::vector<uint8_t> out(static_cast<size_t>(w.rows * rb));
  for (int64_t r = 0; r < w.rows; ++r) quant::unpack_row(w.qtype, w.packed, w.cols, r, out.data() + r * rb);
  return out;
}

void copy_row(const Weight& w, int64_t row, float* y) {
  if (!w.data) {  // only the packed copy is kept (Weight::packed)
    std::vector<uint8_t> blocks(static_cast<size_t>(quant::row_bytes(w.qtype, w.cols)));
    quant::unpack_row(w.qtype, w.packed, w.cols, row, blocks.data());
    quant::quant_kernels().dequantize_row[static_cast<int>(w.qtype)](blocks.data(), y, w.cols);
    return;
  }
  if (w.is_f32) {
    const float* src = reinterpret_cast<const float*>(w.data) + row * w.cols;
    std::copy(src, src + w.cols, y);
  } else {
    const int64_t rb = quant::row_bytes(w.qtype, w.cols);
    quant::quant_kernels().dequantize_row[static_cast<int>(w.qtype)](w.data + row * rb, y, w.cols);
  }
}

bool qtype_of(io::GgufType t, quant::QType& out) {
  for (int i = 0; i < quant::kNumQTypes; ++i) {
    const auto& info = quant::qtype_info(static_cast<quant::QType>(i));
    if (info.ggml_type == static_cast<int>(t)) {
      out = info.type;
      return true;
    }
  }
  return false;
}

std::string supported_gguf_types() {
  std::string r = "f32";
  for (int i = 0; i < quant::kNumQTypes; ++i) r += std::string(", ") + quant::qtype_info(static_cast<quant::QType>(i)).ggml_name;
  return r;
}

bool fitting_qtype(quant::QType q, int64_t cols, quant::QType& out) {
  using quant::QType;
  out = q;
  if (cols % quant::qtype_info(q).block_size == 0) return true;
  if (cols % quant::kBlockSize != 0) return false;
  switch (q) {
    case QType::iq4_xs: out = QType::iq4_nl; break;
    case QType::q2_k: case QType::q3_k: out = QType::sym_int4; break;
    case QType::q4_k: out = QType::sym_int5; break;
    case QType::q5_k: out = QType::asym_int5; break;
    case QType::q6_k: case QType::q8_k: out = QType::sym_int8; break;
    default: return false;  // every other type has blocks of 32
  }
  return true;
}

const char* gguf_type_name(io::GgufType t) {
  const auto* tr = io::gguf_type_traits(t);
  return tr ? tr->name : "unknown";
}

io::GgufType gguf_type_of(const Weight& w) {
  return w.is_f32 ? io::GgufType::F32 : static_cast<io::GgufType>(quant::qtype_info(w.qtype).ggml_type);
}

uint64_t weight_bytes(const Weight& w) {
  return static_cast<uint64_t>(w.rows) * (w.is_f32 ? w.cols * 4 : quant::row_bytes(w.qtype, w.cols));
}

quant::QType low_bit_qtype(const LowBit& lb) {
  BIGDL_ASSERT(lb.kind() == LowBit::Kind::quant);
  return static_cast<quant::QType>(lb.quant_index());
}

std::vector<uint8_t> quantize_matrix(quant::QType q, const float* x, int64_t rows, int64_t cols, const float* qw) {
  BIGDL_ASSERT(cols % quant::qtype_info(q).block_size == 0);
  const int64_t rb = quant::row_bytes(q, cols);
  std::vector<uint8_t> out(static_cast<size_t>(rows * rb));
  const auto fn = quant::qtype_info(q).quantize_row;
  // Rows are independent: over the thread pool (a 1.1B model's matrices quantize ~2x
  // faster at 2 threads), in chunks of at least 16 rows.
  bigdl::detail::parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      if (qw != nullptr) quant::quantize_row_imp(q, x + r * cols, out.data() + r * rb, cols, qw);
      else fn(x + r * cols, out.data() + r * rb, cols);
    }
  });
  return out;
}

Weight apply_low_bit(const Weight& w, const LowBit& lb, std::vector<std::vector<uint8_t>>& store, const float* qw) {
  if (!w.is_f32 && w.cols % quant::kBlockSize != 0) {
    // Only a GGUF F16 / BF16 tensor gets here (every other quant type is whole blocks):
    // the block kernels cannot read it, so it becomes f32 whatever lb asks (a quant
    // type would leave such a row length as stored anyway).
    BIGDL_ASSERT(w.qtype == quant::QType::fp16 || w.qtype == quant::QType::bf16);
    const auto* h = reinterpret_cast<const uint16_t*>(w.data);
    const int64_t n = w.rows * w.cols;
    std::vector<uint8_t> bytes(static_cast<size_t>(n) * sizeof(float));
    float* f = reinterpret_cast<float*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) f[i] = w.qtype == quant::QType::fp16 ? half_to_float(h[i]) : bf16_to_float(h[i]);
    store.push_back(std::move(bytes));
    Weight out = w;
    out.is_f32 = true;
    out.data = store.back().data();
    return out;
  }
  using K = LowBit::Kind;
  BIGDL_ASSERT(lb.kind() != K::mix);  // resolved per tensor first (low_bit_mix.h)
  if (lb.kind() == K::keep) return w;
  if (lb.kind() == K::f32 && w.is_f32) return w;
  quant::QType target = quant::QType::sym_int8;
  if (lb.kind() == K::quant) {
    if (!fitting_qtype(low_bit_qtype(lb), w.cols, target)) return w;
    if (!w.is_f32 && w.qtype == target) return w;
  }
  std::vector<float> deq;
  const float* src = reinterpret_cast<const float*>(w.data);
  if (!w.is_f32) {
    deq.resize(static_cast<size_t>(w.rows * w.cols));
    for (int64_t r = 0; r < w.rows; ++r) copy_row(w, r, deq.data() + r * w.cols);
    src = deq.data();
  }
  Weight out = w;
  if (lb.kind() == K::f32) {
    std::vector<uint8_t> bytes(deq.size() * sizeof(float));
    std::memcpy(bytes.data(), deq.data(), bytes.size());
    store.push_back(std::move(bytes));
    out.is_f32 = true;
  } else {
    store.push_back(quantize_matrix(target, src, w.rows, w.cols, qw));
    out.is_f32 = false;
    out.qtype = target;
  }
  out.data = store.back().data();
  return out;
}

}  // namespace bigdl::llm::detail
