// Low-bit conversion: bigdl-llm's `save_low_bit`, written as a GGUF file of the model's
// architecture, as llama.cpp writes it.
//
// convert(src, dst, low_bit) loads `src` (a Hugging Face folder or a GGUF file) with
// LoadOptions::low_bit = low_bit (so the weights are quantized exactly as load_model
// quantizes them) and writes the result to `dst`:
//   metadata  general.architecture (the GGUF architecture the model runs as: "llama" for
//             Llama / Mistral, "qwen2", ...), general.name, general.file_type (llama.cpp's
//             LLAMA_FTYPE of the most frequent matrix type: 0 f32, 1 f16, 2 q4_0, 3 q4_1,
//             7 q8_0, 8 q5_0, 9 q5_1, 32 bf16), bigdl.low_bit, the "<arch>." hyper-parameter
//             keys llama.cpp reads for it (docs/llm.md lists them), tokenizer.ggml.* copied
//             from a GGUF source; for an HF source bigdl.hf.model_type and
//             bigdl.hf.tokenizer_files (the tokenizer files found in the folder).
//   tensors   llama.cpp's names and layouts for the architecture (fused tensors such as
//             attn_qkv written fused, experts stacked, Llama Q/K rows in GGUF's adjacent-pair
//             RoPE order), 32-byte aligned.
// load_model(dst) then gives the same logits as load_model(src, {.low_bit = low_bit}),
// and uses the blocks in place (no re-quantization).
// The file is written atomically: on any error no (partial) dst is left.
//
// Errors: the load errors of load_model; IOError "[write_file_atomic] <dst>: ..." when dst
// cannot be written.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bigdl/llm/low_bit.h"
#include "bigdl/llm/model.h"  // LoadOptions

namespace bigdl::llm {

struct ConvertProgress {
  int64_t index = 0;  // 0-based
  int64_t count = 0;  // tensors in the output
  std::string name;   // GGUF tensor name
  std::string type;   // "f32", "q4_0", ...
  std::vector<int64_t> shape;  // outermost first
  uint64_t bytes = 0;          // bytes written for this tensor
};

struct ConvertStats {
  int64_t n_tensors = 0;
  uint64_t bytes_in = 0;   // source size on disk (all safetensors files, or the GGUF)
  uint64_t bytes_out = 0;  // dst size
  double seconds = 0;      // load + quantize + write
};

using ConvertCallback = std::function<void(const ConvertProgress&)>;

// Converts src to a GGUF at dst (see above); `progress` is called once per tensor written.
ConvertStats convert(const std::string& src, const std::string& dst, const LowBit& low_bit,
                     const ConvertCallback& progress = {});
// The same with every load option (LoadOptions::imatrix: quantize with llama.cpp's
// importance matrix, recorded as llama-quantize records it: quantize.imatrix.file,
// .dataset, .entries_count, .chunks_count).
ConvertStats convert(const std::string& src, const std::string& dst, const LoadOptions& options,
                     const ConvertCallback& progress = {});

// bigdl-llm's save_low_bit / load_low_bit: a folder `dir` holding model.gguf (convert's
// output: the low-bit weights and the tokenizer), bigdl_low_bit.json ({"format":
// "bigdl-cpp-low-bit", "version": 1, "low_bit": ..., "model_type": ..., "gguf":
// "model.gguf"}) and, from an HF source, its config.json and tokenizer files, so tools that
// read HF folders find them. load_model(dir) and Vocab::load(dir) read it back (the same
// logits as load_model(src, {.low_bit}), no re-quantization). Written to a temporary folder
// beside dir and renamed into place; an existing low-bit folder at dir is replaced, any
// other existing non-empty dir is refused: ValueError "[save_low_bit] <dir>: exists and is
// not a low-bit folder".
ConvertStats save_low_bit(const std::string& src, const std::string& dir, const LowBit& low_bit,
                          const ConvertCallback& progress = {});
// The same with every load option (an importance matrix, as convert's).
ConvertStats save_low_bit(const std::string& src, const std::string& dir, const LoadOptions& options,
                          const ConvertCallback& progress = {});

// Whether `path` is a folder save_low_bit wrote (it holds bigdl_low_bit.json); the GGUF
// inside it.
bool is_low_bit_folder(const std::string& path);
std::string low_bit_folder_gguf(const std::string& path);

}  // namespace bigdl::llm
