// Keras-style API (bigdl::keras): shape inference, Keras parameter counts, the
// functional graph against hand-written nn code, weight sharing, summary(), error
// messages, compile-by-name losses, and end-to-end fits on sklearn digits.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <tuple>

#include "bigdl/autograd.h"
#include "bigdl/nn/modules.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/train/data.h"
#include "bigdl/train/keras.h"
#include "test_util.h"

using namespace bigdl;
namespace k = bigdl::keras;

namespace {

double max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  const auto va = a.to_vector(), vb = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < va.size() && i < vb.size(); ++i) m = std::max(m, double(std::fabs(va[i] - vb[i])));
  return m;
}

std::shared_ptr<nn::Linear> linear_of(const k::Layer& l) { return std::dynamic_pointer_cast<nn::Linear>(l->module()); }

Shape batched(int64_t b, const Shape& s) {
  Shape out{b};
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

// Adds the layer, then checks that a real forward gives the inferred shape.
void add_checked(k::Sequential& net, const k::Layer& l, const Shape& expected) {
  net.add(l);
  EXPECT_EQ(shape_str(l->output_shape()), shape_str(expected)) << l->tag();
  NoGradGuard ng;
  // abs: a net that starts with an Embedding reads these floats as ids, which must not be
  // negative (embedding refuses them, as PyTorch).
  Tensor y = net.forward(abs(randn(batched(2, net.input_shape()))));
  EXPECT_EQ(shape_str(y.shape()), shape_str(batched(2, expected))) << l->tag();
}

// The Keras mnist_cnn.py network, channels-first.
std::shared_ptr<k::Sequential> mnist_cnn() {
  auto net = std::make_shared<k::Sequential>();
  net->add(k::Conv2D(32, 3, 1, "valid", "relu", {.input_shape = {1, 28, 28}}));
  net->add(k::Conv2D(64, 3, 1, "valid", "relu"));
  net->add(k::MaxPooling2D(2));
  net->add(k::Dropout(0.25));
  net->add(k::Flatten());
  net->add(k::Dense(128, "relu"));
  net->add(k::Dropout(0.5));
  net->add(k::Dense(10, "softmax"));
  return net;
}

struct Digits {
  std::shared_ptr<train::TensorDataset> train, test;
};
const Digits& digits() {
  static Digits d = [] {
    auto [x, y] = train::load_digits();
    auto [tr, te] = train::train_test_split(x, y, 0.2, 0);
    return Digits{tr, te};
  }();
  return d;
}

}  // namespace

// ------------------------------------------------------------------ shapes

TEST(KerasShapes, ConvPoolFlattenDenseInferenceMatchesForward) {
  manual_seed(0);
  k::Sequential net;
  add_checked(net, k::Conv2D(8, 3, 1, "valid", "relu", {.input_shape = {3, 28, 28}}), {8, 26, 26});  // 28-3+1
  add_checked(net, k::Conv2D(8, 3, 2, "same"), {8, 13, 13});           // ceil(26/2); pad 0 top, 1 bottom
  add_checked(net, k::Conv2D(4, {5, 3}, {2, 1}, "same"), {4, 7, 13});  // ceil(13/2), 13; even pads
  add_checked(net, k::Conv2D(4, {2, 4}, {1, 3}, "valid"), {4, 6, 4});  // 7-2+1, (13-4)/3+1
  add_checked(net, k::MaxPooling2D(2), {4, 3, 2});                     // strides default to the pool
  add_checked(net, k::AveragePooling2D(2, 1, "same"), {4, 3, 2});      // stride 1 "same" keeps size
  add_checked(net, k::MaxPooling2D({3, 2}, 2, "same"), {4, 2, 1});     // ceil(3/2), ceil(2/2)
  add_checked(net, k::Flatten(), {8});
  add_checked(net, k::Dense(5, "tanh"), {5});
  EXPECT_EQ(shape_str(net.output_shape()), "[5]");

  k::Sequential g;
  add_checked(g, k::Conv2D(6, 3, 1, "same", "relu", {.input_shape = {2, 7, 9}}), {6, 7, 9});
  add_checked(g, k::BatchNormalization(), {6, 7, 9});
  add_checked(g, k::GlobalAveragePooling2D(), {6});
  add_checked(g, k::Reshape({2, -1}), {2, 3});
  add_checked(g, k::Activation("softmax"), {2, 3});
}

