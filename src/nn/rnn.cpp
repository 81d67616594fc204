// LSTM runs the fused lstm_layer op once per layer. GRU is composed from primitives: the
// input projection of all time steps is one GEMM per layer; each step adds the recurrent
// projection and applies the gates.
#include <cmath>

#include "bigdl/nn/modules.h"
#include "bigdl/random.h"

namespace bigdl::nn {
namespace {

void register_rnn_params(Module* m, const RNNOptions& o, int64_t gates,
                         const std::function<Tensor(const std::string&, Tensor)>& reg) {
  BIGDL_CHECK(o.input_size > 0 && o.hidden_size > 0 && o.num_layers > 0, ValueError, m->name(),
              "input_size, hidden_size and num_layers must be positive");
  const double k = 1.0 / std::sqrt(double(o.hidden_size));
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const std::string s = std::to_string(l);
    const int64_t in = l == 0 ? o.input_size : o.hidden_size;
    reg("weight_ih_l" + s, uniform({gates * o.hidden_size, in}, -k, k));
    reg("weight_hh_l" + s, uniform({gates * o.hidden_size, o.hidden_size}, -k, k));
    if (o.bias) {
      reg("bias_ih_l" + s, uniform({gates * o.hidden_size}, -k, k));
      reg("bias_hh_l" + s, uniform({gates * o.hidden_size}, -k, k));
    }
  }
}

Tensor param(const Module& m, const std::string& name) {
  for (auto& [n, t] : m.named_parameters(false))
    if (n == name) return t;
  return Tensor();
}

// [T, B, in] view of the input, checking its shape.
Tensor time_major(const Tensor& x, const RNNOptions& o, const char* op) {
  BIGDL_CHECK(x.dim() == 3, ShapeError, op, "input must be 3-D ", o.batch_first ? "[B, T, in]" : "[T, B, in]", ", got ",
              shape_str(x.shape()));
  BIGDL_CHECK(x.size(2) == o.input_size, ShapeError, op, "input feature size ", x.size(2), " != input_size ", o.input_size);
  return o.batch_first ? x.transpose(0, 1) : x;
}

Tensor initial_state(const Tensor& s, const RNNOptions& o, int64_t B, const char* op, const char* what) {
  if (!s.defined()) return zeros({o.num_layers, B, o.hidden_size});
  BIGDL_CHECK(s.dim() == 3 && s.size(0) == o.num_layers && s.size(1) == B && s.size(2) == o.hidden_size, ShapeError, op,
              what, " must be [", o.num_layers, ", ", B, ", ", o.hidden_size, "], got ", shape_str(s.shape()));
  return s;
}
}  // namespace

LSTM::LSTM(const RNNOptions& o) : options(o) {
  register_rnn_params(this, o, 4, [this](const std::string& n, Tensor t) { return register_parameter(n, t); });
}

RNNOutput LSTM::forward_full(const Tensor& x_in, const Tensor& h0_in, const Tensor& c0_in) {
  const RNNOptions& o = options;
  Tensor x = time_major(x_in, o, "LSTM");
  const int64_t T = x.size(0), B = x.size(1);
  Tensor h0 = initial_state(h0_in, o, B, "LSTM", "h0"), c0 = initial_state(c0_in, o, B, "LSTM", "c0");
  std::vector<Tensor> hn, cn;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const std::string s = std::to_string(l);
    Tensor w_ih = param(*this, "weight_ih_l" + s), w_hh = param(*this, "weight_hh_l" + s);
    Tensor b_ih = param(*this, "bias_ih_l" + s), b_hh = param(*this, "bias_hh_l" + s);
    Tensor y = lstm_layer(x, h0.select(0, l), c0.select(0, l), w_ih, w_hh, b_ih, b_hh);  // [T + 1, B, H]
    x = y.narrow(0, 0, T);
    hn.push_back(y.select(0, T - 1));
    cn.push_back(y.select(0, T));
  }
  return {o.batch_first ? x.transpose(0, 1) : x, stack(hn, 0), stack(cn, 0)};
}

GRU::GRU(const RNNOptions& o) : options(o) {
  register_rnn_params(this, o, 3, [this](const std::string& n, Tensor t) { return register_parameter(n, t); });
}

RNNOutput GRU::forward_full(const Tensor& x_in, const Tensor& h0_in) {
  const RNNOptions& o = options;
  Tensor x = time_major(x_in, o, "GRU");
  const int64_t T = x.size(0), B = x.size(1), H = o.hidden_size;
  Tensor h0 = initial_state(h0_in, o, B, "GRU", "h0");
  std::vector<Tensor> hn;
  for (int64_t l = 0; l < o.num_layers; ++l) {
    const std::string s = std::to_string(l);
    Tensor w_ih = param(*this, "weight_ih_l" + s), w_hh = param(*this, "weight_hh_l" + s);
    Tensor b_ih = param(*this, "bias_ih_l" + s), b_hh = param(*this, "bias_hh_l" + s);
    Tensor xg = linear(x, w_ih, b_ih);  // [T, B, 3H]
    Tensor h = h0.select(0, l);
    std::vector<Tensor> outs;
    for (int64_t t = 0; t < T; ++t) {
      Tensor gx = xg.select(0, t), gh = linear(h, w_hh, b_hh);
      Tensor r = sigmoid(add(gx.narrow(1, 0, H), gh.narrow(1, 0, H)));
      Tensor z = sigmoid(add(gx.narrow(1, H, H), gh.narrow(1, H, H)));
      Tensor n = tanh(add(gx.narrow(1, 2 * H, H), mul(r, gh.narrow(1, 2 * H, H))));
      h = add(n, mul(z, sub(h, n)));  // (1-z)*n + z*h
      outs.push_back(h);
    }
    x = stack(outs, 0);
    hn.push_back(h);
  }
  return {o.batch_first ? x.transpose(0, 1) : x, stack(hn, 0), Tensor()};
}

}  // namespace bigdl::nn
