// Tensor basics: storage, geometry, views (with their gradients), creation, casts.
#include <cstdlib>
#include <numeric>
#include <sstream>

#include "backend/cpu/kernels.h"
#include "core/internal.h"

namespace bigdl {

using detail::contiguous_strides;
using detail::make_view;
using detail::wrap_dim;

// ---------------------------------------------------------------- storage
Storage::Storage(int64_t nbytes) : nbytes_(nbytes), owned_(true) {
  data_ = detail::cpu_alloc(size_t(nbytes));
  if (nbytes != 0 && data_ == nullptr)
    throw Error(detail::cat("[empty] out of memory allocating ", nbytes, " bytes"));
}
Storage::Storage(void* data, int64_t nbytes, std::shared_ptr<void> keep_alive)
    : data_(data), nbytes_(nbytes), owned_(false), keep_alive_(std::move(keep_alive)) {}
Storage::~Storage() {
  if (owned_) detail::cpu_free(data_, size_t(nbytes_));
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

namespace detail {
Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t s = 1;
  for (int64_t i = int64_t(shape.size()) - 1; i >= 0; --i) {
    st[i] = s;
    s *= std::max<int64_t>(shape[i], 1);
  }
  return st;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  const int64_t n = std::max<int64_t>(ndim, 1);
  BIGDL_CHECK(dim >= -n && dim < n, IndexError, op, "dim ", dim, " out of range for ", ndim, "-d tensor");
  return dim < 0 ? dim + n : dim;
}

std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    out.resize(ndim);
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Tensor make_view(const Tensor& t, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(impl);
}
}  // namespace detail

// ---------------------------------------------------------------- accessors
// Accessors on an undefined tensor (a default-constructed Tensor, a missing bias, an
// absent gradient) throw instead of dereferencing null.
static TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) throw ValueError("[tensor] operation on an undefined tensor");
  return *impl;
}
const Shape& Tensor::shape() const { return checked(impl_).shape; }
const Shape& Tensor::strides() const { return checked(impl_).strides; }
int64_t Tensor::offset() const { return checked(impl_).offset; }
DType Tensor::dtype() const { return checked(impl_).dtype; }
const std::shared_ptr<Storage>& Tensor::storage() const { return checked(impl_).storage; }
int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::numel() const { return shape_numel(shape()); }
void* Tensor::raw_data() const {
  const TensorImpl& i = checked(impl_);
  return static_cast<char*>(i.storage->data()) + i.offset * element_size(i.dtype);
}

bool Tensor::is_contiguous() const {
  int64_t expect = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expect) return false;
    expect *= shape()[i];
  }
  return true;
}

template <typename T>
T* Tensor::data() const {
  BIGDL_CHECK(defined(), ValueError, "data", "tensor is undefined");
  const bool ok = detail::dispatch_dtype(dtype(), [](auto v) { return std::is_same_v<decltype(v), T>; });
  BIGDL_CHECK(ok, DTypeError, "data", "requested element type does not match dtype ", dtype_name(dtype()));
  return static_cast<T*>(raw_data());
}
#define BIGDL_INST_DATA(e, T, size, name, st, kind) template T* Tensor::data<T>() const;
BIGDL_FORALL_DTYPES(BIGDL_INST_DATA)
#undef BIGDL_INST_DATA

// ---------------------------------------------------------------- creation
// Bytes of a contiguous tensor of `shape`, checked: a product that overflows int64 (ones({1LL
// << 62}) of f32 wrapped to a 0-byte storage that fill_ then wrote past) is a ShapeError.
static int64_t storage_bytes(const Shape& shape, DType dtype, const char* op) {
  int64_t bytes = element_size(dtype);
  for (int64_t d : shape) {
    BIGDL_CHECK(d >= 0, ShapeError, op, "negative dimension in shape ", shape_str(shape));
    BIGDL_CHECK(!__builtin_mul_overflow(bytes, d, &bytes), ShapeError, op, "shape ", shape_str(shape), " of ",
                dtype_name(dtype), " is too large: its size in bytes overflows int64");
  }
  return bytes;
}

// empty() under the name of the creation function the caller used (for its errors).
static Tensor empty_for(const Shape& shape, DType dtype, const char* op) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(storage_bytes(shape, dtype, op));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}
Tensor empty(const Shape& shape, DType dtype) { return empty_for(shape, dtype, "empty"); }

