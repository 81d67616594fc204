// Fused recurrent layers, f32. lstm_layer is one autograd node for a whole sequence:
// composing it per step from primitives records ~10 nodes and as many temporaries per
// step, and the backward then runs T small GEMMs per weight instead of one per weight.
//
// Forward: one GEMM projects every step's input (xg = x W_ihᵀ + b_ih + b_hh, [T·B, 4H]);
// each step adds h_{t-1} W_hhᵀ into its block of xg and runs one fused gate pass.
// Backward (BPTT): one recurrent GEMM per step for dh_{t-1}, then whole-sequence GEMMs
// for dW_ih, dW_hh and dx.
#include <cblas.h>

#include "backend/cpu/kernels.h"
#include "core/internal.h"

namespace bigdl {
namespace {

constexpr const char* kOp = "lstm_layer";

// Elementwise passes below this many floats run on the calling thread: for smaller
// work the pool's wake-up costs more than the loop.
constexpr int64_t kParallelFloats = 1 << 15;

// Row-major C[m,n] = A·B + beta·C with A [m,k] (or Aᵀ stored [k,m]) and B [k,n] (or Bᵀ
// stored [n,k]); lda/ldb are the row strides of the arrays as stored.
void sgemm(bool a_trans, bool b_trans, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, a_trans ? CblasTrans : CblasNoTrans, b_trans ? CblasTrans : CblasNoTrans, int(m), int(n),
              int(k), 1.0f, a, int(lda), b, int(ldb), beta, c, int(ldc));
}

// Contiguous f32 values of an input (no history).
Tensor values(const Tensor& t) { return t.detach().contiguous(); }

void check_inputs(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
                  const Tensor& b_ih, const Tensor& b_hh) {
  BIGDL_CHECK(x.defined() && h0.defined() && c0.defined() && w_ih.defined() && w_hh.defined(), ValueError, kOp,
              "x, h0, c0, w_ih and w_hh must be defined");
  for (const Tensor* t : {&x, &h0, &c0, &w_ih, &w_hh, &b_ih, &b_hh})
    BIGDL_CHECK(!t->defined() || t->dtype() == DType::f32, DTypeError, kOp, "only f32 is supported, got ",
                dtype_name(t->dtype()));
  BIGDL_CHECK(x.dim() == 3 && x.numel() > 0, ShapeError, kOp, "x must be a non-empty [T, B, in] tensor, got ",
              shape_str(x.shape()));
  BIGDL_CHECK(w_hh.dim() == 2 && w_hh.size(1) > 0 && w_hh.size(0) == 4 * w_hh.size(1), ShapeError, kOp,
              "w_hh must be [4H, H], got ", shape_str(w_hh.shape()));
  const int64_t B = x.size(1), in = x.size(2), H = w_hh.size(1);
  BIGDL_CHECK(w_ih.dim() == 2 && w_ih.size(0) == 4 * H && w_ih.size(1) == in, ShapeError, kOp, "w_ih must be [", 4 * H,
              ", ", in, "], got ", shape_str(w_ih.shape()));
  BIGDL_CHECK(h0.shape() == Shape({B, H}), ShapeError, kOp, "h0 must be [", B, ", ", H, "], got ", shape_str(h0.shape()));
  BIGDL_CHECK(c0.shape() == Shape({B, H}), ShapeError, kOp, "c0 must be [", B, ", ", H, "], got ", shape_str(c0.shape()));
  for (const Tensor* b : {&b_ih, &b_hh})
    BIGDL_CHECK(!b->defined() || b->shape() == Shape({4 * H}), ShapeError, kOp, "biases must be [", 4 * H, "], got ",
                shape_str(b->shape()));
}

// The gate loops read up to six streams at run-time offsets, which -O2's cheap vectorizer
// leaves scalar. They are written once over V = float (tails) or f4, four floats as one
// SSE value (a GCC/Clang vector extension; baseline x86-64, no ISA dispatch needed).
using f4 = float __attribute__((vector_size(16)));
template <typename V>
inline V load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V>
inline void store(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}

// Runs body.template operator()<V>(j) over [0, n): f4 steps, then float for the tail.
// Bodies are marked always_inline: GCC otherwise calls them once per four floats.
template <typename F>
inline void over_h(int64_t n, F&& body) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) body.template operator()<f4>(j);
  for (; j < n; ++j) body.template operator()<float>(j);
}

