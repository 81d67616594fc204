// Hugging Face checkpoint folders: config.json + (sharded) safetensors. See
// include/bigdl/llm/hf.h.
#include "bigdl/llm/hf.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "bigdl/dtype.h"
#include "bigdl/error.h"
#include "core/internal.h"  // parallel_for
#include "bigdl/io/safetensors.h"

namespace bigdl::llm {

namespace fs = std::filesystem;
using bigdl::detail::cat;

namespace {
constexpr const char* kOp = "load_model";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BIGDL_CHECK(in.good(), IOError, kOp, path, ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(cat("[", kOp, "] ", path, ": invalid JSON (", e.what(), ")"));
  }
}

float bf16_to_f32(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
}  // namespace

struct HfCheckpoint::Impl {
  struct Loc {
    std::string file;  // full path of the safetensors file
    io::SafetensorsEntry entry;
    uint64_t data_start = 0;  // 8 + header length
  };
  std::string dir;
  std::string model_type;
  nlohmann::json config;
  std::string tensor_source;  // file named when a tensor is missing
  std::map<std::string, Loc> tensors;

  // The JSON value at a dotted path, or nullptr when absent or null.
  const nlohmann::json* find(const std::string& field) const {
    const nlohmann::json* v = &config;
    size_t start = 0;
    for (;;) {
      const size_t dot = field.find('.', start);
      const std::string key = field.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!v->is_object()) return nullptr;
      auto it = v->find(key);
      if (it == v->end() || it->is_null()) return nullptr;
      v = &*it;
      if (dot == std::string::npos) return v;
      start = dot + 1;
    }
  }
  const nlohmann::json& need(const std::string& field) const {
    const nlohmann::json* v = find(field);
    BIGDL_CHECK(v != nullptr, FormatError, kOp, dir, "/config.json: field '", field, "' missing");
    return *v;
  }
  [[noreturn]] void wrong_type(const std::string& field, const nlohmann::json& v, const char* want) const {
    throw FormatError(cat("[", kOp, "] ", dir, "/config.json: field '", field, "' is ", v.dump(),
                          ", expected ", want));
  }
  const Loc& loc(const std::string& name) const {
    auto it = tensors.find(name);
    BIGDL_CHECK(it != tensors.end(), FormatError, kOp, tensor_source, ": tensor '", name, "' missing");
    return it->second;
  }

  void add_file(const std::string& path, const std::map<std::string, std::string>* only) {
    const auto entries = io::read_safetensors_header(path);
    uint64_t header_len = 0;
    {
      std::ifstream in(path, std::ios::binary);
      uint8_t b[8] = {};
      in.read(reinterpret_cast<char*>(b), 8);
      BIGDL_CHECK(in.good(), IOError, kOp, path, ": cannot read");
      for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | b[i];
    }
    const std::string base = fs::path(path).filename().string();
    for (const auto& e : entries) {
      if (only) {  // sharded: the index decides which file holds a tensor
        auto it = only->find(e.name);
        if (it == only->end() || it->second != base) continue;
      }
      tensors[e.name] = Loc{path, e, 8 + header_len};
    }
  }
};

bool is_hf_checkpoint(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::is_regular_file(fs::path(path) / "config.json", ec);
}

HfCheckpoint HfCheckpoint::open(const std::string& dir_in) {
  auto impl = std::make_shared<Impl>();
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  impl->dir = dir;
  impl->config = read_json(dir + "/config.json");
  BIGDL_CHECK(impl->config.is_object(), FormatError, kOp, dir, "/config.json: not a JSON object");
  const nlohmann::json& mt = impl->need("model_type");
  if (!mt.is_string()) impl->wrong_type("model_type", mt, "a string");
  impl->model_type = mt.get<std::string>();

  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  std::error_code ec;
  if (fs::is_regular_file(index, ec)) {
    impl->tensor_source = index;
    const nlohmann::json j = read_json(index);
    BIGDL_CHECK(j.is_object() && j.contains("weight_map") && j["weight_map"].is_object(), FormatError, kOp,
                index, ": no \"weight_map\" object");
    std::map<std::string, std::string> weight_map;
    for (const auto& [name, file] : j["weight_map"].items()) {
      BIGDL_CHECK(file.is_string(), FormatError, kOp, index, ": weight_map['", name, "'] is not a string");
      const std::string f = file.get<std::string>();
      BIGDL_CHECK(f.find('/') == std::string::npos && f != ".." && !f.empty(), FormatError, kOp, index,
                  ": shard name '", f, "' is not a plain file name");
      weight_map[name] = f;
    }
    std::map<std::string, bool> shards;
    for (const auto& [name, f] : weight_map) shards[f] = true;
    for (const auto& [f, unused] : shards) impl->add_file(dir + "/" + f, &weight_map);
    for (const auto& [name, f] : weight_map)
      BIGDL_CHECK(impl->tensors.count(name), FormatError, kOp, dir, "/", f, ": tensor '", name,
                  "' missing (listed in model.safetensors.index.json)");
  } else if (fs::is_regular_file(single, ec)) {
    impl->tensor_source = single;
    impl->add_file(single, nullptr);
  } else {
    throw FormatError(cat("[", kOp, "] ", dir, ": no model.safetensors or model.safetensors.index.json"));
  }
  HfCheckpoint ck;
  ck.impl_ = std::move(impl);
  return ck;
}

