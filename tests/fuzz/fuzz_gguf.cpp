// libFuzzer target: GgufFile::parse over arbitrary bytes, then every typed read of every
// metadata value, the first and last byte of every tensor, and, for every tensor of a
// type the engine reads (the 32-weight formats, the K-quants, IQ4_NL / IQ4_XS), its rows
// decoded by the reference dequantizer and dotted with int8 activations (garbage scales,
// NaN and inf included, must not crash; rows that are not whole blocks or data that runs
// past the file must have been refused by parse). Bad input must throw a bigdl::Error;
// any other exception, a sanitizer report, a hang or a big allocation is a finding. See
// docs/testing.md "Fuzzing".
#include <cstddef>
#include <cstdint>

#include <vector>

#include "backend/cpu/quant/quant.h"
#include "bigdl/error.h"
#include "bigdl/io/gguf.h"
#include "fuzz_util.h"

namespace {

using bigdl::io::GgufValue;

template <typename F>
void expect_error_or_value(F f) {
  try {
    f();
  } catch (const bigdl::Error&) {
  }
}

void read_all(const GgufValue& v) {
  (void)v.type_name();
  expect_error_or_value([&] { (void)v.as_int(); });
  expect_error_or_value([&] { (void)v.as_uint(); });
  expect_error_or_value([&] { (void)v.as_float(); });
  expect_error_or_value([&] { (void)v.as_bool(); });
  expect_error_or_value([&] { (void)v.as_string(); });
  expect_error_or_value([&] { (void)v.as_string_array(); });
  expect_error_or_value([&] { (void)v.as_int_array(); });
  expect_error_or_value([&] { (void)v.as_float_array(); });
  for (const GgufValue& a : v.arrays) read_all(a);
}

namespace quant = bigdl::detail::quant;

// Decodes up to 4096 values of t row by row with the reference table, and dots the first
// row with int8 activations of the type's kind.
void decode(const bigdl::io::GgufTensorInfo& t) {
  const quant::QTypeInfo* info = nullptr;
  for (int i = 0; i < quant::kNumQTypes; ++i)
    if (quant::qtype_info(static_cast<quant::QType>(i)).ggml_type == static_cast<int>(t.type))
      info = &quant::qtype_info(static_cast<quant::QType>(i));
  if (info == nullptr) return;
  const int64_t cols = t.shape.back();
  if (cols % info->block_size != 0) {
    // GGUF's F16 / BF16 have blocks of 1 (the engine widens such rows to f32); any other
    // type with a partial block must have been refused by parse.
    if (info->type != quant::QType::fp16 && info->type != quant::QType::bf16) __builtin_trap();
    return;
  }
  const int64_t rb = quant::row_bytes(info->type, cols);
  if (static_cast<uint64_t>(rb * (t.numel() / cols)) != t.nbytes) __builtin_trap();
  if (cols > 4096) return;
  const auto& k = quant::quant_kernels_ref();
  const int ti = static_cast<int>(info->type);
  std::vector<float> y(static_cast<size_t>(cols)), ones(static_cast<size_t>(cols), 1.0f);
  for (int64_t r = 0; r < t.numel() / cols && (r + 1) * cols <= 4096; ++r)
    k.dequantize_row[ti](t.data + r * rb, y.data(), cols);
  (void)k.vec_dot[ti](cols, t.data, ones.data());
  if (!info->int8_act) return;
  if (info->act == quant::ActQ8::k256) {
    std::vector<quant::BlockQ8K> xk(static_cast<size_t>(cols / quant::kSuperBlock));
    k.quantize_act_k(ones.data(), xk.data(), cols);
    (void)k.vec_dot_q8k[ti](cols, t.data, xk.data());
  } else {
    std::vector<quant::BlockQ8A> xq(static_cast<size_t>(cols / quant::kBlockSize));
    k.quantize_act(ones.data(), xq.data(), cols);
    (void)k.vec_dot_q8[ti](cols, t.data, xq.data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const bigdl::io::GgufFile f = bigdl::io::GgufFile::parse(data, size, "fuzz.gguf");
    for (const auto& [key, value] : f.metadata()) {
      read_all(value);
      if (f.find(key) == nullptr) __builtin_trap();
    }
    for (const auto& t : f.tensors()) {
      if (f.tensor(t.name) != &t || t.numel() < 1) __builtin_trap();
      if (t.nbytes > 0) {
        fuzz::touch(t.data);
        fuzz::touch(t.data + t.nbytes - 1);
        decode(t);
      }
    }
  } catch (const bigdl::Error&) {
  }
  return 0;
}
