// llama.cpp's importance matrix files (llama-imatrix's output), read for quantizing with
// `--imatrix` (LoadOptions::imatrix): per weight matrix, the mean square of each input
// column over a calibration text, which ggml's quantizers use to weight each column's
// error (quantize_row_imp, backend/cpu/quant/quantize_k.h).
//
// Two formats, as llama-quantize reads them:
//   GGUF  (llama.cpp since 2025): tensors "<name>.in_sum2" (F32, [n_mat, cols]: the sums
//         of squares) and "<name>.counts" (F32, [n_mat]: the tokens behind each sum);
//         values = in_sum2 / count per matrix (1 where count is 0). Metadata
//         imatrix.datasets / chunk_count / chunk_size.
//   legacy (.dat): i32 n_entries, then per entry i32 name length, the name, i32 ncall,
//         i32 nval, nval f32 (the sums already divided by the token count, times ncall);
//         values = those / ncall; optionally i32 chunk count, i32 length and a dataset name.
// Errors: IOError "[imatrix] FILE: cannot open ..." / FormatError "[imatrix] FILE: ..."
// naming the entry.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

namespace bigdl::llm::detail {

struct Imatrix {
  std::string file;
  // GGUF tensor name ("blk.0.ffn_down.weight") -> n_mat * cols values (n_mat > 1 for a
  // stack of MoE experts, expert e's columns at [e * cols, (e + 1) * cols)).
  std::unordered_map<std::string, std::vector<float>> values;
  std::vector<std::string> datasets;
  int64_t chunk_count = 0;
  bool legacy = false;

  // The weights of matrix `part` of tensor `name` with rows of `cols` values: nullptr when
  // the file has no entry for it; FormatError when the entry's size is neither cols nor
  // n_parts * cols.
  const float* for_part(const std::string& name, int64_t cols, int64_t part, int64_t n_parts) const;
};

Imatrix read_imatrix(const std::string& path);

}  // namespace bigdl::llm::detail