const std::string& HfCheckpoint::dir() const { return impl_->dir; }
const std::string& HfCheckpoint::model_type() const { return impl_->model_type; }
std::string HfCheckpoint::config_path() const { return impl_->dir + "/config.json"; }

bool HfCheckpoint::has(const std::string& field) const { return impl_->find(field) != nullptr; }

int64_t HfCheckpoint::get_int(const std::string& field) const {
  const auto& v = impl_->need(field);
  if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX))
    impl_->wrong_type(field, v, "an integer below 2^63");
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {  // 4096.0 is fine, 0.5 is not; 1e300 is not (the cast would be UB)
    const double d = v.get<double>();
    if (std::fabs(d) < 9.2e18 && d == std::trunc(d)) return static_cast<int64_t>(d);
  }
  impl_->wrong_type(field, v, "an integer");
}
int64_t HfCheckpoint::get_int(const std::string& field, int64_t fallback) const {
  return has(field) ? get_int(field) : fallback;
}
double HfCheckpoint::get_float(const std::string& field) const {
  const auto& v = impl_->need(field);
  if (!v.is_number()) impl_->wrong_type(field, v, "a number");
  return v.get<double>();
}
double HfCheckpoint::get_float(const std::string& field, double fallback) const {
  return has(field) ? get_float(field) : fallback;
}
bool HfCheckpoint::get_bool(const std::string& field, bool fallback) const {
  if (!has(field)) return fallback;
  const auto& v = impl_->need(field);
  if (!v.is_boolean()) impl_->wrong_type(field, v, "true or false");
  return v.get<bool>();
}
std::string HfCheckpoint::get_string(const std::string& field) const {
  const auto& v = impl_->need(field);
  if (!v.is_string()) impl_->wrong_type(field, v, "a string");
  return v.get<std::string>();
}
std::string HfCheckpoint::get_string(const std::string& field, const std::string& fallback) const {
  return has(field) ? get_string(field) : fallback;
}

std::vector<double> HfCheckpoint::get_float_array(const std::string& field) const {
  const auto& v = impl_->need(field);
  if (!v.is_array()) impl_->wrong_type(field, v, "an array of numbers");
  std::vector<double> out;
  for (const auto& x : v) {
    if (!x.is_number()) impl_->wrong_type(field, v, "an array of numbers");
    out.push_back(x.get<double>());
  }
  return out;
}

bool HfCheckpoint::has_tensor(const std::string& name) const { return impl_->tensors.count(name) != 0; }
std::vector<int64_t> HfCheckpoint::tensor_shape(const std::string& name) const {
  return impl_->loc(name).entry.shape;
}
std::string HfCheckpoint::tensor_file(const std::string& name) const {
  auto it = impl_->tensors.find(name);
  return it == impl_->tensors.end() ? impl_->tensor_source : it->second.file;
}

std::vector<float> HfCheckpoint::read_f32(const std::string& name) const {
  std::vector<float> out;
  read_f32(name, out);
  return out;
}

void HfCheckpoint::read_f32(const std::string& name, std::vector<float>& out) const {
  const auto& l = impl_->loc(name);
  const auto& e = l.entry;
  int64_t n = 1;
  for (int64_t d : e.shape) n *= d;
  const int64_t esize = e.dtype == "F32" ? 4 : (e.dtype == "F16" || e.dtype == "BF16") ? 2 : 0;
  BIGDL_CHECK(esize != 0, DTypeError, kOp, l.file, ": tensor '", name, "' has dtype ", e.dtype,
              "; supported: F32, F16, BF16");
  BIGDL_ASSERT(e.data_end - e.data_begin == static_cast<uint64_t>(n * esize));  // header reader checked it
  std::ifstream in(l.file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(l.data_start + e.data_begin));
  out.resize(static_cast<size_t>(n));
  if (e.dtype == "F32") {
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(n * esize));
  } else {
    // 16-bit values through a small buffer, converted over the thread pool: no second
    // whole-tensor buffer (its page faults were most of a 1.1B model's load time).
    static_assert(std::endian::native == std::endian::little, "safetensors are little-endian");
    const bool f16 = e.dtype == "F16";
    const int64_t chunk = int64_t(1) << 20;
    std::vector<uint16_t> buf(static_cast<size_t>(std::min(n, chunk)));
    for (int64_t i0 = 0; i0 < n && in.good(); i0 += chunk) {
      const int64_t m = std::min(chunk, n - i0);
      in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(m * 2));
      float* dst = out.data() + i0;
      bigdl::detail::parallel_for(m, 1 << 14, [&](int64_t a, int64_t b) {
        if (f16)
          for (int64_t i = a; i < b; ++i) dst[i] = half_to_float(buf[size_t(i)]);
        else
          for (int64_t i = a; i < b; ++i) dst[i] = bf16_to_f32(buf[size_t(i)]);
      });
    }
  }
  BIGDL_CHECK(in.good(), IOError, kOp, l.file, ": cannot read tensor '", name, "'");
}

}  // namespace bigdl::llm