static Tensor full_for(const Shape& shape, double value, DType dtype, const char* op) {
  Tensor t = empty_for(shape, dtype, op);
  t.fill_(value);
  return t;
}
Tensor full(const Shape& shape, double value, DType dtype) { return full_for(shape, value, dtype, "full"); }
Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty_for(shape, dtype, "zeros");
  if (t.numel()) std::memset(t.raw_data(), 0, size_t(t.numel() * element_size(dtype)));
  return t;
}
Tensor ones(const Shape& shape, DType dtype) { return full_for(shape, 1.0, dtype, "ones"); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }

Tensor arange(double start, double end, double step, DType dtype) {
  BIGDL_CHECK(step != 0, ValueError, "arange", "step must be non-zero");
  const int64_t n = std::max<int64_t>(0, int64_t(std::ceil((end - start) / step)));
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + double(i) * step;
  return from_vector(v, {n}, dtype);
}

Tensor eye(int64_t n, DType dtype) {
  Tensor t = zeros({n, n}, dtype);
  detail::dispatch_dtype(dtype, [&](auto v) {
    using T = decltype(v);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = detail::convert<T>(1.0);
  });
  return t;
}

template <typename V>
static Tensor from_values(const std::vector<V>& values, const Shape& shape, DType dtype) {
  BIGDL_CHECK(int64_t(values.size()) == shape_numel(shape), ShapeError, "from_vector", values.size(),
              " values do not fill shape ", shape_str(shape));
  Tensor t = empty(shape, dtype);
  detail::dispatch_dtype(dtype, [&](auto v) {
    using T = decltype(v);
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = detail::convert<T>(values[i]);
  });
  return t;
}
Tensor from_vector(const std::vector<float>& values, const Shape& shape, DType dtype) {
  return from_values(values, shape, dtype);
}
Tensor from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  return from_values(values, shape, dtype);
}
Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape, DType dtype) {
  return from_values(values, shape, dtype);
}

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keep_alive) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, storage_bytes(shape, dtype, "from_blob"), std::move(keep_alive));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}

// ---------------------------------------------------------------- copy / cast
namespace {
// dst[...] = convert(src[...]) elementwise over dst's shape; src already broadcast to it.
void strided_copy(const Tensor& dst, const Tensor& src) {
  const Shape& ds = dst.strides();
  const Shape& ss = src.strides();
  detail::dispatch_dtype(dst.dtype(), [&](auto dv) {
    using D = decltype(dv);
    detail::dispatch_dtype(src.dtype(), [&](auto sv) {
      using S = decltype(sv);
      D* dp = detail::ptr_of<D>(dst);
      const S* sp = detail::ptr_of<S>(src);
      auto& k = detail::cpu_kernels();
      detail::for_each_strided<2>(dst.shape(), {&ds, &ss}, [&](auto off, auto st, int64_t n) {
        D* d = dp + off[0];
        const S* s = sp + off[1];
        if (st[0] == 1 && st[1] == 1) {
          if constexpr (std::is_same_v<D, S>) {
            std::memcpy(d, s, size_t(n) * sizeof(D));
            return;
          } else if constexpr (std::is_same_v<D, float> && std::is_same_v<S, Half>) {
            k.f16_to_f32(reinterpret_cast<const uint16_t*>(s), d, n);
            return;
          } else if constexpr (std::is_same_v<D, Half> && std::is_same_v<S, float>) {
            k.f32_to_f16(s, reinterpret_cast<uint16_t*>(d), n);
            return;
          } else if constexpr (std::is_same_v<D, float> && std::is_same_v<S, BFloat16>) {
            k.bf16_to_f32(reinterpret_cast<const uint16_t*>(s), d, n);
            return;
          } else if constexpr (std::is_same_v<D, BFloat16> && std::is_same_v<S, float>) {
            k.f32_to_bf16(s, reinterpret_cast<uint16_t*>(d), n);
            return;
          }
        }
        for (int64_t i = 0; i < n; ++i) d[i * st[0]] = detail::convert<D>(s[i * st[1]]);
      });
      return 0;
    });
    return 0;
  });
}
}  // namespace