TEST(KerasShapes, SamePaddingMatchesTensorFlow) {
  // x = 1..9 as 3x3. TensorFlow puts the odd padding row/column at the bottom/right.
  Tensor x = arange(1, 10).reshape({1, 1, 3, 3});
  k::Sequential conv;
  conv.add(k::Conv2D(1, 2, 1, "same", "linear", {.input_shape = {1, 3, 3}, .use_bias = false}));
  {
    NoGradGuard ng;
    std::dynamic_pointer_cast<nn::Conv2d>(conv.layers()[0]->module())->weight.fill_(1.0);
  }
  // 2x2 window sums with zeros past the bottom/right edge.
  EXPECT_EQ(conv.forward(x).to_vector(), std::vector<float>({12, 16, 9, 24, 28, 15, 15, 17, 9}));

  k::Sequential maxp({k::MaxPooling2D(2, 2, "same", {.input_shape = {1, 3, 3}})});
  EXPECT_EQ(maxp.forward(x).to_vector(), std::vector<float>({5, 6, 8, 9}));
  // Keras averages over the real pixels only: windows {1,2,4,5}, {3,6}, {7,8}, {9}.
  k::Sequential avgp({k::AveragePooling2D(2, 2, "same", {.input_shape = {1, 3, 3}})});
  EXPECT_EQ(avgp.forward(x).to_vector(), std::vector<float>({3, 4.5, 7.5, 9}));
}

TEST(KerasShapes, EmbeddingRecurrentReshapeBatchNorm) {
  manual_seed(0);
  k::Sequential net;
  add_checked(net, k::Embedding(50, 8, {.input_shape = {6}}), {6, 8});
  add_checked(net, k::LSTM(16, true), {6, 16});
  add_checked(net, k::GRU(12), {12});
  add_checked(net, k::Reshape({3, -1}), {3, 4});
  add_checked(net, k::BatchNormalization(), {3, 4});
  add_checked(net, k::Flatten(), {12});
  // Integer ids work as well as the float ids add_checked feeds.
  Tensor ids = from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 6});
  EXPECT_EQ(shape_str(net.forward(ids).shape()), "[2, 12]");

  // return_sequences=false gives the last step of the sequence output.
  auto x = k::Input({5, 3});
  auto last = k::LSTM(4), seq = k::LSTM(4, true);
  k::Model m({x}, {last(x), seq(x)});
  Tensor xs = randn({2, 5, 3});
  NoGradGuard ng;
  Tensor full = std::dynamic_pointer_cast<nn::LSTM>(last->module())->forward_full(xs).output;  // [2, 5, 4]
  EXPECT_LT(max_diff(m.forward_multi({xs})[0], full.select(1, 4)), 1e-6);
  EXPECT_EQ(shape_str(m.forward_multi({xs})[1].shape()), "[2, 5, 4]");
}

// ------------------------------------------------------------------ parameter counts

TEST(KerasParams, MnistCnnMatchesKerasDocumentedCounts) {
  // Keras' examples/mnist_cnn.py summary (input 28x28x1):
  //   conv2d_1       32 * (1 * 3 * 3) + 32          =       320
  //   conv2d_2       64 * (32 * 3 * 3) + 64         =    18,496
  //   max_pooling2d_1, dropout_1                             0   -> 64 x 12 x 12
  //   flatten_1      64 * 12 * 12 = 9216 features            0
  //   dense_1        9216 * 128 + 128               = 1,179,776
  //   dropout_2                                              0
  //   dense_2        128 * 10 + 10                  =     1,290
  //   total                                           1,199,882
  auto net = mnist_cnn();
  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"conv2d_1", 320}, {"conv2d_2", 18496},  {"max_pooling2d_1", 0}, {"dropout_1", 0},
      {"flatten_1", 0},  {"dense_1", 1179776}, {"dropout_2", 0},       {"dense_2", 1290}};
  ASSERT_EQ(net->layers().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(net->layers()[i]->name(), expected[i].first);
    EXPECT_EQ(net->layers()[i]->count_params(), expected[i].second) << expected[i].first;
  }
  EXPECT_EQ(shape_str(net->get_layer("flatten_1")->output_shape()), "[9216]");
  EXPECT_EQ(net->num_parameters(), 1199882);
  std::vector<std::string> keys;
  for (auto& [name, t] : net->state_dict()) keys.push_back(name);
  EXPECT_EQ(keys, std::vector<std::string>({"conv2d_1.weight", "conv2d_1.bias", "conv2d_2.weight", "conv2d_2.bias",
                                            "dense_1.weight", "dense_1.bias", "dense_2.weight", "dense_2.bias"}));

  // BatchNormalization on 16 channels: gamma, beta (trainable) + moving mean, var
  // (non-trainable) = 4 * 16 = 64, as Keras counts it.
  k::Sequential bn;
  bn.add(k::Conv2D(16, 3, 1, "same", "linear", {.input_shape = {3, 8, 8}, .use_bias = false}));  // 16*3*3*3 = 432
  bn.add(k::BatchNormalization());
  EXPECT_EQ(bn.layers()[1]->name(), "batch_normalization_1");
  EXPECT_EQ(bn.layers()[1]->count_params(), 64);
  EXPECT_EQ(bn.layers()[1]->count_trainable_params(), 32);
  EXPECT_EQ(bn.num_parameters(), 432 + 32);
}

