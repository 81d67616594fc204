// 2-D convolution through oneDNN (internal; used by src/core/conv.cpp).
//
// Buffers are contiguous f32 in PyTorch's layouts: x [N, C, H, W], weight [O, C/G, kh, kw],
// bias [O], y and gy [N, O, OH, OW]. Padding is symmetric (ph rows above and below, pw
// columns left and right) and dilation is PyTorch's (1 = dense), as in
// torch.nn.functional.conv2d. The primitives for a geometry are built once and cached;
// running them is safe from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace bigdl::detail {

struct ConvGeom {
  int64_t N, C, H, W, O, kh, kw, sh, sw, ph, pw, dh, dw, G, OH, OW;
  int64_t cg() const { return C / G; }
  int64_t og() const { return O / G; }
  int64_t ckk() const { return cg() * kh * kw; }
  int64_t cols() const { return N * OH * OW; }
};

// How conv2d runs. automatic: oneDNN, each step on the memory layout (or, for the weight
// gradient, the im2col path) measured to be faster for its geometry (docs/decisions.md,
// "Convolution"); im2col where oneDNN has no implementation. im2col: the im2col + OpenBLAS reference. onednn_blocked / onednn_plain:
// oneDNN with every primitive on its own blocked layout (reordered at the boundary) / on
// NCHW directly (tests, benchmarks). Process-wide; BIGDL_CONV_BACKEND=automatic|im2col|
// onednn_blocked|onednn_plain sets the initial value.
enum class ConvBackend { automatic, im2col, onednn_blocked, onednn_plain };
void set_conv_backend(ConvBackend b);
ConvBackend conv_backend();

// The oneDNN primitives for one geometry (opaque).
struct OnednnConv;

// The cached primitives for q (with a bias term when has_bias; with the backward ones when
// backward) under the current setting and thread count, built on first use. Null when
// conv2d should take the im2col path instead.
std::shared_ptr<const OnednnConv> onednn_conv(const ConvGeom& q, bool has_bias, bool backward);

// y = conv(x, w) + b (b is null without a bias term).
void onednn_conv_forward(const OnednnConv& c, const float* x, const float* w, const float* b, float* y);
// Gradients from gy: gx (reads w), gw and gb (read x); c must have been built with backward.
// A null output is not computed; the others are overwritten. gw and gb must be null when
// onednn_conv_weights_by_im2col(c).
void onednn_conv_backward(const OnednnConv& c, const float* x, const float* w, const float* gy, float* gx, float* gw,
                          float* gb);

// True when conv2d should compute the weight and bias gradients for c with its own im2col +
// GEMM (measured faster for one or two input channels) rather than onednn_conv_backward.
bool onednn_conv_weights_by_im2col(const OnednnConv& c);

// The implementations oneDNN chose, e.g. "fwd=jit:avx2(blocked) bwd_data=x64:gemm:jit(plain)
// bwd_weights=jit:avx2(blocked)" (tests, debugging).
std::string onednn_conv_impl_info(const OnednnConv& c);

}  // namespace bigdl::detail
