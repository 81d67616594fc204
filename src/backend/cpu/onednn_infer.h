// Inference-only Linear and 2-D convolution layers through oneDNN (internal; used by
// Nano, src/nano/inference.cpp), in f32, bf16 or int8.
//
// A layer is built once from f32 weights and runs many times: its weights are converted
// (bf16 / int8) and reordered ("prepacked") into the layout oneDNN's kernel wants when the
// first call of a geometry builds its primitive, and kept; the bias add and an
// activation run inside the kernel (a oneDNN post-op). Inputs and outputs are f32 in our
// layouts (x [N, I] -> y [N, O]; x [N, C, H, W] -> y [N, O, OH, OW]); the input is
// converted (bf16) or quantized (int8) on the way in, in the same reorder that puts it
// in the kernel's layout.
//
// int8: weights symmetric per output channel, q_w = round(w / s_w[o]) with
// s_w[o] = max|w[o, :]| / int8_weight_max(); the input with one scale s_x given by the caller (from
// calibration), q_x = round(x / s_x) saturated to [0, 255] (u8, for inputs known to be
// >= 0, e.g. after a ReLU) or [-128, 127] (s8); the kernel sums q_x * q_w exactly in
// int32 and writes act(s_x * s_w[o] * sum + b[o]). Rounding is to nearest, ties to even.
// Without VNNI the kernels multiply with vpmaddubsw, whose int16 sums of two u8 * s8
// products saturate unless the weights stay within 7 bits (oneDNN's "nuances of int8"),
// so weights use [-63, 63] there (as PyTorch's reduce_range); and oneDNN halves s8-input
// weights once more there, so int8 with s8 inputs is a little coarser on such CPUs.
//
// bf16 runs only where the CPU and oneDNN have it natively (native_bf16(); a bf16 layer
// elsewhere is a ValueError, not a silent emulation).
//
// Threads: the batch is split into get_num_threads() shards over our pool, each run by a
// single-threaded primitive (onednn_common.h says why); a batch of one runs on one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bigdl::detail {

// An activation applied to a layer's output: in the kernel (oneDNN post-op) or in place
// by apply(), on the dispatched SIMD kernels of the ops (tests compare the two).
struct Eltwise {
  enum Kind { none, relu, leaky_relu, tanh, sigmoid, silu, gelu, gelu_tanh } kind = none;
  float alpha = 0;  // leaky_relu's negative slope

  // "", "relu", "leaky_relu", ...
  std::string str() const;
  // In place over n floats.
  void apply(float* y, int64_t n) const;
};

enum class InferPrecision { f32, bf16, int8 };
const char* infer_precision_name(InferPrecision p);  // "fp32", "bf16", "int8"

struct InferLayerSpec {
  bool conv = false;
  int64_t in = 0, out = 0;  // Linear: in / out features; conv: in / out channels
  // conv only, as torch.nn.Conv2d (symmetric padding; dilation 1 = dense)
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  InferPrecision precision = InferPrecision::f32;
  Eltwise act;
  // int8: the input's scale and sign (see above)
  float input_scale = 1.f;
  bool input_unsigned = false;
};

// True when the CPU has bf16 arithmetic (cpu_has_native_bf16, kernels.h) and oneDNN's
// kernels use it (ONEDNN_MAX_CPU_ISA may cap them).
bool native_bf16();

// 127 where oneDNN's int8 kernels use VNNI, else 63 (see above).
int int8_weight_max();

class InferLayer {
 public:
  // weight: [out, in] (Linear) or [out, in / groups, kh, kw] (conv), f32, contiguous;
  // bias: [out] or null. Both are copied. ValueError naming "nano.layer" for a spec that
  // cannot run (non-positive sizes, groups not dividing the channels, int8 without a
  // positive finite input scale).
  InferLayer(const InferLayerSpec& spec, const float* weight, const float* bias);
  ~InferLayer();
  InferLayer(const InferLayer&) = delete;
  InferLayer& operator=(const InferLayer&) = delete;

  const InferLayerSpec& spec() const;
  // The output's spatial size for an h x w input (conv); {1, 1} for a Linear.
  std::pair<int64_t, int64_t> out_hw(int64_t h, int64_t w) const;
  // y = act(layer(x) + bias) for a batch of n (h, w: the input's spatial size; ignored
  // for a Linear). y holds n * out (* OH * OW) floats. Safe from several threads.
  void forward(const float* x, int64_t n, int64_t h, int64_t w, float* y) const;
  // The f32 weight and bias as given to the constructor (bias empty when none).
  const std::vector<float>& weight() const;
  const std::vector<float>& bias() const;
  // int8: the weight scales per output channel (s_w above); empty otherwise.
  const std::vector<float>& weight_scales() const;
  // The implementation oneDNN chose for the geometry built last, e.g. "brg:avx512_core_vnni".
  std::string impl_info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A Linear with int8 weights (symmetric per output channel over [-int8_weight_max(),
// int8_weight_max()]) whose input is quantized at each call, per row (dynamic: s_r = max
// |x_r| / 127, s8), on oneDNN's int8 matmul: y = act(s_r * s_w[o] * (q_x . q_w) + b[o]); the
// per-channel scale is the primitive's output scale; the per-row scale, the bias and the
// activation are applied by us to each block of rows while it is in cache (oneDNN 2.6's
// brgemm takes no per-row post-op). Rows go over our pool in blocks of up to 128, each a
// single-threaded primitive (cached per block row count). Used by nano's int8_dynamic.
class DynamicInt8Linear {
 public:
  // weight [out, in] f32 row-major, bias [out] or null; both copied / quantized.
  DynamicInt8Linear(int64_t in, int64_t out, const float* weight, const float* bias, const Eltwise& act);
  ~DynamicInt8Linear();
  DynamicInt8Linear(const DynamicInt8Linear&) = delete;
  DynamicInt8Linear& operator=(const DynamicInt8Linear&) = delete;
  // y [n, out] = the layer of x [n, in]. Safe from several threads.
  void forward(const float* x, int64_t n, float* y) const;
  std::string impl_info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bigdl::detail
