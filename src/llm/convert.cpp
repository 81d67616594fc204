// Low-bit conversion to GGUF. See include/bigdl/llm/convert.h.
#include "bigdl/llm/convert.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "bigdl/error.h"
#include "bigdl/io/gguf_writer.h"
#include "bigdl/llm/hf.h"
#include "bigdl/llm/model.h"
#include "bigdl/llm/vocab.h"
#include "llm/low_bit_mix.h"
#include "llm/model_impl.h"

namespace bigdl::llm {

namespace fs = std::filesystem;


namespace {
// llama.cpp's LLAMA_FTYPE ("mostly X"): the most frequent quant type among the
// matrices (ties: the first seen), 0 (all f32) when none is quantized.
uint32_t file_type(const std::vector<io::GgufTensorInfo>& tensors) {
  int count[64] = {};
  int best = -1;
  for (const auto& t : tensors) {
    const int id = static_cast<int>(t.type);
    if (t.shape.size() != 2 || id == 0 || id >= 64) continue;
    if (++count[id] > (best < 0 ? 0 : count[best])) best = id;
  }
  switch (best) {
    case 2: return 2;   // Q4_0
    case 3: return 3;   // Q4_1
    case 6: return 8;   // Q5_0
    case 7: return 9;   // Q5_1
    case 8: return 7;   // Q8_0
    case 1: return 1;   // F16 (llama.cpp's LLAMA_FTYPE_MOSTLY_F16)
    case 30: return 32; // BF16 (LLAMA_FTYPE_MOSTLY_BF16)
    default: return 0;  // F32, or one of bigdl's own types (no llama.cpp file type)
  }
}

uint64_t source_bytes(const std::string& src) {
  std::error_code ec;
  if (!fs::is_directory(src, ec)) return fs::file_size(src, ec);
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(src, ec))
    if (e.path().extension() == ".safetensors") n += e.file_size(ec);
  return n;
}
}  // namespace

ConvertStats convert(const std::string& src, const std::string& dst, const LowBit& low_bit,
                     const ConvertCallback& progress) {
  LoadOptions lo;
  lo.low_bit = low_bit;
  return convert(src, dst, lo, progress);
}

ConvertStats convert(const std::string& src, const std::string& dst, const LoadOptions& lo,
                     const ConvertCallback& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const LowBit& low_bit = lo.low_bit;
  BIGDL_CHECK(!dst.empty(), ValueError, "convert", "the output path is empty");
  const std::shared_ptr<const Model> model = load_model(src, lo);
  io::GgufWriter w;
  model->impl().export_gguf(w);
  if (is_hf_checkpoint(src)) {
    const HfCheckpoint ck = HfCheckpoint::open(src);
    std::string dir = src;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    w.set("general.name", io::gguf_string(fs::path(dir).filename().string()));
    w.set("bigdl.hf.model_type", io::gguf_string(ck.model_type()));
    std::vector<std::string> tok;
    for (const char* f : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                          "vocab.json", "merges.txt"})
      if (fs::exists(fs::path(dir) / f)) tok.emplace_back(f);
    w.set("bigdl.hf.tokenizer_files", io::gguf_string_array(std::move(tok)));
    // The tokenizer (and its chat template) travels with the weights, so the file
    // generates on its own.
    if (fs::exists(fs::path(dir) / "tokenizer.json")) {
      const Vocab vocab = Vocab::load_tokenizer_json(dir);
      BIGDL_CHECK(vocab.size() == model->config().n_vocab || !model->config().causal, FormatError, "convert", dir,
                  "/tokenizer.json: ", vocab.size(), " tokens, but the model's vocabulary has ",
                  model->config().n_vocab);
      vocab.write_gguf(w);
    }
  }
  w.set("bigdl.low_bit", io::gguf_string(low_bit.keep() ? "keep" : low_bit.name()));
  // A llama-quantize file type records its own id (15 for Q4_K_M), as llama-quantize does.
  detail::Mix mix;
  const bool is_mix = low_bit.kind() == LowBit::Kind::mix && detail::mix_named(low_bit.name(), mix);
  w.set("general.file_type", io::gguf_u32(is_mix ? uint32_t(detail::mix_ftype(mix)) : file_type(w.tensor_infos())));
  if (const auto& im = model->impl().imatrix) {  // llama-quantize's record of the importance matrix
    w.set("quantize.imatrix.file", io::gguf_string(im->file));
    if (!im->dataset.empty()) w.set("quantize.imatrix.dataset", io::gguf_string(im->dataset));
    w.set("quantize.imatrix.entries_count", io::gguf_i32(static_cast<int32_t>(im->entries)));
    w.set("quantize.imatrix.chunks_count", io::gguf_i32(static_cast<int32_t>(im->chunks)));
  }
  const int64_t n = static_cast<int64_t>(w.n_tensors());
  w.write(dst, [&](size_t i, const io::GgufTensorInfo& info) {
    if (!progress) return;
    ConvertProgress p;
    p.index = static_cast<int64_t>(i);
    p.count = n;
    p.name = info.name;
    const auto* tr = io::gguf_type_traits(info.type);
    p.type = tr ? tr->name : "?";
    p.shape = info.shape;
    p.bytes = info.nbytes;
    progress(p);
  });
  ConvertStats s;
  s.n_tensors = n;
  s.bytes_in = source_bytes(src);
  std::error_code ec;
  s.bytes_out = fs::file_size(dst, ec);
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

