#include "bigdl/train/zoo.h"

#include "bigdl/ops.h"

namespace bigdl::train::zoo {

std::shared_ptr<nn::Sequential> mlp(const std::vector<int64_t>& sizes) {
  BIGDL_CHECK(sizes.size() >= 2, ValueError, "zoo::mlp", "needs at least input and output sizes");
  auto net = std::make_shared<nn::Sequential>();
  for (size_t i = 0; i + 1 < sizes.size(); ++i) {
    net->add("fc" + std::to_string(i + 1), std::make_shared<nn::Linear>(sizes[i], sizes[i + 1]));
    if (i + 2 < sizes.size()) net->add("relu" + std::to_string(i + 1), std::make_shared<nn::ReLU>());
  }
  return net;
}

std::shared_ptr<nn::Sequential> digits_cnn() {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", std::make_shared<nn::Conv2d>(1, 16, 3, 1, 1));
  net->add("relu1", std::make_shared<nn::ReLU>());
  net->add("conv2", std::make_shared<nn::Conv2d>(16, 32, 3, 1, 1));
  net->add("relu2", std::make_shared<nn::ReLU>());
  net->add("pool", std::make_shared<nn::MaxPool2d>(2));
  net->add("flatten", std::make_shared<nn::Flatten>());
  net->add("fc1", std::make_shared<nn::Linear>(32 * 4 * 4, 128));
  net->add("relu3", std::make_shared<nn::ReLU>());
  net->add("fc2", std::make_shared<nn::Linear>(128, 10));
  return net;
}

std::shared_ptr<nn::Sequential> lenet5(int64_t num_classes) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", std::make_shared<nn::Conv2d>(1, 6, 5, 1, 2));
  net->add("relu1", std::make_shared<nn::ReLU>());
  net->add("pool1", std::make_shared<nn::MaxPool2d>(2));
  net->add("conv2", std::make_shared<nn::Conv2d>(6, 16, 5));
  net->add("relu2", std::make_shared<nn::ReLU>());
  net->add("pool2", std::make_shared<nn::MaxPool2d>(2));
  net->add("flatten", std::make_shared<nn::Flatten>());
  net->add("fc1", std::make_shared<nn::Linear>(16 * 5 * 5, 120));
  net->add("relu3", std::make_shared<nn::ReLU>());
  net->add("fc2", std::make_shared<nn::Linear>(120, 84));
  net->add("relu4", std::make_shared<nn::ReLU>());
  net->add("fc3", std::make_shared<nn::Linear>(84, num_classes));
  return net;
}

namespace {
// conv3x3-BN-ReLU-conv3x3-BN (+ 1x1 conv-BN shortcut when the shape changes), then ReLU.
class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in, int64_t out, int64_t stride) {
    conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(nn::Conv2dOptions{in, out, {3, 3}, {stride, stride}, {1, 1}, {1, 1}, 1, false}));
    bn1_ = register_module("bn1", std::make_shared<nn::BatchNorm2d>(out));
    conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(nn::Conv2dOptions{out, out, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, false}));
    bn2_ = register_module("bn2", std::make_shared<nn::BatchNorm2d>(out));
    if (stride != 1 || in != out) {
      auto sc = std::make_shared<nn::Sequential>();
      sc->add(std::make_shared<nn::Conv2d>(nn::Conv2dOptions{in, out, {1, 1}, {stride, stride}, {0, 0}, {1, 1}, 1, false}));
      sc->add(std::make_shared<nn::BatchNorm2d>(out));
      shortcut_ = register_module("shortcut", sc);
    }
  }
  Tensor forward(const Tensor& x) override {
    Tensor y = relu(bn1_->forward(conv1_->forward(x)));
    y = bn2_->forward(conv2_->forward(y));
    return relu(add(y, shortcut_ ? shortcut_->forward(x) : x));
  }
  std::string name() const override { return "BasicBlock"; }

 private:
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
  std::shared_ptr<nn::BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<nn::Sequential> shortcut_;
};
}  // namespace

std::shared_ptr<nn::Module> resnet_cifar(int64_t stages, int64_t blocks, int64_t num_classes) {
  auto net = std::make_shared<nn::Sequential>();
  net->add("conv1", std::make_shared<nn::Conv2d>(nn::Conv2dOptions{3, 16, {3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, false}));
  net->add("bn1", std::make_shared<nn::BatchNorm2d>(16));
  net->add("relu", std::make_shared<nn::ReLU>());
  int64_t in = 16;
  for (int64_t s = 0; s < stages; ++s) {
    const int64_t out = 16 << s;
    auto layer = std::make_shared<nn::Sequential>();
    for (int64_t b = 0; b < blocks; ++b) layer->add(std::make_shared<BasicBlock>(in, out, (b == 0 && s > 0) ? 2 : 1)), in = out;
    net->add("layer" + std::to_string(s + 1), layer);
  }
  net->add("pool", std::make_shared<nn::AdaptiveAvgPool2d>(nn::Pair{1, 1}));
  net->add("flatten", std::make_shared<nn::Flatten>());
  net->add("fc", std::make_shared<nn::Linear>(in, num_classes));
  return net;
}

}  // namespace bigdl::train::zoo
