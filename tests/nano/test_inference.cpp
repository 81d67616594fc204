// nano::optimize (include/bigdl/nano/inference.h): every captured variant against the
// original model's own forward, on the real trained MNIST MLP and on a network with every
// rewrite (BatchNorm folding, activation fusion, dropout removal, module steps).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

#include "backend/cpu/onednn_infer.h"
#include "bigdl/autograd.h"
#include "bigdl/io/tensor_io.h"
#include "bigdl/nano/inference.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/train/data.h"
#include "bigdl/train/keras.h"
#include "bigdl/train/zoo.h"
#include "test_util.h"

using namespace bigdl;

namespace {

using test_util::rel_diff;

double accuracy(const Tensor& logits, const Tensor& y) {
  const Tensor pred = argmax(logits, 1).contiguous();
  int64_t ok = 0;
  for (int64_t i = 0; i < y.numel(); ++i) ok += pred.data<int64_t>()[i] == y.contiguous().data<int64_t>()[i];
  return double(ok) / double(y.numel());
}

// int8_static on a random network against fp32: 5 % of the largest output with VNNI's
// 8-bit weights, 10 % where the weights have 7 bits (6 for s8-input convolutions) because
// the CPU has no VNNI (src/backend/cpu/onednn_infer.h).
double static_int8_bound() { return detail::int8_weight_max() == 127 ? 5e-2 : 1e-1; }

struct Mnist {
  std::shared_ptr<nn::Sequential> net;
  Tensor x, y;
  // int8_static's calibration data: the first 1024 test images (../shared/data has no
  // MNIST training images); int8_static's accuracy is measured on the other 8976.
  Tensor calib, x_held, y_held;
};
const Mnist& mnist() {
  static const Mnist m = [] {
    const std::string dir = std::string(BIGDL_SHARED_DATA) + "/vision/";
    Mnist r;
    r.net = train::zoo::mlp({784, 500, 10});
    r.net->load_state_dict(io::load_tensors(dir + "mnist-mlp/mnist_model.state_dict"));
    r.net->eval();
    auto [x, y] = train::load_idx_dataset(dir + "mnist/t10k-images-idx3-ubyte.gz", dir + "mnist/t10k-labels-idx1-ubyte.gz");
    r.x = x.reshape({-1, 784});
    r.y = y;
    r.calib = r.x.narrow(0, 0, 1024).contiguous();
    r.x_held = r.x.narrow(0, 1024, r.x.size(0) - 1024).contiguous();
    r.y_held = r.y.narrow(0, 1024, r.y.size(0) - 1024).contiguous();
    return r;
  }();
  return m;
}

}  // namespace

TEST(NanoMnistMlp, Fp32FusedEqualsOriginal) {
  const auto& m = mnist();
  auto fast = nano::optimize(m.net);
  EXPECT_EQ(fast->num_steps(), 2u) << fast->repr();  // fc1 + relu, fc2
  EXPECT_NE(fast->repr().find("Linear(784 -> 500) + relu [fp32]"), std::string::npos) << fast->repr();
  NoGradGuard ng;
  const Tensor want = m.net->forward(m.x), got = fast->forward(m.x);
  EXPECT_LE(rel_diff(got, want), 1e-6);
  EXPECT_NEAR(accuracy(got, m.y), 0.9831, 1e-9);
  // One row at a time (the decode-like path) gives the same rows.
  const Tensor one = fast->forward(m.x.narrow(0, 17, 1));
  EXPECT_LE(rel_diff(one, want.narrow(0, 17, 1)), 1e-6);
}

TEST(NanoMnistMlp, Int8DynamicKeepsAccuracy) {
  const auto& m = mnist();
  auto q8 = nano::optimize(m.net, {.precision = nano::Precision::int8_dynamic});
  EXPECT_NE(q8->repr().find("Linear(784 -> 500) + relu [int8 dynamic"), std::string::npos) << q8->repr();
  NoGradGuard ng;
  const Tensor want = m.net->forward(m.x), got = q8->forward(m.x);
  const double acc = accuracy(got, m.y);
  std::printf("MNIST MLP: fp32 98.31%%, int8_dynamic %.2f%%, max relative logit error %.2e\n", 100 * acc, rel_diff(got, want));
  EXPECT_GE(acc, 0.9831 - 0.005);
  // int8 weights per channel (from Q8_0 blocks) and per-row int8 inputs: logits within 1%
  // of the largest (measured 0.88 %).
  EXPECT_LE(rel_diff(got, want), 1e-2);
  EXPECT_GT(rel_diff(got, want), 0.0);  // really int8, not the fp32 path
  // Row counts of every kernel path (1 row, a few rows, many) agree row for row.
  for (int64_t n : {1, 3, 64}) {
    const Tensor part = q8->forward(m.x.narrow(0, 100, n));
    EXPECT_LE(rel_diff(part, got.narrow(0, 100, n)), 1e-5) << n << " rows";
  }
}

