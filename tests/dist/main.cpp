// test_dist's main: sets up the world group (MPI when started by mpirun, even with
// one process; else the one-process group) before any test, and lets only rank 0 print gtest's report; the other ranks
// print their failures, prefixed with their rank, and their exit code counts too.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "bigdl/dist/group.h"
#include "bigdl/tensor.h"

namespace {

class RankFailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& r) override {
    if (r.failed())
      std::fprintf(stderr, "[rank %d] %s:%d: %s\n", rank_, r.file_name() ? r.file_name() : "?", r.line_number(),
                   r.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  bigdl::dist::GroupPtr world;
  try {
    // Under a launcher even with one process (mpirun -np 1), so the MPI backend is tested.
    const bool launcher = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMI_SIZE");
    world = bigdl::dist::init(launcher ? bigdl::dist::Backend::mpi : bigdl::dist::Backend::auto_);
  } catch (const bigdl::Error& e) {
    std::fprintf(stderr, "test_dist: %s\n", e.what());
    return 1;
  }
  // One compute thread per rank: several ranks share this machine's cores.
  if (world->size() > 1) bigdl::set_num_threads(1);
  if (world->rank() != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new RankFailurePrinter(world->rank()));
  }
  return RUN_ALL_TESTS();
}