ConvertStats save_low_bit(const std::string& src, const std::string& dir, const LowBit& low_bit,
                          const ConvertCallback& progress) {
  LoadOptions o;
  o.low_bit = low_bit;
  return save_low_bit(src, dir, o, progress);
}

ConvertStats save_low_bit(const std::string& src, const std::string& dir_in, const LoadOptions& options,
                          const ConvertCallback& progress) {
  const LowBit& low_bit = options.low_bit;
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  BIGDL_CHECK(!dir.empty(), ValueError, "save_low_bit", "the output folder is empty");
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  BIGDL_CHECK(!exists || is_low_bit_folder(dir) || (fs::is_directory(dir, ec) && fs::is_empty(dir, ec)), ValueError,
              "save_low_bit", dir, ": exists and is not a low-bit folder");
  const fs::path parent = fs::absolute(fs::path(dir), ec).parent_path();
  const fs::path tmp = parent / (fs::path(dir).filename().string() + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  BIGDL_CHECK(!ec, IOError, "save_low_bit", tmp.string(), ": cannot create (", ec.message(), ")");
  struct Cleanup {
    fs::path p;
    bool keep = false;
    ~Cleanup() {
      std::error_code e;
      if (!keep) fs::remove_all(p, e);
    }
  } cleanup{tmp};
  const ConvertStats st = convert(src, (tmp / "model.gguf").string(), options, progress);
  std::string model_type;
  if (is_hf_checkpoint(src)) {
    const HfCheckpoint ck = HfCheckpoint::open(src);
    model_type = ck.model_type();
    for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
                          "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"}) {
      if (!fs::exists(fs::path(src) / f, ec)) continue;
      fs::copy_file(fs::path(src) / f, tmp / f, fs::copy_options::overwrite_existing, ec);
      BIGDL_CHECK(!ec, IOError, "save_low_bit", (tmp / f).string(), ": cannot write (", ec.message(), ")");
    }
  } else {
    model_type = io::GgufFile::open(src).get_string("general.architecture");
  }
  {
    nlohmann::json j = {{"format", "bigdl-cpp-low-bit"}, {"version", 1},
                        {"low_bit", low_bit.keep() ? "keep" : low_bit.name()}, {"model_type", model_type},
                        {"gguf", "model.gguf"}};
    std::ofstream out(tmp / "bigdl_low_bit.json");
    out << j.dump(2) << "\n";
    BIGDL_CHECK(out.good(), IOError, "save_low_bit", (tmp / "bigdl_low_bit.json").string(), ": cannot write");
  }
  // Swap into place: an old low-bit folder is moved aside first, then removed.
  const fs::path old = parent / (fs::path(dir).filename().string() + ".old-" + std::to_string(::getpid()));
  if (fs::exists(dir, ec)) {
    fs::rename(dir, old, ec);
    BIGDL_CHECK(!ec, IOError, "save_low_bit", dir, ": cannot replace (", ec.message(), ")");
  }
  fs::rename(tmp, dir, ec);
  BIGDL_CHECK(!ec, IOError, "save_low_bit", dir, ": cannot create (", ec.message(), ")");
  cleanup.keep = true;
  fs::remove_all(old, ec);
  return st;
}

}  // namespace bigdl::llm
