// xoshiro256** seeded by SplitMix64: small state, fast, reproducible everywhere.
#include <cmath>
#include <numeric>

#include "bigdl/random.h"
#include "core/internal.h"

namespace bigdl {
namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Generator::seed_(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
  has_spare_ = false;
}

void Generator::set_state(const State& st) {
  for (int i = 0; i < 4; ++i) s_[i] = st.s[i];
  has_spare_ = st.has_spare;
  spare_ = st.spare;
}

uint64_t Generator::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::next_double() { return double(next_u64() >> 11) * 0x1.0p-53; }

double Generator::next_normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1;
  do u1 = next_double();
  while (u1 <= 0.0);
  const double u2 = next_double();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * M_PI * u2);
}

Generator& default_generator() {
  static Generator g(0x5eed);
  return g;
}
void manual_seed(uint64_t seed) { default_generator().seed_(seed); }

namespace {
template <typename F>
Tensor fill_random(const Shape& shape, DType dtype, F draw, const char* op) {
  BIGDL_CHECK(is_floating(dtype), DTypeError, op, "needs a floating dtype, got ", dtype_name(dtype));
  std::vector<double> v(size_t(shape_numel(shape)));
  for (double& x : v) x = draw();
  return from_vector(v, shape, dtype);
}
}  // namespace

Tensor rand(const Shape& shape, DType dtype, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  // As many random bits as the dtype has significand bits, so every value is exact in
  // the dtype and rounding can never produce 1.0 (a 53-bit double near 1 rounds to 1 in
  // f32/f16/bf16). For f64 this is exactly next_double().
  const int bits = dtype == DType::f64 ? 53 : dtype == DType::f32 ? 24 : dtype == DType::f16 ? 11 : 8;
  const double scale = std::ldexp(1.0, -bits);
  return fill_random(shape, dtype, [&] { return double(g.next_u64() >> (64 - bits)) * scale; }, "rand");
}
Tensor randn(const Shape& shape, DType dtype, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  return fill_random(shape, dtype, [&] { return g.next_normal(); }, "randn");
}
Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator* gen) {
  BIGDL_CHECK(low <= high, ValueError, "uniform", "low ", low, " > high ", high);
  Generator& g = gen ? *gen : default_generator();
  return fill_random(shape, dtype, [&] { return low + (high - low) * g.next_double(); }, "uniform");
}
Tensor normal(const Shape& shape, double mean, double std, DType dtype, Generator* gen) {
  BIGDL_CHECK(std >= 0, ValueError, "normal", "std must be non-negative, got ", std);
  Generator& g = gen ? *gen : default_generator();
  return fill_random(shape, dtype, [&] { return mean + std * g.next_normal(); }, "normal");
}
Tensor bernoulli(const Shape& shape, double p, DType dtype, Generator* gen) {
  BIGDL_CHECK(p >= 0 && p <= 1, ValueError, "bernoulli", "p must be in [0, 1], got ", p);
  Generator& g = gen ? *gen : default_generator();
  return fill_random(shape, dtype, [&] { return g.next_double() < p ? 1.0 : 0.0; }, "bernoulli");
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen) {
  BIGDL_CHECK(low < high, ValueError, "randint", "empty range [", low, ", ", high, ")");
  Generator& g = gen ? *gen : default_generator();
  const uint64_t span = uint64_t(high - low);
  std::vector<int64_t> v(size_t(shape_numel(shape)));
  for (int64_t& x : v) x = low + int64_t(g.next_u64() % span);
  return from_vector(v, shape, DType::i64);
}
Tensor randperm(int64_t n, Generator* gen) {
  BIGDL_CHECK(n >= 0, ValueError, "randperm", "n must be non-negative, got ", n);
  Generator& g = gen ? *gen : default_generator();
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[g.next_u64() % uint64_t(i + 1)]);
  return from_vector(v, {n}, DType::i64);
}

}  // namespace bigdl
