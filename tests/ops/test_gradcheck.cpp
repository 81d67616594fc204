// Gradient checks for every differentiable op and view, as one table.
//
// Adding an op adds one row: {name, inputs (shape + value range), lambda, options,
// extra dtypes}. Each row runs
//   1. gradcheck(): backward vs central differences (f64 unless the row says f32), and
//   2. forward_matches_f64(): the same lambda on inputs cast to each listed dtype
//      must match the f64 result (this is what exercises the f32 SIMD fast paths and
//      the f16/bf16 widen-compute-narrow paths against the plain f64 loops).
// Autograd engine behaviour (accumulation, retain_graph, no_grad, diamonds, grad())
// is tested by hand below the table.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "bigdl/autograd.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"
#include "ops/gradcheck.h"

namespace bigdl {
namespace {

using testing::away_from;
using testing::distinct_in;
using testing::GradCheckOptions;
using testing::InputSpec;
using testing::OpFn;
using testing::positive_in;
using testing::uniform_in;
using V = std::vector<Tensor>;

// Forward dtype tolerances relative to max(1, max |f64 result|).
constexpr double kTolF32 = 2e-6, kTolBF16 = 2e-2, kTolF16 = 3e-3;

struct DTypeTol {
  DType dtype;
  double tol;
};
const std::vector<DTypeTol> kAllFloat = {{DType::f32, kTolF32}, {DType::bf16, kTolBF16}, {DType::f16, kTolF16}};
const std::vector<DTypeTol> kF32Only = {{DType::f32, kTolF32}};
const std::vector<DTypeTol> kNone = {};

struct GradCase {
  std::string name;
  std::vector<InputSpec> inputs;
  OpFn fn;
  GradCheckOptions opts = {};
  std::vector<DTypeTol> dtypes = kAllFloat;  // forward consistency against f64
};

Tensor i64(std::vector<int64_t> v, Shape s) { return from_vector(v, s, DType::i64); }

// Joins the parts of split/chunk into one tensor so one loss covers all of them.
Tensor join(const std::vector<Tensor>& parts) {
  std::vector<Tensor> flat;
  for (const Tensor& p : parts) flat.push_back(p.reshape({-1}));
  return cat(flat, 0);
}

const GradCheckOptions kF32Linear = testing::f32_linear();
const GradCheckOptions kF32Nonlinear = testing::f32_nonlinear();

std::vector<GradCase> cases() {
  const Tensor mask31 = from_vector(std::vector<int64_t>{1, 0, 1}, {3, 1}, DType::boolean);
  std::vector<GradCase> c = {
      // ---------------------------------------------------------------- binary
      {"add", {uniform_in({3, 4}), uniform_in({3, 4})}, [](const V& x) { return add(x[0], x[1]); }},
      {"add_broadcast", {uniform_in({3, 1, 4}), uniform_in({2, 4})}, [](const V& x) { return add(x[0], x[1]); }},
      {"add_alpha", {uniform_in({2, 3}), uniform_in({3})}, [](const V& x) { return add(x[0], x[1], -2.5); }},
      {"add_same_input", {uniform_in({5})}, [](const V& x) { return add(x[0], x[0]); }},
      {"sub_broadcast", {uniform_in({3, 1, 4}), uniform_in({2, 4})}, [](const V& x) { return sub(x[0], x[1]); }},
      {"sub_lhs_broadcast", {uniform_in({4}), uniform_in({2, 3, 4})}, [](const V& x) { return sub(x[0], x[1]); }},
      {"mul_broadcast", {uniform_in({3, 1, 4}), uniform_in({2, 4})}, [](const V& x) { return mul(x[0], x[1]); }},
      {"mul_scalar_tensor", {uniform_in({2, 3}), uniform_in({})}, [](const V& x) { return mul(x[0], x[1]); }},
      {"div_broadcast", {uniform_in({3, 1, 4}), positive_in({2, 4})}, [](const V& x) { return div(x[0], x[1]); }},
      {"pow_tensor", {positive_in({3, 1, 4}), uniform_in({2, 4})}, [](const V& x) { return pow(x[0], x[1]); }},
      {"pow_scalar_3", {uniform_in({2, 5})}, [](const V& x) { return pow(x[0], 3.0); }},
      {"pow_scalar_2", {uniform_in({2, 5})}, [](const V& x) { return pow(x[0], 2.0); }},
      {"pow_scalar_half", {positive_in({2, 5})}, [](const V& x) { return pow(x[0], 0.5); }},
      {"pow_scalar_neg", {positive_in({2, 5})}, [](const V& x) { return pow(x[0], -1.5); }},
      {"pow_scalar_1", {uniform_in({2, 5})}, [](const V& x) { return pow(x[0], 1.0); }},
      {"maximum_broadcast", {uniform_in({3, 1, 4}), uniform_in({2, 4})}, [](const V& x) { return maximum(x[0], x[1]); }},
      {"minimum_broadcast", {uniform_in({3, 1, 4}), uniform_in({2, 4})}, [](const V& x) { return minimum(x[0], x[1]); }},
      {"operator_add_scalar", {uniform_in({2, 3})}, [](const V& x) { return x[0] + 2.0; }},
      {"operator_rsub_scalar", {uniform_in({2, 3})}, [](const V& x) { return 2.0 - x[0]; }},
      {"operator_mul_scalar", {uniform_in({2, 3})}, [](const V& x) { return 3.0 * x[0] * 0.5; }},
      {"operator_div_scalar", {uniform_in({2, 3})}, [](const V& x) { return x[0] / 4.0; }},
      {"operator_rdiv_scalar", {positive_in({2, 3})}, [](const V& x) { return 3.0 / x[0]; }},
      {"operator_neg", {uniform_in({2, 3})}, [](const V& x) { return -x[0]; }},
      {"operators_tensor", {uniform_in({2, 3}), positive_in({3}), uniform_in({2, 1})},
       [](const V& x) { return (x[0] + x[1]) * x[2] - x[0] / x[1]; }},
      // ---------------------------------------------------------------- unary
      {"neg", {uniform_in({2, 3, 2})}, [](const V& x) { return neg(x[0]); }},
      {"exp", {uniform_in({2, 3, 2})}, [](const V& x) { return exp(x[0]); }},
      {"log", {positive_in({2, 3, 2})}, [](const V& x) { return log(x[0]); }},
      {"sqrt", {positive_in({2, 3, 2})}, [](const V& x) { return sqrt(x[0]); }},
      {"rsqrt", {positive_in({2, 3, 2})}, [](const V& x) { return rsqrt(x[0]); }},
      {"abs", {away_from({2, 3, 2}, {0.0})}, [](const V& x) { return abs(x[0]); }},
      {"sign", {away_from({2, 3, 2}, {0.0})}, [](const V& x) { return mul(sign(x[0]), x[0]); }},
      {"sin", {uniform_in({2, 3, 2}, -3, 3)}, [](const V& x) { return sin(x[0]); }},
      {"cos", {uniform_in({2, 3, 2}, -3, 3)}, [](const V& x) { return cos(x[0]); }},
      {"tanh", {uniform_in({2, 3, 2}, -3, 3)}, [](const V& x) { return tanh(x[0]); }},
      {"sigmoid", {uniform_in({2, 3, 2}, -4, 4)}, [](const V& x) { return sigmoid(x[0]); }},
      {"relu", {away_from({2, 3, 2}, {0.0})}, [](const V& x) { return relu(x[0]); }},
      {"erf", {uniform_in({2, 3, 2}, -2, 2)}, [](const V& x) { return erf(x[0]); }},
      {"log1p", {uniform_in({2, 3, 2}, -0.5, 2)}, [](const V& x) { return log1p(x[0]); }},
      {"clamp_both", {away_from({3, 4}, {-0.5, 0.5})}, [](const V& x) { return clamp(x[0], -0.5, 0.5); }},
      {"clamp_min", {away_from({3, 4}, {-0.2})}, [](const V& x) { return clamp(x[0], -0.2, std::nullopt); }},
      {"clamp_max", {away_from({3, 4}, {0.3})}, [](const V& x) { return clamp(x[0], std::nullopt, 0.3); }},
      {"where_broadcast", {uniform_in({3, 4}), uniform_in({4})},
       [mask31](const V& x) { return where(mask31, x[0], x[1]); }},
      {"where_int_cond", {uniform_in({2, 3}), uniform_in({2, 3})},
       [](const V& x) { return where(i64({0, 2, 0, -1, 1, 0}, {2, 3}), x[0], x[1]); }},
      {"method_shorthands", {positive_in({2, 3})},
       [](const V& x) { return x[0].exp().log().sqrt().pow(3.0).abs().neg().relu() + x[0].neg().relu(); }},
      // ---------------------------------------------------------------- reductions
      {"sum_all", {uniform_in({2, 3, 4})}, [](const V& x) { return sum(x[0]); }},
      {"sum_dims", {uniform_in({2, 3, 4})}, [](const V& x) { return sum(x[0], {0, 2}); }},
      {"sum_keepdim_neg", {uniform_in({2, 3, 4})}, [](const V& x) { return x[0].sum({-1}, true); }},
      {"sum_leading", {uniform_in({4, 3, 2})}, [](const V& x) { return sum(x[0], {0, 1}); }},
      {"sum_noncontig", {uniform_in({3, 4})}, [](const V& x) { return sum(x[0].t(), {0}); }},
      {"mean_all", {uniform_in({2, 3, 4})}, [](const V& x) { return x[0].mean(); }},
      {"mean_dim", {uniform_in({2, 3, 4})}, [](const V& x) { return mean(x[0], {1}); }},
      {"mean_dims_keepdim", {uniform_in({2, 3, 4})}, [](const V& x) { return x[0].mean({0, 2}, true); }},
      {"var_all", {uniform_in({3, 4})}, [](const V& x) { return var(x[0]); }},
      {"var_dim_biased_keepdim", {uniform_in({3, 4})}, [](const V& x) { return var(x[0], {1}, false, true); }},
      {"var_dims", {uniform_in({2, 3, 4})}, [](const V& x) { return var(x[0], {0, 2}); }},
      {"amax_all", {distinct_in({3, 4})}, [](const V& x) { return amax(x[0]); }},
      {"amax_dim_keepdim", {distinct_in({3, 4})}, [](const V& x) { return amax(x[0], {1}, true); }},
      {"amin_dims", {distinct_in({2, 3, 4})}, [](const V& x) { return amin(x[0], {0, 2}); }},
      {"max_dim", {distinct_in({3, 4})}, [](const V& x) { return max(x[0], 1).first; }},
      {"max_dim0_keepdim", {distinct_in({3, 4})}, [](const V& x) { return max(x[0], 0, true).first; }},
      {"min_dim_neg", {distinct_in({2, 3, 4})}, [](const V& x) { return min(x[0], -1).first; }},
      {"norm", {uniform_in({3, 4})}, [](const V& x) { return norm(x[0]); }},
      {"sum_to", {uniform_in({2, 3, 4})}, [](const V& x) { return sum_to(x[0], {3, 1}); }},
      // ---------------------------------------------------------------- linear algebra
      {"matmul_1d_1d", {uniform_in({4}), uniform_in({4})}, [](const V& x) { return matmul(x[0], x[1]); }},
      {"matmul_1d_2d", {uniform_in({4}), uniform_in({4, 3})}, [](const V& x) { return matmul(x[0], x[1]); }},
      {"matmul_2d_1d", {uniform_in({3, 4}), uniform_in({4})}, [](const V& x) { return matmul(x[0], x[1]); }},
      {"matmul_2d", {uniform_in({3, 4}), uniform_in({4, 5})}, [](const V& x) { return x[0].matmul(x[1]); }},
      {"matmul_transposed", {uniform_in({4, 3}), uniform_in({5, 4})},
       [](const V& x) { return matmul(x[0].t(), x[1].t()); }},
      {"matmul_batched_shared_rhs", {uniform_in({2, 3, 4}), uniform_in({4, 5})},
       [](const V& x) { return matmul(x[0], x[1]); }},
      {"matmul_batched_lhs_2d", {uniform_in({3, 4}), uniform_in({2, 4, 5})}, [](const V& x) { return matmul(x[0], x[1]); }},
      {"matmul_batch_broadcast", {uniform_in({2, 1, 3, 4}), uniform_in({3, 4, 2})},
       [](const V& x) { return matmul(x[0], x[1]); }},
      {"matmul_1d_batched", {uniform_in({4}), uniform_in({2, 4, 3})}, [](const V& x) { return matmul(x[0], x[1]); }},
      {"bmm", {uniform_in({2, 3, 4}), uniform_in({2, 4, 5})}, [](const V& x) { return bmm(x[0], x[1]); }},
      {"linear_bias", {uniform_in({3, 4}), uniform_in({5, 4}), uniform_in({5})},
       [](const V& x) { return linear(x[0], x[1], x[2]); }},
      {"linear_no_bias", {uniform_in({3, 4}), uniform_in({5, 4})}, [](const V& x) { return linear(x[0], x[1], Tensor()); }},
      {"linear_3d", {uniform_in({2, 3, 4}), uniform_in({5, 4}), uniform_in({5})},
       [](const V& x) { return linear(x[0], x[1], x[2]); }},
      {"linear_1d_input", {uniform_in({4}), uniform_in({5, 4}), uniform_in({5})},
       [](const V& x) { return linear(x[0], x[1], x[2]); }},
      // The f32 fast path (own GEMM calls and backward), exact in f32 because linear.
      {"linear_f32_bias", {uniform_in({2, 3, 4}), uniform_in({5, 4}), uniform_in({5})},
       [](const V& x) { return linear(x[0], x[1], x[2]); }, kF32Linear, kNone},
      {"linear_f32_no_bias", {uniform_in({3, 4}), uniform_in({5, 4})},
       [](const V& x) { return linear(x[0], x[1], Tensor()); }, kF32Linear, kNone},
      {"linear_f32_noncontig", {uniform_in({4, 3}), uniform_in({4, 5}), uniform_in({5})},
       [](const V& x) { return linear(x[0].t(), x[1].t(), x[2]); }, kF32Linear, kNone},
      // ---------------------------------------------------------------- convolution and pooling (f32 only)
      {"conv2d_bias", {uniform_in({2, 3, 5, 5}), uniform_in({4, 3, 3, 3}), uniform_in({4})},
       [](const V& x) { return conv2d(x[0], x[1], x[2]); }, kF32Linear, kNone},
      {"conv2d_stride_pad", {uniform_in({2, 3, 6, 5}), uniform_in({4, 3, 3, 2}), uniform_in({4})},
       [](const V& x) { return conv2d(x[0], x[1], x[2], {2, 1}, {1, 2}); }, kF32Linear, kNone},
      {"conv2d_dilation", {uniform_in({1, 2, 7, 7}), uniform_in({3, 2, 3, 3})},
       [](const V& x) { return conv2d(x[0], x[1], Tensor(), {1, 1}, {1, 1}, {2, 3}); }, kF32Linear, kNone},
      {"conv2d_groups", {uniform_in({2, 4, 5, 5}), uniform_in({6, 2, 3, 3}), uniform_in({6})},
       [](const V& x) { return conv2d(x[0], x[1], x[2], {2, 2}, {1, 1}, {1, 1}, 2); }, kF32Linear, kNone},
      {"conv2d_depthwise", {uniform_in({1, 3, 4, 4}), uniform_in({3, 1, 2, 2})},
       [](const V& x) { return conv2d(x[0], x[1], Tensor(), {1, 1}, {0, 0}, {1, 1}, 3); }, kF32Linear, kNone},
      {"conv2d_noncontig_input", {uniform_in({2, 5, 5, 3}), uniform_in({2, 3, 3, 3})},
       [](const V& x) { return conv2d(x[0].permute({0, 3, 1, 2}), x[1], Tensor()); }, kF32Linear, kNone},
      {"conv1d", {uniform_in({2, 3, 9}), uniform_in({4, 3, 3}), uniform_in({4})},
       [](const V& x) { return conv1d(x[0], x[1], x[2], 2, 1, 2); }, kF32Linear, kNone},
      {"conv1d_groups", {uniform_in({1, 4, 7}), uniform_in({2, 2, 2})},
       [](const V& x) { return conv1d(x[0], x[1], Tensor(), 1, 0, 1, 2); }, kF32Linear, kNone},
      {"max_pool2d", {distinct_in({2, 2, 6, 6})}, [](const V& x) { return max_pool2d(x[0], {2, 2}, {2, 2}); },
       testing::GradCheckOptions{DType::f32, 1e-3, 1e-4, 1e-3}, kNone},
      {"max_pool2d_overlap_pad", {distinct_in({1, 2, 7, 6})},
       [](const V& x) { return max_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}); },
       testing::GradCheckOptions{DType::f32, 1e-3, 1e-4, 1e-3}, kNone},
      {"max_pool2d_3d_input", {distinct_in({2, 5, 5})}, [](const V& x) { return max_pool2d(x[0], {2, 3}, {0, 0}); },
       testing::GradCheckOptions{DType::f32, 1e-3, 1e-4, 1e-3}, kNone},
      {"avg_pool2d", {uniform_in({2, 2, 6, 6})}, [](const V& x) { return avg_pool2d(x[0], {2, 2}, {2, 2}); },
       kF32Linear, kNone},
      {"avg_pool2d_pad_include", {uniform_in({1, 2, 7, 6})},
       [](const V& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, true); }, kF32Linear, kNone},
      {"avg_pool2d_pad_exclude", {uniform_in({1, 2, 7, 6})},
       [](const V& x) { return avg_pool2d(x[0], {3, 3}, {2, 2}, {1, 1}, false); }, kF32Linear, kNone},
      {"avg_pool2d_3d_input", {uniform_in({2, 5, 5})}, [](const V& x) { return avg_pool2d(x[0], {2, 2}, {1, 2}); },
       kF32Linear, kNone},
      {"adaptive_avg_pool2d", {uniform_in({2, 2, 5, 7})},
       [](const V& x) { return adaptive_avg_pool2d(x[0], {2, 3}); }},
      {"adaptive_avg_pool2d_global", {uniform_in({2, 3, 4})},
       [](const V& x) { return adaptive_avg_pool2d(x[0], {1, 1}); }},
      // ---------------------------------------------------------------- normalisation and activations
      {"softmax_last", {uniform_in({3, 5}, -2, 2)}, [](const V& x) { return softmax(x[0], -1); }, kF32Nonlinear, kNone},
      {"softmax_dim0", {uniform_in({4, 3}, -2, 2)}, [](const V& x) { return softmax(x[0], 0); }, kF32Nonlinear, kNone},
      {"softmax_middle", {uniform_in({2, 3, 4}, -2, 2)}, [](const V& x) { return softmax(x[0], 1); }, kF32Nonlinear, kNone},
      {"log_softmax_last", {uniform_in({3, 5}, -2, 2)}, [](const V& x) { return log_softmax(x[0], -1); }, kF32Nonlinear,
       kNone},
      {"log_softmax_middle", {uniform_in({2, 3, 4}, -2, 2)}, [](const V& x) { return log_softmax(x[0], 1); },
       kF32Nonlinear, kNone},
      {"layer_norm_affine", {uniform_in({2, 3, 4}), uniform_in({4}), uniform_in({4})},
       [](const V& x) { return layer_norm(x[0], {4}, x[1], x[2]); }},
      {"layer_norm_2d_shape", {uniform_in({2, 3, 4}), uniform_in({3, 4}), uniform_in({3, 4})},
       [](const V& x) { return layer_norm(x[0], {3, 4}, x[1], x[2], 1e-3); }},
      {"layer_norm_plain", {uniform_in({3, 5})}, [](const V& x) { return layer_norm(x[0], {5}, Tensor(), Tensor()); }},
      {"rms_norm_weight", {uniform_in({2, 3, 4}), uniform_in({4})}, [](const V& x) { return rms_norm(x[0], {4}, x[1]); }},
      {"rms_norm_plain", {uniform_in({3, 5})}, [](const V& x) { return rms_norm(x[0], {5}, Tensor()); }},
      // batch_norm is a fused f32 primitive (src/core/norm.cpp).
      {"batch_norm_train_affine", {uniform_in({3, 2, 2, 2}), uniform_in({2}), uniform_in({2})},
       [](const V& x) { return batch_norm(x[0], Tensor(), Tensor(), x[1], x[2], true); }, kF32Nonlinear, kNone},
      {"batch_norm_train_running_2d", {uniform_in({5, 3})}, [](const V& x) {
         Tensor rm = zeros({3}), rv = ones({3});
         return batch_norm(x[0], rm, rv, Tensor(), Tensor(), true, 0.1, 1e-3);
       }, kF32Nonlinear, kNone},
      {"batch_norm_eval", {uniform_in({2, 3, 2}), uniform_in({3}), uniform_in({3})}, [](const V& x) {
         const Tensor rm = from_vector(std::vector<float>{0.1f, -0.2f, 0.3f}, {3});
         const Tensor rv = from_vector(std::vector<float>{0.5f, 1.5f, 2.0f}, {3});
         return batch_norm(x[0], rm, rv, x[1], x[2], false);
       }, kF32Linear, kNone},
      // lstm_layer is a fused f32 primitive with a hand-written BPTT (src/core/rnn_ops.cpp).
      {"lstm_layer",
       {uniform_in({3, 2, 3}), uniform_in({2, 4}), uniform_in({2, 4}), uniform_in({16, 3}), uniform_in({16, 4}),
        uniform_in({16}), uniform_in({16})},
       [](const V& x) { return lstm_layer(x[0], x[1], x[2], x[3], x[4], x[5], x[6]); }, kF32Nonlinear, kNone},
      {"lstm_layer_no_bias", {uniform_in({2, 1, 2}), uniform_in({1, 3}), uniform_in({1, 3}), uniform_in({12, 2}),
                              uniform_in({12, 3})},
       [](const V& x) { return lstm_layer(x[0], x[1], x[2], x[3], x[4], Tensor(), Tensor()); }, kF32Nonlinear, kNone},
      {"gelu_erf", {uniform_in({3, 4}, -3, 3)}, [](const V& x) { return gelu(x[0]); }},
      {"gelu_tanh", {uniform_in({3, 4}, -3, 3)}, [](const V& x) { return gelu(x[0], true); }},
      {"silu", {uniform_in({3, 4}, -3, 3)}, [](const V& x) { return silu(x[0]); }},
      {"leaky_relu", {away_from({3, 4}, {0.0})}, [](const V& x) { return leaky_relu(x[0], 0.1); }},
      {"elu", {away_from({3, 4}, {0.0}, -3, 3)}, [](const V& x) { return elu(x[0], 1.5); }},
      // dropout reseeds inside the lambda so every evaluation draws the same mask.
      {"dropout", {uniform_in({4, 5})}, [](const V& x) {
         manual_seed(77);
         return dropout(x[0], 0.4, true);
       }},
      // ---------------------------------------------------------------- joining and indexing
      {"cat_dim1", {uniform_in({2, 3}), uniform_in({2, 1}), uniform_in({2, 4})},
       [](const V& x) { return cat({x[0], x[1], x[2]}, 1); }},
      {"cat_dim0_neg", {uniform_in({1, 3}), uniform_in({2, 3})}, [](const V& x) { return cat({x[0], x[1]}, -2); }},
      {"stack_dim1", {uniform_in({2, 3}), uniform_in({2, 3})}, [](const V& x) { return stack({x[0], x[1]}, 1); }},
      {"stack_last", {uniform_in({3}), uniform_in({3}), uniform_in({3})},
       [](const V& x) { return stack({x[0], x[1], x[2]}, -1); }},
      {"split_uneven", {uniform_in({2, 7})}, [](const V& x) {
         auto p = split(x[0], 3, 1);
         return join({mul(p[0], p[0]), p[1], exp(p[2])});
       }},
      {"chunk", {uniform_in({5, 2})}, [](const V& x) {
         auto p = chunk(x[0], 2, 0);
         return join({p[1], mul(p[0], p[0])});
       }},
      {"index_select_repeat", {uniform_in({3, 4})},
       [](const V& x) { return index_select(x[0], 1, i64({3, 0, 3, 1, 3}, {5})); }},
      {"index_select_last_first", {uniform_in({4, 2, 3})},
       [](const V& x) { return index_select(x[0], 0, i64({3, 0, 2}, {3})); }},
      {"gather_dim1", {uniform_in({3, 4})},
       [](const V& x) { return gather(x[0], 1, i64({0, 0, 3, 1, 2, 2, 2, 2, 3, 0, 1, 0}, {3, 4})); }},
      {"gather_dim0_smaller", {uniform_in({3, 4})},
       [](const V& x) { return gather(x[0], 0, i64({2, 0, 1, 2, 2, 2}, {2, 3})); }},
      {"scatter_add_both", {uniform_in({3, 4}), uniform_in({2, 4})},
       [](const V& x) { return scatter_add(x[0], 0, i64({0, 2, 0, 1, 0, 2, 2, 1}, {2, 4}), x[1]); }},
      {"scatter_add_small_index", {uniform_in({2, 5}), uniform_in({3, 3})},
       [](const V& x) { return scatter_add(x[0], 1, i64({4, 4, 0, 1, 2, 4}, {2, 3}), x[1]); }},
      {"embedding", {uniform_in({5, 3})},
       [](const V& x) { return embedding(x[0], i64({4, 1, 4, 0, 2, 4}, {2, 3})); }},
      // ---------------------------------------------------------------- views and copies
      {"view", {uniform_in({2, 6})}, [](const V& x) { return x[0].view({3, -1, 2}); }},
      {"reshape_view", {uniform_in({2, 6})}, [](const V& x) { return x[0].reshape({4, 3}); }},
      {"reshape_copy", {uniform_in({3, 4})}, [](const V& x) { return x[0].t().reshape({2, 6}); }},
      {"transpose", {uniform_in({2, 3, 4})}, [](const V& x) { return x[0].transpose(0, 2); }},
      {"t", {uniform_in({3, 4})}, [](const V& x) { return x[0].t(); }},
      {"permute", {uniform_in({2, 3, 4})}, [](const V& x) { return x[0].permute({1, 2, 0}); }},
      {"narrow", {uniform_in({4, 5})}, [](const V& x) { return x[0].narrow(1, 1, 3); }},
      {"narrow_neg_start", {uniform_in({4, 5})}, [](const V& x) { return x[0].narrow(0, -3, 2); }},
      {"select", {uniform_in({3, 4})}, [](const V& x) { return x[0].select(1, -1); }},
      {"expand", {uniform_in({3, 1})}, [](const V& x) { return x[0].expand({2, 3, 4}); }},
      {"expand_keep", {uniform_in({1, 4})}, [](const V& x) { return x[0].expand({3, -1}); }},
      {"squeeze_all", {uniform_in({1, 3, 1, 2})}, [](const V& x) { return x[0].squeeze(); }},
      {"squeeze_dim", {uniform_in({3, 1, 2})}, [](const V& x) { return x[0].squeeze(1); }},
      {"unsqueeze", {uniform_in({3, 2})}, [](const V& x) { return x[0].unsqueeze(-1); }},
      {"unsqueeze_noncontig", {uniform_in({3, 2})}, [](const V& x) { return x[0].t().unsqueeze(1); }},
      {"flatten", {uniform_in({2, 3, 4})}, [](const V& x) { return x[0].flatten(1, 2); }},
      {"flatten_noncontig", {uniform_in({2, 3, 4})}, [](const V& x) { return x[0].transpose(0, 1).flatten(); }},
      {"contiguous", {uniform_in({3, 4})}, [](const V& x) { return x[0].t().contiguous(); }},
      {"clone", {uniform_in({3, 4})}, [](const V& x) { return x[0].narrow(1, 1, 2).clone(); }},
      {"to_f32", {uniform_in({3, 4})}, [](const V& x) { return x[0].to(DType::f32); },
       testing::GradCheckOptions{DType::f64, 1e-3, 1e-6, 1e-3}, kNone},
      {"to_f32_and_back", {uniform_in({3, 4})}, [](const V& x) { return mul(x[0].to(DType::f32).to(DType::f64), x[0]); },
       testing::GradCheckOptions{DType::f64, 1e-3, 1e-6, 1e-3}, kNone},
      {"view_chain", {uniform_in({2, 3, 4})},
       [](const V& x) { return x[0].permute({2, 0, 1}).narrow(0, 1, 2).select(1, 0).unsqueeze(0).expand({2, 2, 3}); }},
  };
  return c;
}

