// llama.cpp's tokenizer test vectors (shared/data/tokenizers/ggml-vocab/), read the same
// way by every tokenizer test: X.gguf.inp holds strings each followed by
// "\n__ggml_vocab_test__\n"; X.gguf.out one line of space-separated ids per string.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bigdl/llm/vocab.h"

namespace vocab_vectors {

inline std::string shared(const std::string& rel) { return std::string(BIGDL_SHARED_DATA) + "/" + rel; }

inline std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << path;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<bigdl::llm::TokenId> ids;
};

// `name` as in ggml-vocab-<name>.gguf ("llama-spm", "gpt-2", "qwen2", ...).
inline std::vector<Case> load_cases(const std::string& name) {
  const std::string base = shared("tokenizers/ggml-vocab/ggml-vocab-" + name + ".gguf");
  const std::string inp = read_all(base + ".inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) break;
    cases.push_back({inp.substr(pos, hit - pos), {}});
    pos = hit + sep.size();
  }
  std::istringstream out(read_all(base + ".out"));
  std::string line;
  for (Case& c : cases) {
    if (!std::getline(out, line)) break;
    std::istringstream ls(line);
    for (bigdl::llm::TokenId id; ls >> id;) c.ids.push_back(id);
  }
  return cases;
}

}  // namespace vocab_vectors
