// End-to-end training on real data (issue 2, "must show" 2 and 3) and the fit()
// machinery: checkpoints, resume, callbacks, summaries, data loading.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "bigdl/io/tensor_io.h"
#include "bigdl/nn/loss.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "bigdl/train/callbacks.h"
#include "bigdl/train/model.h"
#include "bigdl/train/summary.h"
#include "bigdl/train/zoo.h"
#include "test_util.h"

using namespace bigdl;

namespace {


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

train::Model make_model(nn::ModulePtr net, double lr = 1e-3) {
  train::Model m(net);
  m.compile(std::make_shared<optim::Adam>(net->parameters(), optim::AdamOptions{lr}),
            std::make_shared<nn::CrossEntropyLoss>(), {"accuracy"});
  return m;
}

TEST(Digits, SplitIsSeeded80_20) {
  EXPECT_EQ(digits().train->size(), 1438);
  EXPECT_EQ(digits().test->size(), 359);
  auto [x, y] = train::load_digits();
  auto [a, b] = train::train_test_split(x, y, 0.2, 0);
  EXPECT_EQ(a->y().to_int_vector(), digits().train->y().to_int_vector());
}

TEST(Digits, MlpReaches97Percent) {
  manual_seed(0);
  auto net = train::zoo::mlp({64, 128, 64, 10});
  train::Model m = make_model(net);
  train::FitOptions fo;
  fo.epochs = 30;
  fo.verbose = 0;
  fo.seed = 0;
  m.fit(digits().train, nullptr, fo);
  const double acc = m.evaluate(digits().test)["accuracy"];
  std::printf("digits MLP test accuracy: %.2f%%\n", 100 * acc);
  EXPECT_GE(acc, 0.97);
}

TEST(Digits, CnnReaches97Percent) {
  manual_seed(0);
  auto net = train::zoo::digits_cnn();
  train::Model m = make_model(net);
  auto as_images = [](const train::TensorDataset& d) {
    return std::make_shared<train::TensorDataset>(d.x().reshape({-1, 1, 8, 8}), d.y());
  };
  train::FitOptions fo;
  fo.epochs = 12;
  fo.verbose = 0;
  fo.seed = 0;
  m.fit(as_images(*digits().train), nullptr, fo);
  const double acc = m.evaluate(as_images(*digits().test))["accuracy"];
  std::printf("digits CNN test accuracy: %.2f%%\n", 100 * acc);
  EXPECT_GE(acc, 0.97);
}

TEST(RealWeights, TorchMnistMlpScores9831) {
  const std::string dir = std::string(BIGDL_SHARED_DATA) + "/vision/";
  auto net = train::zoo::mlp({784, 500, 10});
  net->load_state_dict(io::load_tensors(dir + "mnist-mlp/mnist_model.state_dict"));
  auto [x, y] = train::load_idx_dataset(dir + "mnist/t10k-images-idx3-ubyte.gz", dir + "mnist/t10k-labels-idx1-ubyte.gz");
  train::Model m = make_model(net);
  const double acc = m.evaluate(x.reshape({-1, 784}), y)["accuracy"];
  EXPECT_NEAR(acc, 0.9831, 1e-9);  // 9831 of 10000, as PyTorch scores it
}

TEST(Checkpoint, ResumeEqualsUninterrupted) {
  const test_util::TempDir tmp("resume");
  const std::string& dir = tmp.path();
  auto run = [&](int64_t epochs, const std::string& resume, const std::string& save) {
    manual_seed(7);
    auto net = train::zoo::mlp({64, 32, 10});
    train::Model m = make_model(net);
    train::FitOptions fo;
    fo.epochs = epochs;
    fo.verbose = 0;
    fo.seed = 3;
    if (!resume.empty()) fo.initial_epoch = m.load_checkpoint(resume);
    if (!save.empty()) fo.callbacks.push_back(std::make_shared<train::ModelCheckpoint>(save));
    m.fit(digits().train, nullptr, fo);
    return net->state_dict();
  };
  auto full = run(4, "", "");
  run(2, "", dir + "/ckpt-{epoch}.safetensors");
  ASSERT_TRUE(std::filesystem::exists(dir + "/ckpt-2.safetensors"));
  auto resumed = run(4, dir + "/ckpt-2.safetensors", "");
  ASSERT_EQ(full.size(), resumed.size());
  for (size_t i = 0; i < full.size(); ++i)
    EXPECT_EQ(full[i].second.to_vector(), resumed[i].second.to_vector()) << full[i].first;
}

TEST(Checkpoint, TruncatedFileIsAFormatError) {
  const test_util::TempDir tmp("trunc");
  const std::string& dir = tmp.path();
  auto net = train::zoo::mlp({64, 10});
  train::Model m = make_model(net);
  m.save_checkpoint(dir + "/c.safetensors", 1);
  const auto size = std::filesystem::file_size(dir + "/c.safetensors");
  std::filesystem::resize_file(dir + "/c.safetensors", size - 10);
  try {
    m.load_checkpoint(dir + "/c.safetensors");
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("c.safetensors"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, WrongShapeNamesTheKey) {
  const test_util::TempDir tmp("shape");
  const std::string& dir = tmp.path();
  train::Model small = make_model(train::zoo::mlp({64, 10}));
  small.save_checkpoint(dir + "/c.safetensors", 1);
  train::Model big = make_model(train::zoo::mlp({64, 20, 10}));
  EXPECT_THROW(big.load_checkpoint(dir + "/c.safetensors"), Error);
}

TEST(Fit, WritesTensorBoardSummaries) {
  const test_util::TempDir tmp("tb");
  const std::string& dir = tmp.path();
  manual_seed(1);
  train::Model m = make_model(train::zoo::mlp({64, 16, 10}));
  train::FitOptions fo;
  fo.epochs = 2;
  fo.verbose = 0;
  fo.log_dir = dir;
  fo.val_x = digits().test->x();
  fo.val_y = digits().test->y();
  auto h = m.fit(digits().train->x(), digits().train->y(), fo);
  std::map<std::string, int> tags;
  for (auto& sub : {"train", "validation"})
    for (auto& e : std::filesystem::directory_iterator(dir + "/" + sub))
      for (auto& ev : train::read_scalar_events(e.path().string())) tags[std::string(sub) + "/" + ev.tag]++;
  EXPECT_EQ(tags["train/loss"], 2);
  EXPECT_EQ(tags["train/accuracy"], 2);
  EXPECT_EQ(tags["train/lr"], 2);
  EXPECT_EQ(tags["validation/loss"], 2);
  EXPECT_EQ(tags["validation/accuracy"], 2);
  EXPECT_LT(h.epochs[1].at("loss"), h.epochs[0].at("loss"));
}

TEST(Fit, EarlyStoppingStops) {
  manual_seed(2);
  train::Model m = make_model(train::zoo::mlp({64, 16, 10}), 0.0);  // lr 0: no progress
  train::FitOptions fo;
  fo.epochs = 20;
  fo.verbose = 0;
  auto es = std::make_shared<train::EarlyStopping>("loss", 1, 1e-3);  // min_delta: shuffling moves the loss by ~1e-7
  fo.callbacks.push_back(es);
  auto h = m.fit(digits().train, nullptr, fo);
  // Keras' patience: epoch 0 improves on +inf, epoch 1 does not, and patience 1 stops there
  // (it ran one epoch more before).
  EXPECT_EQ(h.epochs.size(), 2u);
  EXPECT_EQ(es->stopped_epoch(), 1);
}

TEST(Fit, LrScheduleCallbackChangesLr) {
  train::Model m = make_model(train::zoo::mlp({64, 10}), 0.1);
  auto sched = std::make_shared<optim::StepLR>(m.optimizer(), 1, 0.5);
  train::FitOptions fo;
  fo.epochs = 3;
  fo.verbose = 0;
  fo.callbacks.push_back(std::make_shared<train::LRSchedulerCallback>(sched));
  auto h = m.fit(digits().train, nullptr, fo);
  EXPECT_DOUBLE_EQ(h.epochs[0].at("lr"), 0.1);
  EXPECT_DOUBLE_EQ(h.epochs[2].at("lr"), 0.025);
}

TEST(Fit, NonFiniteLossIsAClearError) {
  train::Model m = make_model(train::zoo::mlp({64, 10}));
  Tensor x = digits().train->x().clone();
  x.narrow(0, 0, 1).fill_(std::nan(""));  // one corrupt sample
  train::FitOptions fo;
  fo.epochs = 1;
  fo.verbose = 0;
  fo.shuffle = false;
  try {
    m.fit(x, digits().train->y(), fo);
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("[fit] loss became"), std::string::npos) << e.what();
  }
}

TEST(DataLoader, EveryEpochVisitsEverySampleOnceInSeededOrder) {
  Tensor x = arange(0, 103).reshape({103, 1});
  auto ds = std::make_shared<train::TensorDataset>(x, arange(0, 103, 1, DType::i64));
  auto order = [&](int prefetch, int64_t epoch) {
    train::DataLoader dl(ds, {10, true, 5, false, prefetch});
    dl.start_epoch(epoch);
    std::vector<float> seen;
    train::Batch b;
    while (dl.next(&b))
      for (float v : b.x.to_vector()) seen.push_back(v);
    return seen;
  };
  auto a = order(2, 0), b = order(0, 0), c = order(2, 1);
  EXPECT_EQ(a, b);  // prefetch does not change the order
  EXPECT_NE(a, c);  // the next epoch is shuffled differently
  std::sort(a.begin(), a.end());
  ASSERT_EQ(a.size(), 103u);
  for (int i = 0; i < 103; ++i) EXPECT_EQ(a[i], float(i));
}

TEST(DataLoader, FileBackedDatasetMatchesInMemory) {
  const test_util::TempDir tmp("ds");
  const std::string& dir = tmp.path();
  const auto& d = *digits().test;
  train::save_dataset(dir + "/digits.safetensors", d.x(), d.y());
  train::SafetensorsDataset f(dir + "/digits.safetensors");
  ASSERT_EQ(f.size(), d.size());
  auto a = f.get({5, 0, 358}), b = d.get({5, 0, 358});
  EXPECT_EQ(a.x.to_vector(), b.x.to_vector());
  EXPECT_EQ(a.y.to_int_vector(), b.y.to_int_vector());
}

TEST(Metrics, AucTopKMaeMse) {
  train::AUC auc;
  auc.reset();
  auc.update(from_vector(std::vector<float>{0.1f, 0.4f, 0.35f, 0.8f}, {4}), from_vector(std::vector<float>{0, 0, 1, 1}, {4}));
  EXPECT_DOUBLE_EQ(auc.result(), 0.75);  // sklearn.metrics.roc_auc_score gives 0.75
  train::TopKAccuracy top2(2);
  top2.reset();
  top2.update(from_vector(std::vector<float>{0.1f, 0.5f, 0.4f, 0.9f, 0.05f, 0.3f}, {2, 3}),
              from_vector(std::vector<int64_t>{2, 1}, {2}));
  EXPECT_DOUBLE_EQ(top2.result(), 0.5);
  train::MAE mae;
  train::MSE mse;
  mae.reset();
  mse.reset();
  Tensor o = from_vector(std::vector<float>{1, 2, 3}, {3}), t = from_vector(std::vector<float>{1, 4, 0}, {3});
  mae.update(o, t);
  mse.update(o, t);
  EXPECT_DOUBLE_EQ(mae.result(), 5.0 / 3);
  EXPECT_DOUBLE_EQ(mse.result(), 13.0 / 3);
  EXPECT_THROW(train::make_metric("f1"), ValueError);
}

}  // namespace