class GradCheck : public ::testing::TestWithParam<GradCase> {};

void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }

TEST_P(GradCheck, BackwardMatchesFiniteDifferences) {
  const GradCase& gc = GetParam();
  Generator gen(0x1234);
  std::vector<Tensor> inputs;
  for (const InputSpec& s : gc.inputs) inputs.push_back(testing::make_input(s, gen));
  EXPECT_TRUE(testing::gradcheck(gc.fn, inputs, gc.opts));
}

TEST_P(GradCheck, ForwardMatchesF64InOtherDTypes) {
  const GradCase& gc = GetParam();
  Generator gen(0x1234);
  std::vector<Tensor> inputs;
  for (const InputSpec& s : gc.inputs) inputs.push_back(testing::make_input(s, gen));
  for (const DTypeTol& d : gc.dtypes) EXPECT_TRUE(testing::forward_matches_f64(gc.fn, inputs, d.dtype, d.tol));
}

// A forward pass that is never differentiated (an eval loop without NoGradGuard) must
// free its graph with its output: no node may own its own output.
TEST_P(GradCheck, GraphIsFreedWithItsOutput) {
  const GradCase& gc = GetParam();
  Generator gen(0x1234);
  std::vector<Tensor> xs;
  for (const InputSpec& s : gc.inputs) {
    Tensor x = testing::make_input(s, gen).to(gc.opts.dtype);
    x.requires_grad_(true);
    xs.push_back(x);
  }
  std::weak_ptr<TensorImpl> out_impl;
  std::weak_ptr<Node> node;
  {
    Tensor out = gc.fn(xs);
    for (const Tensor& x : xs)
      if (out.impl() == x.impl()) GTEST_SKIP() << "op returned its input";
    ASSERT_NE(out.grad_fn(), nullptr);
    out_impl = out.impl_ptr();
    node = out.grad_fn();
  }
  EXPECT_TRUE(out_impl.expired()) << "output tensor leaked";
  EXPECT_TRUE(node.expired()) << "graph node leaked";
}

