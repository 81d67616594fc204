// libFuzzer target: GgufFile::parse over arbitrary bytes, then every typed read of every
// metadata value and the first and last byte of every tensor. Bad input must throw a
// bigdl::Error; any other exception, a sanitizer report, a hang or a big allocation is a
// finding. See docs/testing.md "Fuzzing".
#include <cstddef>
#include <cstdint>

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
      }
    }
  } catch (const bigdl::Error&) {
  }
  return 0;
}