// int8_static with each calibration method: oneDNN int8 kernels, per-channel weights, the
// input scales from 1024 images, the accuracy on the 8976 others.
TEST(NanoMnistMlp, Int8StaticKeepsAccuracy) {
  const auto& m = mnist();
  NoGradGuard ng;
  const Tensor want = m.net->forward(m.x_held);
  const double base = accuracy(want, m.y_held);
  for (const auto how : {nano::Calibration::minmax, nano::Calibration::percentile, nano::Calibration::entropy}) {
    auto q8 = nano::optimize(m.net, {.precision = nano::Precision::int8_static, .calibration_data = m.calib, .calibration = how});
    const Tensor got = q8->forward(m.x_held);
    const double acc = accuracy(got, m.y_held);
    std::printf("MNIST MLP, 8976 held-out images: fp32 %.2f%%, int8_static (%s) %.2f%%, max relative logit error %.2e\n",
                100 * base, nano::calibration_name(how), 100 * acc, rel_diff(got, want));
    EXPECT_GE(acc, base - 0.005) << nano::calibration_name(how);
    // minmax keeps every value in range; percentile and entropy clip the largest inputs
    // on purpose, which moves the largest logits more.
    const double bound = how == nano::Calibration::minmax ? 3e-2 : how == nano::Calibration::percentile ? 1e-1 : 5e-1;
    EXPECT_LE(rel_diff(got, want), bound) << nano::calibration_name(how);
    EXPECT_GT(rel_diff(got, want), 0.0);
    // The hidden layer's input is a ReLU's output: unsigned.
    EXPECT_NE(q8->repr().find("Linear(500 -> 10) [int8 static: u8 input"), std::string::npos) << q8->repr();
    const Tensor part = q8->forward(m.x_held.narrow(0, 100, 3));
    EXPECT_LE(rel_diff(part, got.narrow(0, 100, 3)), 1e-6);
  }
  // Without calibration data: a one-line error.
  EXPECT_THROW(nano::optimize(m.net, {.precision = nano::Precision::int8_static}), ValueError);
}

TEST(NanoMnistMlp, Bf16WhereNative) {
  const auto& m = mnist();
  if (!nano::native_bf16()) {
    EXPECT_THROW(nano::optimize(m.net, {.precision = nano::Precision::bf16}), ValueError);
    GTEST_SKIP() << "no AVX-512 BF16 / AMX-BF16 on this CPU: bf16 is refused (checked), not emulated";
  }
  auto b16 = nano::optimize(m.net, {.precision = nano::Precision::bf16});
  NoGradGuard ng;
  const Tensor want = m.net->forward(m.x), got = b16->forward(m.x);
  const double acc = accuracy(got, m.y);
  std::printf("MNIST MLP: bf16 %.2f%%, max relative logit error %.2e\n", 100 * acc, rel_diff(got, want));
  EXPECT_GE(acc, 0.9831 - 0.005);
  EXPECT_LE(rel_diff(got, want), 2e-2);  // 8-bit mantissas of weights and inputs, f32 sums
  EXPECT_GT(rel_diff(got, want), 0.0);
}

