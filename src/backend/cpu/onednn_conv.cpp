// conv2d forward / backward-data / backward-weights through oneDNN (Debian libdnnl 2.6).
//
// One cache entry per geometry holds the three primitives and the reorders between our
// NCHW / OIHW buffers and the layouts the primitives work on. A primitive is either
// "blocked" (format_tag::any: oneDNN picks nChw8c-style layouts on AVX2 and every call
// reorders at the boundary) or "plain" (it must read and write NCHW directly; oneDNN then
// runs its own im2col + GEMM). choose() holds the measured choice per geometry.
//
// Threads (onednn_common.h): Debian's oneDNN runs on OpenMP (libgomp), whose idle workers spin-wait (no
// OMP_WAIT_POLICY set) next to our own pool and OpenBLAS's: ResNet training at 2 threads
// ran 6x slower with oneDNN's OpenMP threading than with OMP_WAIT_POLICY=passive. So
// oneDNN always runs single-threaded here (OpenMP's team is never started) and we split
// the batch into get_num_threads() shards over our own pool; backward-weights sums the
// shards' partial gradients.
#include "backend/cpu/onednn_conv.h"
#include "backend/cpu/onednn_common.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "core/internal.h"


namespace bigdl::detail {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

namespace {

ConvBackend initial_backend() {
  const char* env = std::getenv("BIGDL_CONV_BACKEND");
  if (!env) return ConvBackend::automatic;
  const std::string s = env;
  if (s == "im2col") return ConvBackend::im2col;
  if (s == "onednn_blocked") return ConvBackend::onednn_blocked;
  if (s == "onednn_plain") return ConvBackend::onednn_plain;
  return ConvBackend::automatic;
}
std::atomic<ConvBackend> g_backend{initial_backend()};

// How each of the three steps runs: on oneDNN's blocked layouts, on NCHW directly
// ("plain"), or (backward-weights only) through conv2d's own im2col + OpenBLAS GEMM over
// the whole batch. Measured per step on AMD EPYC (Zen 3, AVX2), 1 thread,
// docs/decisions.md "Convolution":
// - pointwise convolutions (1x1, stride 1, no padding) are one GEMM on NCHW; the reorders
//   to and from nChw8c cost more than blocking saves (plain 1.2-1.5x faster);
// - with one or two input channels the blocked backward kernels pad them to 8, and
//   oneDNN's plain backward-weights runs one small GEMM per image: backward-data is
//   1.4-2.7x faster plain, backward-weights 2x faster through im2col. Depthwise
//   convolutions are not affected (jit_dw, 5x faster blocked than plain).
struct Choice {
  bool fwd_plain, bwd_data_plain, bwd_weights_plain, bwd_weights_im2col;
};
Choice choose(const ConvGeom& q, ConvBackend b) {
  if (b == ConvBackend::onednn_plain) return {true, true, true, false};
  if (b == ConvBackend::onednn_blocked) return {false, false, false, false};
  const bool pointwise = q.kh == 1 && q.kw == 1 && q.sh == 1 && q.sw == 1 && q.ph == 0 && q.pw == 0;
  const bool few_channels = q.G == 1 && q.C <= 2;
  return {pointwise, pointwise || few_channels, pointwise, few_channels};
}

memory::desc f32_md(const memory::dims& d, tag t) { return memory::desc(d, memory::data_type::f32, t); }

// The primitives for one geometry, built to run single-threaded.
struct Prims {
  ConvGeom q;
  bool bias;
  Choice how;
  bool bf16 = false;  // under bf16 autocast: the inputs of each step (x, w, gy) in bf16, its output f32
  memory::dims strides, dilates, pad;
  memory::desc x_md, w_md, b_md, y_md;  // our layouts

  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  memory::desc fwd_scratch;
  Port fwd_x, fwd_w, fwd_y;

