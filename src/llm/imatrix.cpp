// llama.cpp importance-matrix files (imatrix.h).
#include "llm/imatrix.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "bigdl/error.h"
#include "bigdl/io/gguf.h"

namespace bigdl::llm::detail {

namespace {

constexpr const char* kOp = "imatrix";

bool is_gguf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

void read_gguf(const std::string& path, Imatrix& im) {
  const io::GgufFile f = io::GgufFile::open(path);
  if (const io::GgufValue* v = f.find("imatrix.datasets")) im.datasets = v->as_string_array();
  if (f.find("imatrix.chunk_count") != nullptr) im.chunk_count = f.get_int("imatrix.chunk_count");
  std::map<std::string, std::pair<const io::GgufTensorInfo*, const io::GgufTensorInfo*>> by_name;
  const auto strip = [](const std::string& n, const std::string& suffix, std::string& base) {
    if (n.size() <= suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
    base = n.substr(0, n.size() - suffix.size());
    return true;
  };
  for (const io::GgufTensorInfo& t : f.tensors()) {
    std::string base;
    if (strip(t.name, ".in_sum2", base)) by_name[base].first = &t;
    else if (strip(t.name, ".counts", base)) by_name[base].second = &t;
  }
  BIGDL_CHECK(!by_name.empty(), FormatError, kOp, path, ": no '<tensor>.in_sum2' / '<tensor>.counts' tensors");
  for (const auto& [name, sc] : by_name) {
    const io::GgufTensorInfo *sums = sc.first, *counts = sc.second;
    BIGDL_CHECK(sums != nullptr && counts != nullptr, FormatError, kOp, path, ": entry '", name,
                "' has ", sums ? "no .counts" : "no .in_sum2", " tensor");
    BIGDL_CHECK(sums->type == io::GgufType::F32 && counts->type == io::GgufType::F32, FormatError, kOp, path,
                ": entry '", name, "': .in_sum2 and .counts must be F32");
    const int64_t n = sums->numel(), nc = counts->numel();
    BIGDL_CHECK(nc >= 1 && n % nc == 0, FormatError, kOp, path, ": entry '", name, "' has ", n, " sums for ", nc,
                " counts");
    std::vector<float> s(static_cast<size_t>(n)), c(static_cast<size_t>(nc));
    std::memcpy(s.data(), sums->data, static_cast<size_t>(n) * 4);
    std::memcpy(c.data(), counts->data, static_cast<size_t>(nc) * 4);
    const int64_t cols = n / nc;
    std::vector<float>& out = im.values[name];
    out.resize(static_cast<size_t>(n));
    for (int64_t j = 0; j < nc; ++j)
      for (int64_t i = 0; i < cols; ++i) {
        const size_t k = static_cast<size_t>(j * cols + i);
        out[k] = c[size_t(j)] > 0.0f ? s[k] / c[size_t(j)] : 1.0f;
      }
  }
}

void read_legacy(const std::string& path, Imatrix& im) {
  std::ifstream in(path, std::ios::binary);
  BIGDL_CHECK(in.good(), IOError, kOp, path, ": cannot open");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  const auto i32 = [&](const char* what) {
    BIGDL_CHECK(pos + 4 <= bytes.size(), FormatError, kOp, path, ": truncated at byte ", pos, " (", what, ")");
    int32_t v;
    std::memcpy(&v, bytes.data() + pos, 4);
    pos += 4;
    return v;
  };
  const int32_t n_entries = i32("entry count");
  BIGDL_CHECK(n_entries >= 1, FormatError, kOp, path, ": not an imatrix file (GGUF or llama.cpp's legacy format): ",
              n_entries, " entries");
  for (int32_t e = 0; e < n_entries; ++e) {
    const int32_t len = i32("name length");
    BIGDL_CHECK(len >= 1 && pos + size_t(len) <= bytes.size(), FormatError, kOp, path, ": entry ", e,
                ": bad name length ", len);
    const std::string name(bytes.data() + pos, size_t(len));
    pos += size_t(len);
    const int32_t ncall = i32("ncall"), nval = i32("value count");
    BIGDL_CHECK(nval >= 1 && pos + size_t(nval) * 4 <= bytes.size(), FormatError, kOp, path, ": entry '", name,
                "': bad value count ", nval);
    std::vector<float>& out = im.values[name];
    out.resize(size_t(nval));
    std::memcpy(out.data(), bytes.data() + pos, size_t(nval) * 4);
    pos += size_t(nval) * 4;
    if (ncall > 0)
      for (float& v : out) v /= static_cast<float>(ncall);
  }
  if (pos + 4 <= bytes.size()) {  // optional: chunk count and dataset name
    im.chunk_count = i32("chunk count");
    if (pos + 4 <= bytes.size()) {
      const int32_t len = i32("dataset length");
      if (len > 0 && pos + size_t(len) <= bytes.size()) im.datasets.emplace_back(bytes.data() + pos, size_t(len));
    }
  }
  im.legacy = true;
}

}  // namespace

const float* Imatrix::for_part(const std::string& name, int64_t cols, int64_t part, int64_t n_parts) const {
  const auto it = values.find(name);
  if (it == values.end()) return nullptr;
  const int64_t n = static_cast<int64_t>(it->second.size());
  if (n == cols) return it->second.data();
  BIGDL_CHECK(n == n_parts * cols, FormatError, kOp, file, ": entry '", name, "' has ", n,
              " values; the tensor has rows of ", cols, n_parts > 1 ? " in " + std::to_string(n_parts) + " matrices" : "");
  return it->second.data() + part * cols;
}

Imatrix read_imatrix(const std::string& path) {
  std::ifstream probe(path, std::ios::binary);
  BIGDL_CHECK(probe.good(), IOError, kOp, path, ": cannot open");
  Imatrix im;
  im.file = path;
  if (is_gguf(path)) read_gguf(path, im);
  else read_legacy(path, im);
  for (const auto& [name, v] : im.values)
    for (float x : v)
      BIGDL_CHECK(std::isfinite(x) && x >= 0.0f, FormatError, kOp, path, ": entry '", name, "' holds ", x,
                  ", expected finite values >= 0");
  return im;
}

}  // namespace bigdl::llm::detail
