// Where a model's tensors come from, by their GGUF names: a GGUF file (in place, from the
// mapping) or a Hugging Face folder (read, converted to f32 and transformed into GGUF's
// layout through the architecture's HfTensor table). The model builder (model.cpp) only
// sees this interface.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bigdl/io/gguf.h"
#include "bigdl/llm/hf.h"
#include "llm/arch.h"

namespace bigdl::llm::detail {

struct SrcTensor {
  std::string file;             // where it came from, for messages
  std::string name;             // its name there (the HF name for an HF tensor), for messages
  std::vector<int64_t> shape;   // outermost first (GGUF's order)
  io::GgufType type = io::GgufType::F32;
  const uint8_t* data = nullptr;
  uint64_t nbytes = 0;
  bool mapped = false;          // points into a read-only file mapping (its pages may be released)
};

class TensorSource {
 public:
  virtual ~TensorSource() = default;
  // The GGUF file or the HF folder, for messages.
  virtual const std::string& name() const = 0;
  virtual bool has(const std::string& gguf_name) const = 0;
  // FormatError "[load_model] <file>: tensor '<name>' missing" when absent (the HF name for
  // an HF folder). An HF tensor is converted to f32 into a new element of `store`, which
  // the caller owns and keeps alive as long as the returned data is used.
  virtual SrcTensor get(const std::string& gguf_name, std::vector<std::vector<float>>& store) const = 0;
  // Takes back an f32 buffer of `store` that nothing reads any more, for the next get() to
  // fill (the HF source keeps the largest one; the GGUF source has no use for it).
  virtual void recycle(std::vector<float>&& buffer) const {}
};

std::unique_ptr<TensorSource> gguf_source(const io::GgufFile& file);
// `c` must hold the head counts the rope_* and qkv_heads transformations need.
std::unique_ptr<TensorSource> hf_source(const HfCheckpoint& ck, const ArchDef& def, const ModelConfig& c);

// Reorders the rows of every head in place from HF's rotate_half pairing (i, i + d/2) to
// adjacent pairs (2i, 2i+1) (llama.cpp's converter's permute): new row h*d + 2i = old row
// h*d + i, new row h*d + 2i + 1 = old row h*d + i + d/2. `v` holds rows of `cols` values
// (cols = 1 for a bias).
void rope_permute_rows(std::vector<float>& v, int64_t head_dim, int64_t cols);
// Fused qkv rows interleaved per head ([n_head][q, k, v][head_dim], Bloom, GPT-NeoX) to
// [q; k; v] blocks (llama.cpp's layout): new row (j * n_head + h) * head_dim + i = old row
// (h * 3 + j) * head_dim + i. `v` holds rows of `cols` values (1 for a bias).
void qkv_heads_to_blocks(std::vector<float>& v, int64_t n_head, int64_t head_dim, int64_t cols);

}  // namespace bigdl::llm::detail