INSTANTIATE_TEST_SUITE_P(Ops, GradCheck, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<GradCase>& info) { return info.param.name; });

// ------------------------------------------------------------------ the checker itself

// An op with a deliberately wrong backward, to prove gradcheck can fail.
Tensor scaled_identity_with_bad_grad(const Tensor& x, double grad_scale, bool transpose_grad) {
  Tensor out = x.detach().clone();
  detail::record(out, "bad", {x}, [grad_scale, transpose_grad](const Tensor& g) {
    Tensor r = mul(g, scalar_tensor(grad_scale, g.dtype()));
    if (transpose_grad) r = r.t().contiguous().view(g.shape());
    return std::vector<Tensor>{r};
  });
  return out;
}

TEST(GradCheckSelfTest, CatchesWrongBackward) {
  Generator gen(1);
  const Tensor x = testing::make_input(uniform_in({3, 3}), gen);
  auto good = [](const V& v) { return scaled_identity_with_bad_grad(v[0], 1.0, false); };
  EXPECT_TRUE(testing::gradcheck(good, {x}));
  auto scaled = [](const V& v) { return scaled_identity_with_bad_grad(v[0], 1.0 + 1e-4, false); };
  EXPECT_FALSE(testing::gradcheck(scaled, {x}));  // a 1e-4 relative error is caught in f64
  auto transposed = [](const V& v) { return scaled_identity_with_bad_grad(v[0], 1.0, true); };
  EXPECT_FALSE(testing::gradcheck(transposed, {x}));  // right values, wrong places
  auto detached = [](const V& v) { return mul(v[0], v[1].detach()); };
  EXPECT_FALSE(testing::gradcheck(detached, {x, x}));  // missing gradient for input 1
  auto f32_scaled = [](const V& v) { return scaled_identity_with_bad_grad(v[0], 1.003, false); };
  EXPECT_FALSE(testing::gradcheck(f32_scaled, {x}, testing::f32_nonlinear()));
}

