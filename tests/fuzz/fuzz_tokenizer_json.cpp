// libFuzzer target: Vocab::load_tokenizer_json over arbitrary bytes (through a memfd, as
// the loader takes a path), then encode / decode of fixed strings. The seeds are small
// byte-level BPE tokenizer.json files. Bad input must throw a bigdl::Error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bigdl/error.h"
#include "bigdl/llm/vocab.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using bigdl::llm::TokenId;
  static fuzz::MemFile file;
  try {
    const bigdl::llm::Vocab v = bigdl::llm::Vocab::load_tokenizer_json(file.write(data, size));
    const std::string_view texts[] = {"Hello WORLD'S 12345 x\n\n  y!!\n(abc", "<|endoftext|>ab abc\xc3\xa9\xff"};
    for (const std::string_view text : texts) {
      for (const bool special : {false, true}) {
        const std::vector<TokenId> ids = v.encode(text, v.add_bos(), special);
        for (const TokenId id : ids)
          if (id < 0 || id >= v.size()) __builtin_trap();
        (void)v.decode(ids, special);
      }
    }
  } catch (const bigdl::Error&) {
  }
  return 0;
}