TEST(KerasParams, SameBuildCodeGivesSameStateDictKeys) {
  // Names count per model, so a second build of the same network (in the same process)
  // has the same keys and takes the first one's weights.
  auto a = mnist_cnn(), b = mnist_cnn();
  EXPECT_NO_THROW(b->load_state_dict(a->state_dict(), /*strict=*/true));
  EXPECT_EQ(a->state_dict()[0].second.to_vector(), b->state_dict()[0].second.to_vector());
  // Explicit names win; BatchNormalization's buffers are keyed under the layer too.
  k::Sequential n;
  n.add(k::Dense(4, "relu", {.input_shape = {3}, .name = "fc1"}));
  n.add(k::BatchNormalization());
  std::vector<std::string> keys;
  for (auto& [name, t] : n.state_dict()) keys.push_back(name);
  EXPECT_EQ(keys, std::vector<std::string>({"fc1.weight", "fc1.bias", "batch_normalization_1.weight",
                                            "batch_normalization_1.bias", "batch_normalization_1.running_mean",
                                            "batch_normalization_1.running_var",
                                            "batch_normalization_1.num_batches_tracked"}));
}

// ------------------------------------------------------------------ functional

TEST(KerasFunctional, TwoBranchAddConcatenateMatchesHandWrittenNn) {
  manual_seed(1);
  auto x = k::Input({8});
  auto da = k::Dense(16, "relu"), db = k::Dense(16, "tanh"), out = k::Dense(3);
  auto add = k::Add(), concat = k::Concatenate();
  auto s = add({da(x), db(x)});
  auto c = concat({s, x});
  EXPECT_EQ(shape_str(c.shape()), "[24]");
  auto model = std::make_shared<k::Model>(x, out(c));

  // Names come in topological order.
  EXPECT_EQ(x.name(), "input_1");
  EXPECT_EQ(da->name(), "dense_1");
  EXPECT_EQ(db->name(), "dense_2");
  EXPECT_EQ(add->name(), "add_1");
  EXPECT_EQ(concat->name(), "concatenate_1");
  EXPECT_EQ(out->name(), "dense_3");
  EXPECT_EQ(model->num_parameters(), 2 * (8 * 16 + 16) + (24 * 3 + 3));

  Tensor xin = randn({5, 8});
  Tensor got = model->forward(xin);
  auto A = linear_of(da), B = linear_of(db), O = linear_of(out);
  Tensor branch = relu(linear(xin, A->weight, A->bias)) + tanh(linear(xin, B->weight, B->bias));
  Tensor ref = linear(cat({branch, xin}, 1), O->weight, O->bias);
  EXPECT_LT(max_diff(got, ref), 1e-6);

  got.sum().backward();
  ASSERT_TRUE(A->weight.grad().defined());
  ASSERT_TRUE(B->weight.grad().defined());

  // train()/eval() reach the layers' modules: Dropout is the identity in eval mode.
  auto xi = k::Input({32});
  k::Model drop(xi, k::Dropout(0.5)(xi));
  Tensor ones32 = ones({4, 32});
  EXPECT_GT(max_diff(drop.forward(ones32), ones32), 0.5);
  drop.eval();
  EXPECT_EQ(max_diff(drop.forward(ones32), ones32), 0.0);
}