TEST(GradCheckSelfTest, InputSpecsHonourRangesAndKinks) {
  Generator gen(2);
  const auto p = testing::make_input(positive_in({1000}), gen).to_double_vector();
  for (double v : p) ASSERT_TRUE(v >= 0.5 && v < 2.0) << v;
  const auto a = testing::make_input(away_from({1000}, {0.0, 0.5}), gen).to_double_vector();
  for (double v : a) ASSERT_TRUE(std::abs(v) >= 0.05 && std::abs(v - 0.5) >= 0.05 && v >= -1 && v < 1) << v;
  auto d = testing::make_input(distinct_in({50}), gen).to_double_vector();
  std::sort(d.begin(), d.end());
  for (size_t i = 1; i < d.size(); ++i) ASSERT_NEAR(d[i] - d[i - 1], 2.0 / 50, 1e-12);
}

// ------------------------------------------------------------------ autograd engine

Tensor leaf(std::vector<double> v, Shape s) {
  Tensor t = from_vector(v, s, DType::f64);
  t.requires_grad_(true);
  return t;
}

void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  ASSERT_TRUE(t.defined());
  const auto got = t.to_double_vector();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = leaf({1, -2, 3}, {3});
  sum(mul(x, x)).backward();  // 2x
  expect_values(x.grad(), {2, -4, 6});
  sum(mul(x, scalar_tensor(3.0, DType::f64))).backward();  // + 3
  expect_values(x.grad(), {5, -1, 9});
}

