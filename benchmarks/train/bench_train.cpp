// Training throughput of bigdl-cpp: forward + backward + SGD step, samples/s.
//   bench_train --model mlp|lenet5|resnet|lstm --threads N [--seconds S]
// Prints one JSON line: {"model": ..., "threads": N, "samples_per_s": X, "steps": K}.
// benchmarks/train/run.py runs this next to PyTorch and prints the comparison table.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "bigdl/nn/loss.h"
#include "bigdl/nn/modules.h"
#include "bigdl/optim/optimizer.h"
#include "bigdl/random.h"
#include "bigdl/train/zoo.h"

using namespace bigdl;

namespace {
// LSTM over [T, B, in] followed by a classifier on the last step.
class LstmClassifier : public nn::Module {
 public:
  LstmClassifier() {
    lstm_ = register_module("lstm", std::make_shared<nn::LSTM>(nn::RNNOptions{32, 128, 1, true, false}));
    fc_ = register_module("fc", std::make_shared<nn::Linear>(128, 10));
  }
  Tensor forward(const Tensor& x) override {
    auto r = lstm_->forward_full(x);
    return fc_->forward(r.h_n.select(0, 0));
  }
  std::string name() const override { return "LstmClassifier"; }

 private:
  std::shared_ptr<nn::LSTM> lstm_;
  std::shared_ptr<nn::Linear> fc_;
};
}  // namespace

int main(int argc, char** argv) {
  std::string model = "mlp";
  int threads = 1;
  double seconds = 3.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--model")) model = argv[i + 1];
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  set_num_threads(threads);
  manual_seed(0);
  nn::ModulePtr net;
  Tensor x, y;
  int64_t batch;
  if (model == "mlp") {
    batch = 128;
    net = train::zoo::mlp({784, 512, 256, 10});
    x = randn({batch, 784});
  } else if (model == "lenet5") {
    batch = 128;
    net = train::zoo::lenet5();
    x = randn({batch, 1, 28, 28});
  } else if (model == "resnet") {
    batch = 64;
    net = train::zoo::resnet_cifar(3, 2);
    x = randn({batch, 3, 32, 32});
  } else if (model == "lstm") {
    batch = 64;
    net = std::make_shared<LstmClassifier>();
    x = randn({50, batch, 32});
  } else {
    std::fprintf(stderr, "bench_train: unknown --model %s\n", model.c_str());
    return 2;
  }
  y = randint(0, 10, {batch});
  optim::SGD opt(net->parameters(), optim::SGDOptions{0.01, 0.9});
  nn::CrossEntropyLoss ce;
  auto step = [&] {
    opt.zero_grad();
    Tensor loss = ce(net->forward(x), y);
    loss.backward();
    opt.step();
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up
  int64_t steps = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double elapsed = 0;
  while (elapsed < seconds || steps < 5) {
    step();
    ++steps;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::printf("{\"model\": \"%s\", \"threads\": %d, \"samples_per_s\": %.1f, \"steps\": %lld}\n", model.c_str(), threads,
              double(steps * batch) / elapsed, (long long)steps);
  return 0;
}