TEST(KerasFunctional, ChannelConcatAndSeveralInputsAndOutputs) {
  manual_seed(2);
  auto img = k::Input({3, 8, 8}, "image");
  auto feats = k::Input({5}, "features");
  auto wide = k::Conv2D(4, 3, 1, "same", "relu")(img);
  auto narrow = k::Conv2D(2, 1)(img);
  auto joined = k::Concatenate(1)({wide, narrow});  // channels: axis 1 counts the batch dim
  EXPECT_EQ(shape_str(joined.shape()), "[6, 8, 8]");
  auto pooled = k::GlobalAveragePooling2D()(joined);
  auto h = k::Concatenate()({pooled, k::Dense(6, "relu")(feats)});
  auto cls = k::Dense(4, "softmax")(h);
  auto score = k::Dense(1, "sigmoid")(h);
  k::Model m({img, feats}, {cls, score});
  auto ys = m.forward_multi({randn({3, 3, 8, 8}), randn({3, 5})});
  ASSERT_EQ(ys.size(), 2u);
  EXPECT_EQ(shape_str(ys[0].shape()), "[3, 4]");
  EXPECT_EQ(shape_str(ys[1].shape()), "[3, 1]");
  EXPECT_THROW(m.forward(randn({3, 3, 8, 8})), ValueError);  // two inputs: forward_multi only
  EXPECT_EQ(k::output_activation(m), "");                    // several outputs
}

TEST(KerasFunctional, SharedLayerSharesWeights) {
  manual_seed(3);
  auto shared = k::Dense(4, "linear", {.name = "shared"});
  auto x1 = k::Input({4}), x2 = k::Input({4});
  auto y = k::Add()({shared(x1), shared(x2)});
  k::Model m({x1, x2}, {y});
  EXPECT_EQ(m.num_parameters(), 4 * 4 + 4);  // one set of weights
  std::vector<std::string> keys;
  for (auto& [name, t] : m.state_dict()) keys.push_back(name);
  EXPECT_EQ(keys, std::vector<std::string>({"shared.weight", "shared.bias"}));

  Tensor a = randn({3, 4}), b = randn({3, 4});
  Tensor out = m.forward_multi({a, b})[0];
  auto L = linear_of(shared);
  EXPECT_LT(max_diff(out, linear(a, L->weight, L->bias) + linear(b, L->weight, L->bias)), 1e-6);
  // Both calls feed the one weight: dsum/dW[o][i] = sum_n (a + b)[n][i] for every o.
  out.sum().backward();
  Tensor g = L->weight.grad();
  EXPECT_LT(max_diff(g.select(0, 2), (a + b).sum({0})), 1e-5);

  // A sub-model over part of the graph holds the very same tensors.
  auto h = shared(x1);
  k::Model encoder(x1, h);
  k::Model full(x1, k::Dense(2)(h));
  EXPECT_EQ(encoder.parameters()[0].impl(), full.parameters()[0].impl());
  // Adding it to a Sequential shares it too.
  k::Sequential seq;
  seq.add(k::Dense(4, "relu", {.input_shape = {3}}));
  seq.add(shared);
  EXPECT_EQ(seq.state_dict()[2].first, "shared.weight");
  EXPECT_EQ(seq.parameters()[2].impl(), L->weight.impl());

  // One set of weights means one input shape.
  EXPECT_EQ(test_util::error_of<ShapeError>([&] { shared(k::Input({5})); }),
            "[Dense shared] was built for input shape [4] and cannot be called on [5] (a shared layer keeps one set "
            "of weights)");
}

// ------------------------------------------------------------------ summary

TEST(KerasSummary, SequentialTableLikeKeras) {
  auto net = mnist_cnn();
  const std::string s = net->summary();
  std::printf("%s", s.c_str());
  for (const char* want :
       {"Model: \"sequential\"", "Layer (type)                 Output Shape              Param #",
        "conv2d_1 (Conv2D)            (None, 32, 26, 26)        320",
        "max_pooling2d_1 (MaxPooling2D) (None, 64, 12, 12)", "flatten_1 (Flatten)          (None, 9216)              0",
        "dense_1 (Dense)              (None, 128)               1179776",
        "dense_2 (Dense)              (None, 10)                1290", "Total params: 1,199,882",
        "Trainable params: 1,199,882", "Non-trainable params: 0"})
    EXPECT_NE(s.find(want), std::string::npos) << "missing: " << want;
}