  bool has_backward = false;
  dnnl::convolution_backward_data bwd_data;
  memory::desc bwd_data_scratch;
  Port bd_gy, bd_w, bd_gx;
  dnnl::convolution_backward_weights bwd_weights;
  memory::desc bwd_weights_scratch;
  Port bw_x, bw_gy, bw_gw;
  std::string impl_info;
};
}  // namespace

// A conv2d call's plan: the batch split into one shard per thread, images
// [n0, n0 + p->q.N) running on primitives p (shared by all plans with that shard geometry).
struct OnednnConv {
  ConvGeom q;
  bool bias;
  bool has_backward = false;
  struct Shard {
    int64_t n0;
    std::shared_ptr<Prims> p;
  };
  std::vector<Shard> shards;
};

namespace {

// The descriptor to ask a primitive for: our own layout, or "any" to let it choose.
memory::desc ask(const memory::desc& user, bool plain) { return plain ? user : f32_md(user.dims(), tag::any); }
// An input of a step under bf16 autocast: bf16 in the layout the primitive picks (the
// port's reorder converts and rounds); f32 as ask() otherwise.
memory::desc ask_in(const memory::desc& user, bool plain, bool bf16) {
  return bf16 ? memory::desc(user.dims(), memory::data_type::bf16, tag::any) : ask(user, plain);
}

std::string describe(const char* name, const char* impl, bool plain) {
  return std::string(name) + "=" + impl + (plain ? "(plain)" : "(blocked)");
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // from our caching allocator, per call
  return attr;
}

void build_forward(Prims& c) {
  const ConvGeom& q = c.q;
  c.strides = {q.sh, q.sw};
  c.dilates = {q.dh - 1, q.dw - 1};  // oneDNN counts the gap between taps, PyTorch the step
  c.pad = {q.ph, q.pw};
  c.x_md = f32_md({q.N, q.C, q.H, q.W}, tag::nchw);
  c.w_md = q.G == 1 ? f32_md({q.O, q.C, q.kh, q.kw}, tag::oihw) : f32_md({q.G, q.og(), q.cg(), q.kh, q.kw}, tag::goihw);
  c.b_md = c.bias ? f32_md({q.O}, tag::x) : memory::desc();
  c.y_md = f32_md({q.N, q.O, q.OH, q.OW}, tag::nchw);
  const bool p = c.how.fwd_plain;
  const dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                          ask_in(c.x_md, p, c.bf16), ask_in(c.w_md, p, c.bf16), c.b_md, ask(c.y_md, p && !c.bf16), c.strides, c.dilates,
                                          c.pad, c.pad);
  c.fwd_pd = dnnl::convolution_forward::primitive_desc(d, user_scratchpad(), engine());
  c.fwd = dnnl::convolution_forward(c.fwd_pd);
  c.fwd_scratch = c.fwd_pd.scratchpad_desc();
  c.fwd_x = make_port(c.x_md, c.fwd_pd.src_desc(), true);
  c.fwd_w = make_port(c.w_md, c.fwd_pd.weights_desc(), true);
  c.fwd_y = make_port(c.y_md, c.fwd_pd.dst_desc(), false);
  c.impl_info = std::string(c.bf16 ? "bf16 " : "") + describe("fwd", c.fwd_pd.impl_info_str(), p);
}

void build_backward(Prims& c) {
  bool p = c.how.bwd_data_plain;
  const dnnl::convolution_backward_data::desc dd(dnnl::algorithm::convolution_direct, ask(c.x_md, p && !c.bf16),
                                                 ask_in(c.w_md, p, c.bf16), ask_in(c.y_md, p, c.bf16), c.strides, c.dilates,
                                                 c.pad, c.pad);
  const dnnl::convolution_backward_data::primitive_desc dpd(dd, user_scratchpad(), engine(), c.fwd_pd);
  c.bwd_data = dnnl::convolution_backward_data(dpd);
  c.bwd_data_scratch = dpd.scratchpad_desc();
  c.bd_gy = make_port(c.y_md, dpd.diff_dst_desc(), true);
  c.bd_w = make_port(c.w_md, dpd.weights_desc(), true);
  c.bd_gx = make_port(c.x_md, dpd.diff_src_desc(), false);
  std::string info = " " + describe("bwd_data", dpd.impl_info_str(), p);
  if (c.how.bwd_weights_im2col) {
    info += " bwd_weights=im2col";
  } else {
    p = c.how.bwd_weights_plain;
    const dnnl::convolution_backward_weights::desc wd(dnnl::algorithm::convolution_direct, ask_in(c.x_md, p, c.bf16),
                                                      ask(c.w_md, p && !c.bf16), c.b_md, ask_in(c.y_md, p, c.bf16), c.strides, c.dilates,
                                                      c.pad, c.pad);
    const dnnl::convolution_backward_weights::primitive_desc wpd(wd, user_scratchpad(), engine(), c.fwd_pd);
    c.bwd_weights = dnnl::convolution_backward_weights(wpd);
    c.bwd_weights_scratch = wpd.scratchpad_desc();
    c.bw_x = make_port(c.x_md, wpd.src_desc(), true);
    c.bw_gy = make_port(c.y_md, wpd.diff_dst_desc(), true);
    c.bw_gw = make_port(c.w_md, wpd.diff_weights_desc(), false);
    info += " " + describe("bwd_weights", wpd.impl_info_str(), p);
  }
  c.impl_info += info;
  c.has_backward = true;
}

}  // namespace

