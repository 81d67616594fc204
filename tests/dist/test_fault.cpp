// Step checkpoints and resume (FitOptions::checkpoint_every / resume), in process: a
// run "crashes" (a callback throws on every rank at the same step), a fresh model with
// other initial weights resumes from the checkpoint directory, and its final weights and
// buffers must equal an uninterrupted run's bit for bit (the net has batch norm, whose
// running statistics differ per rank, and dropout, which draws from the global RNG).
// Runs as one process and under tests/dist/mpirun.sh with 1, 2 and 4 ranks. The real
// SIGKILL of a rank, the watchdog and the CLI are in test_fault.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "bigdl/dist/group.h"
#include "bigdl/nn/loss.h"
#include "bigdl/nn/modules.h"
#include "bigdl/random.h"
#include "bigdl/train/data.h"
#include "bigdl/train/model.h"

using namespace bigdl;
namespace fs = std::filesystem;

namespace {

dist::Group& W() { return *dist::world(); }

struct Crash : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws after global step `at` (steps counted over epochs).
class CrashAt : public train::Callback {
 public:
  explicit CrashAt(int64_t at) : at_(at) {}
  void on_batch_end(train::Model&, int64_t, double) override {
    if (++seen_ == at_) throw Crash("crash");
  }

 private:
  int64_t at_, seen_ = 0;
};

const std::pair<Tensor, Tensor>& data() {
  static const std::pair<Tensor, Tensor> d = [] {
    auto [x, y] = train::load_digits();
    return std::make_pair(x.narrow(0, 0, 640).contiguous(), y.narrow(0, 0, 640).contiguous());
  }();
  return d;
}

// A shared scratch folder (rank 0's pid), emptied.
std::string scratch(const std::string& name) {
  int64_t pid = int64_t(::getpid());
  W().broadcast(&pid, sizeof(pid), 0);
  const fs::path p = fs::temp_directory_path() / ("bigdl_fault_" + std::to_string(pid) + "_" + name);
  W().barrier();
  if (W().rank() == 0) fs::remove_all(p);
  W().barrier();
  return p.string();
}

struct Result {
  std::vector<float> state;  // parameters and buffers, in state_dict order
  bool crashed = false;
};

// Trains 2 epochs of 20 steps with a checkpoint every 6 steps into dir.
Result train_run(const std::string& dir, uint64_t init_seed, int64_t crash_at, const std::string& resume,
                 int64_t batch_size = 32) {
  manual_seed(init_seed);
  auto net = std::make_shared<nn::Sequential>();
  net->add(std::make_shared<nn::Linear>(64, 32));
  net->add(std::make_shared<nn::BatchNorm1d>(32));
  net->add(std::make_shared<nn::ReLU>());
  net->add(std::make_shared<nn::Dropout>(0.2));
  net->add(std::make_shared<nn::Linear>(32, 10));
  train::Model m(net);
  m.compile(std::make_shared<optim::AdamW>(net->parameters(), optim::AdamOptions{1e-2, 0.9, 0.999, 1e-8, 1e-2, false}),
            std::make_shared<nn::CrossEntropyLoss>(), {"accuracy"});
  train::FitOptions fo;
  fo.batch_size = batch_size;
  fo.epochs = 2;
  fo.seed = 5;
  fo.verbose = 0;
  // Under mpirun (even one rank): sharded optimizer state; else one process's.
  fo.distributed = W().backend() == "mpi" ? train::FitOptions::Distributed::on : train::FitOptions::Distributed::off;
  fo.checkpoint_dir = dir;
  fo.checkpoint_every = 6;
  fo.keep_checkpoints = 3;
  fo.resume = resume;
  if (crash_at > 0) fo.callbacks.push_back(std::make_shared<CrashAt>(crash_at));
  Result r;
  try {
    m.fit(data().first, data().second, fo);
  } catch (const Crash&) {
    r.crashed = true;
  }
  for (auto& [k, t] : net->state_dict())
    for (float v : t.to(DType::f32).to_vector()) r.state.push_back(v);
  return r;
}

void flip_byte(const std::string& path, std::streamoff at) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(at);
  char c = 0;
  f.get(c);
  f.seekp(at);
  f.put(char(c ^ 0x5a));
}

}  // namespace