TEST(KerasSummary, FunctionalTableHasConnections) {
  auto shared = k::Dense(4, "relu", {.name = "shared"});
  auto x1 = k::Input({4}), x2 = k::Input({4});
  auto y = k::Concatenate()({shared(x1), shared(x2)});
  k::Model m({x1, x2}, {k::Dense(1, "sigmoid")(y)});
  const std::string s = m.summary();
  std::printf("%s", s.c_str());
  for (const char* want :
       {"Model: \"model\"", "Connected to", "input_1 (InputLayer)", "(None, 4)", "shared (Dense)", "input_1[0][0]",
        "input_2[0][0]", "shared[0][0]", "shared[1][0]", "concatenate_1 (Concatenate)", "(None, 8)", "dense_1 (Dense)",
        "concatenate_1[0][0]", "Total params: 29"})
    EXPECT_NE(s.find(want), std::string::npos) << "missing: " << want;
}

// ------------------------------------------------------------------ errors

TEST(KerasErrors, ShapeErrorsNameTheLayer) {
  k::Sequential net;
  net.add(k::Dense(12, "relu", {.input_shape = {12}}));
  net.add(k::Reshape({3, 4}));
  EXPECT_EQ(test_util::error_of<ShapeError>([&] { net.add(k::Dense(2)); }),
            "[Dense dense_2] expects a 1-D input shape, got [3, 4]");
  EXPECT_EQ(net.layers().size(), 2u);  // a failed add leaves the model as it was
  net.add(k::Flatten());
  net.add(k::Dense(2));
  EXPECT_EQ(net.layers().back()->name(), "dense_2");

  k::Sequential c;
  EXPECT_EQ(test_util::error_of<ShapeError>([&] {
              c.add(k::Conv2D(4, 5, 1, "valid", "linear", {.input_shape = {1, 3, 3}}));
            }),
            "[Conv2D conv2d_1] kernel 5x5 does not fit the input 3x3 with padding 'valid'");
  EXPECT_EQ(test_util::error_of<ShapeError>([&] { c.add(k::Conv2D(4, 3, 1, "valid", "linear", {.input_shape = {9}})); }),
            "[Conv2D conv2d_1] expects a 3-D input shape [C, H, W], got [9]");
  EXPECT_EQ(test_util::error_of<ShapeError>([&] { c.add(k::LSTM(4, false, {.input_shape = {9}})); }),
            "[LSTM lstm_1] expects a 2-D input shape [T, F], got [9]");
  EXPECT_EQ(test_util::error_of<ShapeError>([&] {
              c.add(k::Reshape({4, 4}, {.input_shape = {3, 5}}));
            }),
            "[Reshape reshape_1] cannot reshape [3, 5] (15 elements) to [4, 4]");

  auto a = k::Input({3, 4}), b = k::Input({3, 5});
  EXPECT_EQ(test_util::error_of<ShapeError>([&] { k::Add()({a, b}); }), "[Add] inputs must have equal shapes, got [3, 4], [3, 5]");
  EXPECT_EQ(test_util::error_of<ShapeError>([&] {
              k::Concatenate(1)({a, b});
            }),
            "[Concatenate] inputs must match except along axis 1, got [3, 4], [3, 5]");
  EXPECT_NO_THROW(k::Concatenate(-1)({a, b}));
  EXPECT_EQ(test_util::error_of<ValueError>([&] {
              k::Concatenate(0)({a, b});
            }),
            "[Concatenate] cannot concatenate along the batch axis");
  EXPECT_EQ(test_util::error_of<ValueError>([&] { k::Add()({a}); }), "[Add] merges two or more inputs, got 1");

  // Inputs of the wrong shape at run time.
  auto x = k::Input({8});
  k::Model m(x, k::Dense(2)(x));
  EXPECT_EQ(test_util::error_of<ShapeError>([&] {
              m.forward(randn({5, 7}));
            }),
            "[Model] input 'input_1' expects [B, 8], got [5, 7]");
  EXPECT_EQ(test_util::error_of<ShapeError>([&] { net.forward(randn({12})); }), "[Sequential] input expects [B, 12], got [12]");
}

