// Internal to nano: the ONNX operators an imported model runs as steps of its own (those
// that are not rewritten into layers: shape arithmetic, elementwise math, attention
// MatMuls, Softmax, LayerNormalization, ...) and the constants they read. Both are
// saved by nano::save as JSON + tensors and built again by nano::load.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bigdl/nano/inference.h"

namespace bigdl::nano::onnx_ops {

// True when OpStep runs the ONNX operator op_type (default domain).
bool supported(const std::string& op_type);
// The operators supported() accepts, comma-separated (for messages and docs).
std::string supported_list();

// One ONNX operator. attrs: its attributes ({name: number | string | [numbers] |
// [strings]}); value: its tensor attribute, if any (ConstantOfShape's value); present:
// which of its positional inputs exist (args hold only those, in order); opset: the
// model's default-domain opset (Softmax, Squeeze, ... changed meaning across versions).
class OpStep : public Step {
 public:
  OpStep(std::string op, nlohmann::json attrs, std::vector<bool> present, int64_t opset, Tensor value = {});
  Tensor run(const Tensor& x) override { return run_inputs({x}); }
  Tensor run_inputs(const std::vector<Tensor>& xs) override;
  std::string describe() const override;
  const std::string& op() const { return op_; }
  const nlohmann::json& attrs() const { return attrs_; }
  const std::vector<bool>& present() const { return present_; }
  int64_t opset() const { return opset_; }
  const Tensor& value() const { return value_; }

 private:
  std::string op_;
  nlohmann::json attrs_;
  std::vector<bool> present_;
  int64_t opset_;
  Tensor value_;
};

// A constant (an initializer the rewritten layers did not absorb, or a folded value).
class ConstStep : public Step {
 public:
  explicit ConstStep(Tensor value) : value_(std::move(value)) {}
  Tensor run(const Tensor&) override { return value_; }
  Tensor run_inputs(const std::vector<Tensor>&) override { return value_; }
  std::string describe() const override;
  const Tensor& value() const { return value_; }

 private:
  Tensor value_;
};

}  // namespace bigdl::nano::onnx_ops