TEST(FaultRecovery, ResumeMidEpochIsBitIdenticalAndSkipsACorruptedCheckpoint) {
  const std::string full_dir = scratch("full"), dir = scratch("crash");
  const Result full = train_run(full_dir, 7, 0, "");
  // Crash after step 27 (epoch 2, batch 7): checkpoints 12, 18, 24 remain.
  const Result crashed = train_run(dir, 7, 27, "");
  ASSERT_TRUE(crashed.crashed);
  W().barrier();
  const auto newest = train::find_step_checkpoint(dir, nullptr);
  ASSERT_TRUE(newest.has_value());
  EXPECT_EQ(newest->step, 24);
  EXPECT_EQ(newest->epoch, 1);
  EXPECT_EQ(newest->batch, 4);
  EXPECT_EQ(newest->world_size, W().size());
  EXPECT_FALSE(fs::exists(fs::path(dir) / "ckpt-00000006.manifest"));  // only the newest 3 are kept

  // Other initial weights: everything must come from the checkpoint.
  const Result resumed = train_run(dir, 99, 0, dir);
  EXPECT_FALSE(resumed.crashed);
  EXPECT_EQ(resumed.state, full.state);

  // Corrupt the newest checkpoint (last rank's file): one warning names it, step 30 ->
  // now the newest after the resumed run wrote 30 and 36, so corrupt 36.
  W().barrier();
  const std::string victim = (fs::path(dir) / ("ckpt-00000036.rank" + std::to_string(W().size() - 1) + ".safetensors")).string();
  if (W().rank() == 0) {
    flip_byte(victim, 200);
    std::FILE* warn = std::tmpfile();
    const auto c = train::find_step_checkpoint(dir, warn);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->step, 30);
    std::rewind(warn);
    char line[1024] = {0};
    ASSERT_NE(std::fgets(line, sizeof line, warn), nullptr);
    EXPECT_EQ(std::string(line), "[checkpoint] warning: " + victim +
                                     ": checksum mismatch (corrupted); using the previous checkpoint\n");
    EXPECT_EQ(std::fgets(line, sizeof line, warn), nullptr);  // one line
    std::fclose(warn);
  }
  W().barrier();
  // Back to the checkpoint at step 30 of the same run: the same final weights again.
  const Result again = train_run(dir, 123, 0, dir);
  EXPECT_EQ(again.state, full.state);
  W().barrier();
  if (W().rank() == 0) {
    fs::remove_all(dir);
    fs::remove_all(full_dir);
  }
}

TEST(FaultRecovery, ManifestIsChecksummedAndMismatchedRunsAreRefused) {
  const std::string dir = scratch("manifest");
  ASSERT_TRUE(train_run(dir, 7, 13, "").crashed);  // checkpoints 6 and 12
  W().barrier();
  if (W().rank() == 0) {
    const std::string m12 = (fs::path(dir) / "ckpt-00000012.manifest").string();
    EXPECT_EQ(train::verify_step_checkpoint(m12).step, 12);
    flip_byte(m12, 30);  // inside "step 12"
    try {
      train::verify_step_checkpoint(m12);
      ADD_FAILURE() << "a tampered manifest verified";
    } catch (const FormatError& e) {
      EXPECT_EQ(std::string(e.what()), "[checkpoint] " + m12 + ": manifest checksum mismatch");
    }
    const auto c = train::find_step_checkpoint(dir, nullptr);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->step, 6);
  }
  W().barrier();
  // Another batch size: a clear error on every rank, not a silently different run.
  try {
    train_run(dir, 7, 0, dir, 16);
    ADD_FAILURE() << "resumed with another batch size";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("written for batch size 32 over 640 samples, this run has batch size 16"),
              std::string::npos)
        << e.what();
  }
  // No valid checkpoint: an explicit folder is an error, "auto" starts fresh.
  const std::string empty = scratch("empty");
  EXPECT_THROW(train_run(empty, 7, 0, empty), IOError);
  EXPECT_FALSE(train_run(empty, 7, 0, "auto").crashed);
  W().barrier();
  if (W().rank() == 0) {
    fs::remove_all(dir);
    fs::remove_all(empty);
  }
}
