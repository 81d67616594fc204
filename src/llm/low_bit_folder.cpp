// The folder save_low_bit writes: finding its GGUF (bigdl/llm/convert.h). A file of its
// own, as the tokenizer's fuzz build reads these folders without the converter.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bigdl/error.h"
#include "bigdl/llm/convert.h"

namespace bigdl::llm {

namespace fs = std::filesystem;

bool is_low_bit_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "bigdl_low_bit.json", ec);
}

std::string low_bit_folder_gguf(const std::string& path) {
  const fs::path marker = fs::path(path) / "bigdl_low_bit.json";
  std::ifstream in(marker);
  BIGDL_CHECK(in.good(), IOError, "load_model", marker.string(), ": cannot open");
  std::string gguf = "model.gguf";
  try {
    const auto j = nlohmann::json::parse(in);
    BIGDL_CHECK(j.is_object() && j.value("format", "") == "bigdl-cpp-low-bit", FormatError, "load_model",
                marker.string(), ": not a bigdl-cpp low-bit folder marker (format != \"bigdl-cpp-low-bit\")");
    gguf = j.value("gguf", gguf);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(bigdl::detail::cat("[load_model] ", marker.string(), ": invalid JSON (", e.what(), ")"));
  }
  BIGDL_CHECK(gguf.find('/') == std::string::npos && gguf != ".." && !gguf.empty(), FormatError, "load_model",
              marker.string(), ": field 'gguf' '", gguf, "' is not a plain file name");
  return (fs::path(path) / gguf).string();
}

}  // namespace bigdl::llm
