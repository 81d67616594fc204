#include "bigdl/io/tensor_io.h"

#include <cstdio>
#include <cstring>

#include "bigdl/io/safetensors.h"
#include "bigdl/io/torch_pickle.h"

namespace bigdl::io {

Tensor tensor_from_raw(const RawTensor& r) {
  const DType dt = dtype_from_safetensors(r.dtype, "tensor_from_raw");
  Tensor t = empty(r.shape, dt);
  BIGDL_CHECK(int64_t(r.data.size()) == t.numel() * element_size(dt), FormatError, "tensor_from_raw", "tensor of shape ",
              shape_str(r.shape), " and dtype ", r.dtype, " needs ", t.numel() * element_size(dt), " bytes, got ",
              r.data.size());
  if (!r.data.empty()) std::memcpy(t.raw_data(), r.data.data(), r.data.size());
  return t;
}

RawTensor tensor_to_raw(const Tensor& t) {
  RawTensor r;
  r.dtype = safetensors_name(t.dtype());
  r.shape = t.shape();
  const Tensor c = t.detach().contiguous();
  r.data.resize(size_t(c.numel() * element_size(c.dtype())));
  if (!r.data.empty()) std::memcpy(r.data.data(), c.raw_data(), r.data.size());
  return r;
}

nn::NamedTensors load_tensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  char magic[2] = {0, 0};
  {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    BIGDL_CHECK(f != nullptr, IOError, "load_tensors", path, ": ", std::strerror(errno));
    const size_t got = std::fread(magic, 1, 2, f);
    std::fclose(f);
    (void)got;
  }
  std::vector<std::pair<std::string, RawTensor>> raw =
      (magic[0] == 'P' && magic[1] == 'K') ? load_torch_state_dict(path) : load_safetensors(path, metadata);
  nn::NamedTensors out;
  out.reserve(raw.size());
  for (auto& [n, r] : raw) out.emplace_back(n, tensor_from_raw(r));
  return out;
}

void save_tensors(const std::string& path, const nn::NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, RawTensor>> raw;
  raw.reserve(tensors.size());
  for (const auto& [n, t] : tensors) raw.emplace_back(n, tensor_to_raw(t));
  save_safetensors(path, raw, metadata);
}

}  // namespace bigdl::io
