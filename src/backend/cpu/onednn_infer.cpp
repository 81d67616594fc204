// Inference Linear / convolution layers on oneDNN in f32, bf16 and int8
// (src/backend/cpu/onednn_infer.h).
#include "backend/cpu/onednn_infer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "backend/cpu/kernels.h"
#include "backend/cpu/onednn_common.h"
#include "core/internal.h"

namespace bigdl::detail {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

std::string Eltwise::str() const {
  static const char* const names[] = {"", "relu", "leaky_relu", "tanh", "sigmoid", "silu", "gelu", "gelu(tanh)"};
  return names[kind];
}

void Eltwise::apply(float* y, int64_t n) const {
  if (kind == none) return;
  // The dispatched SIMD kernels (each tested against its scalar reference) in chunks of
  // 1024, chunks split over the thread pool: the scalar std::erf loop of the GELU was
  // 40 % of all-MiniLM-L6-v2's fp32 time.
  const CpuKernels& k = cpu_kernels();
  parallel_for(n, 16384, [&](int64_t a, int64_t e) {
    float buf[1024];
    for (int64_t i = a; i < e; i += 1024) {
      const int64_t m = std::min<int64_t>(1024, e - i);
      float* p = y + i;
      switch (kind) {
        case none: break;
        case relu: k.relu(p, p, m); break;
        case leaky_relu:
          for (int64_t j = 0; j < m; ++j) p[j] = p[j] > 0.f ? p[j] : p[j] * alpha;
          break;
        case tanh: k.tanh(p, p, m); break;
        case sigmoid: k.sigmoid(p, p, m); break;
        case silu:
          k.sigmoid(p, buf, m);
          k.mul(p, buf, p, m);
          break;
        case gelu:
          k.mul_scalar(p, 0.70710678118654752f, buf, m);
          k.erf(buf, buf, m);
          for (int64_t j = 0; j < m; ++j) p[j] = 0.5f * p[j] * (1.f + buf[j]);
          break;
        case gelu_tanh:
          for (int64_t j = 0; j < m; ++j) buf[j] = 0.79788456080286536f * (p[j] + 0.044715f * p[j] * p[j] * p[j]);
          k.tanh(buf, buf, m);
          for (int64_t j = 0; j < m; ++j) p[j] = 0.5f * p[j] * (1.f + buf[j]);
          break;
      }
    }
  });
}

const char* infer_precision_name(InferPrecision p) {
  switch (p) {
    case InferPrecision::f32: return "fp32";
    case InferPrecision::bf16: return "bf16";
    case InferPrecision::int8: return "int8";
  }
  return "?";
}

namespace {

// The primitive for one shard geometry (batch n, input h x w) with its ports.
struct Prims {
  dnnl::primitive prim;
  memory::desc scratch, bias_md;
  Port src, dst;
  std::shared_ptr<const memory> weights;  // packed in the primitive's layout
  std::string impl;
};

void add_eltwise(dnnl::post_ops& ops, const Eltwise& a) {
  using alg = dnnl::algorithm;
  switch (a.kind) {
    case Eltwise::none: return;
    case Eltwise::relu: ops.append_eltwise(1.f, alg::eltwise_relu, 0.f, 0.f); return;
    case Eltwise::leaky_relu: ops.append_eltwise(1.f, alg::eltwise_relu, a.alpha, 0.f); return;
    case Eltwise::tanh: ops.append_eltwise(1.f, alg::eltwise_tanh, 0.f, 0.f); return;
    case Eltwise::sigmoid: ops.append_eltwise(1.f, alg::eltwise_logistic, 0.f, 0.f); return;
    case Eltwise::silu: ops.append_eltwise(1.f, alg::eltwise_swish, 1.f, 0.f); return;
    case Eltwise::gelu: ops.append_eltwise(1.f, alg::eltwise_gelu_erf, 0.f, 0.f); return;
    case Eltwise::gelu_tanh: ops.append_eltwise(1.f, alg::eltwise_gelu_tanh, 0.f, 0.f); return;
  }
}

}  // namespace

int int8_weight_max() {
  static const int q = [] {
    using isa = dnnl::cpu_isa;
    const isa i = dnnl::get_effective_cpu_isa();
    const bool vnni = i == isa::avx2_vnni || i == isa::avx512_core_vnni || i == isa::avx512_core_bf16 || i == isa::avx512_core_amx;
    return vnni ? 127 : 63;
  }();
  return q;
}

bool native_bf16() {
  static const bool b = [] {
    const dnnl::cpu_isa i = dnnl::get_effective_cpu_isa();
    return cpu_has_native_bf16() && (i == dnnl::cpu_isa::avx512_core_bf16 || i == dnnl::cpu_isa::avx512_core_amx);
  }();
  return b;
}

struct InferLayer::Impl {
  InferLayerSpec s;
  std::vector<float> w, b;  // f32, our layout; b is divided by the output scales for int8
  std::vector<float> b_given;  // the bias as given
  std::vector<float> wscale;
  memory::desc w_user;
  std::mutex m;
  std::map<std::tuple<int64_t, int64_t, int64_t>, std::shared_ptr<const Prims>> prims;  // per shard shape
  std::map<std::tuple<int64_t, int64_t, int64_t, int64_t>, std::shared_ptr<const ShardPlan<Prims>>> plans;
  std::vector<std::shared_ptr<const memory>> packs;  // one per weight layout asked for
  std::vector<uint8_t*> pack_bufs;
  std::string last_impl;

