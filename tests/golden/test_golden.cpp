// Golden tests against PyTorch 1.13: every fixture in tests/golden/fixtures (made by
// gen_golden.py) is one test case. Forward outputs, input and parameter gradients,
// optimizer trajectories and LR schedules must match the recorded PyTorch values.
//
// Tolerance (f32): |ours - torch| <= 1e-5 * max(|torch|, scale) element by element,
// where scale is the largest |value| of that reference tensor — i.e. 1e-5 relative
// to the element, with a floor of 1e-5 of the tensor's magnitude for elements near 0.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>

#include "bigdl/autograd.h"
#include "bigdl/chronos/models.h"
#include "bigdl/io/tensor_io.h"
#include "bigdl/nn/loss.h"
#include "bigdl/nn/modules.h"
#include "bigdl/nn/transformer.h"
#include "bigdl/ops.h"
#include "bigdl/optim/lr_scheduler.h"
#include "bigdl/optim/optimizer.h"

using namespace bigdl;
using json = nlohmann::json;

namespace {

constexpr double kRel = 1e-5;

struct Fixture {
  std::map<std::string, Tensor> t;
  std::map<std::string, std::string> meta;
  json options;
  bool has(const std::string& k) const { return t.count(k) > 0; }
  const Tensor& at(const std::string& k) const {
    auto it = t.find(k);
    if (it == t.end()) throw std::runtime_error("fixture has no tensor '" + k + "'");
    return it->second;
  }
};

Fixture load(const std::string& file) {
  Fixture f;
  for (auto& [k, v] : io::load_tensors(file, &f.meta)) f.t[k] = v;
  f.options = json::parse(f.meta.at("options"));
  return f;
}

void expect_close(const Tensor& ours, const Tensor& ref, const std::string& what) {
  ASSERT_TRUE(ours.defined()) << what << ": no value computed";
  ASSERT_EQ(shape_str(ours.shape()), shape_str(ref.shape())) << what;
  const auto a = ours.to_double_vector(), b = ref.to_double_vector();
  double scale = 0;
  for (double v : b) scale = std::max(scale, std::fabs(v));
  size_t bad = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double tol = kRel * std::max(std::fabs(b[i]), scale);
    const double d = std::fabs(a[i] - b[i]);
    if (!(d <= tol)) {
      ++bad;
      worst = std::max(worst, d / std::max(scale, 1e-30));
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << a.size() << " elements off, worst |diff|/scale " << worst;
}

nn::Pair pair_of(const json& j) {
  if (j.is_array()) return {j[0].get<int64_t>(), j[1].get<int64_t>()};
  return {j.get<int64_t>(), j.get<int64_t>()};
}

nn::ModulePtr make_module(const std::string& name, const json& o) {
  if (name == "Linear") return std::make_shared<nn::Linear>(o["in_features"], o["out_features"], o["bias"].get<bool>());
  if (name == "WeightNormConv1d")
    return std::make_shared<nn::WeightNormConv1d>(nn::Conv1dOptions{o["in_channels"], o["out_channels"], o["kernel_size"], 1,
                                                                    o["padding"], o["dilation"], 1, true});
  if (name == "TCN")
    return std::make_shared<chronos::TCN>(o["lookback"], o["horizon"], o["input_features"], o["output_features"],
                                          o["channels"].get<std::vector<int64_t>>(), o["kernel"], o["dropout"],
                                          o.value("normalization", false), o.value("quantiles", 1));
  if (name == "LSTMModel")
    return std::make_shared<chronos::LSTMModel>(o["lookback"], o["horizon"], o["input_features"], o["output_features"],
                                                o["hidden"], o["layers"], o["dropout"], o["normalization"],
                                                o.value("quantiles", 1));
  if (name == "ConvTranspose2d")
    return std::make_shared<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{
        o["in_channels"], o["out_channels"], pair_of(o["kernel_size"]), pair_of(o["stride"]), pair_of(o["padding"]),
        pair_of(o["output_padding"]), o["groups"], o["bias"], pair_of(o["dilation"])});
  if (name == "ConvTranspose1d")
    return std::make_shared<nn::ConvTranspose1d>(nn::ConvTranspose1dOptions{
        o["in_channels"], o["out_channels"], o["kernel_size"], o["stride"], o["padding"], o["output_padding"], o["groups"],
        o["bias"], o["dilation"]});
  if (name == "GroupNorm") return std::make_shared<nn::GroupNorm>(o["num_groups"], o["num_channels"], o["eps"], o["affine"]);
  if (name == "AvgPool1d")
    return std::make_shared<nn::AvgPool1d>(o["kernel_size"], o["stride"].get<int64_t>(), o["padding"], o["count_include_pad"]);
  if (name == "MultiheadAttention")
    return std::make_shared<nn::MultiheadAttention>(o["embed_dim"], o["num_heads"], 0.0, true, o["batch_first"].get<bool>());
  if (name == "TransformerEncoderLayer") {
    nn::TransformerEncoderLayerOptions t;
    t.d_model = o["d_model"];
    t.nhead = o["nhead"];
    t.dim_feedforward = o["dim_feedforward"];
    t.dropout = o["dropout"];
    t.activation = o["activation"];
    t.batch_first = o["batch_first"];
    t.norm_first = o["norm_first"];
    return std::make_shared<nn::TransformerEncoderLayer>(t);
  }
  if (name == "PatchTST") {
    chronos::PatchTSTOptions p;
    p.lookback = o["lookback"];
    p.horizon = o["horizon"];
    p.input_features = o["input_features"];
    p.output_features = o["output_features"];
    p.patch_len = o["patch_len"];
    p.stride = o["stride"];
    p.d_model = o["d_model"];
    p.heads = o["heads"];
    p.d_ff = o["d_ff"];
    p.layers = o["layers"];
    p.dropout = o["dropout"];
    p.revin = o.value("revin", true);
    p.res_attention = o.value("res_attention", true);
    p.norm = o.value("norm", std::string("batch"));
    return std::make_shared<chronos::PatchTST>(p);
  }
  if (name == "NBeats") {
    chronos::NBeatsOptions n;
    n.lookback = o["lookback"];
    n.horizon = o["horizon"];
    n.input_features = o["input_features"];
    n.output_features = o["output_features"];
    n.stack_types = o["stack_types"].get<std::vector<std::string>>();
    n.blocks_per_stack = o["blocks_per_stack"];
    n.thetas_dim = o["thetas_dim"].get<std::vector<int64_t>>();
    n.share_weights_in_stack = o["share_weights_in_stack"];
    n.hidden = o["hidden"];
    n.dropout = o["dropout"];
    return std::make_shared<chronos::NBeats>(n);
  }
  if (name == "Seq2Seq")
    return std::make_shared<chronos::Seq2Seq>(o["lookback"], o["horizon"], o["input_features"], o["output_features"],
                                              o["hidden"], o["layers"], o["dropout"], o.value("quantiles", 1));
  if (name == "DLinear") return std::make_shared<chronos::DLinear>(o["lookback"], o["horizon"], o["kernel"]);
  if (name == "Conv2d")
    return std::make_shared<nn::Conv2d>(nn::Conv2dOptions{o["in_channels"], o["out_channels"], pair_of(o["kernel_size"]),
                                                          pair_of(o["stride"]), pair_of(o["padding"]),
                                                          pair_of(o["dilation"]), o["groups"], o["bias"]});
  if (name == "Conv1d")
    return std::make_shared<nn::Conv1d>(nn::Conv1dOptions{o["in_channels"], o["out_channels"], o["kernel_size"], o["stride"],
                                                          o["padding"], o["dilation"], o["groups"], o["bias"]});
  if (name == "MaxPool2d") return std::make_shared<nn::MaxPool2d>(pair_of(o["kernel_size"]), pair_of(o["stride"]), pair_of(o["padding"]));
  if (name == "AvgPool2d")
    return std::make_shared<nn::AvgPool2d>(pair_of(o["kernel_size"]), pair_of(o["stride"]), pair_of(o["padding"]),
                                           o["count_include_pad"].get<bool>());
  if (name == "AdaptiveAvgPool2d") return std::make_shared<nn::AdaptiveAvgPool2d>(pair_of(o["output_size"]));
  if (name == "BatchNorm1d") return std::make_shared<nn::BatchNorm1d>(o["num_features"], o["eps"], o["momentum"]);
  if (name == "BatchNorm2d") return std::make_shared<nn::BatchNorm2d>(o["num_features"], o["eps"], o["momentum"]);
  if (name == "LayerNorm")
    return std::make_shared<nn::LayerNorm>(o["normalized_shape"].get<Shape>(), o["eps"], o["elementwise_affine"].get<bool>());
  if (name == "RMSNorm") return std::make_shared<nn::RMSNorm>(o["normalized_shape"].get<Shape>(), o["eps"]);
  if (name == "Embedding")
    return std::make_shared<nn::Embedding>(o["num_embeddings"], o["embedding_dim"],
                                           o["padding_idx"].is_null() ? std::nullopt : std::optional<int64_t>(o["padding_idx"]));
  if (name == "LSTM" || name == "GRU") {
    nn::RNNOptions r{o["input_size"], o["hidden_size"], o["num_layers"], o["bias"], o["batch_first"]};
    if (name == "LSTM") return std::make_shared<nn::LSTM>(r);
    return std::make_shared<nn::GRU>(r);
  }
  if (name == "ReLU") return std::make_shared<nn::ReLU>();
  if (name == "LeakyReLU") return std::make_shared<nn::LeakyReLU>(o["negative_slope"]);
  if (name == "ELU") return std::make_shared<nn::ELU>(o["alpha"]);
  if (name == "GELU") return std::make_shared<nn::GELU>(o["approximate"]);
  if (name == "SiLU") return std::make_shared<nn::SiLU>();
  if (name == "Tanh") return std::make_shared<nn::Tanh>();
  if (name == "Sigmoid") return std::make_shared<nn::Sigmoid>();
  if (name == "Softmax") return std::make_shared<nn::Softmax>(o["dim"]);
  if (name == "LogSoftmax") return std::make_shared<nn::LogSoftmax>(o["dim"]);
  if (name == "Flatten") return std::make_shared<nn::Flatten>(o["start_dim"], o["end_dim"]);
  if (name == "Dropout") return std::make_shared<nn::Dropout>(o["p"]);
  if (name == "Sequential") {
    auto s = std::make_shared<nn::Sequential>();
    for (auto& l : o["layers"]) s->add(make_module(l["name"], l["options"]));
    return s;
  }
  throw std::runtime_error("golden test: no factory for module " + name);
}

// Inputs "input" or "input.K" in order.
std::vector<Tensor> inputs_of(const Fixture& f, const std::string& prefix) {
  std::vector<Tensor> v;
  if (f.has(prefix)) return {f.at(prefix)};
  for (int k = 0; f.has(prefix + "." + std::to_string(k)); ++k) v.push_back(f.at(prefix + "." + std::to_string(k)));
  return v;
}

// Cases "op.<name>": a function of the inputs, no parameters.
std::vector<Tensor> run_op(const std::string& op, const json& o, const std::vector<Tensor>& in) {
  if (op == "cumsum") return {cumsum(in[0], o["dim"])};
  if (op == "masked_fill") return {masked_fill(in[0], in[1], o["value"])};
  if (op == "sort") {
    auto [v, i] = sort(in[0], o["dim"], o["descending"]);
    return {v, i};
  }
  if (op == "topk") {
    auto [v, i] = topk(in[0], o["k"], o["dim"], o["largest"]);
    return {v, i};
  }
  if (op == "einsum") return {einsum(o["equation"], in)};
  throw std::runtime_error("golden test: no op " + op);
}

void run_module(const Fixture& f) {
  const std::string name = f.meta.at("name");
  const bool is_op = name.rfind("op.", 0) == 0;
  nn::ModulePtr m = is_op ? std::make_shared<nn::Sequential>() : make_module(name, f.options);
  {
    NoGradGuard ng;
    for (auto& [k, t] : m->state_dict()) {
      const std::string pk = (f.has("param." + k) ? "param." : "buffer.") + k;
      ASSERT_TRUE(f.has(pk)) << "fixture lacks " << pk;
      Tensor(t).copy_(f.at(pk));
    }
  }
  m->train(f.meta.at("mode") == "train");
  std::vector<Tensor> in = inputs_of(f, "input");
  for (auto& t : in) {
    t = t.clone();
    if (is_floating(t.dtype())) t.requires_grad_(true);
  }
  std::vector<Tensor> out;
  if (name == "LSTM") {
    auto r = std::dynamic_pointer_cast<nn::LSTM>(m)->forward_full(in[0], in.size() > 1 ? in[1] : Tensor(),
                                                                    in.size() > 2 ? in[2] : Tensor());
    out = {r.output, r.h_n, r.c_n};
  } else if (name == "GRU") {
    auto r = std::dynamic_pointer_cast<nn::GRU>(m)->forward_full(in[0], in.size() > 1 ? in[1] : Tensor());
    out = {r.output, r.h_n};
  } else if (is_op) {
    out = run_op(name.substr(3), f.options, in);
  } else if (name == "MultiheadAttention") {
    auto a = std::dynamic_pointer_cast<nn::MultiheadAttention>(m);
    auto r = f.options["self"].get<bool>() ? a->forward_full(in[0], in[0], in[0], in[1])
                                           : a->forward_full(in[0], in[1], in[2], in[3]);
    out = {r.output, r.weights};
  } else if (name == "TransformerEncoderLayer") {
    out = {std::dynamic_pointer_cast<nn::TransformerEncoderLayer>(m)->forward_full(in[0], in.size() > 1 ? in[1] : Tensor()).output};
  } else {
    out = {m->forward(in[0])};
  }
  const std::vector<Tensor> ref_out = inputs_of(f, "output"), grad_out = inputs_of(f, "grad_output");
  ASSERT_EQ(out.size(), ref_out.size());
  Tensor loss;
  for (size_t k = 0; k < out.size(); ++k) {
    expect_close(out[k], ref_out[k], "output." + std::to_string(k));
    Tensor term = sum(mul(out[k], grad_out[k]));
    loss = loss.defined() ? add(loss, term) : term;
  }
  loss.backward();
  const std::vector<Tensor> ref_gin = inputs_of(f, "grad.input");
  for (size_t k = 0; k < ref_gin.size(); ++k) expect_close(in[k].grad(), ref_gin[k], "grad.input." + std::to_string(k));
  // Parameters whose gradient is 0 in exact arithmetic (meta "zero_grad"): ours must be
  // below 1e-5 of the largest reference parameter gradient, not match torch's rounding noise.
  std::set<std::string> zero;
  if (f.meta.count("zero_grad")) {
    std::stringstream ss(f.meta.at("zero_grad"));
    for (std::string k; std::getline(ss, k, ',');) zero.insert(k);
  }
  double gscale = 0;
  for (auto& [k, p] : m->named_parameters())
    for (double v : f.at("grad.param." + k).to_double_vector()) gscale = std::max(gscale, std::fabs(v));
  for (auto& [k, p] : m->named_parameters()) {
    // A parameter the output does not depend on (N-BEATS' last backcast) gets no gradient;
    // the fixture stores torch's None as zeros.
    const Tensor g = p.grad().defined() ? p.grad() : zeros_like(p);
    if (!zero.count(k)) {
      expect_close(g, f.at("grad.param." + k), "grad.param." + k);
      continue;
    }
    for (double v : g.to_double_vector()) EXPECT_LE(std::fabs(v), kRel * gscale) << "grad.param." << k;
  }
  for (auto& [k, b] : m->named_buffers())
    if (f.has("buffer_after." + k)) expect_close(b, f.at("buffer_after." + k), "buffer_after." + k);
}

void run_criterion(const Fixture& f) {
  const std::string name = f.meta.at("name");
  const json& o = f.options;
  const nn::Reduction r = nn::reduction_from_string(o["reduction"]);
  Tensor weight = f.has("weight") ? f.at("weight") : Tensor();
  nn::LossPtr loss;
  if (name == "CrossEntropyLoss")
    loss = std::make_shared<nn::CrossEntropyLoss>(nn::CrossEntropyLossOptions{weight, o["ignore_index"], r, o["label_smoothing"]});
  else if (name == "NLLLoss") loss = std::make_shared<nn::NLLLoss>(weight, o["ignore_index"], r);
  else if (name == "MSELoss") loss = std::make_shared<nn::MSELoss>(r);
  else if (name == "L1Loss") loss = std::make_shared<nn::L1Loss>(r);
  else if (name == "QuantileLoss") loss = std::make_shared<nn::QuantileLoss>(o["quantiles"].get<std::vector<double>>(), r);
  else if (name == "SmoothL1Loss") loss = std::make_shared<nn::SmoothL1Loss>(r, o["beta"]);
  else if (name == "BCELoss") loss = std::make_shared<nn::BCELoss>(weight, r);
  else if (name == "BCEWithLogitsLoss")
    loss = std::make_shared<nn::BCEWithLogitsLoss>(weight, f.has("pos_weight") ? f.at("pos_weight") : Tensor(), r);
  else FAIL() << "no factory for criterion " << name;
  Tensor input = f.at("input").clone().requires_grad_(true);
  Tensor out = loss->forward(input, f.at("target"));
  expect_close(out, f.at("output"), "output");
  if (f.has("grad_output")) sum(mul(out, f.at("grad_output"))).backward();
  else out.backward();
  expect_close(input.grad(), f.at("grad.input"), "grad.input");
}

std::shared_ptr<optim::Optimizer> make_optimizer(const std::string& name, const json& o, std::vector<Tensor> params) {
  auto num = [&](const char* k, double d) { return o.contains(k) ? o[k].get<double>() : d; };
  auto flag = [&](const char* k) { return o.contains(k) && o[k].get<bool>(); };
  if (name == "SGD")
    return std::make_shared<optim::SGD>(params, optim::SGDOptions{num("lr", 0.01), num("momentum", 0), num("dampening", 0),
                                                                  num("weight_decay", 0), flag("nesterov")});
  if (name == "Adam" || name == "AdamW") {
    optim::AdamOptions a{num("lr", 1e-3), 0.9, 0.999, num("eps", 1e-8), num("weight_decay", name == "AdamW" ? 1e-2 : 0.0),
                         flag("amsgrad")};
    if (o.contains("betas")) {
      a.beta1 = o["betas"][0];
      a.beta2 = o["betas"][1];
    }
    if (name == "AdamW") return std::make_shared<optim::AdamW>(params, a);
    return std::make_shared<optim::Adam>(params, a);
  }
  if (name == "RMSprop")
    return std::make_shared<optim::RMSprop>(params, optim::RMSpropOptions{num("lr", 1e-2), num("alpha", 0.99), num("eps", 1e-8),
                                                                          num("weight_decay", 0), num("momentum", 0),
                                                                          flag("centered")});
  if (name == "Adagrad")
    return std::make_shared<optim::Adagrad>(params, optim::AdagradOptions{num("lr", 1e-2), num("lr_decay", 0),
                                                                          num("weight_decay", 0),
                                                                          num("initial_accumulator_value", 0), num("eps", 1e-10)});
  throw std::runtime_error("no factory for optimizer " + name);
}

void run_optimizer(const Fixture& f) {
  auto net = std::make_shared<nn::Sequential>(
      std::vector<nn::ModulePtr>{std::make_shared<nn::Linear>(4, 8), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(8, 3)});
  {
    NoGradGuard ng;
    for (auto& [k, t] : net->state_dict()) Tensor(t).copy_(f.at("param." + k));
  }
  auto opt = make_optimizer(f.meta.at("name"), f.options, net->parameters());
  nn::CrossEntropyLoss ce;
  std::vector<float> losses;
  for (int s = 0; s < 10; ++s) {
    opt->zero_grad();
    Tensor l = ce(net->forward(f.at("x")), f.at("y"));
    losses.push_back(float(l.item()));
    l.backward();
    opt->step();
    if (s == 0)
      for (auto& [k, t] : net->state_dict()) expect_close(t, f.at("param_step1." + k), "param_step1." + k);
  }
  expect_close(from_vector(losses, {10}), f.at("loss"), "loss");
  for (auto& [k, t] : net->state_dict()) expect_close(t, f.at("param_final." + k), "param_final." + k);
}

void run_scheduler(const Fixture& f) {
  const std::string name = f.meta.at("name");
  const json& o = f.options;
  Tensor p = zeros({1}).requires_grad_(true);
  optim::SGD opt({p}, optim::SGDOptions{o["lr"].get<double>()});
  std::shared_ptr<optim::LRScheduler> s;
  std::shared_ptr<optim::ReduceLROnPlateau> plateau;
  if (name == "StepLR") s = std::make_shared<optim::StepLR>(opt, o["step_size"], o["gamma"]);
  else if (name == "MultiStepLR") s = std::make_shared<optim::MultiStepLR>(opt, o["milestones"].get<std::vector<int64_t>>(), o["gamma"]);
  else if (name == "ExponentialLR") s = std::make_shared<optim::ExponentialLR>(opt, o["gamma"]);
  else if (name == "CosineAnnealingLR") s = std::make_shared<optim::CosineAnnealingLR>(opt, o["T_max"], o["eta_min"]);
  else if (name == "LinearLR") s = std::make_shared<optim::LinearLR>(opt, o["start_factor"], o["end_factor"], o["total_iters"]);
  else if (name == "ReduceLROnPlateau")
    plateau = std::make_shared<optim::ReduceLROnPlateau>(opt, optim::ReduceLROnPlateau::Mode::min, o["factor"], o["patience"],
                                                         o["threshold"], o["cooldown"], o["min_lr"], o["eps"]);
  else FAIL() << "no factory for scheduler " << name;
  const std::vector<double> metric = f.has("metric") ? f.at("metric").to_double_vector() : std::vector<double>(20, 0.0);
  std::vector<double> lrs;
  for (int e = 0; e < 20; ++e) {
    lrs.push_back(opt.lr());
    opt.step();
    if (plateau) plateau->step(double(float(metric[e])));
    else s->step();
  }
  expect_close(from_vector(lrs, {20}, DType::f64), f.at("lr"), "lr");
}

void run_clip(const Fixture& f) {
  std::vector<Tensor> params;
  for (int k = 0; f.has("grad." + std::to_string(k)); ++k) {
    Tensor p = zeros(f.at("grad." + std::to_string(k)).shape()).requires_grad_(true);
    p.set_grad(f.at("grad." + std::to_string(k)).clone());
    params.push_back(p);
  }
  const json& o = f.options;
  const double norm_type = o["norm_type"].is_string() ? INFINITY : o["norm_type"].get<double>();
  const double total = optim::clip_grad_norm_(params, o["max_norm"], norm_type);
  expect_close(scalar_tensor(total), f.at("total_norm"), "total_norm");
  for (size_t k = 0; k < params.size(); ++k) expect_close(params[k].grad(), f.at("grad_after." + std::to_string(k)), "grad_after");
}

std::vector<std::string> fixture_files() {
  std::vector<std::string> v;
  for (auto& e : std::filesystem::directory_iterator(std::string(BIGDL_TEST_DIR) + "/golden/fixtures"))
    if (e.path().extension() == ".safetensors") v.push_back(e.path().stem().string());
  std::sort(v.begin(), v.end());
  return v;
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesPyTorch) {
  const Fixture f = load(std::string(BIGDL_TEST_DIR) + "/golden/fixtures/" + GetParam() + ".safetensors");
  const std::string kind = f.meta.at("kind");
  if (kind == "module") run_module(f);
  else if (kind == "criterion") run_criterion(f);
  else if (kind == "optimizer") run_optimizer(f);
  else if (kind == "scheduler") run_scheduler(f);
  else if (kind == "clip") run_clip(f);
  else FAIL() << "unknown fixture kind " << kind;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Golden, ::testing::ValuesIn(fixture_files()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string s = i.param;
                           for (char& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

TEST(GoldenSuite, HasEveryKind) {
  std::map<std::string, int> kinds;
  for (auto& n : fixture_files()) kinds[n.substr(0, n.find('_'))]++;
  EXPECT_GE(kinds["module"], 50);
  EXPECT_GE(kinds["criterion"], 20);
  EXPECT_GE(kinds["optimizer"], 10);
  EXPECT_GE(kinds["scheduler"], 6);
  EXPECT_GE(kinds["clip"], 2);
}

}  // namespace