void set_conv_backend(ConvBackend b) { g_backend.store(b); }
ConvBackend conv_backend() { return g_backend.load(); }

std::shared_ptr<const OnednnConv> onednn_conv(const ConvGeom& q, bool has_bias, bool backward) {
  const ConvBackend b = g_backend.load();
  if (b == ConvBackend::im2col || q.N * q.C * q.O == 0) return nullptr;
  const int64_t n_shards = std::min<int64_t>(get_num_threads(), q.N);
  const bool bf16 = autocast_bf16();
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                         int64_t, int64_t, int64_t, int64_t, bool, int, int64_t>;
  auto key = [&](const ConvGeom& g, int64_t shards) {
    return Key{g.N, g.C, g.H, g.W, g.O, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.G, has_bias, int(b) + (bf16 ? 16 : 0), shards};
  };
  // Plans per (geometry, shard count) and primitives per shard geometry. A training loop
  // sees a handful; the maps are emptied if something feeds them thousands. A null plan
  // records a geometry oneDNN cannot run.
  static std::mutex m;
  static std::map<Key, std::shared_ptr<OnednnConv>> plans;
  static std::map<Key, std::shared_ptr<Prims>> prims;
  std::lock_guard<std::mutex> lk(m);
  const Key k = key(q, n_shards);
  auto it = plans.find(k);
  if (it != plans.end() && (!it->second || it->second->has_backward || !backward)) return it->second;
  std::shared_ptr<OnednnConv> plan;
  const SingleThreaded one;  // primitives split their work for the thread count they are built under
  try {
    if (it != plans.end()) {
      plan = it->second;
    } else {
      if (plans.size() >= 512 || prims.size() >= 512) plans.clear(), prims.clear();
      plan = std::make_shared<OnednnConv>();
      plan->q = q;
      plan->bias = has_bias;
      for (int64_t s = 0, n0 = 0; s < n_shards; ++s) {
        ConvGeom g = q;
        g.N = q.N / n_shards + (s < q.N % n_shards ? 1 : 0);
        std::shared_ptr<Prims>& p = prims[key(g, 1)];
        if (!p) {
          auto fresh = std::make_shared<Prims>();
          fresh->q = g;
          fresh->bias = has_bias;
          fresh->how = choose(g, b);
          fresh->bf16 = bf16;
          build_forward(*fresh);
          p = fresh;
        }
        plan->shards.push_back({n0, p});
        n0 += g.N;
      }
    }
    if (backward) {
      for (auto& sh : plan->shards)
        if (!sh.p->has_backward) build_backward(*sh.p);
      plan->has_backward = true;
    }
  } catch (const dnnl::error&) {
    plan = nullptr;  // no implementation for this geometry: im2col
  }
  plans[k] = plan;
  return plan;
}

namespace {

void forward_shard(const Prims& c, const float* x, const float* w, const float* b, float* y) {
  const SingleThreaded one;
  CallBuffers bufs("conv2d");
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, bufs.input(c.fwd_x, x)},
                                       {DNNL_ARG_WEIGHTS, bufs.input(c.fwd_w, w)},
                                       {DNNL_ARG_SCRATCHPAD, bufs.mem(c.fwd_scratch)}};
  if (c.bias) args.emplace(DNNL_ARG_BIAS, memory(c.b_md, engine(), const_cast<float*>(b)));
  const memory out = bufs.output(c.fwd_y, y);
  args.emplace(DNNL_ARG_DST, out);
  c.fwd.execute(stream(), args);
  bufs.finish(c.fwd_y, out, y);
}