  ~Impl() {
    for (size_t i = 0; i < packs.size(); ++i) cpu_free(pack_bufs[i], packs[i]->get_desc().get_size());
  }

  dt src_type() const {
    switch (s.precision) {
      case InferPrecision::f32: return dt::f32;
      case InferPrecision::bf16: return dt::bf16;
      case InferPrecision::int8: return s.input_unsigned ? dt::u8 : dt::s8;
    }
    return dt::f32;
  }
  dt weight_type() const {
    return s.precision == InferPrecision::int8 ? dt::s8 : s.precision == InferPrecision::bf16 ? dt::bf16 : dt::f32;
  }

  // The weights in layout d, reordered (converted / quantized) once and shared by every
  // geometry that asks for the same layout. Caller holds m.
  std::shared_ptr<const memory> pack(const memory::desc& d) {
    for (const auto& p : packs)
      if (p->get_desc() == d) return p;
    dnnl::primitive_attr attr;
    if (s.precision == InferPrecision::int8) {
      std::vector<float> inv(wscale.size());
      for (size_t o = 0; o < inv.size(); ++o) inv[o] = 1.f / wscale[o];
      attr.set_output_scales(s.conv && s.groups > 1 ? 3 : 1, inv);  // per output channel (per group and channel)
    }
    auto* buf = static_cast<uint8_t*>(cpu_alloc(d.get_size()));
    BIGDL_CHECK(buf != nullptr, InternalError, "nano.layer", "out of memory packing weights");
    auto out = std::make_shared<const memory>(d, engine(), buf);
    memory user(w_user, engine(), w.data());
    dnnl::reorder(dnnl::reorder::primitive_desc(engine(), w_user, engine(), d, attr))
        .execute(stream(), {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, *out}});
    packs.push_back(out);
    pack_bufs.push_back(buf);
    return out;
  }

