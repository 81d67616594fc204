// Pre-tokenizers of byte-level BPE vocabularies: how text is cut into words before
// merging. A pre-tokenizer is a list of regexes applied in order, each one cutting the
// pieces the previous ones left (its matches and the gaps between them all become
// pieces), as llama.cpp's unicode_regex_split and HF tokenizers' Sequence of Split
// (behavior Isolated) do. The GPT-2, Llama 3 and Qwen2 regexes run through hand-written
// splitters (as llama.cpp's custom ones; they are most of the text a model sees), every
// other regex through PCRE2 (Debian's libpcre2, UTF + Unicode properties, JIT).
//
// Regexes listed after the ByteLevel step of a tokenizer.json (Falcon's Digits) run, as in
// HF tokenizers, on the byte-level text: one code point per UTF-8 byte (GPT-2's byte
// table), so "½" (C2 BD) is cut into "Â" + "½" by \p{N}.
//
// Named lists are llama.cpp's tokenizer.ggml.pre values (docs/tokenizer.md lists them);
// a tokenizer.json's Split regexes make an unnamed list, which takes the name of a named
// list with the same regexes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bigdl::llm::detail {

class PreTokenizer {
 public:
  // GPT-2's regex ("gpt-2").
  PreTokenizer();
  // llama.cpp's name ("llama-bpe", "qwen2", "falcon", ...); nullopt when unknown.
  static std::optional<PreTokenizer> named(std::string_view name);
  // Every name named() accepts, sorted.
  static std::vector<std::string> names();
  // Regexes in HF tokenizers' syntax (Oniguruma; PCRE2 reads the ones models use).
  // std::invalid_argument "<regex>: <PCRE2's message>" when one does not compile.
  // Regexes from index byte_level_at on run on the byte-level text.
  static PreTokenizer from_regexes(const std::vector<std::string>& regexes, size_t byte_level_at = kNoByteLevel);
  static constexpr size_t kNoByteLevel = static_cast<size_t>(-1);

  // llama.cpp's name; "" for a list no name has.
  const std::string& name() const { return name_; }
  const std::vector<std::string>& regexes() const { return regexes_; }
  size_t byte_level_at() const { return byte_level_at_; }
  // A word that is a token is taken whole, not merged (llama.cpp's ignore_merges: Llama 3).
  bool ignore_merges() const { return ignore_merges_; }

  // Cuts text (code points) into words, each given in GPT-2's byte-level code points
  // (UTF-8 bytes mapped by unicode.h's ByteUnicode: ' ' -> 'Ġ'), in order, covering the text.
  std::vector<std::string> words(const std::vector<uint32_t>& cpts) const;

 private:
  struct Empty {};
  explicit PreTokenizer(Empty) {}
  struct Step;
  std::vector<std::shared_ptr<const Step>> steps_;
  std::vector<std::string> regexes_;
  std::string name_;
  size_t byte_level_at_ = kNoByteLevel;
  bool ignore_merges_ = false;
};

}  // namespace bigdl::llm::detail
