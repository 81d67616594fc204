// libFuzzer target: a tokenizer read from GGUF metadata (llm::Vocab), then encode /
// decode of fixed strings and of the input's last bytes. The seeds are vocab-only GGUFs
// (stories260K's SentencePiece vocab and a cut of GPT-2's byte-level BPE). Bad input must
// throw a bigdl::Error; anything else is a finding.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bigdl/error.h"
#include "bigdl/io/gguf.h"
#include "bigdl/llm/vocab.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using bigdl::llm::TokenId;
  try {
    const bigdl::io::GgufFile f = bigdl::io::GgufFile::parse(data, size, "fuzz.gguf");
    const bigdl::llm::Vocab v(f);
    const size_t tail = std::min<size_t>(size, 48);
    const std::string_view texts[] = {
        "Once upon a time, there was a little girl.", " \n\t<s></s><|im_start|>x<0x0A> \xe2\x96\x81",
        "caf\xc3\xa9 \xf0\x9f\x98\x80 12345 don't",
        std::string_view(reinterpret_cast<const char*>(data + size - tail), tail)};
    for (const std::string_view text : texts) fuzz::encode_decode(v, text);
    for (TokenId id = 0; id < std::min<TokenId>(v.size(), 300); ++id) (void)v.token_to_piece(id, true);
  } catch (const bigdl::Error&) {
  }
  return 0;
}