  std::shared_ptr<const Prims> build(int64_t n, int64_t h, int64_t wd) {
    const SingleThreaded one;  // primitives split their work for the thread count they are built under
    auto p = std::make_shared<Prims>();
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    add_eltwise(ops, s.act);
    attr.set_post_ops(ops);
    if (s.precision == InferPrecision::int8) {
      std::vector<float> os(wscale.size());
      for (size_t o = 0; o < os.size(); ++o) os[o] = s.input_scale * wscale[o];
      attr.set_output_scales(1 << 1, os);  // per output channel (dim 1 of y)
    }
    const memory::desc bias_md = b.empty() ? memory::desc() : memory::desc({s.out}, dt::f32, tag::x);
    memory::desc x_user, y_user;
    dnnl::primitive_desc_base pd_base;
    if (!s.conv) {
      x_user = memory::desc({n, s.in}, dt::f32, tag::nc);
      y_user = memory::desc({n, s.out}, dt::f32, tag::nc);
      const dnnl::inner_product_forward::desc d(dnnl::prop_kind::forward_inference, memory::desc({n, s.in}, src_type(), tag::any),
                                                memory::desc({s.out, s.in}, weight_type(), tag::any), bias_md,
                                                memory::desc({n, s.out}, dt::f32, tag::any));
      const dnnl::inner_product_forward::primitive_desc pd(d, attr, engine());
      p->prim = dnnl::inner_product_forward(pd);
      pd_base = pd;
    } else {
      const auto [oh, ow] = out_hw(h, wd);
      x_user = memory::desc({n, s.in, h, wd}, dt::f32, tag::nchw);
      y_user = memory::desc({n, s.out, oh, ow}, dt::f32, tag::nchw);
      const memory::dims wdims = s.groups == 1 ? memory::dims{s.out, s.in, s.kh, s.kw}
                                               : memory::dims{s.groups, s.out / s.groups, s.in / s.groups, s.kh, s.kw};
      const dnnl::convolution_forward::desc d(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
          memory::desc({n, s.in, h, wd}, src_type(), tag::any), memory::desc(wdims, weight_type(), tag::any), bias_md,
          memory::desc({n, s.out, oh, ow}, dt::f32, tag::any), {s.sh, s.sw}, {s.dh - 1, s.dw - 1}, {s.ph, s.pw},
          {s.ph, s.pw});
      const dnnl::convolution_forward::primitive_desc pd(d, attr, engine());
      p->prim = dnnl::convolution_forward(pd);
      pd_base = pd;
    }
    p->scratch = pd_base.scratchpad_desc();
    p->bias_md = bias_md;
    dnnl::primitive_attr src_attr;
    if (s.precision == InferPrecision::int8) src_attr.set_output_scales(0, {1.f / s.input_scale});
    p->src = make_port(x_user, pd_base.src_desc(), true, src_attr);
    p->dst = make_port(y_user, pd_base.dst_desc(), false);
    p->weights = pack(pd_base.weights_desc());
    p->impl = pd_base.impl_info_str();
    last_impl = p->impl;
    return p;
  }

  std::pair<int64_t, int64_t> out_hw(int64_t h, int64_t wd) const {
    if (!s.conv) return {1, 1};
    return {(h + 2 * s.ph - s.dh * (s.kh - 1) - 1) / s.sh + 1, (wd + 2 * s.pw - s.dw * (s.kw - 1) - 1) / s.sw + 1};
  }

  // The primitive for a shard of n rows; caller holds m.
  std::shared_ptr<const Prims> get(int64_t n, int64_t h, int64_t wd) {
    const auto key = std::make_tuple(n, h, wd);
    if (auto it = prims.find(key); it != prims.end()) return it->second;
    return prims[key] = build(n, h, wd);
  }
  // The shards of a batch of n at the current thread count, cached.
  std::shared_ptr<const ShardPlan<Prims>> plan(int64_t n, int64_t h, int64_t wd) {
    const int64_t shards = std::min<int64_t>(get_num_threads(), n);
    std::lock_guard<std::mutex> lk(m);
    const auto key = std::make_tuple(n, h, wd, shards);
    if (auto it = plans.find(key); it != plans.end()) return it->second;
    if (plans.size() >= 256) plans.clear(), prims.clear();  // something feeds many geometries: start over
    return plans[key] = make_shard_plan<Prims>(n, shards, [&](int64_t rows) { return get(rows, h, wd); });
  }
};

