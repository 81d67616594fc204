// Scans, sorting, masking, einsum and the composed layers' functions (group_norm,
// avg_pool1d, conv_transpose1d/2d). cumsum and sort have their own loops; the others are
// compositions of differentiable ops, so their backward comes from autograd.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "bigdl/autograd.h"
#include "bigdl/ops.h"
#include "core/internal.h"

namespace bigdl {
namespace {

// x viewed as [outer, n, inner] around `dim` (contiguous f32 / f64 copy).
struct Lanes {
  int64_t outer = 1, n = 1, inner = 1;
};
Lanes lanes_of(const Shape& s, int64_t dim) {
  Lanes l;
  for (int64_t d = 0; d < int64_t(s.size()); ++d) {
    if (d < dim) l.outer *= s[d];
    else if (d == dim) l.n = s[d];
    else l.inner *= s[d];
  }
  return l;
}

Tensor cumsum_values(const Tensor& x_in, int64_t dim, bool reverse) {
  const DType work = x_in.dtype() == DType::f64 ? DType::f64 : (is_floating(x_in.dtype()) ? DType::f32 : DType::i64);
  const Tensor x = x_in.detach().to(work).contiguous();
  Tensor out = empty(x.shape(), work);
  const Lanes l = lanes_of(x.shape(), dim);
  detail::dispatch_dtype(work, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int64_t>) {
      const T* px = x.data<T>();
      T* po = out.data<T>();
      using Acc = std::conditional_t<std::is_same_v<T, int64_t>, int64_t, double>;
      for (int64_t o = 0; o < l.outer; ++o)
        for (int64_t i = 0; i < l.inner; ++i) {
          Acc acc = 0;
          for (int64_t k = 0; k < l.n; ++k) {
            const int64_t kk = reverse ? l.n - 1 - k : k;
            const int64_t at = (o * l.n + kk) * l.inner + i;
            acc += Acc(px[at]);
            po[at] = T(acc);
          }
        }
    }
    return 0;
  });
  return out;
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) {
  dim = detail::wrap_dim(dim, x.dim(), "cumsum");
  Tensor out = cumsum_values(x, dim, false);
  if (is_floating(x.dtype()) && out.dtype() != x.dtype()) out = out.to(x.dtype());
  if (detail::needs_grad({&x}))
    detail::record(out, "cumsum", {x}, [dim](const Tensor& g) {
      return std::vector<Tensor>{cumsum_values(g, dim, true).to(g.dtype())};  // d(sum_{j<=i}) / dx_j: suffix sums
    });
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  BIGDL_CHECK(mask.dtype() == DType::boolean, DTypeError, "masked_fill", "mask must be bool, got ",
              dtype_name(mask.dtype()));
  const Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  BIGDL_CHECK(s == x.shape(), ShapeError, "masked_fill", "mask ", shape_str(mask.shape()),
              " does not broadcast to the input's shape ", shape_str(x.shape()));
  return where(mask, full(x.shape(), value, x.dtype()), x);
}

namespace {
// The i64 indices that order x along dim (dim already wrapped); stable, NaN last.
Tensor sort_indices(const Tensor& x, int64_t dim, bool descending) {
  const Tensor xd = x.detach().to(DType::f64).contiguous();
  const Lanes l = lanes_of(x.shape(), dim);
  Tensor idx = empty(x.shape(), DType::i64);
  const double* px = xd.data<double>();
  int64_t* pi = idx.data<int64_t>();
  std::vector<int64_t> order(size_t(l.n));
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t i = 0; i < l.inner; ++i) {
      auto at = [&](int64_t k) { return px[(o * l.n + k) * l.inner + i]; };
      std::iota(order.begin(), order.end(), 0);
      // Stable, NaN last (largest) as torch.sort; ties keep their order.
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        const double va = at(a), vb = at(b);
        if (std::isnan(va) || std::isnan(vb)) return descending ? std::isnan(va) && !std::isnan(vb) : !std::isnan(va) && std::isnan(vb);
        return descending ? va > vb : va < vb;
      });
      for (int64_t k = 0; k < l.n; ++k) pi[(o * l.n + k) * l.inner + i] = order[size_t(k)];
    }
  return idx;
}
}  // namespace