// Every in-place op passes here. In-place ops are not recorded by autograd, so with grad
// mode on they are refused on any tensor that requires grad (a leaf, as PyTorch; and an
// intermediate result too, whose gradient would silently ignore the change). Then the
// storage's version is bumped (autograd.h, Node::input_versions): a backward that saved
// the tensor before the change throws.
static void check_inplace(const Tensor& t, const char* op) {
  BIGDL_CHECK(!(grad_mode_enabled() && t.requires_grad()), ValueError, op,
              t.is_leaf() ? "in-place op on a leaf that requires grad; wrap it in NoGradGuard"
                          : "in-place op on a tensor that requires grad (autograd does not record in-place ops, so its "
                            "gradient would be wrong); use the out-of-place op");
  t.storage()->bump_version();
}

Tensor& Tensor::copy_(const Tensor& src) {
  BIGDL_CHECK(defined() && src.defined(), ValueError, "copy_", "undefined tensor");
  check_inplace(*this, "copy_");
  Tensor s = src.expand(shape());
  strided_copy(*this, s);
  return *this;
}

static void fill_values(const Tensor& t, double v) {
  detail::dispatch_dtype(t.dtype(), [&](auto tv) {
    using T = decltype(tv);
    const T x = detail::convert<T>(v);
    T* p = detail::ptr_of<T>(t);
    detail::for_each_strided<1>(t.shape(), {&t.strides()}, [&](auto off, auto st, int64_t n) {
      for (int64_t i = 0; i < n; ++i) p[off[0] + i * st[0]] = x;
    });
    return 0;
  });
}

Tensor& Tensor::fill_(double v) {
  check_inplace(*this, "fill_");
  fill_values(*this, v);
  return *this;
}

Tensor& Tensor::zero_() {
  check_inplace(*this, "zero_");
  fill_values(*this, 0.0);
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  NoGradGuard ng;
  if (dtype() == DType::f32 && other.dtype() == DType::f32 && is_contiguous() && other.is_contiguous() &&
      other.shape() == shape()) {
    detail::cpu_kernels().axpy(float(alpha), other.data<float>(), data<float>(), numel());
    return *this;
  }
  copy_(add(*this, other, alpha));
  return *this;
}

Tensor& Tensor::mul_(double s) {
  check_inplace(*this, "mul_");
  NoGradGuard ng;
  if (dtype() == DType::f32 && is_contiguous()) {
    detail::cpu_kernels().mul_scalar(data<float>(), float(s), data<float>(), numel());
    return *this;
  }
  copy_(*this * s);
  return *this;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  strided_copy(out, *this);
  if (detail::needs_grad({this}))
    detail::record(out, "clone", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = empty(shape(), t);
  strided_copy(out, *this);
  if (is_floating(t) && is_floating(dtype()) && detail::needs_grad({this})) {
    const DType src = dtype();
    detail::record(out, "to", {*this}, [src](const Tensor& g) { return std::vector<Tensor>{g.to(src)}; });
  }
  return out;
}

// ---------------------------------------------------------------- values
double Tensor::item() const {
  BIGDL_CHECK(numel() == 1, ValueError, "item", "tensor with ", numel(), " elements cannot be converted to a scalar");
  return detail::dispatch_dtype(dtype(), [&](auto v) {
    using T = decltype(v);
    return detail::convert<double>(*static_cast<const T*>(raw_data()));
  });
}

template <typename V>
static std::vector<V> values_of(const Tensor& t) {
  Tensor c = t.contiguous();
  std::vector<V> out(size_t(c.numel()));
  detail::dispatch_dtype(c.dtype(), [&](auto v) {
    using T = decltype(v);
    const T* p = c.data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = detail::convert<V>(p[i]);
  });
  return out;
}
std::vector<float> Tensor::to_vector() const { return values_of<float>(*this); }
std::vector<double> Tensor::to_double_vector() const { return values_of<double>(*this); }
std::vector<int64_t> Tensor::to_int_vector() const { return values_of<int64_t>(*this); }

std::string Tensor::to_string() const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype()) << ", values=[";
  auto v = to_double_vector();
  for (size_t i = 0; i < v.size() && i < 8; ++i) os << (i ? ", " : "") << v[i];
  if (v.size() > 8) os << ", ...";
  os << "])";
  return os.str();
}