// gb is written only when the primitives have a bias term (then it must be non-null).
void backward_shard(const Prims& c, const float* x, const float* w, const float* gy, float* gx, float* gw, float* gb) {
  const SingleThreaded one;
  CallBuffers bufs("conv2d");
  memory gy_data;  // gy in backward-data's layout; backward-weights reuses it when its layout is the same
  if (gx) {
    gy_data = bufs.input(c.bd_gy, gy);
    const memory out = bufs.output(c.bd_gx, gx);
    c.bwd_data.execute(stream(), {{DNNL_ARG_DIFF_DST, gy_data},
                                  {DNNL_ARG_WEIGHTS, bufs.input(c.bd_w, w)},
                                  {DNNL_ARG_DIFF_SRC, out},
                                  {DNNL_ARG_SCRATCHPAD, bufs.mem(c.bwd_data_scratch)}});
    bufs.finish(c.bd_gx, out, gx);
  }
  if (gw) {
    const memory gy_w = (gx && c.bw_gy.prim == c.bd_gy.prim) ? gy_data : bufs.input(c.bw_gy, gy);
    const memory out = bufs.output(c.bw_gw, gw);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, bufs.input(c.bw_x, x)},
                                         {DNNL_ARG_DIFF_DST, gy_w},
                                         {DNNL_ARG_DIFF_WEIGHTS, out},
                                         {DNNL_ARG_SCRATCHPAD, bufs.mem(c.bwd_weights_scratch)}};
    if (c.bias) args.emplace(DNNL_ARG_DIFF_BIAS, memory(c.b_md, engine(), gb));
    c.bwd_weights.execute(stream(), args);
    bufs.finish(c.bw_gw, out, gw);
  }
}

}  // namespace

void onednn_conv_forward(const OnednnConv& c, const float* x, const float* w, const float* b, float* y) {
  const ConvGeom& q = c.q;
  parallel_for(int64_t(c.shards.size()), 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t n0 = c.shards[size_t(s)].n0;
      forward_shard(*c.shards[size_t(s)].p, x + n0 * q.C * q.H * q.W, w, b, y + n0 * q.O * q.OH * q.OW);
    }
  });
}

void onednn_conv_backward(const OnednnConv& c, const float* x, const float* w, const float* gy, float* gx, float* gw,
                          float* gb) {
  BIGDL_ASSERT(c.has_backward);
  BIGDL_ASSERT(!onednn_conv_weights_by_im2col(c) || (!gw && !gb));
  const ConvGeom& q = c.q;
  const bool weights = gw || gb;
  const int64_t n_shards = int64_t(c.shards.size());
  const int64_t w_size = q.O * q.cg() * q.kh * q.kw, b_size = c.bias ? q.O : 0;
  // Shard s > 0 (and shard 0 when gw or gb is not wanted) writes its partial weight and
  // bias gradients to partial[s]; they are summed below.
  std::vector<float> partial;
  if (weights && (n_shards > 1 || !gw || (c.bias && !gb))) partial.resize(size_t(n_shards * (w_size + b_size)));
  auto slot = [&](int64_t s) { return partial.data() + s * (w_size + b_size); };
  auto gw_of = [&](int64_t s) { return s == 0 && gw ? gw : slot(s); };
  auto gb_of = [&](int64_t s) -> float* { return !c.bias ? nullptr : s == 0 && gb ? gb : slot(s) + w_size; };
  parallel_for(n_shards, 1, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t n0 = c.shards[size_t(s)].n0;
      backward_shard(*c.shards[size_t(s)].p, x + n0 * q.C * q.H * q.W, w, gy + n0 * q.O * q.OH * q.OW,
                     gx ? gx + n0 * q.C * q.H * q.W : nullptr, weights ? gw_of(s) : nullptr,
                     weights ? gb_of(s) : nullptr);
    }
  });
  if (!weights || partial.empty()) return;
  auto reduce = [&](float* out, int64_t size, auto part) {
    if (!out) return;
    for (int64_t s = 0; s < n_shards; ++s) {
      const float* src = part(s);
      if (src == out) continue;
      if (s == 0) std::memcpy(out, src, size_t(size) * 4);
      else for (int64_t i = 0; i < size; ++i) out[i] += src[i];
    }
  };
  reduce(gw, w_size, gw_of);
  if (c.bias) reduce(gb, b_size, gb_of);
}

bool onednn_conv_weights_by_im2col(const OnednnConv& c) { return c.shards[0].p->how.bwd_weights_im2col; }

std::string onednn_conv_impl_info(const OnednnConv& c) {
  std::string s = c.shards[0].p->impl_info;
  if (c.shards.size() > 1) s += " x" + std::to_string(c.shards.size()) + " batch shards";
  return s;
}

}  // namespace bigdl::detail