InferLayer::InferLayer(const InferLayerSpec& spec, const float* weight, const float* bias) : impl_(std::make_unique<Impl>()) {
  const InferLayerSpec& s = spec;
  BIGDL_CHECK(s.in > 0 && s.out > 0 && weight != nullptr, ValueError, "nano.layer", "needs positive sizes and weights, got ",
              s.in, " -> ", s.out);
  if (s.conv)
    BIGDL_CHECK(s.kh > 0 && s.kw > 0 && s.sh > 0 && s.sw > 0 && s.ph >= 0 && s.pw >= 0 && s.dh > 0 && s.dw > 0 && s.groups > 0 &&
                    s.in % s.groups == 0 && s.out % s.groups == 0,
                ValueError, "nano.layer", "invalid convolution geometry (", s.in, " -> ", s.out, ", ", s.kh, "x", s.kw,
                ", groups ", s.groups, ")");
  BIGDL_CHECK(s.precision != InferPrecision::bf16 || native_bf16(), ValueError, "nano.layer",
              "bf16 needs a CPU with AVX-512 BF16 or AMX (this one runs bf16 only emulated)");
  if (s.precision == InferPrecision::int8)
    BIGDL_CHECK(std::isfinite(s.input_scale) && s.input_scale > 0.f, ValueError, "nano.layer",
                "int8 needs a positive finite input scale, got ", s.input_scale);
  Impl& d = *impl_;
  d.s = s;
  const int64_t per = s.conv ? s.in / s.groups * s.kh * s.kw : s.in;
  d.w.assign(weight, weight + s.out * per);
  if (bias) d.b.assign(bias, bias + s.out);
  d.b_given = d.b;
  if (!s.conv) d.w_user = memory::desc({s.out, s.in}, dt::f32, tag::oi);
  else if (s.groups == 1) d.w_user = memory::desc({s.out, s.in, s.kh, s.kw}, dt::f32, tag::oihw);
  else d.w_user = memory::desc({s.groups, s.out / s.groups, s.in / s.groups, s.kh, s.kw}, dt::f32, tag::goihw);
  if (s.precision == InferPrecision::int8) {
    const float qmax = float(int8_weight_max());
    d.wscale.resize(size_t(s.out));
    for (int64_t o = 0; o < s.out; ++o) {
      float m = 0.f;
      for (int64_t i = 0; i < per; ++i) m = std::max(m, std::fabs(d.w[size_t(o * per + i)]));
      d.wscale[size_t(o)] = m > 0.f ? m / qmax : 1.f;
    }
    // oneDNN 2.x scales the int32 sum and the bias together: act(scale * (sum + bias')),
    // so the bias goes in divided by the output scale.
    for (int64_t o = 0; o < int64_t(d.b.size()); ++o) d.b[size_t(o)] /= s.input_scale * d.wscale[size_t(o)];
  }
}

InferLayer::~InferLayer() = default;

const InferLayerSpec& InferLayer::spec() const { return impl_->s; }
std::pair<int64_t, int64_t> InferLayer::out_hw(int64_t h, int64_t w) const { return impl_->out_hw(h, w); }
const std::vector<float>& InferLayer::weight_scales() const { return impl_->wscale; }
const std::vector<float>& InferLayer::weight() const { return impl_->w; }
const std::vector<float>& InferLayer::bias() const { return impl_->b_given; }
std::string InferLayer::impl_info() const {
  std::lock_guard<std::mutex> lk(impl_->m);
  return impl_->last_impl;
}

void InferLayer::forward(const float* x, int64_t n, int64_t h, int64_t w, float* y) const {
  Impl& d = *impl_;
  const InferLayerSpec& s = d.s;
  const auto [oh, ow] = d.out_hw(h, w);
  BIGDL_CHECK(n > 0 && oh > 0 && ow > 0, ValueError, "nano.layer", "empty batch or an input smaller than the kernel");
  const int64_t in_per = s.conv ? s.in * h * w : s.in, out_per = s.conv ? s.out * oh * ow : s.out;
  const std::shared_ptr<const ShardPlan<Prims>> plan = d.plan(n, h, w);
  const std::vector<int64_t>& n0 = plan->row0;
  parallel_for(int64_t(plan->prims.size()), 1, [&](int64_t a, int64_t e) {
    for (int64_t i = a; i < e; ++i) {
      const Prims& p = *plan->prims[size_t(i)];
      const SingleThreaded one;
      CallBuffers bufs("nano.layer");
      float* yi = y + n0[size_t(i)] * out_per;
      std::unordered_map<int, memory> args{{DNNL_ARG_SRC, bufs.input(p.src, x + n0[size_t(i)] * in_per)},
                                           {DNNL_ARG_WEIGHTS, *p.weights},
                                           {DNNL_ARG_SCRATCHPAD, bufs.mem(p.scratch)}};
      if (!d.b.empty()) args.emplace(DNNL_ARG_BIAS, memory(p.bias_md, engine(), d.b.data()));
      const memory out = bufs.output(p.dst, yi);
      args.emplace(DNNL_ARG_DST, out);
      p.prim.execute(stream(), args);
      bufs.finish(p.dst, out, yi);
    }
  });
}

