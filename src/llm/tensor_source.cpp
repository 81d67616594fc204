// GGUF and Hugging Face tensor sources (tensor_source.h).
#include "llm/tensor_source.h"

#include <map>
#include <utility>

#include "bigdl/error.h"

namespace bigdl::llm::detail {

namespace {

constexpr const char* kOp = "load_model";

class GgufSource final : public TensorSource {
 public:
  explicit GgufSource(const io::GgufFile& f) : f_(f) {}
  const std::string& name() const override { return f_.name(); }
  bool has(const std::string& n) const override { return f_.tensor(n) != nullptr; }
  SrcTensor get(const std::string& n, std::vector<std::vector<float>>&) const override {
    const io::GgufTensorInfo* t = f_.tensor(n);
    BIGDL_CHECK(t != nullptr, FormatError, kOp, f_.name(), ": tensor '", n, "' missing");
    SrcTensor s;
    s.file = f_.name();
    s.name = n;
    s.shape = t->shape;
    s.type = t->type;
    s.data = t->data;
    s.nbytes = t->nbytes;
    s.mapped = true;
    return s;
  }

 private:
  const io::GgufFile& f_;
};

std::string fill(const char* pattern, int64_t layer, int64_t expert) {
  std::string out;
  for (const char* p = pattern; *p; ++p) {
    if (p[0] == '%' && p[1] == 'd') {
      out += std::to_string(layer);
      ++p;
    } else if (p[0] == '%' && p[1] == 'e') {
      out += std::to_string(expert);
      ++p;
    } else {
      out += *p;
    }
  }
  return out;
}

class HfSource final : public TensorSource {
 public:
  HfSource(const HfCheckpoint& ck, const ArchDef& def, const ModelConfig& c)
      : ck_(ck), c_(c), dir_(ck.dir()), prefixes_{""} {
    for (const char* p : def.hf_prefixes) prefixes_.emplace_back(p);
    for (const HfTensor& t : def.hf_tensors) {
      const std::string g = t.gguf;
      if (g.rfind("blk.%d.", 0) == 0) per_layer_[g.substr(7)].push_back(&t);
      else global_[g].push_back(&t);
    }
  }
  const std::string& name() const override { return dir_; }

  void recycle(std::vector<float>&& buffer) const override {
    if (buffer.capacity() > spare_.capacity()) spare_ = std::move(buffer);
  }

  bool has(const std::string& n) const override {
    int64_t layer = -1;
    const HfTensor* t = nullptr;
    resolve(n, layer, t);
    return t != nullptr;
  }

  SrcTensor get(const std::string& n, std::vector<std::vector<float>>& store) const override {
    int64_t layer = -1;
    const HfTensor* t = nullptr;
    const std::string prefix = resolve(n, layer, t);
    if (t == nullptr) {
      // Not in the checkpoint: name the HF tensor the table expected (or the GGUF name when
      // the architecture does not map it at all).
      const auto* cands = candidates(n, layer);
      BIGDL_CHECK(cands != nullptr, FormatError, kOp, dir_, ": tensor '", n, "' missing");
      const std::string want = fill((*cands)[0]->hf, layer, 0);
      throw FormatError(bigdl::detail::cat("[", kOp, "] ", ck_.tensor_file(want), ": tensor '", want, "' missing"));
    }
    const std::string hf = prefix + fill(t->hf, layer, 0);
    SrcTensor s;
    s.file = ck_.tensor_file(hf);
    s.name = hf;
    s.type = io::GgufType::F32;
    std::vector<float> v;
    if (t->xform == HfXform::custom) {
      BIGDL_ASSERT(t->custom != nullptr);
      v = t->custom(ck_, c_, hf, s.shape);
    } else if (t->xform == HfXform::experts) {
      for (int64_t e = 0; e < c_.n_expert; ++e) {
        const std::string name = prefix + fill(t->hf, layer, e);
        const auto shape = ck_.tensor_shape(name);  // FormatError naming it when missing
        if (e == 0) {
          s.shape = shape;
          s.shape.insert(s.shape.begin(), c_.n_expert);
        }
        BIGDL_CHECK(std::vector<int64_t>(s.shape.begin() + 1, s.shape.end()) == shape, ShapeError, kOp,
                    ck_.tensor_file(name), ": tensor '", name, "' has shape ", shape_of(shape),
                    ", expected ", shape_of({s.shape.begin() + 1, s.shape.end()}));
        std::vector<float> part = ck_.read_f32(name);
        v.insert(v.end(), part.begin(), part.end());
      }
    } else {
      s.shape = ck_.tensor_shape(hf);
      // The buffer an earlier tensor gave back (recycle), when it fits without wasting more
      // than the tensor itself (a tensor kept in f32 keeps its buffer for good).
      size_t n = 1;
      for (int64_t d : s.shape) n *= static_cast<size_t>(d);
      if (spare_.capacity() >= n && spare_.capacity() / 2 <= n) v = std::exchange(spare_, {});
      ck_.read_f32(hf, v);
      apply(*t, hf, s, v);
    }
    store.push_back(std::move(v));
    s.data = reinterpret_cast<const uint8_t*>(store.back().data());
    s.nbytes = store.back().size() * sizeof(float);
    return s;
  }