std::pair<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending) {
  dim = detail::wrap_dim(dim, x.dim(), "sort");
  const Tensor idx = sort_indices(x, dim, descending);
  return {gather(x, dim, idx), idx};
}

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest) {
  dim = detail::wrap_dim(dim, x.dim(), "topk");
  BIGDL_CHECK(k >= 0 && k <= (x.dim() ? x.size(dim) : 1), ValueError, "topk", "k ", k, " is out of range for dim ", dim,
              " of size ", x.dim() ? x.size(dim) : 1);
  const Tensor top = sort_indices(x, dim, largest).narrow(dim, 0, k).contiguous();
  return {gather(x, dim, top), top};
}

// ------------------------------------------------------------------ einsum
namespace {
struct Term {
  std::string letters;
  Tensor t;
};

// Sums away the letters of `a` that no one else needs.
Term reduce_unneeded(Term a, const std::multiset<char>& needed) {
  std::vector<int64_t> dims;
  std::string keep;
  for (size_t i = 0; i < a.letters.size(); ++i) {
    if (needed.count(a.letters[i])) keep += a.letters[i];
    else dims.push_back(int64_t(i));
  }
  if (!dims.empty()) a.t = sum(a.t, dims);
  a.letters = keep;
  return a;
}

// Contracts two terms keeping the letters in `keep_set` (needed later or in the output):
// letters in both and kept are batch dims; in both, not kept, contracted; the rest free.
Term contract(const Term& a, const Term& b, const std::set<char>& keep_set) {
  std::string batch, con, fa, fb;
  for (char c : a.letters) {
    const bool in_b = b.letters.find(c) != std::string::npos;
    if (in_b && keep_set.count(c)) batch += c;
    else if (in_b) con += c;
    else fa += c;
  }
  for (char c : b.letters)
    if (a.letters.find(c) == std::string::npos) fb += c;
  auto size_of = [&](char c) {
    const size_t i = a.letters.find(c);
    return i != std::string::npos ? a.t.size(int64_t(i)) : b.t.size(int64_t(b.letters.find(c)));
  };
  auto prod = [&](const std::string& s) {
    int64_t p = 1;
    for (char c : s) p *= size_of(c);
    return p;
  };
  auto arrange = [](const Term& t, const std::string& order) {
    std::vector<int64_t> perm;
    for (char c : order) perm.push_back(int64_t(t.letters.find(c)));
    return t.t.permute(perm);
  };
  // Sizes of a letter must agree (broadcast of size 1 as torch.einsum).
  for (char c : batch + con) {
    const int64_t sa = a.t.size(int64_t(a.letters.find(c))), sb = b.t.size(int64_t(b.letters.find(c)));
    BIGDL_CHECK(sa == sb, ShapeError, "einsum", "subscript '", std::string(1, c), "' has size ", sa, " in one operand and ",
                sb, " in another");
  }
  const Tensor ta = arrange(a, batch + fa + con).reshape({prod(batch), prod(fa), prod(con)});
  const Tensor tb = arrange(b, batch + con + fb).reshape({prod(batch), prod(con), prod(fb)});
  Shape out_shape;
  for (char c : batch + fa + fb) out_shape.push_back(size_of(c));
  return {batch + fa + fb, matmul(ta, tb).reshape(out_shape)};
}
}  // namespace