TEST(Autograd, LeafGradDoesNotAliasUpstreamGradient) {
  // The first leaf gradient must be a private buffer: accumulating into it must not
  // change a tensor the caller passed to backward().
  Tensor x = leaf({1, 2}, {2});
  Tensor g = from_vector(std::vector<double>{10, 20}, {2}, DType::f64);
  x.clone().backward(g);
  x.clone().backward(g);
  expect_values(x.grad(), {20, 40});
  expect_values(g, {10, 20});
}

TEST(Autograd, SecondBackwardWithoutRetainGraphThrows) {
  Tensor x = leaf({0.5, 1.5}, {2});
  Tensor y = sum(exp(x));
  y.backward();
  EXPECT_THROW(y.backward(), ValueError);
  try {
    y.backward();
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("[backward]", 0), 0u) << e.what();
  }
}

TEST(Autograd, RetainGraphAllowsSecondBackward) {
  Tensor x = leaf({0.5, 1.5}, {2});
  Tensor y = sum(exp(x));
  y.backward({}, true);
  y.backward();
  expect_values(x.grad(), {2 * std::exp(0.5), 2 * std::exp(1.5)}, 1e-12);
}

TEST(Autograd, NoGradGuardRecordsNothing) {
  Tensor x = leaf({1, 2}, {2});
  EXPECT_TRUE(grad_mode_enabled());
  {
    NoGradGuard ng;
    EXPECT_FALSE(grad_mode_enabled());
    Tensor y = mul(exp(x), x).sum();
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    EXPECT_THROW(y.backward(), ValueError);
    {
      NoGradGuard nested;
    }
    EXPECT_FALSE(grad_mode_enabled());  // restored to the enclosing guard's state
  }
  EXPECT_TRUE(grad_mode_enabled());
  Tensor z = mul(x, x);
  EXPECT_TRUE(z.requires_grad());
  EXPECT_NE(z.grad_fn(), nullptr);
  EXPECT_FALSE(z.is_leaf());
}

