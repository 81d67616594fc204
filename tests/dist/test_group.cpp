// The Group collectives on the world group (one process, or every rank under mpirun):
// each rank fills its buffers from a formula of (rank, index), so every rank can compute
// what every collective must return.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "bigdl/dist/group.h"
#include "bigdl/random.h"

using namespace bigdl;
using namespace bigdl::dist;

namespace {

Group& W() { return *world(); }

// Block sizes with zeros and unequal lengths: 3, 0, 5, 1, 7, 0, ...
std::vector<int64_t> odd_counts(int n) {
  std::vector<int64_t> c;
  for (int j = 0; j < n; ++j) c.push_back(j % 3 == 1 ? 0 : 2 * j + 3);
  return c;
}

// The f32 gradient block rank `r` holds: seeded noise of mixed magnitude.
std::vector<float> noise(int r, int64_t n) {
  Generator g(1234 + uint64_t(r));
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = float((g.next_double() - 0.5) * std::pow(10.0, double(g.next_u64() % 7) - 3));
  return v;
}

template <typename T>
void check_all_reduce(DType dt) {
  const int n = W().size(), me = W().rank();
  std::vector<T> s(5), mx(5), mn(5);
  for (int k = 0; k < 5; ++k) s[size_t(k)] = mx[size_t(k)] = mn[size_t(k)] = T(me * 10 + k);
  W().all_reduce(s.data(), 5, dt, ReduceOp::sum);
  W().all_reduce(mx.data(), 5, dt, ReduceOp::max);
  W().all_reduce(mn.data(), 5, dt, ReduceOp::min);
  for (int k = 0; k < 5; ++k) {
    EXPECT_EQ(s[size_t(k)], T(10 * n * (n - 1) / 2 + n * k)) << dtype_name(dt) << " k=" << k;
    EXPECT_EQ(mx[size_t(k)], T((n - 1) * 10 + k));
    EXPECT_EQ(mn[size_t(k)], T(k));
  }
}

}  // namespace

TEST(DistGroup, RankAndSize) {
  EXPECT_GE(W().size(), 1);
  EXPECT_LT(W().rank(), W().size());
  EXPECT_GE(W().local_size(), 1);
  if (launched_by_mpi()) {
    EXPECT_EQ(W().backend(), "mpi");
  }
  EXPECT_EQ(env_world_size(), W().size());
  W().barrier();
}

TEST(DistGroup, AllReduceEveryDtypeAndOp) {
  check_all_reduce<float>(DType::f32);
  check_all_reduce<double>(DType::f64);
  check_all_reduce<int32_t>(DType::i32);
  check_all_reduce<int64_t>(DType::i64);
}

TEST(DistGroup, ReduceScatterUnevenBlocks) {
  const int n = W().size(), me = W().rank();
  const auto counts = odd_counts(n);
  std::vector<double> send;
  for (int j = 0; j < n; ++j)
    for (int64_t k = 0; k < counts[size_t(j)]; ++k) send.push_back(me + 100.0 * j + k);
  std::vector<double> recv(static_cast<size_t>(counts[size_t(me)] + 1), -7.0);  // one guard element
  W().reduce_scatter(send.data(), recv.data(), counts, DType::f64);
  for (int64_t k = 0; k < counts[size_t(me)]; ++k)
    EXPECT_EQ(recv[size_t(k)], n * (n - 1) / 2.0 + n * (100.0 * me + k)) << k;
  EXPECT_EQ(recv.back(), -7.0);
}

TEST(DistGroup, ReduceScatterWireFormatsRoundOnceAndSumInF32) {
  const int n = W().size(), me = W().rank();
  const auto counts = odd_counts(n);
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  int64_t my_at = 0;
  for (int j = 0; j < me; ++j) my_at += counts[size_t(j)];
  for (WireType w : {WireType::f32, WireType::bf16, WireType::f16}) {
    const std::vector<float> send = noise(me, total);
    std::vector<float> recv(static_cast<size_t>(counts[size_t(me)]));
    W().reduce_scatter(send.data(), recv.data(), counts, w);
    // Expected: every rank's value rounded once to the wire type, summed in f32 in rank order.
    for (int64_t k = 0; k < counts[size_t(me)]; ++k) {
      float want = 0, mag = 0;
      for (int r = 0; r < n; ++r) {
        const float v = noise(r, total)[size_t(my_at + k)];
        mag += std::fabs(v);
        want += w == WireType::bf16 ? bf16_to_float(float_to_bf16(v))
                : w == WireType::f16 ? half_to_float(float_to_half(v))
                                     : v;
      }
      if (w == WireType::f32)
        EXPECT_NEAR(recv[size_t(k)], want, 1e-6f * mag) << k;  // MPI may sum in another order
      else
        EXPECT_EQ(recv[size_t(k)], want) << wire_type_name(w) << " k=" << k;
    }
  }
}

