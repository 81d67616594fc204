// Bad input throws a typed bigdl::Error whose message starts with "[op] " naming the
// operation the caller used (STYLE item 11). One row per bad call.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "bigdl/autograd.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/tensor.h"

namespace bigdl {
namespace {

enum class Kind { shape, dtype, index, value };

struct ErrorCase {
  std::string name;
  Kind kind;
  std::string op;  // expected message prefix is "[" + op + "] "
  std::function<void()> call;
};

Tensor f32(Shape s) { return zeros(s, DType::f32); }
Tensor i64v(std::vector<int64_t> v, Shape s) { return from_vector(v, s, DType::i64); }

std::vector<ErrorCase> cases() {
  return {
      // shapes
      {"matmul_inner_mismatch", Kind::shape, "matmul", [] { matmul(f32({2, 3}), f32({4, 5})); }},
      {"matmul_batched_mismatch", Kind::shape, "matmul", [] { matmul(f32({2, 2, 3}), f32({3, 3, 2})); }},
      {"matmul_0d", Kind::shape, "matmul", [] { matmul(f32({}), f32({3})); }},
      {"matmul_int", Kind::dtype, "matmul", [] { matmul(i64v({1, 2}, {1, 2}), i64v({1, 2}, {2, 1})); }},
      {"bmm_not_3d", Kind::shape, "bmm", [] { bmm(f32({2, 3}), f32({3, 2})); }},
      {"bmm_batch_mismatch", Kind::shape, "bmm", [] { bmm(f32({2, 2, 3}), f32({3, 3, 2})); }},
      {"linear_in_mismatch", Kind::shape, "linear", [] { linear(f32({2, 3}), f32({4, 5}), Tensor()); }},
      {"linear_bias_mismatch", Kind::shape, "linear", [] { linear(f32({2, 3}), f32({4, 3}), f32({5})); }},
      {"add_broadcast", Kind::shape, "add", [] { add(f32({2, 3}), f32({4})); }},
      {"operator_plus_broadcast", Kind::shape, "add", [] { (void)(f32({2, 3}) + f32({2})); }},
      {"mul_broadcast", Kind::shape, "mul", [] { mul(f32({3, 1, 2}), f32({4, 3})); }},
      {"maximum_broadcast", Kind::shape, "maximum", [] { maximum(f32({2}), f32({3})); }},
      {"eq_broadcast", Kind::shape, "eq", [] { eq(f32({2}), f32({3})); }},
      {"where_broadcast", Kind::shape, "where", [] { where(ones({2}, DType::boolean), f32({3}), f32({3})); }},
      {"conv2d_channels", Kind::shape, "conv2d", [] { conv2d(f32({1, 3, 5, 5}), f32({2, 4, 3, 3}), Tensor()); }},
      {"conv2d_rank", Kind::shape, "conv2d", [] { conv2d(f32({3, 5, 5}), f32({2, 3, 3, 3}), Tensor()); }},
      {"conv2d_too_small", Kind::shape, "conv2d", [] { conv2d(f32({1, 1, 2, 2}), f32({1, 1, 3, 3}), Tensor()); }},
      {"conv2d_bias", Kind::shape, "conv2d", [] { conv2d(f32({1, 1, 4, 4}), f32({2, 1, 3, 3}), f32({3})); }},
      {"conv2d_groups", Kind::value, "conv2d",
       [] { conv2d(f32({1, 4, 5, 5}), f32({3, 2, 3, 3}), Tensor(), {1, 1}, {0, 0}, {1, 1}, 2); }},
      {"conv2d_stride0", Kind::value, "conv2d",
       [] { conv2d(f32({1, 1, 5, 5}), f32({1, 1, 3, 3}), Tensor(), {0, 1}); }},
      {"conv2d_f64", Kind::dtype, "conv2d",
       [] { conv2d(zeros({1, 1, 4, 4}, DType::f64), zeros({1, 1, 3, 3}, DType::f64), Tensor()); }},
      {"cumsum_dim", Kind::index, "cumsum", [] { cumsum(f32({2, 3}), 2); }},
      {"masked_fill_not_bool", Kind::dtype, "masked_fill", [] { masked_fill(f32({2}), f32({2}), 1.0); }},
      {"masked_fill_grows", Kind::shape, "masked_fill", [] { masked_fill(f32({3}), ones({2, 3}, DType::boolean), 1.0); }},
      {"topk_k", Kind::value, "topk", [] { topk(f32({2, 3}), 4, 1); }},
      {"sort_dim", Kind::index, "sort", [] { sort(f32({2, 3}), -3); }},
      {"einsum_no_arrow", Kind::value, "einsum", [] { einsum("ij,jk", {f32({2, 3}), f32({3, 2})}); }},
      {"einsum_operand_count", Kind::value, "einsum", [] { einsum("ij,jk->ik", {f32({2, 3})}); }},
      {"einsum_rank", Kind::shape, "einsum", [] { einsum("ijk->k", {f32({2, 3})}); }},
      {"einsum_size", Kind::shape, "einsum", [] { einsum("ij,jk->ik", {f32({2, 3}), f32({4, 2})}); }},
      {"einsum_diagonal", Kind::value, "einsum", [] { einsum("ii->i", {f32({3, 3})}); }},
      {"einsum_ellipsis", Kind::value, "einsum", [] { einsum("...ij->...ji", {f32({2, 3})}); }},
      {"einsum_unknown_output", Kind::value, "einsum", [] { einsum("ij->ik", {f32({2, 3})}); }},
      {"group_norm_groups", Kind::value, "group_norm", [] { group_norm(f32({2, 6, 3}), 4, Tensor(), Tensor()); }},
      {"conv_transpose2d_channels", Kind::shape, "conv_transpose2d",
       [] { conv_transpose2d(f32({1, 3, 4, 4}), f32({2, 1, 3, 3}), Tensor()); }},
      {"conv_transpose2d_output_padding", Kind::value, "conv_transpose2d",
       [] { conv_transpose2d(f32({1, 1, 4, 4}), f32({1, 1, 3, 3}), Tensor(), {2, 2}, {0, 0}, {2, 0}); }},
      {"conv_transpose1d_rank", Kind::shape, "conv_transpose1d",
       [] { conv_transpose1d(f32({1, 3, 4, 4}), f32({3, 1, 3}), Tensor()); }},
      {"conv1d_rank", Kind::shape, "conv1d", [] { conv1d(f32({1, 3, 5, 5}), f32({2, 3, 3}), Tensor()); }},
      {"max_pool2d_f64", Kind::dtype, "max_pool2d", [] { max_pool2d(zeros({1, 1, 4, 4}, DType::f64), {2, 2}, {2, 2}); }},
      {"max_pool2d_pad", Kind::value, "max_pool2d", [] { max_pool2d(f32({1, 1, 4, 4}), {2, 2}, {2, 2}, {2, 2}); }},
      {"max_pool2d_rank", Kind::shape, "max_pool2d", [] { max_pool2d(f32({4, 4}), {2, 2}, {2, 2}); }},
      {"avg_pool2d_too_small", Kind::shape, "avg_pool2d", [] { avg_pool2d(f32({1, 1, 2, 2}), {3, 3}, {1, 1}); }},
      {"adaptive_avg_pool2d_size", Kind::value, "adaptive_avg_pool2d",
       [] { adaptive_avg_pool2d(f32({1, 1, 4, 4}), {0, 2}); }},
      {"batch_norm_f64", Kind::dtype, "batch_norm",
       [] { batch_norm(zeros({2, 3}, DType::f64), Tensor(), Tensor(), Tensor(), Tensor(), true); }},
      {"batch_norm_weight", Kind::shape, "batch_norm",
       [] { batch_norm(f32({2, 3}), Tensor(), Tensor(), f32({4}), Tensor(), true); }},
      {"lstm_layer_h0", Kind::shape, "lstm_layer",
       [] { lstm_layer(f32({2, 1, 3}), f32({2, 4}), f32({1, 4}), f32({16, 3}), f32({16, 4}), Tensor(), Tensor()); }},
      {"layer_norm_shape", Kind::shape, "layer_norm", [] { layer_norm(f32({2, 3}), {4}, Tensor(), Tensor()); }},
      {"rms_norm_shape", Kind::shape, "rms_norm", [] { rms_norm(f32({2, 3}), {2, 3, 4}, Tensor()); }},
      {"cat_shapes", Kind::shape, "cat", [] { cat({f32({2, 3}), f32({3, 2})}, 0); }},
      {"cat_ranks", Kind::shape, "cat", [] { cat({f32({2, 3}), f32({3})}, 0); }},
      {"cat_empty", Kind::value, "cat", [] { cat({}, 0); }},
      {"stack_shapes", Kind::shape, "stack", [] { stack({f32({2}), f32({3})}); }},
      {"expand", Kind::shape, "expand", [] { f32({2, 3}).expand({4, 3}); }},
      {"expand_fewer_dims", Kind::shape, "expand", [] { f32({2, 3}).expand({3}); }},
      {"view_non_viewable", Kind::shape, "view", [] { f32({2, 3}).t().view({6}); }},
      {"view_numel", Kind::shape, "view", [] { f32({2, 3}).view({4}); }},
      {"view_two_infer", Kind::shape, "view", [] { f32({2, 3}).view({-1, -1}); }},
      {"reshape_numel", Kind::shape, "reshape", [] { f32({2, 3}).reshape({4, -1}); }},
      {"permute_repeat", Kind::shape, "permute", [] { f32({2, 3}).permute({0, 0}); }},
      {"permute_count", Kind::shape, "permute", [] { f32({2, 3}).permute({0}); }},
      {"empty_negative", Kind::shape, "empty", [] { empty({2, -1}); }},
      {"from_vector_count", Kind::shape, "from_vector", [] { from_vector(std::vector<float>{1, 2, 3}, {2, 2}); }},
      {"backward_grad_shape", Kind::shape, "backward",
       [] {
         Tensor x = ones({2});
         x.requires_grad_(true);
         mul(x, x).backward(ones({3}));
       }},
      {"scatter_add_src_rank", Kind::shape, "scatter_add",
       [] { scatter_add(f32({3, 2}), 0, i64v({0, 1}, {2}), f32({2, 2})); }},
      {"gather_rank", Kind::shape, "gather", [] { gather(f32({3, 2}), 0, i64v({0, 1}, {2})); }},
      {"index_select_2d_index", Kind::shape, "index_select", [] { index_select(f32({3, 2}), 0, i64v({0, 1}, {1, 2})); }},
      {"embedding_weight_rank", Kind::shape, "embedding", [] { embedding(f32({3}), i64v({0}, {1})); }},
      // indices and dims
      {"index_select_range", Kind::index, "index_select", [] { index_select(f32({3, 2}), 0, i64v({0, 3}, {2})); }},
      {"index_select_negative_range", Kind::index, "index_select",
       [] { index_select(f32({3, 2}), 1, i64v({-3}, {1})); }},
      {"index_select_negative", Kind::index, "index_select", [] { index_select(f32({3, 2}), 0, i64v({-1}, {1})); }},
      {"gather_range", Kind::index, "gather", [] { gather(f32({3, 2}), 1, i64v({0, 2}, {1, 2})); }},
      {"gather_negative", Kind::index, "gather", [] { gather(f32({3, 2}), 1, i64v({0, -1}, {1, 2})); }},
      {"scatter_add_negative", Kind::index, "scatter_add",
       [] { scatter_add(f32({3, 2}), 0, i64v({-1, 0}, {1, 2}), f32({1, 2})); }},
      {"embedding_negative", Kind::index, "embedding", [] { embedding(f32({4, 2}), i64v({1, -1}, {2})); }},
      {"ones_bytes_overflow", Kind::shape, "ones", [] { ones({int64_t(1) << 62}); }},
      {"zeros_bytes_overflow", Kind::shape, "zeros", [] { zeros({int64_t(1) << 31, int64_t(1) << 31}); }},
      {"empty_bytes_overflow", Kind::shape, "empty", [] { empty({int64_t(1) << 40, int64_t(1) << 40}, DType::i64); }},
      {"from_blob_bytes_overflow", Kind::shape, "from_blob",
       [] { float v = 0; from_blob(&v, {int64_t(1) << 40, int64_t(1) << 30}, DType::f32, nullptr); }},
      {"scatter_add_range", Kind::index, "scatter_add",
       [] { scatter_add(f32({3, 2}), 0, i64v({5, 0}, {1, 2}), f32({1, 2})); }},
      {"embedding_range", Kind::index, "embedding", [] { embedding(f32({4, 2}), i64v({1, 4}, {2})); }},
      {"one_hot_range", Kind::index, "one_hot", [] { one_hot(i64v({0, 3}, {2}), 3); }},
      {"one_hot_negative", Kind::index, "one_hot", [] { one_hot(i64v({-1}, {1}), 3); }},
      {"sum_dim", Kind::index, "sum", [] { sum(f32({2, 3}), {2}); }},
      {"mean_dim", Kind::index, "mean", [] { mean(f32({2, 3}), {-3}); }},
      {"var_dim", Kind::index, "var", [] { var(f32({2, 3}), {5}); }},
      {"amax_dim", Kind::index, "amax", [] { amax(f32({2, 3}), {2}); }},
      {"max_dim", Kind::index, "max", [] { max(f32({2, 3}), 2); }},
      {"argmin_dim", Kind::index, "argmin", [] { argmin(f32({2, 3}), -3); }},
      {"softmax_dim", Kind::index, "softmax", [] { softmax(f32({2, 3}), 2); }},
      {"log_softmax_dim", Kind::index, "log_softmax", [] { log_softmax(f32({2, 3}), -3); }},
      {"transpose_dim", Kind::index, "transpose", [] { f32({2, 3}).transpose(0, 2); }},
      {"narrow_dim", Kind::index, "narrow", [] { f32({2, 3}).narrow(2, 0, 1); }},
      {"narrow_range", Kind::index, "narrow", [] { f32({2, 3}).narrow(1, 2, 2); }},
      {"select_range", Kind::index, "select", [] { f32({2, 3}).select(0, 2); }},
      {"squeeze_dim", Kind::index, "squeeze", [] { f32({2, 3}).squeeze(3); }},
      {"unsqueeze_dim", Kind::index, "unsqueeze", [] { f32({2, 3}).unsqueeze(4); }},
      {"flatten_dim", Kind::index, "flatten", [] { f32({2, 3}).flatten(0, 2); }},
      {"size_dim", Kind::index, "size", [] { f32({2, 3}).size(2); }},
      {"cat_dim", Kind::index, "cat", [] { cat({f32({2}), f32({2})}, 1); }},
      {"stack_dim", Kind::index, "stack", [] { stack({f32({2}), f32({2})}, 2); }},
      {"split_dim", Kind::index, "split", [] { split(f32({2}), 1, 1); }},
      {"chunk_dim", Kind::index, "chunk", [] { chunk(f32({2}), 2, 1); }},
      {"gather_dim", Kind::index, "gather", [] { gather(f32({2}), 1, i64v({0}, {1})); }},
      {"index_select_dim", Kind::index, "index_select", [] { index_select(f32({2}), 1, i64v({0}, {1})); }},
      {"amax_empty", Kind::index, "amax", [] { amax(f32({0, 3}), {0}); }},
      // dtypes
      {"data_wrong_type", Kind::dtype, "data", [] { i64v({1}, {1}).data<float>(); }},
      {"data_f16_as_bf16", Kind::dtype, "data", [] { zeros({1}, DType::f16).data<BFloat16>(); }},
      {"requires_grad_int", Kind::dtype, "requires_grad_", [] { i64v({1}, {1}).requires_grad_(true); }},
      {"requires_grad_bool", Kind::dtype, "requires_grad_", [] { zeros({1}, DType::boolean).requires_grad_(); }},
      {"mean_int", Kind::dtype, "mean", [] { mean(i64v({1, 2}, {2})); }},
      {"var_int", Kind::dtype, "var", [] { var(i64v({1, 2}, {2})); }},
      {"layer_norm_int", Kind::dtype, "layer_norm", [] { layer_norm(i64v({1, 2}, {1, 2}), {2}, Tensor(), Tensor()); }},
      {"rms_norm_int", Kind::dtype, "rms_norm", [] { rms_norm(i64v({1, 2}, {1, 2}), {2}, Tensor()); }},
      {"softmax_int", Kind::dtype, "softmax", [] { softmax(i64v({1, 2}, {2}), 0); }},
      {"index_float", Kind::dtype, "index_select", [] { index_select(f32({3}), 0, f32({1})); }},
      {"gather_float_index", Kind::dtype, "gather", [] { gather(f32({3}), 0, f32({1})); }},
      {"embedding_float_index", Kind::dtype, "embedding", [] { embedding(f32({3, 2}), f32({1})); }},
      {"one_hot_float", Kind::dtype, "one_hot", [] { one_hot(f32({1}), 3); }},
      {"rand_int_dtype", Kind::dtype, "rand", [] { rand({2}, DType::i32); }},
      {"randn_int_dtype", Kind::dtype, "randn", [] { randn({2}, DType::i64); }},
      {"safetensors_name", Kind::dtype, "dtype", [] { dtype_from_safetensors("F8_E4M3"); }},
      // values
      {"item_multi", Kind::value, "item", [] { f32({2}).item(); }},
      {"item_empty", Kind::value, "item", [] { f32({0}).item(); }},
      {"requires_grad_non_leaf", Kind::value, "requires_grad_",
       [] {
         Tensor x = ones({2});
         x.requires_grad_(true);
         Tensor y = mul(x, x);
         y.requires_grad_(false);
       }},
      {"fill_leaf", Kind::value, "fill_",
       [] {
         Tensor x = ones({2});
         x.requires_grad_(true);
         x.fill_(3);
       }},
      {"zero_leaf", Kind::value, "zero_",
       [] {
         Tensor x = ones({2});
         x.requires_grad_(true);
         x.zero_();
       }},
      {"add_leaf", Kind::value, "add_",
       [] {
         Tensor x = ones({2});
         x.requires_grad_(true);
         x.add_(ones({2}));
       }},
      {"mul_leaf", Kind::value, "mul_",
       [] {
         Tensor x = ones({2});
         x.requires_grad_(true);
         x.mul_(2);
       }},
      {"copy_leaf", Kind::value, "copy_",
       [] {
         Tensor x = ones({2});
         x.requires_grad_(true);
         x.copy_(zeros({2}));
       }},
      {"backward_no_grad", Kind::value, "backward", [] { ones({1}).backward(); }},
      {"backward_non_scalar", Kind::value, "backward",
       [] {
         Tensor x = ones({2});
         x.requires_grad_(true);
         mul(x, x).backward();
       }},
      {"grad_outputs_count", Kind::value, "grad",
       [] {
         Tensor x = ones({1});
         x.requires_grad_(true);
         grad({mul(x, x)}, {x}, {ones({1}), ones({1})});
       }},
      {"set_num_threads_zero", Kind::value, "set_num_threads", [] { set_num_threads(0); }},
      {"set_num_threads_negative", Kind::value, "set_num_threads", [] { set_num_threads(-4); }},
      {"arange_step0", Kind::value, "arange", [] { arange(0, 1, 0); }},
      {"clamp_bounds", Kind::value, "clamp", [] { clamp(f32({2}), 1.0, -1.0); }},
      {"split_size0", Kind::value, "split", [] { split(f32({2}), 0); }},
      {"chunk_zero", Kind::value, "chunk", [] { chunk(f32({2}), 0); }},
      {"flatten_order", Kind::value, "flatten", [] { f32({2, 3, 4}).flatten(2, 1); }},
      {"one_hot_classes", Kind::value, "one_hot", [] { one_hot(i64v({0}, {1}), 0); }},
      {"dropout_p", Kind::value, "dropout", [] { dropout(f32({2}), 1.5, true); }},
      {"bernoulli_p", Kind::value, "bernoulli", [] { bernoulli({2}, -0.1); }},
      {"uniform_range", Kind::value, "uniform", [] { uniform({2}, 1.0, 0.0); }},
      {"normal_std", Kind::value, "normal", [] { normal({2}, 0.0, -1.0); }},
      {"randint_range", Kind::value, "randint", [] { randint(3, 3, {2}); }},
      {"randperm_negative", Kind::value, "randperm", [] { randperm(-1); }},
      {"undefined_operand", Kind::value, "add", [] { add(Tensor(), f32({1})); }},
      {"undefined_unary", Kind::value, "exp", [] { exp(Tensor()); }},
  };
}

class Errors : public ::testing::TestWithParam<ErrorCase> {};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

TEST_P(Errors, ThrowsTypedErrorNamingTheOp) {
  const ErrorCase& c = GetParam();
  const std::string prefix = "[" + c.op + "] ";
  try {
    c.call();
    FAIL() << "no exception; expected one starting with " << prefix;
  } catch (const InternalError& e) {
    FAIL() << "InternalError (a bug, not bad input): " << e.what();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(prefix, 0), 0u) << "message: " << msg;
    EXPECT_GT(msg.size(), prefix.size() + 5) << "message says nothing after the op: " << msg;
    switch (c.kind) {
      case Kind::shape: EXPECT_NE(dynamic_cast<const ShapeError*>(&e), nullptr) << "not a ShapeError: " << msg; break;
      case Kind::dtype: EXPECT_NE(dynamic_cast<const DTypeError*>(&e), nullptr) << "not a DTypeError: " << msg; break;
      case Kind::index: EXPECT_NE(dynamic_cast<const IndexError*>(&e), nullptr) << "not an IndexError: " << msg; break;
      case Kind::value: EXPECT_NE(dynamic_cast<const ValueError*>(&e), nullptr) << "not a ValueError: " << msg; break;
    }
  } catch (const std::exception& e) {
    FAIL() << "not a bigdl::Error: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, Errors, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; });

TEST(ErrorsMisc, MessagesCarryTheShapes) {
  try {
    matmul(zeros({2, 3}), zeros({4, 5}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "[matmul] shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)");
  }
  try {
    add(zeros({2, 3}), zeros({4}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "[add] shapes [2, 3] and [4] cannot be broadcast together");
  }
  try {
    index_select(zeros({3}), 0, from_vector(std::vector<int64_t>{7}, {1}));
    FAIL();
  } catch (const IndexError& e) {
    EXPECT_STREQ(e.what(), "[index_select] index 7 is out of range for dim 0 of size 3");
  }
}

TEST(ErrorsMisc, InPlaceOnLeafIsAllowedWithoutGradMode) {
  Tensor x = ones({2});
  x.requires_grad_(true);
  {
    NoGradGuard ng;
    x.fill_(2).add_(ones({2})).mul_(3);
    x.copy_(x * 2.0);
  }
  EXPECT_EQ(x.to_vector(), (std::vector<float>{18, 18}));
  EXPECT_TRUE(x.requires_grad());
}

// A tensor saved for backward and then changed in place: an error, never a wrong gradient
// (before: y.mul_(10) was allowed and z.backward() gave 80, 160, 240 instead of 8, 16, 24).
TEST(ErrorsMisc, InPlaceChangeOfASavedTensorFailsTheBackward) {
  const auto message_of = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const ValueError& e) {
      return std::string(e.what());
    }
    return std::string("(no ValueError)");
  };
  Tensor w = from_vector(std::vector<float>{1, 2, 3}, {3});
  w.requires_grad_(true);
  Tensor y = w * 2.0;
  Tensor z = sum(y * y);
  // With grad mode on, the in-place op itself is refused (autograd would not see it).
  EXPECT_EQ(message_of([&] { y.mul_(10); }).rfind("[mul_] in-place op on a tensor that requires grad", 0), 0u);
  // Without grad mode it runs, and the backward that saved y throws (as PyTorch).
  {
    NoGradGuard ng;
    y.mul_(10);
  }
  EXPECT_EQ(message_of([&] { z.backward(); }).rfind("[backward] an input of op 'mul' was modified by an in-place operation", 0),
            0u);
  // An input that needs no grad, changed through a view: the backward of w reads it.
  Tensor x = from_vector(std::vector<float>{1, 2, 3}, {3});
  Tensor v = sum(x * w);
  x.narrow(0, 1, 1).fill_(5);
  EXPECT_THROW(v.backward(), ValueError);
  // Changed before it is used: the gradient is right.
  x.fill_(2);
  Tensor u = sum(x * w);
  u.backward();
  EXPECT_EQ(w.grad().to_vector(), (std::vector<float>{2, 2, 2}));
}

TEST(ErrorsMisc, FailedOpLeavesThreadCountAndGradModeAlone) {
  const int n = get_num_threads();
  EXPECT_THROW(set_num_threads(0), ValueError);
  EXPECT_EQ(get_num_threads(), n);
  EXPECT_TRUE(grad_mode_enabled());
}

}  // namespace
}  // namespace bigdl