TEST(Autograd, DiamondGraphSumsBothPaths) {
  // y = (2x) * (x + 1): x reaches y along two paths; dy/dx = 4x + 2.
  Tensor x = leaf({-1, 0.5, 2}, {3});
  Tensor a = mul(x, scalar_tensor(2.0, DType::f64));
  Tensor b = add(x, scalar_tensor(1.0, DType::f64));
  sum(mul(a, b)).backward();
  expect_values(x.grad(), {-2, 4, 10});
}

TEST(Autograd, SharedIntermediateUsedTwice) {
  // h = exp(x) feeds both factors; d/dx h*h = 2 exp(2x). The node for h must run once,
  // after both consumers have contributed.
  Tensor x = leaf({0.1, -0.3}, {2});
  Tensor h = exp(x);
  sum(add(mul(h, h), h)).backward();
  expect_values(x.grad(), {2 * std::exp(0.2) + std::exp(0.1), 2 * std::exp(-0.6) + std::exp(-0.3)}, 1e-12);
}

TEST(Autograd, GradFunctionDoesNotTouchLeafGrads) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor w = leaf({0.5, -1, 2}, {3});
  Tensor y = sum(mul(mul(x, x), w));
  auto g = grad({y}, {x, w});
  ASSERT_EQ(g.size(), 2u);
  expect_values(g[0], {1, -4, 12});  // 2 x w
  expect_values(g[1], {1, 4, 9});    // x^2
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, GradOfIntermediateAndExplicitGradOutputs) {
  Tensor x = leaf({1, 2}, {2});
  Tensor h = mul(x, scalar_tensor(3.0, DType::f64));
  Tensor y = mul(h, h);  // dy/dh = 2h = 6x
  auto g = grad({y}, {h}, {from_vector(std::vector<double>{1, 10}, {2}, DType::f64)});
  ASSERT_EQ(g.size(), 1u);
  expect_values(g[0], {6, 120});
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, GradOfUnusedInputIsUndefined) {
  Tensor x = leaf({1}, {1});
  Tensor unused = leaf({1}, {1});
  auto g = grad({sum(exp(x))}, {x, unused});
  expect_values(g[0], {std::exp(1.0)});
  EXPECT_FALSE(g[1].defined());
}

