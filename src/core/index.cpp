// Joining and indexing primitives: cat, index_select, gather, scatter_add, embedding.
#include "core/internal.h"

namespace bigdl {
namespace {

// Index values as int64 with a bounds check against `size`.
std::vector<int64_t> read_indices(const Tensor& index, int64_t size, const char* op, int64_t dim) {
  BIGDL_CHECK(is_integral(index.dtype()), DTypeError, op, "index must be an integer tensor, got ", dtype_name(index.dtype()));
  // Negative indices are refused, not wrapped (as PyTorch's index_select / gather /
  // embedding): a -1 from a bad label or token id must not silently read the last row.
  std::vector<int64_t> v = index.to_int_vector();
  for (int64_t i : v)
    BIGDL_CHECK(i >= 0 && i < size, IndexError, op, "index ", i, " is out of range for dim ", dim, " of size ", size);
  return v;
}

// Geometry of a contiguous tensor split around `dim`: [outer, size, inner].
void split_dims(const Shape& s, int64_t dim, int64_t* outer, int64_t* inner) {
  *outer = 1;
  *inner = 1;
  for (int64_t i = 0; i < dim; ++i) *outer *= s[i];
  for (int64_t i = dim + 1; i < int64_t(s.size()); ++i) *inner *= s[i];
}

// dst rows [outer, dst_n, inner] at positions idx receive (+= if accumulate) src rows [outer, n, inner].
template <typename T>
void scatter_rows(T* dst, int64_t dst_n, const T* src, const std::vector<int64_t>& idx, int64_t outer, int64_t inner,
                  int64_t skip) {
  const int64_t n = int64_t(idx.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i) {
      if (idx[i] == skip) continue;
      T* d = dst + (o * dst_n + idx[i]) * inner;
      const T* s = src + (o * n + i) * inner;
      for (int64_t k = 0; k < inner; ++k) d[k] = detail::convert<T>(detail::convert<double>(d[k]) + detail::convert<double>(s[k]));
    }
}

Tensor index_add_rows(const Shape& shape, int64_t dim, const std::vector<int64_t>& idx, const Tensor& src, int64_t skip) {
  Tensor out = zeros(shape, src.dtype());
  const Tensor sc = src.contiguous();
  int64_t outer, inner;
  split_dims(shape, dim, &outer, &inner);
  detail::dispatch_dtype(src.dtype(), [&](auto zero) {
    using T = decltype(zero);
    scatter_rows<T>(out.data<T>(), shape[dim], sc.data<T>(), idx, outer, inner, skip);
    return 0;
  });
  return out;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  BIGDL_CHECK(!tensors.empty(), ValueError, "cat", "expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  dim = detail::wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  DType dt = first.dtype();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    BIGDL_CHECK(t.dim() == first.dim(), ShapeError, "cat", "tensor ", i, " has ", t.dim(), " dims, expected ", first.dim());
    for (int64_t d = 0; d < t.dim(); ++d)
      BIGDL_CHECK(d == dim || t.shape()[d] == shape[d], ShapeError, "cat", "tensor ", i, " has shape ", shape_str(t.shape()),
                  ", expected ", shape_str(shape), " except in dim ", dim);
    total += t.shape()[dim];
    dt = promote_types(dt, t.dtype());
  }
  shape[dim] = total;
  Tensor out = empty(shape, dt);
  std::vector<int64_t> sizes;
  {
    NoGradGuard ng;
    int64_t off = 0;
    for (const Tensor& t : tensors) {
      out.narrow(dim, off, t.shape()[dim]).copy_(t);
      sizes.push_back(t.shape()[dim]);
      off += t.shape()[dim];
    }
  }
  bool any = false;
  for (const Tensor& t : tensors) any = any || detail::needs_grad({&t});
  if (any) {
    std::vector<DType> dts;
    for (const Tensor& t : tensors) dts.push_back(t.dtype());
    detail::record(out, "cat", tensors, [sizes, dim, dts](const Tensor& g) {
      std::vector<Tensor> r;
      int64_t off = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        r.push_back(g.narrow(dim, off, sizes[i]).to(dts[i]));
        off += sizes[i];
      }
      return r;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  BIGDL_CHECK(!tensors.empty(), ValueError, "stack", "expected a non-empty list of tensors");
  std::vector<Tensor> u;
  const int64_t d = detail::wrap_dim(dim, tensors[0].dim() + 1, "stack");
  for (const Tensor& t : tensors) {
    BIGDL_CHECK(t.shape() == tensors[0].shape(), ShapeError, "stack", "all tensors need shape ",
                shape_str(tensors[0].shape()), ", got ", shape_str(t.shape()));
    u.push_back(t.unsqueeze(d));
  }
  return cat(u, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  BIGDL_CHECK(split_size > 0, ValueError, "split", "split_size must be positive, got ", split_size);
  dim = detail::wrap_dim(dim, x.dim(), "split");
  std::vector<Tensor> out;
  for (int64_t s = 0; s < x.shape()[dim]; s += split_size)
    out.push_back(x.narrow(dim, s, std::min(split_size, x.shape()[dim] - s)));
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  BIGDL_CHECK(chunks > 0, ValueError, "chunk", "chunks must be positive, got ", chunks);
  dim = detail::wrap_dim(dim, x.dim(), "chunk");
  const int64_t n = x.size(dim);
  return split(x, std::max<int64_t>(1, (n + chunks - 1) / chunks), dim);
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  BIGDL_CHECK(index.dim() <= 1, ShapeError, "index_select", "index must be 1-D, got ", shape_str(index.shape()));
  dim = detail::wrap_dim(dim, x.dim(), "index_select");
  const std::vector<int64_t> idx = read_indices(index, x.shape()[dim], "index_select", dim);
  Shape shape = x.shape();
  shape[dim] = int64_t(idx.size());
  const Tensor xc = x.detach().contiguous();
  Tensor out = empty(shape, x.dtype());
  int64_t outer, inner;
  split_dims(x.shape(), dim, &outer, &inner);
  const int64_t esz = element_size(x.dtype()), n = int64_t(idx.size()), src_n = x.shape()[dim];
  const char* px = static_cast<const char*>(xc.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  detail::parallel_for(outer * n, std::max<int64_t>(1, 16384 / std::max<int64_t>(inner, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / n, i = r % n;
      std::memcpy(po + r * inner * esz, px + (o * src_n + idx[i]) * inner * esz, size_t(inner * esz));
    }
  });
  if (detail::needs_grad({&x})) {
    Shape in = x.shape();
    detail::record(out, "index_select", {x}, [in, dim, idx](const Tensor& g) {
      return std::vector<Tensor>{index_add_rows(in, dim, idx, g, -1)};
    });
  }
  return out;
}

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  BIGDL_CHECK(weight.dim() == 2, ShapeError, "embedding", "weight must be 2-D [num_embeddings, dim], got ",
              shape_str(weight.shape()));
  const std::vector<int64_t> idx = read_indices(indices.reshape({-1}), weight.size(0), "embedding", 0);
  Tensor rows;
  {
    NoGradGuard ng;
    rows = index_select(weight, 0, from_vector(idx, {int64_t(idx.size())}));
  }
  Shape shape = indices.shape();
  shape.push_back(weight.size(1));
  Tensor out = rows.view(shape);
  if (detail::needs_grad({&weight})) {
    Shape in = weight.shape();
    detail::record(out, "embedding", {weight}, [in, idx, padding_idx](const Tensor& g) {
      return std::vector<Tensor>{index_add_rows(in, 0, idx, g.reshape({-1, in[1]}), padding_idx)};
    });
  }
  return out;
}

namespace {
// For each element of contiguous `index` (shape I), its offset into a tensor of shape X
// (contiguous strides) with the `dim` coordinate replaced by the index value.
std::vector<int64_t> gather_offsets(const Shape& xs, const Tensor& index, int64_t dim, const char* op) {
  BIGDL_CHECK(index.dim() == int64_t(xs.size()), ShapeError, op, "index has ", index.dim(), " dims, expected ", xs.size());
  const Shape& is = index.shape();
  for (int64_t d = 0; d < index.dim(); ++d)
    BIGDL_CHECK(d == dim || is[d] <= xs[d], ShapeError, op, "index ", shape_str(is), " is larger than ", shape_str(xs),
                " outside dim ", dim);
  const std::vector<int64_t> iv = read_indices(index, xs[dim], op, dim);
  const Shape xst = detail::contiguous_strides(xs);
  std::vector<int64_t> off(iv.size());
  std::vector<int64_t> coord(is.size(), 0);
  for (size_t p = 0; p < iv.size(); ++p) {
    int64_t o = 0;
    for (size_t d = 0; d < is.size(); ++d) o += (int64_t(d) == dim ? iv[p] : coord[d]) * xst[d];
    off[p] = o;
    for (int64_t d = int64_t(is.size()) - 1; d >= 0; --d) {
      if (++coord[d] < is[d]) break;
      coord[d] = 0;
    }
  }
  return off;
}
}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  dim = detail::wrap_dim(dim, x.dim(), "gather");
  const std::vector<int64_t> off = gather_offsets(x.shape(), index, dim, "gather");
  const Tensor xc = x.detach().contiguous();
  Tensor out = empty(index.shape(), x.dtype());
  detail::dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* px = xc.data<T>();
    T* po = out.data<T>();
    for (size_t p = 0; p < off.size(); ++p) po[p] = px[off[p]];
    return 0;
  });
  if (detail::needs_grad({&x})) {
    detail::record(out, "gather", {x}, [x, dim, index](const Tensor& g) {
      return std::vector<Tensor>{scatter_add(zeros(x.shape(), g.dtype()), dim, index, g)};
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  dim = detail::wrap_dim(dim, x.dim(), "scatter_add");
  BIGDL_CHECK(src.dim() == index.dim(), ShapeError, "scatter_add", "src ", shape_str(src.shape()), " and index ",
              shape_str(index.shape()), " need the same number of dims");
  for (int64_t d = 0; d < index.dim(); ++d)
    BIGDL_CHECK(index.shape()[d] <= src.shape()[d], ShapeError, "scatter_add", "index ", shape_str(index.shape()),
                " is larger than src ", shape_str(src.shape()));
  const std::vector<int64_t> off = gather_offsets(x.shape(), index, dim, "scatter_add");
  Tensor out = x.detach().contiguous().clone();
  // src restricted to index's shape, in index order.
  Tensor s = src.detach();
  for (int64_t d = 0; d < index.dim(); ++d) s = s.narrow(d, 0, index.shape()[d]);
  s = s.to(x.dtype()).contiguous();
  detail::dispatch_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* ps = s.data<T>();
    T* po = out.data<T>();
    for (size_t p = 0; p < off.size(); ++p)
      po[off[p]] = detail::convert<T>(detail::convert<double>(po[off[p]]) + detail::convert<double>(ps[p]));
    return 0;
  });
  if (detail::needs_grad({&x, &src})) {
    detail::record(out, "scatter_add", {x, src}, [dim, index, src](const Tensor& g) {
      Tensor gs;
      if (src.requires_grad()) {
        Tensor gi = gather(g, dim, index);
        if (gi.shape() != src.shape()) {  // pad back to src's shape
          Tensor full = zeros(src.shape(), g.dtype());
          Tensor view = full;
          for (int64_t d = 0; d < index.dim(); ++d) view = view.narrow(d, 0, index.shape()[d]);
          view.copy_(gi);
          gi = full;
        }
        gs = gi;
      }
      return std::vector<Tensor>{g, gs};
    });
  }
  return out;
}

Tensor one_hot(const Tensor& indices, int64_t num_classes) {
  BIGDL_CHECK(num_classes > 0, ValueError, "one_hot", "num_classes must be positive, got ", num_classes);
  BIGDL_CHECK(is_integral(indices.dtype()), DTypeError, "one_hot", "indices must be integers, got ", dtype_name(indices.dtype()));
  const std::vector<int64_t> idx = indices.to_int_vector();
  for (int64_t v : idx)
    BIGDL_CHECK(v >= 0 && v < num_classes, IndexError, "one_hot", "class value ", v, " out of range [0, ", num_classes, ")");
  Shape shape = indices.shape();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, DType::i64);
  int64_t* p = out.data<int64_t>();
  for (size_t i = 0; i < idx.size(); ++i) p[i * num_classes + idx[i]] = 1;
  return out;
}

}  // namespace bigdl
