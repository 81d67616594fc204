// The one decoder (and encoder) every architecture runs through: Model::Impl holds the
// weights in GGUF's layout and the ArchSpec that drives the layer function; forward()
// runs one step over a batch of rows from one or more sequences. Internal to src/llm.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bigdl/io/gguf.h"
#include "bigdl/llm/model.h"
#include "llm/arch.h"
#include "llm/kv_cache.h"
#include "llm/ops.h"
#include "llm/weights.h"

namespace bigdl::io { class GgufWriter; }

namespace bigdl::llm::detail {

class TensorSource;

// A norm's weight and bias (either may be null: non-parametric, or no bias).
struct Norm {
  const float* w = nullptr;
  const float* b = nullptr;
};

struct Layer {
  Norm attn_norm, attn_norm_2, q_norm, k_norm, attn_post_norm, ffn_norm, ffn_post_norm;
  Norm attn_out_norm, out_norm;  // post-norm layers (BERT): after the attention and the FFN
  Weight wq, wk, wv, wo;
  const float *bq = nullptr, *bk = nullptr, *bv = nullptr, *bo = nullptr;
  Weight ffn_gate, ffn_up, ffn_down;
  const float *b_gate = nullptr, *b_up = nullptr, *b_down = nullptr;
  // MoE: router [n_expert, n_embd], experts, and the shared expert with its gate row.
  Weight gate_inp;
  std::vector<Weight> gate_exp, up_exp, down_exp;
  const float* gate_inp_shexp = nullptr;
  Weight gate_shexp, up_shexp, down_shexp;
  int64_t window = 0;  // sliding window of this layer (0: full attention)
};

// One sequence's rows in a step.
struct SeqRun {
  const KvSeq* kv = nullptr;
  const int32_t* tokens = nullptr;
  int64_t n = 0;
  int64_t pos0 = 0;
  bool all_logits = false;
  bool long_rope = false;  // LongRoPE's long factors (the context is longer than the original)
  bool hidden = false;     // the final (normed) hidden states [.][n_embd], not the logits
  float* out = nullptr;    // [all_logits ? n : 1][hidden ? n_embd : n_out]
};

// A tensor of the GGUF file export writes: the Weights whose rows it concatenates (a
// fused tensor split at load, or stacked experts), or one f32 vector.
struct ExportTensor {
  std::string name;
  std::vector<int64_t> shape;  // outermost first
  std::vector<const Weight*> parts;
  const float* vec = nullptr;
};

}  // namespace bigdl::llm::detail

namespace bigdl::llm {
namespace detail {
struct Imatrix;
}  // namespace detail

struct Model::Impl {
  ModelConfig cfg;
  detail::ArchSpec spec;
  const detail::ArchDef* def = nullptr;
  std::optional<io::GgufFile> file;                  // GGUF: keeps the mapping the weights point into
  std::vector<std::vector<float>> owned_f32;          // HF tensors and widened vectors
  std::vector<std::vector<uint8_t>> owned_bytes;      // weights converted by low_bit
  detail::Weight token_embd, pos_embd, output;
  detail::Weight token_types;                         // f32; row 0 is added to every embedding (BERT)
  detail::Norm embd_norm, output_norm;
  std::vector<detail::Layer> layers;
  detail::PackedArena arena;                          // the x8 copies every Weight::packed points into
  // RoPE: inverse frequency per pair (LongRoPE: short and long sets), positions divided
  // by pos_div (linear scaling), cos / sin times attn_factor (YaRN, LongRoPE).
  std::vector<double> inv_freq, inv_freq_long;
  double pos_div = 1.0;
  float attn_factor = 1.0f, attn_factor_long = 1.0f;
  std::vector<float> alibi;                           // [n_head] slopes
  std::vector<detail::ExportTensor> exports;
  int64_t n_out = 0;                                  // values per output row (n_vocab, or n_embd for encoders)
  // The importance matrix the weights were quantized with (LoadOptions::imatrix), as
  // llama-quantize records it in a file: its path, first dataset, entry and chunk counts.
  struct ImatrixRecord {
    std::string file, dataset;
    int64_t entries = 0, chunks = 0;
  };
  std::optional<ImatrixRecord> imatrix;

  // Builds the model from its source; cfg and spec come from the config readers.
  // im: llama.cpp importance weights for the quantizers (LoadOptions::imatrix), or null.
  void load(const detail::TensorSource& src, const LowBit& lb, const detail::Imatrix* im = nullptr);
  // RoPE frequencies from cfg / spec.rope_scaling (after load: factor tensors are read there).
  void build_rope();
  // Packs every packable matrix for the x8 kernels (after load).
  void pack();
  // One step over runs (each run's rows go to its `out`). Checks nothing (Context does).
  void forward(std::span<const detail::SeqRun> runs) const;
  // Writes the metadata and tensors of a GGUF file of this model (llama.cpp's names and
  // layout for its architecture).
  void export_gguf(io::GgufWriter& w) const;
  // Bytes of weights in memory.
  int64_t bytes() const;

 private:
  void norm(const detail::Norm& n, const float* x, float* y, int64_t rows, int64_t dim) const;
  void ffn(const detail::Layer& L, const float* in, int64_t T, float* out) const;
  void moe(const detail::Layer& L, const float* in, int64_t T, float* out) const;
};

}  // namespace bigdl::llm
