// Tensor operations (free functions). All are differentiable where PyTorch's are,
// broadcast like NumPy/PyTorch, and promote dtypes with promote_types().
//
// Primitives (with kernels and backward functions) live in src/core/*.cpp; the
// composed ops at the bottom (gelu, layer_norm, ...) are built from primitives and
// get their gradients for free.
//
// Errors: a bad shape/dtype/index throws ShapeError/DTypeError/IndexError whose
// message starts with the op name, e.g. "[matmul] shapes [2, 3] and [4, 5] ...".
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bigdl/tensor.h"

namespace bigdl {

// ---- elementwise binary (broadcasting) ----
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha*b
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division (ints promote to f32)
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons return bool tensors and have no gradient.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
// cond ? a : b, all three broadcast together.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- elementwise unary ----
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor sign(const Tensor& a);
Tensor sin(const Tensor& a);
Tensor cos(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor erf(const Tensor& a);
Tensor log1p(const Tensor& a);
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max);

// ---- reductions (dims empty = all dims) ----
Tensor sum(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Variance with Bessel's correction when unbiased (PyTorch's default).
Tensor var(const Tensor& a, const std::vector<int64_t>& dims = {}, bool unbiased = true,
           bool keepdim = false);
Tensor amax(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& a, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Max/min along one dim: (values, indices as i64). Gradient flows to the arg positions.
std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor norm(const Tensor& a);  // 2-norm of all elements

// ---- linear algebra ----
// matmul: 1-D/2-D/batched with broadcast of batch dims, as torch.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);  // [B,n,k] x [B,k,m]
// x @ weight^T + bias, x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- convolution and pooling (NCHW / NCL) ----
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              std::pair<int64_t, int64_t> stride = {1, 1}, std::pair<int64_t, int64_t> padding = {0, 0},
              std::pair<int64_t, int64_t> dilation = {1, 1}, int64_t groups = 1);
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
Tensor max_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride,
                  std::pair<int64_t, int64_t> padding = {0, 0});
Tensor avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> kernel, std::pair<int64_t, int64_t> stride,
                  std::pair<int64_t, int64_t> padding = {0, 0}, bool count_include_pad = true);
Tensor adaptive_avg_pool2d(const Tensor& x, std::pair<int64_t, int64_t> output_size);

// ---- normalisation and activations ----
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps = 1e-5);
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, double eps = 1e-6);
// Batch normalisation over channel dim 1 of x [N, C, ...] (f32), fused in one primitive.
// training: normalise with the batch statistics and update running_mean/running_var in
// place (momentum, unbiased variance), as torch.nn.functional.batch_norm; otherwise use
// the running statistics. weight/bias [C] may be undefined.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);
Tensor gelu(const Tensor& x, bool tanh_approximation = false);
Tensor silu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
// Bernoulli mask scaled by 1/(1-p) in training; identity otherwise.
Tensor dropout(const Tensor& x, double p, bool training);

// ---- recurrent layers (fused: one node for the whole sequence) ----
// One LSTM layer over a sequence, PyTorch gate order (i, f, g, o):
//   x [T, B, in], h0/c0 [B, H], w_ih [4H, in], w_hh [4H, H], b_ih/b_hh [4H] (may be undefined).
// Returns Y [T + 1, B, H]: Y[0..T-1] are the hidden states h_1..h_T and Y[T] is c_T
// (h_T = Y[T-1]). Differentiable in every input; the backward is hand-written BPTT.
Tensor lstm_layer(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
                  const Tensor& b_ih, const Tensor& b_hh);

// ---- scans, sorting, masking, einsum (src/core/seqops.cpp) ----
// Running sum along dim (integers sum in i64; floats keep their dtype, summed in double).
Tensor cumsum(const Tensor& x, int64_t dim);
// x with `value` where the bool mask (broadcast to x's shape) is true.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// Values and their i64 indices along dim, ascending (or descending); stable, NaN last.
std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false);
// The k largest (or smallest) along dim, always in order (largest first when largest), with
// their indices.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true);
// torch.einsum with an explicit output ("bij,bjk->bik"): operands contracted left to right
// by matmul, letters used nowhere else summed first. Not supported: "...", a letter
// repeated within one operand (diagonals), size-1 broadcasting of a shared letter.
Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands);

// ---- composed layers' functions (src/core/seqops.cpp) ----
// Normalise x [N, C, ...] over each group of C / groups channels (and all positions),
// then weight / bias [C] per channel (may be undefined).
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
// Average over windows of `kernel` steps of x [N, C, L] (a moving average with stride 1).
Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding = 0, bool count_include_pad = true);
// The transposed convolutions (the gradient of conv2d / conv1d with respect to its input),
// weight [C_in, C_out / groups, kH, kW] as PyTorch's; output size (H - 1) * stride - 2 *
// padding + dilation * (kH - 1) + output_padding + 1.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::pair<int64_t, int64_t> stride = {1, 1},
                        std::pair<int64_t, int64_t> padding = {0, 0}, std::pair<int64_t, int64_t> output_padding = {0, 0},
                        int64_t groups = 1, std::pair<int64_t, int64_t> dilation = {1, 1});
Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride = 1, int64_t padding = 0,
                        int64_t output_padding = 0, int64_t groups = 1, int64_t dilation = 1);

// ---- indexing and joining ----
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
// index: 1-D integer tensor; out = x gathered along dim.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out[i][j] = x[index[i][j]][j] (dim 0), as torch.gather.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// out = x; out[index[i][j]][j] += src[i][j] (dim 0), as torch.scatter_add.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// weight [num, dim] rows picked by integer indices of any shape -> [..., dim].
// Rows equal to padding_idx get no gradient.
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1);
Tensor one_hot(const Tensor& indices, int64_t num_classes);  // i64 result

// Sum a broadcast gradient back to `shape` (used by backward of broadcasting ops).
Tensor sum_to(const Tensor& x, const Shape& shape);
// Broadcast shape of two shapes; throws ShapeError naming op.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace bigdl
