// Seeded, reproducible random numbers. A Generator is a counter-based stream
// (SplitMix64-seeded xoshiro256**), so the same seed gives the same tensors on every
// machine and thread count. manual_seed() reseeds the global default generator.
#pragma once

#include <cstdint>

#include "bigdl/tensor.h"

namespace bigdl {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0x5eed) { seed_(seed); }
  void seed_(uint64_t seed);
  uint64_t next_u64();
  double next_double();  // uniform [0, 1)
  double next_normal();  // standard normal
  // Full state, for checkpoints.
  struct State { uint64_t s[4]; bool has_spare; double spare; };
  State state() const { return {{s_[0], s_[1], s_[2], s_[3]}, has_spare_, spare_}; }
  void set_state(const State& st);

 private:
  uint64_t s_[4] = {0, 0, 0, 0};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

Generator& default_generator();
void manual_seed(uint64_t seed);

// Fill new tensors (gen defaults to the global generator).
Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);   // U[0,1)
Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);  // N(0,1)
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor normal(const Shape& shape, double mean, double std, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor bernoulli(const Shape& shape, double p, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen = nullptr);  // i64
Tensor randperm(int64_t n, Generator* gen = nullptr);                                    // i64

}  // namespace bigdl
