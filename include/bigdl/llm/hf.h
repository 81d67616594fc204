// Hugging Face checkpoint folders (what `save_pretrained(safe_serialization=True)` writes).
//
// A checkpoint is a directory holding
//   config.json                          hyper-parameters; "model_type" picks the
//                                        architecture in load_model (src/llm/arch.cpp)
//   model.safetensors                    all tensors, or
//   model.safetensors.index.json         {"weight_map": {"<tensor>": "<shard file>"}} and
//   model-0000x-of-0000y.safetensors     the shards it names
// Other files (tokenizer.json, generation_config.json, ...) are ignored.
//
// HfCheckpoint reads config.json and every safetensors header at open(); tensor data is
// read one tensor at a time by read_f32(), which widens F16 / BF16 to f32 (exactly).
// load_model(dir) accepts such a directory (see bigdl/llm/model.h).
//
// Errors (FormatError unless noted), all prefixed "[load_model]":
//   "<dir>/config.json: field 'hidden_size' missing"
//   "<dir>/config.json: field 'hidden_size' is "abc", expected a number"
//   "<dir>: no model.safetensors or model.safetensors.index.json"
//   "<dir>/model.safetensors: tensor 'model.norm.weight' missing"
//   "<dir>/model.safetensors.index.json: tensor 'lm_head.weight' missing"
//   DTypeError "<file>: tensor 'x' has dtype I8; supported: F32, F16, BF16"
//   IOError for files that cannot be read; safetensors content errors come from
//   io::read_safetensors_header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bigdl::llm {

// True when `path` is a directory that contains config.json.
bool is_hf_checkpoint(const std::string& path);

class HfCheckpoint {
 public:
  // Reads <dir>/config.json and the headers of its safetensors file(s).
  static HfCheckpoint open(const std::string& dir);

  const std::string& dir() const;
  const std::string& model_type() const;  // config.json "model_type"
  std::string config_path() const;        // "<dir>/config.json"

  // config.json fields. `field` may name a member of a nested object with a dot
  // ("rope_scaling.factor"). A JSON null counts as absent. The one-argument forms throw
  // FormatError when the field is missing or has the wrong JSON type; the two-argument
  // forms return `fallback` when it is missing.
  bool has(const std::string& field) const;
  int64_t get_int(const std::string& field) const;
  int64_t get_int(const std::string& field, int64_t fallback) const;
  double get_float(const std::string& field) const;
  double get_float(const std::string& field, double fallback) const;
  bool get_bool(const std::string& field, bool fallback) const;
  std::string get_string(const std::string& field) const;
  std::string get_string(const std::string& field, const std::string& fallback) const;
  // A JSON array of numbers (FormatError when missing or anything else).
  std::vector<double> get_float_array(const std::string& field) const;

  // Tensors, by their Hugging Face names ("model.layers.0.self_attn.q_proj.weight").
  bool has_tensor(const std::string& name) const;
  // The shape; FormatError naming tensor and file when missing.
  std::vector<int64_t> tensor_shape(const std::string& name) const;
  // The file holding the tensor (for error messages).
  std::string tensor_file(const std::string& name) const;
  // The tensor's values as f32, row-major (F32 copied; F16 / BF16 widened exactly).
  std::vector<float> read_f32(const std::string& name) const;
  // The same into `out` (resized; its capacity is reused, so a loader that passes one
  // buffer from tensor to tensor does not fault in fresh pages for each).
  void read_f32(const std::string& name, std::vector<float>& out) const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

}  // namespace bigdl::llm