TEST(KerasErrors, BadArgumentsAndGraphs) {
  EXPECT_NE(test_util::error_of<ValueError>([] { k::Dense(3, "relux"); }).find("[activation] unknown activation 'relux'"),
            std::string::npos);
  EXPECT_THROW(k::Activation("swish"), ValueError);
  EXPECT_THROW(k::Conv2D(4, 3, 1, "full"), ValueError);
  EXPECT_THROW(k::Dropout(1.0), ValueError);
  EXPECT_THROW(k::Reshape({-1, -1}), ValueError);

  k::Sequential s;
  EXPECT_EQ(test_util::error_of<ValueError>([&] { s.add(k::Dense(3)); }),
            "[Sequential] the first layer (Dense) needs an input_shape");
  EXPECT_THROW(s.add(k::Add({.input_shape = {3}})), ValueError);  // merge layers need the functional API
  s.add(k::Dense(3, "relu", {.input_shape = {4}, .name = "hidden"}));
  EXPECT_EQ(test_util::error_of<ValueError>([&] { s.add(k::Dense(3, "relu", {.name = "hidden"})); }),
            "[Sequential] duplicate layer name 'hidden'");
  EXPECT_THROW(s.add(k::Dense(3, "relu", {.input_shape = {5}})), ShapeError);  // declared shape != actual

  // Outputs that need an Input the model was not given; an Input no output uses.
  auto x1 = k::Input({4}), x2 = k::Input({4});
  auto y2 = k::Dense(2)(x2);
  EXPECT_NE(
      test_util::error_of<ValueError>([&] { (void)k::Model(x1, y2); }).find("not among the model's inputs (graph disconnected)"),
      std::string::npos);
  EXPECT_EQ(test_util::error_of<ValueError>([&] {
              (void)k::Model({x1, x2}, {y2});
            }),
            "[Model] input 'input_1' (shape [4]) is not used by any output");
  EXPECT_THROW((void)k::Model(y2, y2), ValueError);  // inputs must be Input nodes
  auto n1 = k::Dense(2, "linear", {.name = "same"})(x1), n2 = k::Dense(2, "linear", {.name = "same"})(x1);
  EXPECT_EQ(test_util::error_of<ValueError>([&] {
              (void)k::Model(x1, k::Add()({n1, n2}));
            }),
            "[Model] two layers are named 'same'");

  EXPECT_NE(test_util::error_of<ValueError>([] { k::make_optimizer("adamx", {}); }).find("unknown optimizer 'adamx'"),
            std::string::npos);
  EXPECT_NE(test_util::error_of<ValueError>([] { k::make_loss("hinge"); }).find("unknown loss 'hinge'"), std::string::npos);
  EXPECT_THROW(k::make_optimizer("sgd", {}, -0.5), ValueError);
}

// ------------------------------------------------------------------ compile by name

TEST(KerasCompile, OptimizersByNameWithBigDLDefaults) {
  Tensor p = zeros({3});
  p.requires_grad_(true);
  const std::vector<std::tuple<std::string, std::string, double>> rows = {{"sgd", "SGD", 0.01},
                                                                          {"adam", "Adam", 1e-3},
                                                                          {"AdamW", "AdamW", 1e-3},
                                                                          {"rmsprop", "RMSprop", 1e-3},
                                                                          {"adagrad", "Adagrad", 0.01}};
  for (auto& [name, cls, lr] : rows) {
    auto opt = k::make_optimizer(name, {p});
    EXPECT_EQ(opt->name(), cls);
    EXPECT_DOUBLE_EQ(opt->lr(), lr) << name;
    EXPECT_DOUBLE_EQ(k::make_optimizer(name, {p}, 0.5)->lr(), 0.5);
  }
  EXPECT_DOUBLE_EQ(std::dynamic_pointer_cast<optim::RMSprop>(k::make_optimizer("rmsprop", {p}))->options.alpha, 0.9);
  EXPECT_DOUBLE_EQ(std::dynamic_pointer_cast<optim::AdamW>(k::make_optimizer("adamw", {p}))->options.weight_decay,
                   0.01);
}