TEST(DistGroup, AllGatherUnevenAndInPlace) {
  const int n = W().size(), me = W().rank();
  const auto counts = odd_counts(n);
  const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  std::vector<int32_t> mine(static_cast<size_t>(counts[size_t(me)]));
  for (size_t k = 0; k < mine.size(); ++k) mine[k] = me * 1000 + int32_t(k);
  std::vector<int32_t> out(size_t(total), -1), in_place(size_t(total), -1);
  W().all_gather(mine.data(), out.data(), counts, DType::i32);
  int64_t at = 0;
  for (int j = 0; j < me; ++j) at += counts[size_t(j)];
  std::copy(mine.begin(), mine.end(), in_place.begin() + at);
  W().all_gather(in_place.data() + at, in_place.data(), counts, DType::i32);
  size_t i = 0;
  for (int j = 0; j < n; ++j)
    for (int64_t k = 0; k < counts[size_t(j)]; ++k, ++i) {
      EXPECT_EQ(out[i], j * 1000 + k);
      EXPECT_EQ(in_place[i], j * 1000 + k);
    }
}

TEST(DistGroup, BroadcastFromLastRank) {
  const int n = W().size(), me = W().rank();
  char buf[16];
  std::snprintf(buf, sizeof(buf), "rank %d", me);
  W().broadcast(buf, sizeof(buf), n - 1);
  EXPECT_STREQ(buf, ("rank " + std::to_string(n - 1)).c_str());
}

TEST(DistGroup, AllToAllPersonalised) {
  const int n = W().size(), me = W().rank();
  // Rank i sends (j + 1) ints {i, j, ...} to rank j; so rank me receives me + 1 from each.
  std::vector<int32_t> send;
  std::vector<int64_t> sb, rb;
  for (int j = 0; j < n; ++j) {
    for (int k = 0; k <= j; ++k) send.push_back(me * 100 + j);
    sb.push_back(4 * (j + 1));
    rb.push_back(4 * (me + 1));
  }
  std::vector<int32_t> recv(static_cast<size_t>(n * (me + 1)));
  W().all_to_all(send.data(), sb, recv.data(), rb);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k <= me; ++k) EXPECT_EQ(recv[size_t(i * (me + 1) + k)], i * 100 + me);
}

TEST(DistGroup, SendRecvRing) {
  const int n = W().size(), me = W().rank();
  if (n == 1) {
    int x = 0;
    if (W().backend() == "single") {
      EXPECT_THROW(W().send(&x, 4, 0), ValueError);
    }
    EXPECT_THROW(W().send(&x, 4, 1), IndexError);
    return;
  }
  const int next = (me + 1) % n, prev = (me + n - 1) % n;
  std::vector<int64_t> out(1000, me), in(1000, -1);
  if (me % 2 == 0) {
    W().send(out.data(), 8000, next, 7);
    W().recv(in.data(), 8000, prev, 7);
  } else {
    W().recv(in.data(), 8000, prev, 7);
    W().send(out.data(), 8000, next, 7);
  }
  for (int64_t v : in) ASSERT_EQ(v, prev);
}

TEST(DistGroup, TensorForms) {
  const int n = W().size(), me = W().rank();
  Tensor t = full({2, 3}, double(me + 1));
  all_reduce_(t, W());
  for (float v : t.to_vector()) EXPECT_EQ(v, float(n * (n + 1) / 2));
  Tensor b = full({4}, double(me), DType::i64);
  broadcast_(b, W(), 0);
  for (int64_t v : b.to_int_vector()) EXPECT_EQ(v, 0);
  // Rank r contributes r + 1 rows of [r, r, r].
  Tensor rows = full({me + 1, 3}, double(me));
  Tensor g = all_gather(rows, W());
  ASSERT_EQ(g.shape(), (Shape{n * (n + 1) / 2, 3}));
  int64_t row = 0;
  for (int r = 0; r < n; ++r)
    for (int k = 0; k <= r; ++k, ++row) EXPECT_EQ(g.select(0, row).to_vector(), std::vector<float>(3, float(r)));
}

TEST(DistGroup, BadArgumentsNameTheOperation) {
  const int n = W().size();
  std::vector<float> a(8), b(8);
  std::vector<int64_t> wrong(size_t(n + 1), 1);
  try {
    W().reduce_scatter(a.data(), b.data(), wrong, DType::f32);
    FAIL() << "no throw";
  } catch (const ValueError& e) {
    EXPECT_EQ(std::string(e.what()), "[dist] reduce_scatter: got " + std::to_string(n + 1) +
                                         " counts for a group of size " + std::to_string(n));
  }
  EXPECT_THROW(W().all_reduce(a.data(), 8, DType::bf16), DTypeError);
  EXPECT_THROW(W().broadcast(a.data(), 4, n), IndexError);
  EXPECT_THROW(W().all_gather(a.data(), b.data(), std::vector<int64_t>(size_t(n), -1), DType::f32), ValueError);
  EXPECT_THROW(parse_wire_type("fp8"), ValueError);
  EXPECT_EQ(parse_wire_type("bf16"), WireType::bf16);
}

