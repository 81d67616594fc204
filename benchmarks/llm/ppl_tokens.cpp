// The token ids `bigdl llm perplexity` scores, for benchmarks/llm/perplexity_vs_llamacpp.py
// to compare with llama.cpp's tokenization of the same file.
//
//   bench_ppl_tokens --model FILE.gguf --file TEXT
//
// Tokenizes exactly as llm::perplexity_file does (include/bigdl/llm/perplexity.h): the whole
// file, one trailing '\n' dropped, BOS in front when the vocab's add_bos says so, special-token
// text not parsed. Prints the ids as one JSON array on stdout. Errors: one line on stderr
// ("bench_ppl_tokens: [perplexity] x.txt: cannot open"), exit 1.
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/llm/vocab.h"

int main(int argc, char** argv) {
  std::string model, file;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--model") == 0 && has_value) {
      model = argv[++i];
    } else if (std::strcmp(argv[i], "--file") == 0 && has_value) {
      file = argv[++i];
    } else {
      std::fprintf(stderr, "bench_ppl_tokens: unexpected argument '%s' (usage: --model FILE.gguf --file TEXT)\n",
                   argv[i]);
      return 2;
    }
  }
  if (model.empty() || file.empty()) {
    std::fprintf(stderr, "bench_ppl_tokens: --model FILE.gguf and --file TEXT are required\n");
    return 2;
  }
  try {
    const bigdl::llm::Vocab vocab = bigdl::llm::Vocab::load(model);
    std::ifstream in(file, std::ios::binary);
    BIGDL_CHECK(in.good(), bigdl::IOError, "perplexity", file, ": cannot open");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!text.empty() && text.back() == '\n') text.pop_back();
    const bool add_bos = vocab.add_bos() && vocab.bos_id() >= 0;
    const std::vector<bigdl::llm::TokenId> ids = vocab.encode(text, add_bos);
    std::string out = "[";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ',';
      out += std::to_string(ids[i]);
    }
    out += "]\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ppl_tokens: %s\n", e.what());
    return 1;
  }
  return 0;
}
