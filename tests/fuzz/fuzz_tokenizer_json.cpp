// libFuzzer target: Vocab::load_tokenizer_json over arbitrary bytes (through a memfd, as
// the loader takes a path), then encode / decode of fixed strings (fuzz::encode_decode).
// The seeds are small byte-level BPE tokenizer.json files. Bad input must throw a
// bigdl::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bigdl/error.h"
#include "bigdl/llm/vocab.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file;
  try {
    const bigdl::llm::Vocab v = bigdl::llm::Vocab::load_tokenizer_json(file.write(data, size));
    const std::string_view texts[] = {"Hello WORLD'S 12345 x\n\n  y!!\n(abc", "<|endoftext|>ab abc\xc3\xa9\xff"};
    for (const std::string_view text : texts) fuzz::encode_decode(v, text);
  } catch (const bigdl::Error&) {
  }
  return 0;
}