TEST(NanoRewrites, FoldedFusedNetworkEqualsOriginal) {
  manual_seed(3);
  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Conv2d>(1, 4, 3, 1, 1));
  auto bn2 = std::make_shared<nn::BatchNorm2d>(4);
  net->add(bn2);
  net->add(std::make_shared<nn::ReLU>());
  net->add(std::make_shared<nn::MaxPool2d>(2));
  auto inner = std::make_shared<nn::Sequential>();  // nested: flattened
  inner->add(std::make_shared<nn::Dropout>(0.3));
  inner->add(std::make_shared<nn::Flatten>());
  net->add(inner);
  net->add(std::make_shared<nn::Linear>(64, 16));
  auto bn1 = std::make_shared<nn::BatchNorm1d>(16);
  net->add(bn1);
  net->add(std::make_shared<nn::Tanh>());
  net->add(std::make_shared<nn::Linear>(16, 5));
  net->add(std::make_shared<nn::GELU>());
  net->add(std::make_shared<nn::Linear>(5, 3, false));
  // Non-trivial statistics, as after training.
  {
    NoGradGuard ng;
    for (auto* bn : {static_cast<nn::BatchNorm*>(bn2.get()), static_cast<nn::BatchNorm*>(bn1.get())}) {
      const int64_t c = bn->num_features;
      bn->running_mean.copy_(randn({c}) * 0.5);
      bn->running_var.copy_(rand({c}) + 0.5);
      bn->weight.copy_(randn({c}));
      bn->bias.copy_(randn({c}));
    }
  }
  net->train();
  const Tensor x = randn({6, 1, 8, 8});
  std::vector<nano::Precision> precisions{nano::Precision::fp32, nano::Precision::int8_dynamic, nano::Precision::int8_static};
  if (nano::native_bf16()) precisions.push_back(nano::Precision::bf16);
  for (const auto precision : precisions) {
    auto fast = nano::optimize(net, {.precision = precision, .calibration_data = randn({64, 1, 8, 8})});
    EXPECT_TRUE(net->is_training());  // the original's mode is restored
    // conv+bn+relu, maxpool, flatten, linear+bn+tanh, linear+gelu, linear
    EXPECT_EQ(fast->num_steps(), 6u) << fast->repr();
    Tensor want;
    {
      NoGradGuard ng;
      net->eval();
      want = net->forward(x);
      net->train();
    }
    const Tensor got = fast->forward(x);
    // int8_static: three layers of 8-bit inputs and weights on a random network, the
    // ranges from other random inputs.
    const double bound = precision == nano::Precision::fp32 ? 2e-6 : precision == nano::Precision::int8_static ? static_int8_bound() : 2e-2;
    EXPECT_LE(rel_diff(got, want), bound) << fast->repr();
    EXPECT_FALSE(got.requires_grad());
  }
  // Options off: every layer its own step (dropouts still dropped).
  auto plain = nano::optimize(net, {.fold_batchnorm = false, .fuse_activation = false});
  EXPECT_EQ(plain->num_steps(), 11u) << plain->repr();
  // The capture holds copies: changing the original afterwards does not change it.
  auto fast = nano::optimize(net);
  const Tensor before = fast->forward(x);
  {
    NoGradGuard ng;
    net->parameters()[0].add_(ones({}));
  }
  EXPECT_EQ(rel_diff(fast->forward(x), before), 0.0);
}

TEST(NanoErrors, OneLineMessages) {
  try {
    nano::parse_precision("int3");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "[nano.optimize] unknown precision 'int3' (known: fp32, bf16, int8_static, int8_dynamic)");
  }
  EXPECT_THROW(nano::optimize(nullptr), ValueError);
  EXPECT_THROW(nano::optimize(std::make_shared<nn::Sequential>()), ValueError);
  auto q8 = nano::optimize(train::zoo::mlp({40, 8, 2}), {.precision = nano::Precision::int8_dynamic});
  try {
    q8->forward(randn({2, 39}));
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "[nano.Linear] expected input with 40 float32 features in the last dim, got [2, 39] f32");
  }
}

