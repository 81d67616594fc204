// bigdl::nano — ONNX import: an ONNX model (an MLP, a CNN, a BERT-style encoder, as
// PyTorch's torch.onnx.export writes them) becomes an InferenceModel, the same graph of
// steps a captured model of our own is, with the same rewrites and precisions:
//
//   auto fp32 = nano::import_onnx("minilm.onnx");                                   // fused
//   auto q8 = nano::import_onnx("minilm.onnx", {.precision = nano::Precision::int8_dynamic});
//   std::vector<Tensor> out = q8->forward_inputs({input_ids, attention_mask, token_type_ids});
//   q8->input_names();   // {"input_ids", "attention_mask", "token_type_ids"}: the graph's order
//
// How the graph maps (docs/nano.md "ONNX import"):
//   * MatMul by a constant matrix (+ an Add of a constant bias) and Gemm with a constant B
//     become Linear layers; Conv with constant weights (2-D, symmetric pads) a Conv2d;
//     BatchNormalization with constant statistics a BatchNorm that folds into the layer
//     before it; Relu / Sigmoid / Tanh / LeakyRelu / Gelu, and the erf form of GELU that
//     PyTorch exports (Div, Erf, Add, Mul, Mul), activations that fuse into the layer;
//     MaxPool / AveragePool (2-D) pooling steps. These run at the requested precision
//     exactly as optimize() runs the same modules (int8_static: models with one input).
//   * Every other operator of onnx_ops::supported_list() runs as a step of its own on the
//     core's ops: shape arithmetic (Shape, Gather, Concat, Reshape, Unsqueeze, Slice, ...),
//     elementwise math, MatMul of two activations (attention), Softmax,
//     LayerNormalization, ... Nodes whose inputs are all constants are computed once, at
//     import. Identity and Dropout are dropped.
//   * options.rewrite = false keeps each operator as the file has it (Linear / Conv2d /
//     BatchNorm run as modules, nothing fused): the "original" row of InferenceOptimizer.
// Errors, one line each, naming the file: IOError / FormatError from io::read_onnx (a
// truncated file, a dangling input); ValueError "[nano.import_onnx] m.onnx: node LSTM
// 'lstm_1': operator 'LSTM' is not supported (supported: Abs, Add, ...)" for an operator
// or domain we do not run, or a supported one in a form we do not (a Conv with computed
// weights, asymmetric pads, a MaxPool whose indices are read).
#pragma once

#include <memory>
#include <string>

#include "bigdl/io/onnx.h"
#include "bigdl/nano/inference.h"

namespace bigdl::nano {

std::shared_ptr<InferenceModel> import_onnx(const std::string& path, const OptimizeOptions& options = {});
// The same for a model already read; `what` names it in errors.
std::shared_ptr<InferenceModel> import_onnx(const io::OnnxModel& model, const std::string& what, const OptimizeOptions& options = {});

}  // namespace bigdl::nano