// Gates of rows [r0, r1) of one step. g holds the pre-activations less the bias (i, f, g, o
// blocks of H per row; bias [4H] or null) and receives the activations; c_prev -> c,
// tanh(c) -> tc, h = o·tanh(c).
void lstm_cell_forward(int64_t r0, int64_t r1, int64_t H, const float* bias, float* g, const float* c_prev, float* c,
                       float* tc, float* h) {
  const detail::CpuKernels& k = detail::cpu_kernels();
  for (int64_t r = r0; r < r1; ++r) {
    float* gr = g + r * 4 * H;
    if (bias) k.add(gr, bias, gr, 4 * H);
    k.sigmoid(gr, gr, 2 * H);  // i and f are adjacent
    k.tanh(gr + 2 * H, gr + 2 * H, H);
    k.sigmoid(gr + 3 * H, gr + 3 * H, H);
    const float* cp = c_prev + r * H;
    float* cr = c + r * H;
    over_h(H, [&]<typename V>(int64_t j) __attribute__((always_inline)) {
      store(cr + j, load<V>(gr + H + j) * load<V>(cp + j) + load<V>(gr + j) * load<V>(gr + 2 * H + j));
    });
    k.tanh(cr, tc + r * H, H);
    k.mul(gr + 3 * H, tc + r * H, h + r * H, H);
  }
}

// Gate pre-activation gradients of rows [r0, r1) of one step. a: activations, tc: tanh(c_t),
// c_prev: c_{t-1}, dh: dL/dh_t; dc: dL/dc_t from later steps on entry, dL/dc_{t-1} on exit.
void lstm_cell_backward(int64_t r0, int64_t r1, int64_t H, const float* a, const float* tc, const float* c_prev,
                        const float* dh, float* dc, float* dg) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* ar = a + r * 4 * H;
    const float* tr = tc + r * H;
    const float* cp = c_prev + r * H;
    const float* dhr = dh + r * H;
    float* dcr = dc + r * H;
    float* dgr = dg + r * 4 * H;
    over_h(H, [&]<typename V>(int64_t j) __attribute__((always_inline)) {
      const V i = load<V>(ar + j), f = load<V>(ar + H + j), g = load<V>(ar + 2 * H + j), o = load<V>(ar + 3 * H + j);
      const V t = load<V>(tr + j), d_h = load<V>(dhr + j);
      const V d_c = load<V>(dcr + j) + d_h * o * (1.0f - t * t);
      store(dgr + j, d_c * g * i * (1.0f - i));
      store(dgr + H + j, d_c * load<V>(cp + j) * f * (1.0f - f));
      store(dgr + 2 * H + j, d_c * i * (1.0f - g * g));
      store(dgr + 3 * H + j, d_h * t * o * (1.0f - o));
      store(dcr + j, d_c * f);
    });
  }
}

// Runs fn(r0, r1) over B rows of `floats_per_row` work each, threaded when large.
template <typename F>
void for_rows(int64_t B, int64_t floats_per_row, F&& fn) {
  if (B * floats_per_row < kParallelFloats) {
    fn(int64_t(0), B);
    return;
  }
  // std::ref: a std::function holding a reference_wrapper never allocates, and this runs every step.
  detail::parallel_for(B, std::max<int64_t>(1, kParallelFloats / (2 * floats_per_row)), std::ref(fn));
}