TEST(KerasCompile, SoftmaxOutputsUseNllOfClampedLogProbabilities) {
  manual_seed(4);
  Tensor z = randn({6, 5});
  Tensor t = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 0}, {6});
  auto grad_of = [&](const std::function<Tensor(const Tensor&)>& f) {
    Tensor zz = z.detach().clone();
    zz.requires_grad_(true);
    Tensor l = f(zz);
    l.backward();
    return std::make_pair(l.detach(), zz.grad());
  };
  // Keras semantics: with a softmax model the loss sees probabilities; the result must
  // equal cross-entropy on the logits, and so must the gradient.
  const auto [ref, ref_g] = grad_of([&](const Tensor& zz) { return nn::functional::cross_entropy(zz, t); });
  auto sparse_probs = k::make_loss("sparse_categorical_crossentropy", "softmax");
  auto sparse_logits = k::make_loss("sparse_categorical_crossentropy");
  auto sparse_logp = k::make_loss("sparse_categorical_crossentropy", "log_softmax");
  for (auto& [loss, input] : std::vector<std::pair<nn::LossPtr, std::function<Tensor(const Tensor&)>>>{
           {sparse_probs, [](const Tensor& zz) { return softmax(zz, 1); }},
           {sparse_logits, [](const Tensor& zz) { return zz; }},
           {sparse_logp, [](const Tensor& zz) { return log_softmax(zz, 1); }}}) {
    const auto [l, g] = grad_of([&](const Tensor& zz) { return loss->forward(input(zz), t); });
    EXPECT_NEAR(l.item(), ref.item(), 1e-5);
    EXPECT_LT(max_diff(g, ref_g), 1e-5);
  }
  EXPECT_EQ(sparse_probs->name(), "sparse_categorical_crossentropy");
  // [N, 1] and float class ids are accepted, as in Keras.
  EXPECT_NEAR(sparse_probs->forward(softmax(z, 1), t.to(DType::f32).reshape({6, 1})).item(), ref.item(), 1e-5);
  // A zero probability on the true class is clamped to 1e-7, not log(0).
  Tensor onehot_wrong = from_vector(std::vector<float>{0, 1, 0, 0, 0}, {1, 5});
  EXPECT_NEAR(sparse_probs->forward(onehot_wrong, from_vector(std::vector<int64_t>{0}, {1})).item(), -std::log(1e-7),
              1e-3);

  // categorical_crossentropy on one-hot targets: three forms, one value.
  Tensor oh = one_hot(t, 5).to(DType::f32);
  const double c_ref = k::make_loss("categorical_crossentropy")->forward(z, oh).item();
  EXPECT_NEAR(c_ref, ref.item(), 1e-5);
  EXPECT_NEAR(k::make_loss("categorical_crossentropy", "softmax")->forward(softmax(z, 1), oh).item(), c_ref, 1e-5);
  EXPECT_NEAR(k::make_loss("categorical_crossentropy", "log_softmax")->forward(log_softmax(z, 1), oh).item(), c_ref,
              1e-5);
  EXPECT_THROW(k::make_loss("categorical_crossentropy")->forward(z, t), ShapeError);

  // binary_crossentropy: sigmoid outputs = probabilities, else logits; [N] targets fit [N, 1].
  Tensor zb = randn({6, 1});
  Tensor yb = from_vector(std::vector<int64_t>{0, 1, 1, 0, 1, 0}, {6});
  const double b_ref = nn::functional::binary_cross_entropy_with_logits(zb, yb.to(DType::f32).reshape({6, 1})).item();
  EXPECT_NEAR(k::make_loss("binary_crossentropy", "sigmoid")->forward(sigmoid(zb), yb).item(), b_ref, 1e-5);
  EXPECT_NEAR(k::make_loss("binary_crossentropy")->forward(zb, yb).item(), b_ref, 1e-5);
  EXPECT_NEAR(k::make_loss("bce_with_logits", "sigmoid")->forward(zb, yb).item(), b_ref, 1e-5);

  // mse with [N] targets against [N, 1] outputs must not broadcast to [N, N].
  Tensor yr = randn({6});
  EXPECT_NEAR(k::make_loss("mse")->forward(zb, yr).item(), nn::functional::mse_loss(zb, yr.reshape({6, 1})).item(),
              1e-6);
  EXPECT_NEAR(k::make_loss("mean_absolute_error")->forward(zb, yr).item(),
              nn::functional::l1_loss(zb, yr.reshape({6, 1})).item(), 1e-6);
}