// keras::Sequential (DLlib's Keras API): Dense / Conv2D become Linear / Conv2d steps with
// their activation fused and a following BatchNormalization folded; layers that are not a
// module call (a Conv2D with asymmetric 'same' padding, pooling) run as themselves.
TEST(NanoKeras, SequentialCapturedAndEqual) {
  manual_seed(5);
  auto net = std::make_shared<keras::Sequential>();
  net->add(keras::Conv2D(4, 3, 1, "same", "linear", {.input_shape = {1, 8, 8}}));  // symmetric pad: a conv
  net->add(keras::BatchNormalization());
  net->add(keras::Activation("relu"));
  net->add(keras::Conv2D(4, 2, 1, "same", "tanh"));  // asymmetric pad: the layer itself
  net->add(keras::MaxPooling2D(2));
  net->add(keras::Flatten());
  net->add(keras::Dense(16, "linear"));
  net->add(keras::BatchNormalization());
  net->add(keras::Dropout(0.5));
  net->add(keras::Dense(5, "softmax"));
  {
    NoGradGuard ng;
    for (auto& [name, t] : net->state_dict())
      if (name.find("running_mean") != std::string::npos) t.copy_(randn(t.shape()) * 0.3);
      else if (name.find("running_var") != std::string::npos) t.copy_(rand(t.shape()) + 0.5);
  }
  for (auto& [name, t] : net->state_dict())  // state_dict's tensors are the buffers themselves
    if (name.find("running_mean") != std::string::npos) EXPECT_GT(t.abs().sum().item(), 0.0) << name;
  const Tensor x = randn({3, 1, 8, 8});
  for (const auto precision : {nano::Precision::fp32, nano::Precision::int8_dynamic}) {
    auto fast = nano::optimize(net, {.precision = precision});
    // conv+bn+relu, conv2d layer, maxpool layer, flatten, linear+bn, linear, softmax
    EXPECT_EQ(fast->num_steps(), 7u) << fast->repr();
    EXPECT_NE(fast->repr().find("Conv2d(1 -> 4, 3x3) + relu [fp32, oneDNN"), std::string::npos) << fast->repr();
    EXPECT_NE(fast->repr().find("(layer)"), std::string::npos) << fast->repr();
    Tensor want;
    {
      NoGradGuard ng;
      net->eval();
      want = net->forward(x);
    }
    EXPECT_LE(rel_diff(fast->forward(x), want), precision == nano::Precision::fp32 ? 2e-6 : 2e-2) << fast->repr();
  }
}

// A functional keras::Model with residual blocks (the shape of the example's Fashion-MNIST
// ResNet): captured as its graph, BatchNorm folded and activations fused where a layer is
// the only reader of the one before, each Add with its ReLU one step, the shortcut read
// from two steps back; every precision against the original.
std::shared_ptr<keras::Model> residual_model() {
  manual_seed(9);
  const keras::Node x = keras::Input({1, 8, 8});
  keras::Node y = keras::Conv2D(4, 3, 1, "same")(x);
  y = keras::BatchNormalization()(y);
  y = keras::Activation("relu")(y);
  const keras::Node stem = y;  // read by the block and by its shortcut
  y = keras::Conv2D(4, 3, 1, "same", "relu")(y);
  y = keras::Dropout(0.2)(y);
  y = keras::Conv2D(4, 3, 1, "same")(y);
  y = keras::BatchNormalization()(y);
  y = keras::Add()({y, stem});
  y = keras::Activation("relu")(y);
  const keras::Node pooled = keras::MaxPooling2D(2)(y);
  keras::Node s = keras::Conv2D(8, 1)(pooled);  // a projection shortcut
  s = keras::BatchNormalization()(s);
  keras::Node z = keras::Conv2D(8, 3, 1, "same")(pooled);
  z = keras::BatchNormalization()(z);
  z = keras::Add()({z, s});
  z = keras::Activation("relu")(z);
  z = keras::GlobalAveragePooling2D()(z);
  const keras::Node out = keras::Dense(3)(z);
  auto net = std::make_shared<keras::Model>(x, out);
  {
    NoGradGuard ng;
    for (auto& [name, t] : net->state_dict())
      if (name.find("running_mean") != std::string::npos) t.copy_(randn(t.shape()) * 0.3);
      else if (name.find("running_var") != std::string::npos) t.copy_(rand(t.shape()) + 0.5);
  }
  return net;
}