Tensor einsum(const std::string& equation, const std::vector<Tensor>& operands) {
  std::string eq;
  for (char c : equation)
    if (c != ' ') eq += c;
  const size_t arrow = eq.find("->");
  BIGDL_CHECK(arrow != std::string::npos, ValueError, "einsum", "equation '", equation,
              "' needs an explicit output ('ij,jk->ik')");
  BIGDL_CHECK(eq.find("...") == std::string::npos, ValueError, "einsum", "'...' is not supported in '", equation, "'");
  const std::string lhs = eq.substr(0, arrow), out = eq.substr(arrow + 2);
  std::vector<std::string> ins;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    ins.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  BIGDL_CHECK(ins.size() == operands.size(), ValueError, "einsum", "equation '", equation, "' has ", ins.size(),
              " operands, got ", operands.size(), " tensors");
  std::vector<Term> terms;
  for (size_t i = 0; i < ins.size(); ++i) {
    for (char c : ins[i])
      BIGDL_CHECK(std::isalpha(static_cast<unsigned char>(c)), ValueError, "einsum", "bad subscript '", std::string(1, c),
                  "' in '", equation, "'");
    BIGDL_CHECK(int64_t(ins[i].size()) == operands[i].dim(), ShapeError, "einsum", "operand ", i, " has ", operands[i].dim(),
                " dims but subscripts '", ins[i], "'");
    BIGDL_CHECK(std::set<char>(ins[i].begin(), ins[i].end()).size() == ins[i].size(), ValueError, "einsum",
                "repeated subscripts within one operand ('", ins[i], "': diagonals) are not supported");
    terms.push_back({ins[i], operands[i]});
  }
  for (char c : out) {
    BIGDL_CHECK(lhs.find(c) != std::string::npos, ValueError, "einsum", "output subscript '", std::string(1, c),
                "' appears in no operand");
    BIGDL_CHECK(std::count(out.begin(), out.end(), c) == 1, ValueError, "einsum", "output subscript '", std::string(1, c),
                "' appears twice");
  }
  // Left to right: first drop each operand's letters used nowhere else, then contract.
  auto needed_after = [&](size_t i) {  // the output's letters and those of the operands after i
    std::multiset<char> m(out.begin(), out.end());
    for (size_t j = i + 1; j < terms.size(); ++j) m.insert(terms[j].letters.begin(), terms[j].letters.end());
    return m;
  };
  Term acc = reduce_unneeded(terms[0], needed_after(0));
  for (size_t i = 1; i < terms.size(); ++i) {
    const std::multiset<char> later = needed_after(i);
    auto with = [&](const std::string& letters) {
      std::multiset<char> m = later;
      m.insert(letters.begin(), letters.end());
      return m;
    };
    const Term b = reduce_unneeded(terms[i], with(acc.letters));
    acc = reduce_unneeded(acc, with(b.letters));
    acc = contract(acc, b, std::set<char>(later.begin(), later.end()));
  }
  acc = reduce_unneeded(acc, std::multiset<char>(out.begin(), out.end()));
  std::vector<int64_t> perm;
  for (char c : out) perm.push_back(int64_t(acc.letters.find(c)));
  return acc.t.permute(perm).contiguous();
}

// ------------------------------------------------------------------ composed layers
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, double eps) {
  BIGDL_CHECK(x.dim() >= 2, ShapeError, "group_norm", "expected input [N, C, ...], got ", shape_str(x.shape()));
  const int64_t n = x.size(0), c = x.size(1);
  BIGDL_CHECK(groups >= 1 && c % groups == 0, ValueError, "group_norm", "num_channels ", c,
              " must be divisible by num_groups ", groups);
  const Tensor g = x.reshape({n, groups, -1});
  const Tensor y = div(sub(g, mean(g, {2}, true)), sqrt(add(var(g, {2}, false, true), scalar_tensor(eps))))
                       .reshape(x.shape());
  if (!weight.defined()) return y;
  Shape ws{c};
  for (int64_t d = 2; d < x.dim(); ++d) ws.push_back(1);
  Tensor out = mul(y, weight.reshape(ws));
  return bias.defined() ? add(out, bias.reshape(ws)) : out;
}

Tensor avg_pool1d(const Tensor& x, int64_t kernel, int64_t stride, int64_t padding, bool count_include_pad) {
  BIGDL_CHECK(x.dim() == 3, ShapeError, "avg_pool1d", "expected input [N, C, L], got ", shape_str(x.shape()));
  return avg_pool2d(x.unsqueeze(2), {1, kernel}, {1, stride}, {0, padding}, count_include_pad).squeeze(2);
}