// ---------------------------------------------------------------- views
static Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      BIGDL_CHECK(infer < 0, ShapeError, op, "only one dimension can be -1 in ", shape_str(shape));
      infer = int64_t(i);
    } else {
      BIGDL_CHECK(out[i] >= 0, ShapeError, op, "invalid shape ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    BIGDL_CHECK(known != 0 && numel % known == 0, ShapeError, op, "shape ", shape_str(shape),
                " is invalid for input of size ", numel);
    out[infer] = numel / known;
  }
  BIGDL_CHECK(shape_numel(out) == numel, ShapeError, op, "shape ", shape_str(shape), " is invalid for input of size ",
              numel);
  return out;
}

// Strides for viewing `t` with `shape` without copying, or empty when impossible
// (the same dim-merging rule as PyTorch's computeStride).
static std::optional<Shape> view_strides(const Tensor& t, const Shape& shape) {
  if (t.numel() == 0 || t.is_contiguous()) return detail::contiguous_strides(shape);
  const Shape& os = t.shape();
  const Shape& ost = t.strides();
  Shape st(shape.size());
  int64_t view_d = int64_t(shape.size()) - 1;
  int64_t chunk_base_stride = ost.empty() ? 1 : ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = int64_t(os.size()) - 1; td >= 0; --td) {
    tensor_numel *= os[td];
    if (td == 0 || (os[td - 1] != 1 && ost[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        st[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (td > 0) {
        chunk_base_stride = ost[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return st;
}

static Tensor reshape_like_grad(const Tensor& g, const Shape& shape) { return g.reshape(shape); }

Tensor Tensor::view(const Shape& shape_in) const {
  const Shape shp = infer_shape(shape_in, numel(), "view");
  auto st = view_strides(*this, shp);
  BIGDL_CHECK(st.has_value(), ShapeError, "view", "cannot view tensor of shape ", shape_str(shape()), " strides ",
              shape_str(strides()), " as ", shape_str(shp), "; use reshape()");
  Tensor out = make_view(*this, shp, *st, offset());
  if (detail::needs_grad({this})) {
    Shape in = shape();
    detail::record(out, "view", {*this}, [in](const Tensor& g) { return std::vector<Tensor>{reshape_like_grad(g, in)}; });
  }
  return out;
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  const Shape shp = infer_shape(shape_in, numel(), "reshape");
  if (view_strides(*this, shp)) return view(shp);
  return clone().view(shp);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  const int64_t s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  BIGDL_CHECK(s <= e, ValueError, "flatten", "start_dim ", start_dim, " after end_dim ", end_dim);
  Shape shp(shape().begin(), shape().begin() + s);
  int64_t m = 1;
  for (int64_t i = s; i <= e; ++i) m *= shape()[i];
  shp.push_back(m);
  shp.insert(shp.end(), shape().begin() + e + 1, shape().end());
  return reshape(shp);
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  BIGDL_CHECK(int64_t(dims.size()) == dim(), ShapeError, "permute", "got ", dims.size(), " dims for a ", dim(),
              "-d tensor");
  Shape shp(dims.size()), st(dims.size());
  std::vector<int64_t> inv(dims.size(), -1);
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = wrap_dim(dims[i], dim(), "permute");
    BIGDL_CHECK(inv[d] < 0, ShapeError, "permute", "repeated dim ", dims[i]);
    inv[d] = int64_t(i);
    shp[i] = shape()[d];
    st[i] = strides()[d];
  }
  Tensor out = make_view(*this, shp, st, offset());
  if (detail::needs_grad({this}))
    detail::record(out, "permute", {*this}, [inv](const Tensor& g) { return std::vector<Tensor>{g.permute(inv)}; });
  return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  std::vector<int64_t> p(dim());
  std::iota(p.begin(), p.end(), 0);
  if (dim() == 0) return *this;
  std::swap(p[wrap_dim(d0, dim(), "transpose")], p[wrap_dim(d1, dim(), "transpose")]);
  return permute(p);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  const int64_t n = shape()[d];
  if (start < 0) start += n;
  BIGDL_CHECK(start >= 0 && length >= 0 && start + length <= n, IndexError, "narrow", "range [", start, ", ",
              start + length, ") out of bounds for dim ", d, " of size ", n);
  Shape shp = shape();
  shp[d] = length;
  Tensor out = make_view(*this, shp, strides(), offset() + start * strides()[d]);
  if (detail::needs_grad({this})) {
    Shape in = shape();
    DType dt = dtype();
    detail::record(out, "narrow", {*this}, [in, dt, d, start, length](const Tensor& g) {
      Tensor z = zeros(in, dt);
      NoGradGuard ng;
      z.narrow(d, start, length).copy_(g);
      return std::vector<Tensor>{z};
    });
  }
  return out;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  const int64_t n = shape()[d];
  BIGDL_CHECK(index >= -n && index < n, IndexError, "select", "index ", index, " out of range for dim ", d,
              " of size ", n);
  if (index < 0) index += n;
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& shape_in) const {
  BIGDL_CHECK(int64_t(shape_in.size()) >= dim(), ShapeError, "expand", "cannot expand ", shape_str(shape()), " to ",
              shape_str(shape_in));
  const int64_t lead = int64_t(shape_in.size()) - dim();
  Shape shp(shape_in.size()), st(shape_in.size());
  for (int64_t i = 0; i < int64_t(shape_in.size()); ++i) {
    if (i < lead) {
      BIGDL_CHECK(shape_in[i] >= 0, ShapeError, "expand", "invalid size -1 for new leading dim");
      shp[i] = shape_in[i];
      st[i] = 0;
      continue;
    }
    const int64_t cur = shape()[i - lead];
    const int64_t want = shape_in[i] == -1 ? cur : shape_in[i];
    BIGDL_CHECK(cur == want || cur == 1, ShapeError, "expand", "cannot expand ", shape_str(shape()), " to ",
                shape_str(shape_in));
    shp[i] = want;
    st[i] = cur == want ? strides()[i - lead] : 0;
  }
  if (shp == shape()) return *this;
  Tensor out = make_view(*this, shp, st, offset());
  if (detail::needs_grad({this})) {
    Shape in = shape();
    detail::record(out, "expand", {*this}, [in](const Tensor& g) { return std::vector<Tensor>{sum_to(g, in)}; });
  }
  return out;
}

Tensor Tensor::squeeze() const {
  Shape shp;
  for (int64_t d : shape())
    if (d != 1) shp.push_back(d);
  return shp.size() == shape().size() ? *this : reshape(shp);
}
Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) return *this;
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape shp = shape();
  shp.erase(shp.begin() + d);
  return view(shp);
}
Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape shp = shape();
  shp.insert(shp.begin() + d, 1);
  return view(shp);
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

// ---------------------------------------------------------------- autograd accessors
bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }
bool Tensor::is_leaf() const { return !checked(impl_).grad_fn; }
Tensor& Tensor::requires_grad_(bool on) {
  BIGDL_CHECK(is_leaf(), ValueError, "requires_grad_", "only leaf tensors can change requires_grad");
  BIGDL_CHECK(!on || is_floating(dtype()), DTypeError, "requires_grad_", "only floating-point tensors can require grad, got ",
              dtype_name(dtype()));
  impl_->requires_grad = on;
  return *this;
}
Tensor Tensor::grad() const { return checked(impl_).grad ? Tensor(impl_->grad) : Tensor(); }
void Tensor::set_grad(const Tensor& g) const { checked(impl_).grad = g.defined() ? g.impl_ptr() : nullptr; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked(impl_).grad_fn; }

// ---------------------------------------------------------------- method shorthands
Tensor Tensor::sum() const { return bigdl::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return bigdl::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return bigdl::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return bigdl::mean(*this, dims, keepdim); }
Tensor Tensor::matmul(const Tensor& other) const { return bigdl::matmul(*this, other); }
Tensor Tensor::neg() const { return bigdl::neg(*this); }
Tensor Tensor::exp() const { return bigdl::exp(*this); }
Tensor Tensor::log() const { return bigdl::log(*this); }
Tensor Tensor::relu() const { return bigdl::relu(*this); }
Tensor Tensor::abs() const { return bigdl::abs(*this); }
Tensor Tensor::sqrt() const { return bigdl::sqrt(*this); }
Tensor Tensor::pow(double e) const { return bigdl::pow(*this, e); }

}  // namespace bigdl