TEST(NanoKeras, ResidualModelCapturedAsGraph) {
  auto net = residual_model();
  const Tensor input = randn({5, 1, 8, 8});
  Tensor want;
  {
    NoGradGuard ng;
    net->eval();
    want = net->forward(input);
  }
  std::vector<nano::Precision> precisions{nano::Precision::fp32, nano::Precision::int8_dynamic, nano::Precision::int8_static};
  if (nano::native_bf16()) precisions.push_back(nano::Precision::bf16);
  for (const auto precision : precisions) {
    auto fast = nano::optimize(net, {.precision = precision, .calibration_data = randn({64, 1, 8, 8})});
    // conv+bn+relu, conv+relu, conv+bn, add+relu, maxpool, conv+bn (shortcut), conv+bn,
    // add+relu, global pool, dense
    EXPECT_EQ(fast->num_steps(), 10u) << fast->repr();
    const std::string r = fast->repr();
    EXPECT_NE(r.find("(3) Add(2 inputs) + relu  <- (2), (0)"), std::string::npos) << r;
    EXPECT_NE(r.find("Add(2 inputs) + relu  <- (6), (5)"), std::string::npos) << r;
    EXPECT_NE(r.find("(4) MaxPool2d(2x2, stride 2x2)"), std::string::npos) << r;  // the Keras pooling, as a module
    const double bound = precision == nano::Precision::fp32 ? 2e-6 : precision == nano::Precision::int8_static ? static_int8_bound() : 2e-2;
    EXPECT_LE(rel_diff(fast->forward(input), want), bound) << nano::precision_name(precision) << "\n" << r;
  }
}

// nano::save / load: one file, no original model needed, outputs identical for every
// precision (weights converted / quantized again with the saved scales); steps a file
// cannot hold and files nano.save did not write are one-line errors.
TEST(NanoSave, RoundTripIsIdentical) {
  auto net = residual_model();
  const Tensor input = randn({4, 1, 8, 8});
  const std::string path = std::string(BIGDL_BINARY_DIR) + "/nano_save_test.nano";
  std::vector<nano::Precision> precisions{nano::Precision::fp32, nano::Precision::int8_dynamic, nano::Precision::int8_static};
  if (nano::native_bf16()) precisions.push_back(nano::Precision::bf16);
  for (const auto precision : precisions) {
    auto fast = nano::optimize(net, {.precision = precision, .calibration_data = randn({32, 1, 8, 8})});
    nano::save(*fast, path);
    auto back = nano::load(path);
    EXPECT_EQ(back->num_steps(), fast->num_steps());
    EXPECT_EQ(back->options().precision, precision);
    const Tensor want = fast->forward(input), got = back->forward(input);
    EXPECT_EQ(rel_diff(got, want), 0.0) << nano::precision_name(precision) << "\n" << back->repr();
  }
  // The MNIST MLP at int8_dynamic: the quantized blocks themselves are saved.
  auto q8 = nano::optimize(mnist().net, {.precision = nano::Precision::int8_dynamic});
  nano::save(*q8, path);
  EXPECT_EQ(rel_diff(nano::load(path)->forward(mnist().x.narrow(0, 0, 64)), q8->forward(mnist().x.narrow(0, 0, 64))), 0.0);
  std::remove(path.c_str());
}

TEST(NanoSave, Errors) {
  const std::string dir = std::string(BIGDL_BINARY_DIR) + "/";
  // A Keras layer run as itself (a Conv2D with uneven 'same' padding) is not savable.
  auto net = std::make_shared<keras::Sequential>();
  net->add(keras::Conv2D(2, 2, 1, "same", "linear", {.input_shape = {1, 6, 6}}));
  try {
    nano::save(*nano::optimize(net), dir + "nano_bad.nano");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[nano.save] step (0) 'Conv2D conv2d_1 (layer)' cannot be saved"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::ifstream(dir + "nano_bad.nano").good());  // nothing half-written
  EXPECT_THROW(nano::load(dir + "does_not_exist.nano"), IOError);
  // A safetensors file that nano.save did not write.
  io::save_tensors(dir + "plain.safetensors", {{"w", ones({2})}});
  try {
    nano::load(dir + "plain.safetensors");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("not a model saved by nano.save"), std::string::npos) << e.what();
  }
  // A saved model whose tensor is missing.
  auto mlp = nano::optimize(train::zoo::mlp({8, 4, 2}));
  nano::save(*mlp, dir + "nano_ok.nano");
  std::map<std::string, std::string> meta;
  auto tensors = io::load_tensors(dir + "nano_ok.nano", &meta);
  tensors.erase(tensors.begin());
  io::save_tensors(dir + "nano_missing.nano", tensors, meta);
  try {
    nano::load(dir + "nano_missing.nano");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'step0.weight' is missing"), std::string::npos) << e.what();
  }
  for (const char* f : {"plain.safetensors", "nano_ok.nano", "nano_missing.nano"}) std::remove((dir + f).c_str());
}