TEST(Autograd, DetachStopsGradient) {
  Tensor x = leaf({2, 3}, {2});
  Tensor y = sum(mul(x, x.detach()));  // d/dx = x (detached factor is a constant)
  y.backward();
  expect_values(x.grad(), {2, 3});
  EXPECT_FALSE(x.detach().requires_grad());
}

TEST(Autograd, NonScalarBackwardNeedsGrad) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = mul(x, x);
  EXPECT_THROW(y.backward(), ValueError);
  EXPECT_THROW(y.backward(ones({3}, DType::f64)), ShapeError);
  y.backward(from_vector(std::vector<double>{1, -1}, {2}, DType::f64));
  expect_values(x.grad(), {2, -4});
}

TEST(Autograd, HalfLeavesGetHalfGrads) {
  for (DType dt : {DType::bf16, DType::f16}) {
    Tensor x = from_vector(std::vector<float>{1.5f, -2.0f}, {2}, dt);
    x.requires_grad_(true);
    sum(mul(mul(x, x), scalar_tensor(3.0, dt))).backward();  // 6x, exact in both formats
    ASSERT_EQ(x.grad().dtype(), dt);
    expect_values(x.grad(), {9, -12});
  }
}

TEST(Autograd, F32LeafGetsF32GradThroughF64Ops) {
  Tensor x = from_vector(std::vector<float>{1.5f, -2.0f}, {2});
  x.requires_grad_(true);
  sum(mul(x.to(DType::f64), from_vector(std::vector<double>{2, 3}, {2}, DType::f64))).backward();
  ASSERT_EQ(x.grad().dtype(), DType::f32);
  expect_values(x.grad(), {2, 3});
}