namespace {
// x with `left` zeros before and `right` zeros after along dim (negative: that many cut).
Tensor pad_zeros(const Tensor& x, int64_t dim, int64_t left, int64_t right) {
  Tensor y = x;
  if (left < 0) y = y.narrow(dim, -left, y.size(dim) + left);
  if (right < 0) y = y.narrow(dim, 0, y.size(dim) + right);
  std::vector<Tensor> parts;
  auto zeros_of = [&](int64_t len) {
    Shape s = y.shape();
    s[size_t(dim)] = len;
    return zeros(s, y.dtype());
  };
  if (left > 0) parts.push_back(zeros_of(left));
  parts.push_back(y);
  if (right > 0) parts.push_back(zeros_of(right));
  return parts.size() == 1 ? y : cat(parts, dim);
}

// stride - 1 zeros between neighbours along dim.
Tensor spread(const Tensor& x, int64_t dim, int64_t stride) {
  if (stride == 1 || x.size(dim) == 0) return x;
  const int64_t len = x.size(dim);
  Shape z = x.shape();
  z.insert(z.begin() + dim + 1, stride - 1);
  Tensor y = cat({x.unsqueeze(dim + 1), zeros(z, x.dtype())}, dim + 1);  // [.., len, stride, ..]
  Shape s = x.shape();
  s[size_t(dim)] = len * stride;
  return y.reshape(s).narrow(dim, 0, (len - 1) * stride + 1);
}

Tensor flip(const Tensor& x, int64_t dim) {
  std::vector<int64_t> idx(size_t(x.size(dim)));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = int64_t(idx.size() - 1 - i);
  return index_select(x, dim, from_vector(idx, {int64_t(idx.size())}));
}
}  // namespace

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, std::pair<int64_t, int64_t> stride,
                        std::pair<int64_t, int64_t> padding, std::pair<int64_t, int64_t> output_padding, int64_t groups,
                        std::pair<int64_t, int64_t> dilation) {
  BIGDL_CHECK(x.dim() == 4 && weight.dim() == 4 && groups >= 1 && x.size(1) == weight.size(0) && x.size(1) % groups == 0,
              ShapeError, "conv_transpose2d", "expected x [N, C_in, H, W] and weight [C_in, C_out / groups, kH, kW] with C_in ",
              "divisible by groups, got ", shape_str(x.shape()), " and ", shape_str(weight.shape()));
  const auto [sh, sw] = stride;
  const auto [ph, pw] = padding;
  const auto [oh, ow] = output_padding;
  const auto [dh, dw] = dilation;
  BIGDL_CHECK(sh >= 1 && sw >= 1 && dh >= 1 && dw >= 1 && ph >= 0 && pw >= 0, ValueError, "conv_transpose2d",
              "stride and dilation must be >= 1 and padding >= 0");
  BIGDL_CHECK(oh >= 0 && ow >= 0 && (oh < sh || oh < dh) && (ow < sw || ow < dw), ValueError, "conv_transpose2d",
              "output_padding must be smaller than stride or dilation, got ", oh, ", ", ow);
  const int64_t cin = weight.size(0), cout_g = weight.size(1), kh = weight.size(2), kw = weight.size(3);
  // The transposed convolution is a convolution of the input spread by the stride and
  // padded by dilation * (k - 1) - padding (output_padding more at the end), with the
  // kernel flipped and its in / out channels swapped within each group.
  Tensor w = weight.reshape({groups, cin / groups, cout_g, kh, kw}).transpose(1, 2).reshape({groups * cout_g, cin / groups, kh, kw});
  w = flip(flip(w, 2), 3);
  Tensor up = spread(spread(x, 2, sh), 3, sw);
  up = pad_zeros(up, 2, dh * (kh - 1) - ph, dh * (kh - 1) - ph + oh);
  up = pad_zeros(up, 3, dw * (kw - 1) - pw, dw * (kw - 1) - pw + ow);
  return conv2d(up, w, bias, {1, 1}, {0, 0}, {dh, dw}, groups);
}

Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
                        int64_t output_padding, int64_t groups, int64_t dilation) {
  BIGDL_CHECK(x.dim() == 3 && weight.dim() == 3, ShapeError, "conv_transpose1d",
              "expected x [N, C_in, L] and weight [C_in, C_out / groups, k], got ", shape_str(x.shape()), " and ",
              shape_str(weight.shape()));
  return conv_transpose2d(x.unsqueeze(2), weight.unsqueeze(2), bias, {1, stride}, {0, padding}, {0, output_padding},
                          groups, {1, dilation})
      .squeeze(2);
}

}  // namespace bigdl
