// What vocab.cpp and tokenizer_json.cpp share: the message prefix, the merge-key
// separator and the SentencePiece space. Internal to src/llm.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace bigdl::llm::detail {

constexpr const char* kVocabOp = "[vocab] ";
// Between the two halves of a merge key ("l\xffr"): never inside valid UTF-8.
constexpr char kMergeSep = '\xff';
inline const std::string kSpmSpace = "\xE2\x96\x81";  // U+2581 '▁'

// The merge "l r"'s rank in `ranks` as a merge priority, lowest rank first; false when the
// pair is not a merge. `key` is the caller's reused scratch.
inline bool merge_rank_priority(const std::unordered_map<std::string, int32_t>& ranks, std::string& key,
                                std::string_view l, std::string_view r, double* priority) {
  key.assign(l);
  key += kMergeSep;
  key += r;
  const auto it = ranks.find(key);
  if (it == ranks.end()) return false;
  *priority = it->second;
  return true;
}

}  // namespace bigdl::llm::detail