 private:
  static std::string shape_of(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
  }

  // The table rows for GGUF name n (null when none), and its layer.
  const std::vector<const HfTensor*>* candidates(const std::string& n, int64_t& layer) const {
    if (n.rfind("blk.", 0) == 0) {
      const size_t dot = n.find('.', 4);
      if (dot == std::string::npos) return nullptr;
      try {
        layer = std::stoll(n.substr(4, dot - 4));
      } catch (const std::exception&) {
        return nullptr;
      }
      auto it = per_layer_.find(n.substr(dot + 1));
      return it == per_layer_.end() ? nullptr : &it->second;
    }
    auto it = global_.find(n);
    return it == global_.end() ? nullptr : &it->second;
  }
  // The first row whose HF tensor the checkpoint has (under a prefix, returned), or t = null.
  std::string resolve(const std::string& n, int64_t& layer, const HfTensor*& t) const {
    t = nullptr;
    const auto* cands = candidates(n, layer);
    if (cands == nullptr) return "";
    for (const HfTensor* c : *cands)
      for (const std::string& p : prefixes_)
        if (ck_.has_tensor(p + fill(c->hf, layer, 0))) {
          t = c;
          return p;
        }
    return "";
  }

  void apply(const HfTensor& t, const std::string& hf, SrcTensor& s, std::vector<float>& v) const {
    const int64_t rows = s.shape.empty() ? 0 : s.shape[0];
    const int64_t cols = s.shape.size() >= 2 ? s.shape[1] : 1;
    switch (t.xform) {
      case HfXform::none:
      case HfXform::experts:
      case HfXform::custom:
        return;
      case HfXform::rope_q:
      case HfXform::rope_k: {
        const int64_t heads = t.xform == HfXform::rope_q ? c_.n_head : c_.n_head_kv;
        BIGDL_CHECK(s.shape.size() <= 2 && heads > 0 && rows == heads * c_.head_dim, ShapeError, kOp, s.file,
                    ": tensor '", hf, "' has shape ", shape_of(s.shape), ", expected ", heads * c_.head_dim,
                    " rows (", heads, " heads of ", c_.head_dim, ")");
        rope_permute_rows(v, c_.head_dim, cols);
        return;
      }
      case HfXform::transpose: {
        BIGDL_CHECK(s.shape.size() == 2, ShapeError, kOp, s.file, ": tensor '", hf, "' has shape ",
                    shape_of(s.shape), ", expected 2 dims");
        std::vector<float> tr(v.size());
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) tr[size_t(c * rows + r)] = v[size_t(r * cols + c)];
        v.swap(tr);
        s.shape = {cols, rows};
        return;
      }
      case HfXform::plus_one:
        for (float& x : v) x += 1.0f;
        return;
      case HfXform::flatten:
        s.shape = {static_cast<int64_t>(v.size())};
        return;
      case HfXform::qkv_heads: {
        const int64_t hd = c_.head_dim, nh = c_.n_head;
        BIGDL_CHECK(rows == 3 * nh * hd, ShapeError, kOp, s.file, ": tensor '", hf, "' has shape ", shape_of(s.shape),
                    ", expected ", 3 * nh * hd, " rows (", nh, " heads x q, k, v x ", hd, ")");
        qkv_heads_to_blocks(v, nh, hd, cols);
        return;
      }
    }
  }

  const HfCheckpoint& ck_;
  ModelConfig c_;
  std::string dir_;
  std::vector<std::string> prefixes_;
  std::map<std::string, std::vector<const HfTensor*>> per_layer_, global_;
  mutable std::vector<float> spare_;  // the largest f32 buffer given back (recycle)
};

}  // namespace

std::unique_ptr<TensorSource> gguf_source(const io::GgufFile& file) { return std::make_unique<GgufSource>(file); }

std::unique_ptr<TensorSource> hf_source(const HfCheckpoint& ck, const ArchDef& def, const ModelConfig& c) {
  return std::make_unique<HfSource>(ck, def, c);
}

void qkv_heads_to_blocks(std::vector<float>& v, int64_t n_head, int64_t head_dim, int64_t cols) {
  std::vector<float> out(v.size());
  for (int64_t h = 0; h < n_head; ++h)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t i = 0; i < head_dim; ++i) {
        const float* src = v.data() + ((h * 3 + j) * head_dim + i) * cols;
        std::copy(src, src + cols, out.data() + ((j * n_head + h) * head_dim + i) * cols);
      }
  v.swap(out);
}

void rope_permute_rows(std::vector<float>& v, int64_t head_dim, int64_t cols) {
  const int64_t rows = static_cast<int64_t>(v.size()) / cols;
  const int64_t half = head_dim / 2;
  std::vector<float> head(static_cast<size_t>(head_dim * cols));
  for (int64_t h = 0; h < rows / head_dim; ++h) {
    float* base = v.data() + h * head_dim * cols;
    std::copy(base, base + head_dim * cols, head.data());
    for (int64_t i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j) {
        const float* src = head.data() + (i + j * half) * cols;
        std::copy(src, src + cols, base + (2 * i + j) * cols);
      }
  }
}

}  // namespace bigdl::llm::detail
