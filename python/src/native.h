// Shared declarations of the _native extension's translation units.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "bigdl/tensor.h"

namespace bigdl_py {

// A NumPy array-like (or a bound Tensor) as a tensor: a C-contiguous float32 / int64 array
// is used in place, no copy (the tensor keeps it alive); other layouts and dtypes are
// converted once (float -> float32, integer / bool -> int64). `what` names the argument
// in errors (TypeError for non-numbers). arrays.cpp.
bigdl::Tensor to_tensor(const pybind11::handle& obj, const char* what);
// A tensor as a NumPy array over its memory (made contiguous first; dtypes other than
// f32 / i64 as f32), keeping the tensor alive.
pybind11::array to_numpy(const bigdl::Tensor& t);
// The same without the contiguous copy: a strided f32 / i64 tensor becomes a NumPy array
// with the same strides over the same memory (other dtypes: to_numpy).
pybind11::array to_numpy_view(const bigdl::Tensor& t);

// bigdl_cpp._native.core: Tensor (NumPy buffer, autograd), nn modules and losses,
// optimizers (core.cpp). Bound before llm and dllib, which use its types.
void bind_core(pybind11::module_ m);

// bigdl_cpp._native.llm: Model, Tokenizer, generate, chat, save_low_bit (llm.cpp).
void bind_llm(pybind11::module_ m);
// bigdl_cpp._native.dllib: Keras-style layers, Sequential / Model, compile / fit / evaluate /
// predict, callbacks (dllib.cpp).
void bind_dllib(pybind11::module_ m);
// bigdl_cpp._native.dist: Group, gloo_group (dist.cpp). Bound before dllib, whose fit takes a Group.
void bind_dist(pybind11::module_ m);
// bigdl_cpp._native.chronos: TSDataset, Scaler (chronos.cpp).
void bind_chronos(pybind11::module_ m);
// bigdl_cpp._native.nano: optimize, InferenceModel (nano.cpp).
void bind_nano(pybind11::module_ m);

}  // namespace bigdl_py