// ---- dynamic int8 Linear ----
namespace {

struct DynPrims {
  dnnl::matmul prim;
  memory::desc src, dst, scratch;
  std::shared_ptr<const memory> weights;
};

// Rows per matmul call, at most: the block's output is scaled per row, biased and
// activated while it is still in cache (oneDNN 2.6's brgemm takes no per-row post-op: it
// fell back to its reference kernel, 800x slower). 128 rows: measured 20 % faster than 64
// on MiniLM's products, 256 no faster. Fewer rows per block when that keeps every thread busy.
constexpr int64_t kDynBlock = 128;

}  // namespace

struct DynamicInt8Linear::Impl {
  int64_t in = 0, out = 0;
  Eltwise act;
  std::vector<int8_t> qw;  // [in, out] (the matmul's weights are K x N), quantized
  std::vector<float> wscale, bias;
  std::mutex m;
  std::map<int64_t, std::shared_ptr<const DynPrims>> prims;  // per block rows
  std::vector<std::shared_ptr<const memory>> packs;
  std::vector<uint8_t*> pack_bufs;
  std::string last_impl;

  ~Impl() {
    for (size_t i = 0; i < packs.size(); ++i) cpu_free(pack_bufs[i], packs[i]->get_desc().get_size());
  }

  std::shared_ptr<const memory> pack(const memory::desc& d) {
    for (const auto& p : packs)
      if (p->get_desc() == d) return p;
    auto* buf = static_cast<uint8_t*>(cpu_alloc(d.get_size()));
    BIGDL_CHECK(buf != nullptr, InternalError, "nano.layer", "out of memory packing weights");
    auto o = std::make_shared<memory>(d, engine(), buf);
    memory user(memory::desc({in, out}, dt::s8, tag::ab), engine(), qw.data());
    dnnl::reorder(user, *o).execute(stream(), user, *o);
    packs.push_back(o);
    pack_bufs.push_back(buf);
    return o;
  }

  // The primitive for a block of `rows` rows (cached).
  std::shared_ptr<const DynPrims> get(int64_t rows) {
    std::lock_guard<std::mutex> lk(m);
    auto& slot = prims[rows];
    if (slot) return slot;
    const SingleThreaded one;
    auto p = std::make_shared<DynPrims>();
    p->src = memory::desc({rows, in}, dt::s8, tag::ab);
    p->dst = memory::desc({rows, out}, dt::f32, tag::ab);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    attr.set_output_scales(1 << 1, wscale);  // per output channel (dim 1 of y)
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(p->src, memory::desc({in, out}, dt::s8, tag::any), p->dst), attr,
                                          engine());
    p->prim = dnnl::matmul(pd);
    p->scratch = pd.scratchpad_desc();
    p->weights = pack(pd.weights_desc());
    last_impl = pd.impl_info_str();
    return slot = p;
  }
};

