// The architecture registry: one row per architecture in arch.cpp, one factory per
// file in models/. Adding an architecture touches models/<arch>.cpp, this header and
// the table in arch.cpp.
#pragma once

#include <memory>

#include "bigdl/io/gguf.h"
#include "bigdl/llm/model.h"

namespace bigdl::llm::detail {

using ModelFactory = std::unique_ptr<Model> (*)(io::GgufFile file, const LoadOptions& options);

std::unique_ptr<Model> load_llama(io::GgufFile file, const LoadOptions& options);  // models/llama.cpp

}  // namespace bigdl::llm::detail