// What the backward needs from the forward (all contiguous f32, no history).
struct LstmSaved {
  int64_t T, B, in, H;
  Tensor x, w_ih, w_hh, h0;
  Tensor gates;   // [T, B, 4H] activations i, f, g, o
  Tensor c;       // [T + 1, B, H] c_0..c_T
  Tensor tanh_c;  // [T, B, H] tanh(c_1..c_T)
  Tensor y;       // [T + 1, B, H] the output's values: h_1..h_T, c_T
  bool need_x, need_h0, need_c0, need_w_ih, need_w_hh, need_b;
};

// BPTT: the gradients of (x, h0, c0, w_ih, w_hh, b_ih, b_hh) given dL/dY.
std::vector<Tensor> lstm_backward(const LstmSaved& s, const Tensor& grad_y) {
  const int64_t T = s.T, B = s.B, in = s.in, H = s.H, G4 = 4 * H, BH = B * H;
  const Tensor gy = values(grad_y.dtype() == DType::f32 ? grad_y : grad_y.to(DType::f32));
  const float* dY = gy.data<float>();
  const float* A = s.gates.data<float>();
  const float* C = s.c.data<float>();
  const float* TC = s.tanh_c.data<float>();
  const float* W_hh = s.w_hh.data<float>();
  const detail::CpuKernels& k = detail::cpu_kernels();
  Tensor dgates = empty({T, B, G4}), dh = empty({B, H}), dc = empty({B, H});
  Tensor db = s.need_b ? zeros({G4}) : Tensor();
  float* dG = dgates.data<float>();
  float* pdh = dh.data<float>();
  float* pdc = dc.data<float>();
  std::memcpy(pdc, dY + T * BH, size_t(BH) * sizeof(float));
  for (int64_t t = T - 1; t >= 0; --t) {
    // dL/dh_t = dY[t] + dG[t+1] W_hh (the recurrent path).
    std::memcpy(pdh, dY + t * BH, size_t(BH) * sizeof(float));
    if (t + 1 < T) sgemm(false, false, B, H, G4, dG + (t + 1) * B * G4, G4, W_hh, H, 1.0f, pdh, H);
    float* dg = dG + t * B * G4;
    for_rows(B, 6 * H, [&](int64_t r0, int64_t r1) {
      lstm_cell_backward(r0, r1, H, A + t * B * G4, TC + t * BH, C + t * BH, pdh, pdc, dg);
    });
    // Both biases enter every pre-activation unscaled: their gradient is the column sum
    // of dG, taken while this step's block is in cache.
    if (s.need_b)
      for (int64_t r = 0; r < B; ++r) k.add(db.data<float>(), dg + r * G4, db.data<float>(), G4);
  }
  Tensor gx, gh0, gc0, gw_ih, gw_hh;
  if (s.need_h0) {
    gh0 = empty({B, H});
    sgemm(false, false, B, H, G4, dG, G4, W_hh, H, 0.0f, gh0.data<float>(), H);
  }
  if (s.need_c0) gc0 = dc;
  if (s.need_w_hh) {
    // Σ_t dG[t]ᵀ h_{t-1}: h_0 apart, then h_1..h_{T-1} = Y[0..T-2] in one GEMM.
    gw_hh = empty({G4, H});
    sgemm(true, false, G4, H, B, dG, G4, s.h0.data<float>(), H, 0.0f, gw_hh.data<float>(), H);
    if (T > 1)
      sgemm(true, false, G4, H, (T - 1) * B, dG + B * G4, G4, s.y.data<float>(), H, 1.0f, gw_hh.data<float>(), H);
  }
  if (s.need_w_ih) {
    gw_ih = empty({G4, in});
    sgemm(true, false, G4, in, T * B, dG, G4, s.x.data<float>(), in, 0.0f, gw_ih.data<float>(), in);
  }
  if (s.need_x) {
    gx = empty({T, B, in});
    sgemm(false, false, T * B, in, G4, dG, G4, s.w_ih.data<float>(), in, 0.0f, gx.data<float>(), in);
  }
  return {gx, gh0, gc0, gw_ih, gw_hh, db, s.need_b ? db.clone() : Tensor()};
}
}  // namespace

