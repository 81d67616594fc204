// The architecture registry: one row per architecture in arch.cpp, one factory per
// file in models/. Adding an architecture touches models/<arch>.cpp, this header and
// the table in arch.cpp.
#pragma once

#include <memory>

#include "bigdl/io/gguf.h"
#include "bigdl/llm/hf.h"
#include "bigdl/llm/model.h"

namespace bigdl::llm::detail {

using ModelFactory = std::unique_ptr<Model> (*)(io::GgufFile file, const LoadOptions& options);

// Hugging Face checkpoint folders, keyed by config.json "model_type".
using HfModelFactory = std::unique_ptr<Model> (*)(const HfCheckpoint& ckpt, const LoadOptions& options);

std::unique_ptr<Model> load_llama(io::GgufFile file, const LoadOptions& options);  // models/llama.cpp
// model_type llama, mistral (sliding window: see llama.cpp), qwen2 (q/k/v biases).
std::unique_ptr<Model> load_llama_hf(const HfCheckpoint& ckpt, const LoadOptions& options);

}  // namespace bigdl::llm::detail