TEST(DistGroup, BackendSelection) {
  // The world exists already; asking for the other backend explicitly is an error.
  const Backend other = W().backend() == "mpi" ? Backend::single : Backend::mpi;
  if (other == Backend::mpi && !mpi_available()) {
    EXPECT_THROW(init(other), DistError);
  } else {
    EXPECT_THROW(init(other), ValueError);
  }
  EXPECT_EQ(init(Backend::auto_).get(), world().get());
  EXPECT_EQ(single_group()->size(), 1);
}

TEST(DistGroup, BuildWithoutMpiSaysSo) {
  if (mpi_available()) GTEST_SKIP() << "built with MPI (the build with -DBIGDL_WITH_MPI=OFF runs this)";
  try {
    init(Backend::mpi);
    FAIL() << "no throw";
  } catch (const DistError& e) {
    EXPECT_EQ(std::string(e.what()),
              "[dist] bigdl was built without MPI; rebuild with libopenmpi-dev (or MPICH) installed");
  }
}

// The ring (CollectiveAlgo::ring) against MPI's collectives (CollectiveAlgo::mpi) on the
// same inputs: uneven blocks, zero blocks, blocks of several 1 MB ring segments with a
// partial last one, f32 and f64, all_gather in and out of place. Integer-valued data keep
// every partial sum exact, so both algorithms must give identical bits.
TEST(DistGroup, RingMatchesMpiForUnevenAndZeroCounts) {
  const int n = W().size(), me = W().rank();
  const CollectiveAlgo before = W().collective_algo();
  const int64_t big = (3 << 20) / 8 + 5;  // 3 MB + 40 bytes of f64: four segments
  std::vector<std::vector<int64_t>> cases = {odd_counts(n), std::vector<int64_t>(size_t(n), 0)};
  std::vector<int64_t> mixed;
  for (int j = 0; j < n; ++j) mixed.push_back(j % 2 ? big : (j == 0 ? 1 : 0));
  cases.push_back(mixed);
  for (const auto& counts : cases) {
    const int64_t total = std::accumulate(counts.begin(), counts.end(), int64_t(0));
    int64_t my_at = 0;
    for (int j = 0; j < me; ++j) my_at += counts[size_t(j)];
    const int64_t mine = counts[size_t(me)];
    std::vector<double> send(static_cast<size_t>(total));
    for (int64_t k = 0; k < total; ++k) send[size_t(k)] = double((k * 7 + me * 13) % 1001) - 500;
    std::vector<float> send32(send.begin(), send.end());
    std::vector<double> want(size_t(mine) + 1, -7.0);
    for (int64_t k = 0; k < mine; ++k) {
      want[size_t(k)] = 0;
      for (int r = 0; r < n; ++r) want[size_t(k)] += double(((my_at + k) * 7 + r * 13) % 1001) - 500;
    }
    for (CollectiveAlgo algo : {CollectiveAlgo::ring, CollectiveAlgo::mpi}) {
      W().set_collective_algo(algo);
      if (W().backend() == "mpi") EXPECT_EQ(W().collective_algo(), algo);  // "single" has one algorithm
      const std::string what = std::string(collective_algo_name(algo)) + " total=" + std::to_string(total);
      std::vector<double> recv(size_t(mine) + 1, -7.0);  // one guard element
      W().reduce_scatter(send.data(), recv.data(), counts, DType::f64);
      EXPECT_EQ(recv, want) << what;
      std::vector<float> recv32(size_t(mine) + 1, -7.0f);
      W().reduce_scatter(send32.data(), recv32.data(), counts, WireType::f32);
      for (int64_t k = 0; k <= mine; ++k) ASSERT_EQ(recv32[size_t(k)], float(want[size_t(k)])) << what << " k=" << k;
      // all_gather: rank j's block is j * 1e6 + index, out of place and in place
      std::vector<double> block(static_cast<size_t>(mine));
      for (int64_t k = 0; k < mine; ++k) block[size_t(k)] = me * 1e6 + double(k);
      std::vector<double> out(size_t(total) + 1, -1.0), in_place(size_t(total) + 1, -1.0);
      W().all_gather(block.data(), out.data(), counts, DType::f64);
      std::copy(block.begin(), block.end(), in_place.begin() + my_at);
      W().all_gather(in_place.data() + my_at, in_place.data(), counts, DType::f64);
      int64_t i = 0;
      for (int j = 0; j < n; ++j)
        for (int64_t k = 0; k < counts[size_t(j)]; ++k, ++i) {
          ASSERT_EQ(out[size_t(i)], j * 1e6 + double(k)) << what << " i=" << i;
          ASSERT_EQ(in_place[size_t(i)], j * 1e6 + double(k)) << what << " i=" << i;
        }
      EXPECT_EQ(out.back(), -1.0);
    }
  }
  W().set_collective_algo(before);
  EXPECT_EQ(parse_collective_algo("ring"), CollectiveAlgo::ring);
  EXPECT_THROW(parse_collective_algo("tree"), ValueError);
}