// Ties: PyTorch splits the gradient of maximum/minimum evenly and amax's over all
// tied positions; max(dim) sends it to the returned index only. Finite differences
// cannot see these (the function has a kink there), so expected values are by hand.
TEST(Autograd, MaximumTieSplitsGradient) {
  Tensor a = leaf({1, 2, 3}, {3});
  Tensor b = leaf({1, 5, 0}, {3});
  sum(maximum(a, b)).backward();
  expect_values(a.grad(), {0.5, 0, 1});
  expect_values(b.grad(), {0.5, 1, 0});
}

TEST(Autograd, AmaxTieSharesGradientEvenly) {
  Tensor x = leaf({3, 1, 3, 3, 2, 0}, {2, 3});
  sum(amax(x, {1})).backward();
  expect_values(x.grad(), {0.5, 0, 0.5, 1, 0, 0});
}

TEST(Autograd, MaxDimTieSendsGradientToFirstIndex) {
  Tensor x = leaf({3, 1, 3, 3, 2, 3}, {2, 3});
  auto [v, idx] = max(x, 1);
  EXPECT_EQ(idx.to_int_vector(), (std::vector<int64_t>{0, 0}));
  sum(v).backward();
  expect_values(x.grad(), {1, 0, 0, 1, 0, 0});
}

TEST(Autograd, ReluAtZeroHasZeroGradient) {
  Tensor x = leaf({-1, 0, 1}, {3});
  sum(relu(x)).backward();
  expect_values(x.grad(), {0, 0, 1});
  Tensor y = from_vector(std::vector<float>{-1, 0, 2}, {3});  // the f32 SIMD relu_backward path
  y.requires_grad_(true);
  sum(relu(y)).backward();
  expect_values(y.grad(), {0, 0, 1});
}

TEST(Autograd, EmbeddingPaddingIdxGetsNoGradient) {
  // Row r's gradient is the sum of the output-gradient rows that picked it; row
  // padding_idx (2) gets none although its forward value is returned.
  Tensor w = leaf({0, 1, 10, 11, 20, 21, 30, 31}, {4, 2});
  Tensor idx = i64({2, 0, 2, 3, 0}, {5});
  Tensor out = embedding(w, idx, 2);
  expect_values(out, {20, 21, 0, 1, 20, 21, 30, 31, 0, 1});
  Tensor g = from_vector(std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {5, 2}, DType::f64);
  out.backward(g);
  expect_values(w.grad(), {3 + 9, 4 + 10, 0, 0, 0, 0, 7, 8});
}

TEST(Autograd, DropoutGradientIsScaledMask) {
  manual_seed(5);
  Tensor x = leaf(std::vector<double>(1000, 1.0), {1000});
  Tensor y = dropout(x, 0.25, true);
  sum(y).backward();
  const auto yv = y.to_double_vector(), gv = x.grad().to_double_vector();
  int kept = 0;
  for (size_t i = 0; i < yv.size(); ++i) {
    ASSERT_TRUE(yv[i] == 0.0 || std::abs(yv[i] - 1 / 0.75) < 1e-12) << yv[i];
    EXPECT_EQ(gv[i], yv[i]);  // x = 1, so y = mask / (1 - p) = dy/dx
    kept += yv[i] != 0.0;
  }
  EXPECT_NEAR(kept / 1000.0, 0.75, 0.05);
  Tensor e = dropout(x, 0.25, false);
  EXPECT_EQ(e.impl(), x.impl());  // identity in eval mode
}

TEST(Autograd, InPlaceOnDetachedGradIsAllowed) {
  // zero_() on .grad() (an optimizer's zero_grad) must not trip the leaf check.
  Tensor x = leaf({1, 2}, {2});
  sum(x).backward();
  x.grad().zero_();
  expect_values(x.grad(), {0, 0});
}

}  // namespace
}  // namespace bigdl
