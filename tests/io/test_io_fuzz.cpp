// Mutation smoke tests (no libFuzzer needed): random byte flips, truncations and
// insertions over real fixtures, with fixed seeds. Each parse must either succeed or
// throw a bigdl::Error; anything else (another exception, a crash, a sanitizer report,
// a hang) is a bug.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/io/safetensors.h"
#include "bigdl/io/torch_pickle.h"
#include "bigdl/io/zip.h"
#include "io_test_util.h"

namespace {

constexpr int kIterations = 2000;

std::vector<uint8_t> mutate(std::vector<uint8_t> b, std::mt19937& rng) {
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const size_t kind = pick(10);
  if (b.empty()) return b;
  if (kind < 7) {  // flip 1-4 bytes
    for (size_t k = 0, n = 1 + pick(4); k < n; ++k) b[pick(b.size())] = uint8_t(rng());
  } else if (kind < 8) {  // interesting values
    static const uint8_t special[] = {0x00, 0xFF, 0x7F, 0x80, 0x01, '(', '.', 'q', 'h', 0x95};
    b[pick(b.size())] = special[pick(sizeof special)];
  } else if (kind < 9) {  // truncate
    b.resize(pick(b.size()));
  } else {  // duplicate a chunk somewhere else
    const size_t from = pick(b.size()), len = 1 + pick(std::min<size_t>(16, b.size() - from));
    std::vector<uint8_t> chunk(b.begin() + ptrdiff_t(from), b.begin() + ptrdiff_t(from + len));
    b.insert(b.begin() + ptrdiff_t(pick(b.size())), chunk.begin(), chunk.end());
  }
  return b;
}

template <typename Parse>
void fuzz(const std::vector<uint8_t>& seed, uint32_t rng_seed, Parse parse, size_t* ok_count) {
  std::mt19937 rng(rng_seed);
  for (int i = 0; i < kIterations; ++i) {
    const std::vector<uint8_t> input = mutate(seed, rng);
    try {
      parse(input);
      ++*ok_count;
    } catch (const bigdl::Error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << "iteration " << i << " threw a non-bigdl exception: " << e.what();
      return;
    }
  }
}

TEST(IoFuzz, Safetensors) {
  const auto seed = io_test::read_bytes(io_test::fixture("st_all_dtypes.safetensors"));
  ASSERT_FALSE(seed.empty());
  size_t ok = 0;
  fuzz(seed, 1234, [](const std::vector<uint8_t>& b) {
    bigdl::io::parse_safetensors(b.data(), b.size(), "fuzz");
  }, &ok);
  EXPECT_GT(ok, 0u);  // flips inside tensor data still parse
}

TEST(IoFuzz, TorchZip) {
  const auto seed = io_test::read_bytes(io_test::fixture("torch_dtypes.pt"));
  ASSERT_FALSE(seed.empty());
  size_t ok = 0;
  fuzz(seed, 5678, [](const std::vector<uint8_t>& b) {
    bigdl::io::parse_torch_state_dict(b.data(), b.size(), "fuzz");
  }, &ok);
}

TEST(IoFuzz, TorchDeflateZip) {
  const auto seed = io_test::read_bytes(io_test::fixture("torch_deflate.pt"));
  size_t ok = 0;
  fuzz(seed, 91011, [](const std::vector<uint8_t>& b) {
    bigdl::io::parse_torch_state_dict(b.data(), b.size(), "fuzz");
  }, &ok);
}

// The zip CRC catches most flips before the pickle VM sees them, so also mutate data.pkl
// alone and re-zip it with a correct CRC next to the original storages.
TEST(IoFuzz, TorchPickleVm) {
  for (const char* name : {"torch_dtypes.pt", "torch_proto4.pt", "torch_nested.pt"}) {
    SCOPED_TRACE(name);
    const auto file = io_test::read_bytes(io_test::fixture(name));
    bigdl::io::ZipReader zip(file.data(), file.size(), name, "fuzz");
    io_test::ZipFiles entries;
    std::vector<uint8_t> pkl;
    size_t pkl_index = 0;
    for (const auto& e : zip.entries()) {
      if (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0)
        pkl_index = entries.size();
      entries.emplace_back(e.name, zip.read(e));
    }
    pkl = entries[pkl_index].second;
    ASSERT_FALSE(pkl.empty());
    size_t ok = 0;
    fuzz(pkl, 4242, [&](const std::vector<uint8_t>& mutated) {
      io_test::ZipFiles files = entries;
      files[pkl_index].second = mutated;
      const auto z = io_test::make_zip(files);
      bigdl::io::parse_torch_state_dict(z.data(), z.size(), "fuzz");
    }, &ok);
    EXPECT_GT(ok, 0u);
  }
}

}  // namespace