TEST(KerasCompile, OutputActivationIsDetected) {
  k::Sequential a({k::Dense(10, "softmax", {.input_shape = {4}})});
  EXPECT_EQ(k::output_activation(a), "softmax");
  k::Sequential b({k::Dense(10, "relu", {.input_shape = {4}}), k::Activation("log_softmax")});
  EXPECT_EQ(k::output_activation(b), "log_softmax");
  k::Sequential c({k::Dense(10, "linear", {.input_shape = {4}})});
  EXPECT_EQ(k::output_activation(c), "linear");
  auto x = k::Input({4});
  EXPECT_EQ(k::output_activation(k::Model(x, k::Dense(1, "sigmoid")(x))), "sigmoid");
  nn::Sequential plain({std::make_shared<nn::Linear>(4, 3), std::make_shared<nn::Softmax>(1)});
  EXPECT_EQ(k::output_activation(plain), "softmax");
  EXPECT_EQ(k::output_activation(nn::Linear(4, 3)), "");
}

// ------------------------------------------------------------------ end to end

TEST(KerasFit, SequentialMlpOnDigits) {
  manual_seed(0);
  auto net = std::make_shared<k::Sequential>();
  net->add(k::Dense(64, "relu", {.input_shape = {64}}));
  net->add(k::Dropout(0.1));
  net->add(k::Dense(10, "softmax"));
  train::Model model = k::compile(net, "adam", "sparse_categorical_crossentropy", {"accuracy"});
  train::FitOptions fo;
  fo.batch_size = 32;
  fo.epochs = 20;
  fo.verbose = 0;
  fo.seed = 0;
  const auto& d = digits();
  auto history = model.fit(d.train, d.test, fo);
  EXPECT_LT(history.epochs.back().at("loss"), history.epochs.front().at("loss"));
  const double acc = model.evaluate(d.test)["accuracy"];
  std::printf("keras Sequential MLP, digits test accuracy: %.2f%%\n", 100 * acc);
  EXPECT_GE(acc, 0.95);
  // predict gives the softmax probabilities.
  Tensor p = model.predict(d.test->x());
  EXPECT_EQ(shape_str(p.shape()), "[359, 10]");
  EXPECT_LT(max_diff(p.sum({1}), ones({359})), 1e-5);
}

TEST(KerasFit, FunctionalMlpOnDigits) {
  manual_seed(0);
  auto x = k::Input({64});
  auto h = k::Dense(64, "relu")(x);
  auto skip = k::Dense(64, "tanh")(x);
  auto merged = k::Add()({h, skip});
  auto net = std::make_shared<k::Model>(x, k::Dense(10, "softmax")(merged));
  train::Model model = k::compile(net, "adam", "sparse_categorical_crossentropy", {"accuracy"});
  const auto& d = digits();
  // Keras' fit(x, y, batch_size, nb_epoch, validation_data).
  model.fit(d.train->x(), d.train->y(),
            {.batch_size = 32, .epochs = 20, .val_x = d.test->x(), .val_y = d.test->y(), .seed = 0, .verbose = 0});
  const double acc = model.evaluate(d.test->x(), d.test->y())["accuracy"];
  std::printf("keras functional MLP, digits test accuracy: %.2f%%\n", 100 * acc);
  EXPECT_GE(acc, 0.95);
}

TEST(KerasFit, SmallCnnOnDigitImages) {
  manual_seed(0);
  auto net = std::make_shared<k::Sequential>();
  net->add(k::Reshape({1, 8, 8}, {.input_shape = {64}}));
  net->add(k::Conv2D(8, 3, 1, "same", "relu"));
  net->add(k::BatchNormalization());
  net->add(k::MaxPooling2D(2));
  net->add(k::Flatten());
  net->add(k::Dense(10, "softmax"));
  train::Model model = k::compile(net, "adam", "sparse_categorical_crossentropy", {"accuracy"}, 3e-3);
  train::FitOptions fo;
  fo.batch_size = 32;
  fo.epochs = 5;
  fo.verbose = 0;
  fo.seed = 0;
  const auto& d = digits();
  model.fit(d.train, nullptr, fo);
  const double acc = model.evaluate(d.test)["accuracy"];
  std::printf("keras CNN, digits test accuracy: %.2f%%\n", 100 * acc);
  EXPECT_GE(acc, 0.95);
}