DynamicInt8Linear::DynamicInt8Linear(int64_t in, int64_t out, const float* weight, const float* bias, const Eltwise& act)
    : impl_(std::make_unique<Impl>()) {
  BIGDL_CHECK(in > 0 && out > 0 && weight != nullptr, ValueError, "nano.layer", "needs positive sizes and weights");
  Impl& d = *impl_;
  d.in = in, d.out = out, d.act = act;
  const float qmax = float(int8_weight_max());
  d.wscale.assign(size_t(out), 1.f);
  d.qw.assign(size_t(in * out), 0);
  for (int64_t o = 0; o < out; ++o) {
    float mx = 0.f;
    for (int64_t i = 0; i < in; ++i) mx = std::max(mx, std::fabs(weight[o * in + i]));
    const float sc = mx > 0.f ? mx / qmax : 1.f;
    d.wscale[size_t(o)] = sc;
    for (int64_t i = 0; i < in; ++i) d.qw[size_t(i * out + o)] = int8_t(std::nearbyint(weight[o * in + i] / sc));
  }
  if (bias) d.bias.assign(bias, bias + out);
}

DynamicInt8Linear::~DynamicInt8Linear() = default;

std::string DynamicInt8Linear::impl_info() const {
  std::lock_guard<std::mutex> lk(impl_->m);
  return impl_->last_impl;
}

void DynamicInt8Linear::forward(const float* x, int64_t n, float* y) const {
  Impl& d = *impl_;
  BIGDL_CHECK(n > 0, ValueError, "nano.layer", "empty batch");
  const int64_t threads = get_num_threads();
  const int64_t per = std::clamp<int64_t>((n + threads - 1) / threads, 1, kDynBlock);
  const int64_t blocks = (n + per - 1) / per;
  const auto full = d.get(std::min(n, per));
  const auto tail = n % per && n > per ? d.get(n % per) : full;
  parallel_for(blocks, 1, [&](int64_t a, int64_t e) {
    const SingleThreaded one;
    CallBuffers bufs("nano.layer");
    auto* q = static_cast<int8_t*>(bufs.get(size_t(per * d.in)));
    auto* sc = static_cast<float*>(bufs.get(size_t(per) * sizeof(float)));  // the rows' scales
    const memory scratch = bufs.mem(full->scratch.get_size() >= tail->scratch.get_size() ? full->scratch : tail->scratch);
    for (int64_t blk = a; blk < e; ++blk) {
      const int64_t r0 = blk * per, rows = std::min(per, n - r0);
      const DynPrims& p = rows == full->src.dims()[0] ? *full : *tail;
      for (int64_t r = 0; r < rows; ++r) {  // per row: s = max |x| / 127, q = round(x / s)
        const float* xr = x + (r0 + r) * d.in;
        // Eight running maxima and rounding half away from zero by truncation: loops the
        // compiler vectorises (std::nearbyint per value was most of the layer's time).
        float m8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t k = 0;
        for (; k + 8 <= d.in; k += 8)
          for (int j = 0; j < 8; ++j) m8[j] = std::max(m8[j], std::fabs(xr[k + j]));
        float mx = 0.f;
        for (; k < d.in; ++k) mx = std::max(mx, std::fabs(xr[k]));
        for (float v : m8) mx = std::max(mx, v);
        const float s = mx > 0.f ? mx / 127.f : 1.f, inv = 1.f / s;
        sc[r] = s;
        int8_t* qr = q + r * d.in;
        for (int64_t i = 0; i < d.in; ++i) {
          const float v = xr[i] * inv;
          qr[i] = int8_t(int32_t(v + (v >= 0.f ? 0.5f : -0.5f)));
        }
      }
      float* yb = y + r0 * d.out;
      p.prim.execute(stream(), {{DNNL_ARG_SRC, memory(p.src, engine(), q)},
                                {DNNL_ARG_WEIGHTS, *p.weights},
                                {DNNL_ARG_DST, memory(p.dst, engine(), yb)},
                                {DNNL_ARG_SCRATCHPAD, memory(p.scratch, engine(), scratch.get_data_handle())}});
      for (int64_t r = 0; r < rows; ++r) {  // y = act(s_r * y + b), the block still in L2
        float* yr = yb + r * d.out;
        const float s = sc[r];
        if (d.bias.empty())
          for (int64_t o = 0; o < d.out; ++o) yr[o] *= s;
        else
          for (int64_t o = 0; o < d.out; ++o) yr[o] = yr[o] * s + d.bias[size_t(o)];
        d.act.apply(yr, d.out);
      }
    }
  });
}

}  // namespace bigdl::detail