Tensor lstm_layer(const Tensor& x, const Tensor& h0, const Tensor& c0, const Tensor& w_ih, const Tensor& w_hh,
                  const Tensor& b_ih, const Tensor& b_hh) {
  check_inputs(x, h0, c0, w_ih, w_hh, b_ih, b_hh);
  const int64_t T = x.size(0), B = x.size(1), in = x.size(2), H = w_hh.size(1), G4 = 4 * H, BH = B * H;
  const Tensor xv = values(x), wih = values(w_ih), whh = values(w_hh), h0v = values(h0), c0v = values(c0);
  const bool save = detail::needs_grad({&x, &h0, &c0, &w_ih, &w_hh, &b_ih, &b_hh});

  // Input projection of every step; the gate pass turns it into the activations in place.
  Tensor gates = empty({T, B, G4});
  float* G = gates.data<float>();
  sgemm(false, true, T * B, G4, in, xv.data<float>(), in, wih.data<float>(), in, 0.0f, G, G4);
  // b_ih + b_hh, added by the gate pass while each step's block is in cache.
  std::vector<float> bias;
  if (b_ih.defined() || b_hh.defined()) {
    bias.assign(size_t(G4), 0.0f);
    for (const Tensor* b : {&b_ih, &b_hh}) {
      if (!b->defined()) continue;
      const Tensor bv = values(*b);
      const float* pb = bv.data<float>();
      for (int64_t j = 0; j < G4; ++j) bias[size_t(j)] += pb[j];
    }
  }
  const float* pbias = bias.empty() ? nullptr : bias.data();

  // Cell states c_0..c_T and tanh(c_1..c_T): all kept for the backward, else two rolling rows.
  Tensor out = empty({T + 1, B, H});
  float* Y = out.data<float>();
  Tensor cs = empty({save ? T + 1 : 2, B, H}), tcs = empty({save ? T : 1, B, H});
  float* C = cs.data<float>();
  float* TC = tcs.data<float>();
  std::memcpy(C, c0v.data<float>(), size_t(BH) * sizeof(float));
  const float* W_hh = whh.data<float>();
  for (int64_t t = 0; t < T; ++t) {
    const float* h_prev = t == 0 ? h0v.data<float>() : Y + (t - 1) * BH;
    float* g = G + t * B * G4;
    sgemm(false, true, B, G4, H, h_prev, H, W_hh, H, 1.0f, g, G4);
    const float* c_prev = C + (save ? t : t % 2) * BH;
    float* c = C + (save ? t + 1 : (t + 1) % 2) * BH;
    float* tc = TC + (save ? t * BH : 0);
    float* h = Y + t * BH;
    for_rows(B, 6 * H, [&](int64_t r0, int64_t r1) { lstm_cell_forward(r0, r1, H, pbias, g, c_prev, c, tc, h); });
  }
  std::memcpy(Y + T * BH, C + (save ? T : T % 2) * BH, size_t(BH) * sizeof(float));
  if (!save) return out;

  // y is a detached view: capturing `out` itself would make its own node keep it alive.
  LstmSaved s{.T = T, .B = B, .in = in, .H = H, .x = xv, .w_ih = wih, .w_hh = whh, .h0 = h0v,
              .gates = gates, .c = cs, .tanh_c = tcs, .y = out.detach(),
              .need_x = x.requires_grad(), .need_h0 = h0.requires_grad(), .need_c0 = c0.requires_grad(),
              .need_w_ih = w_ih.requires_grad(), .need_w_hh = w_hh.requires_grad(),
              .need_b = (b_ih.defined() && b_ih.requires_grad()) || (b_hh.defined() && b_hh.requires_grad())};
  detail::record(out, kOp, {x, h0, c0, w_ih, w_hh, b_ih, b_hh},
                 [s = std::move(s)](const Tensor& grad_y) { return lstm_backward(s, grad_y); });
  return out;
}

}  // namespace bigdl
