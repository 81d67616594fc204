// The Gloo backend: N groups in N threads of this process, connected over loopback TCP
// through the same rendezvous exchange Spark uses (an all-gather of bytes), checked
// against sums every rank can compute. Under mpirun each rank runs its own threads.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <thread>

#include "bigdl/dist/group.h"

using namespace bigdl;
using namespace bigdl::dist;

namespace {

// An all-gather of strings between threads: the stand-in for BarrierTaskContext.allGather.
class ThreadExchange {
 public:
  explicit ThreadExchange(int n) : n_(n), slots_(size_t(n)) {}
  AllGatherBytes for_rank(int r) {
    return [this, r](const std::string& mine) {
      std::unique_lock<std::mutex> lk(m_);
      const int64_t gen = gen_;
      slots_[size_t(r)] = mine;
      if (++arrived_ == n_) {
        result_ = slots_;
        arrived_ = 0;
        ++gen_;
        cv_.notify_all();
      } else {
        cv_.wait(lk, [&] { return gen_ != gen; });
      }
      return result_;
    };
  }

 private:
  int n_, arrived_ = 0;
  int64_t gen_ = 0;
  std::vector<std::string> slots_, result_;
  std::mutex m_;
  std::condition_variable cv_;
};

// Runs body(group) on n ranks, one thread each; rethrows the first failure.
void on_ranks(int n, const std::function<void(Group&)>& body, double timeout = 20) {
  ThreadExchange ex(n);
  std::vector<std::thread> ts;
  std::mutex m;
  std::string failure;
  for (int r = 0; r < n; ++r)
    ts.emplace_back([&, r] {
      try {
        GlooOptions o;
        o.timeout = timeout;
        GroupPtr g = gloo_group(r, n, ex.for_rank(r), o);
        body(*g);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lk(m);
        if (failure.empty()) failure = e.what();
      }
    });
  for (auto& t : ts) t.join();
  if (!failure.empty()) throw std::runtime_error(failure);
}

std::vector<int64_t> odd_counts(int n) {
  std::vector<int64_t> c;
  for (int j = 0; j < n; ++j) c.push_back(j % 3 == 1 ? 0 : 2 * j + 3);
  return c;
}

}  // namespace

TEST(DistGloo, Collectives) {
  if (!gloo_available()) GTEST_SKIP() << "built without Gloo (BIGDL_WITH_GLOO=OFF)";
  for (int n : {1, 2, 3, 4}) {
    on_ranks(n, [n](Group& g) {
      const int me = g.rank();
      EXPECT_EQ(g.size(), n);
      EXPECT_EQ(g.backend(), "gloo");
      EXPECT_EQ(g.local_size(), n);  // every rank on 127.0.0.1
      g.barrier();
      // all_reduce: sum / max / min in four dtypes.
      std::vector<double> d = {double(me), 1.5, -double(me)};
      g.all_reduce(d.data(), 3, DType::f64, ReduceOp::sum);
      EXPECT_EQ(d[0], n * (n - 1) / 2.0);
      EXPECT_EQ(d[1], 1.5 * n);
      std::vector<int64_t> i64 = {me, -me};
      g.all_reduce(i64.data(), 2, DType::i64, ReduceOp::max);
      EXPECT_EQ(i64[0], n - 1);
      EXPECT_EQ(i64[1], 0);
      std::vector<int32_t> i32 = {me + 7};
      g.all_reduce(i32.data(), 1, DType::i32, ReduceOp::min);
      EXPECT_EQ(i32[0], 7);
      std::vector<float> f(1000);
      for (size_t k = 0; k < f.size(); ++k) f[k] = float(me + 1) * float(k);
      g.all_reduce(f.data(), int64_t(f.size()), DType::f32, ReduceOp::sum);
      for (size_t k = 0; k < f.size(); k += 97) EXPECT_EQ(f[k], float(n * (n + 1) / 2) * float(k));
      // reduce_scatter with empty and unequal blocks, f32 and f64: exact small integers.
      const auto counts = odd_counts(n);
      int64_t total = 0;
      for (int64_t c : counts) total += c;
      std::vector<float> send(static_cast<size_t>(total));
      for (int64_t k = 0; k < total; ++k) send[size_t(k)] = float(me * 1000 + k);
      std::vector<float> recv(static_cast<size_t>(counts[size_t(me)] + 1), -1.0f);
      g.reduce_scatter(send.data(), recv.data(), counts, DType::f32);
      int64_t first = 0;
      for (int j = 0; j < me; ++j) first += counts[size_t(j)];
      for (int64_t k = 0; k < counts[size_t(me)]; ++k)
        EXPECT_EQ(recv[size_t(k)], float(1000 * n * (n - 1) / 2 + n * (first + k))) << "n=" << n << " rank " << me;
      EXPECT_EQ(recv.back(), -1.0f);  // nothing written past the block
      // The bf16 wire of reduce_scatter (all_to_all underneath): small integers are exact.
      std::vector<float> small(static_cast<size_t>(total));
      for (int64_t k = 0; k < total; ++k) small[size_t(k)] = float(me + k % 5);
      std::vector<float> rs(static_cast<size_t>(counts[size_t(me)]));
      g.reduce_scatter(small.data(), rs.data(), counts, WireType::bf16);
      for (int64_t k = 0; k < counts[size_t(me)]; ++k)
        EXPECT_EQ(rs[size_t(k)], float(n * (n - 1) / 2 + n * ((first + k) % 5)));
      // all_gather, from a separate buffer and in place.
      std::vector<double> mine(static_cast<size_t>(counts[size_t(me)]));
      for (size_t k = 0; k < mine.size(); ++k) mine[k] = me * 100.0 + double(k);
      std::vector<double> all(static_cast<size_t>(total), -1.0);
      g.all_gather(mine.data(), all.data(), counts, DType::f64);
      std::vector<double> inplace(static_cast<size_t>(total), -1.0);
      std::copy(mine.begin(), mine.end(), inplace.begin() + first);
      g.all_gather(inplace.data() + first, inplace.data(), counts, DType::f64);
      int64_t at = 0;
      for (int j = 0; j < n; ++j)
        for (int64_t k = 0; k < counts[size_t(j)]; ++k, ++at) {
          EXPECT_EQ(all[size_t(at)], j * 100.0 + double(k));
          EXPECT_EQ(inplace[size_t(at)], j * 100.0 + double(k));
        }
      // broadcast from the last rank.
      int64_t b = me == n - 1 ? 4242 : 0;
      g.broadcast(&b, sizeof b, n - 1);
      EXPECT_EQ(b, 4242);
      // all_to_all: rank i sends j+1 bytes of value 10*i+j to rank j.
      std::vector<int64_t> sb, rb;
      std::vector<uint8_t> out, in;
      for (int j = 0; j < n; ++j) {
        sb.push_back(j + 1);
        rb.push_back(me + 1);
        out.insert(out.end(), size_t(j + 1), uint8_t(10 * me + j));
      }
      in.resize(size_t(n * (me + 1)));
      g.all_to_all(out.data(), sb, in.data(), rb);
      for (int j = 0; j < n; ++j)
        for (int k = 0; k <= me; ++k) EXPECT_EQ(in[size_t(j * (me + 1) + k)], uint8_t(10 * j + me));
      // send / recv around a ring, with a tag.
      if (n > 1) {
        int32_t token = me, got = -1;
        if (me % 2 == 0) {
          g.send(&token, 4, (me + 1) % n, 7);
          g.recv(&got, 4, (me + n - 1) % n, 7);
        } else {
          g.recv(&got, 4, (me + n - 1) % n, 7);
          g.send(&token, 4, (me + 1) % n, 7);
        }
        EXPECT_EQ(got, (me + n - 1) % n);
      }
      EXPECT_TRUE(g.barrier_within(10));
    });
  }
}

TEST(DistGloo, LargeRingMatchesSum) {
  if (!gloo_available()) GTEST_SKIP() << "built without Gloo (BIGDL_WITH_GLOO=OFF)";
  // 3 ranks, 3 MB blocks: the ring with big messages; the f32 sum of integers is exact.
  on_ranks(3, [](Group& g) {
    const int64_t per = 3 << 18;
    std::vector<int64_t> counts(3, per);
    std::vector<float> send(static_cast<size_t>(3 * per));
    for (size_t k = 0; k < send.size(); ++k) send[k] = float((k % 1024) + size_t(g.rank()));
    std::vector<float> recv(static_cast<size_t>(per));
    g.reduce_scatter(send.data(), recv.data(), counts, DType::f32);
    for (int64_t k = 0; k < per; k += 4099) {
      const size_t gk = size_t(g.rank() * per + k);
      EXPECT_EQ(recv[size_t(k)], float(3 * (gk % 1024) + 3));
    }
  });
}

TEST(DistGloo, DeadPeerFailsWithinTheTimeout) {
  if (!gloo_available()) GTEST_SKIP() << "built without Gloo (BIGDL_WITH_GLOO=OFF)";
  // Rank 1 leaves (its group and sockets close) while rank 0 waits in an all_reduce:
  // rank 0 gets a DistError naming the op, well before the 20 s timeout.
  const auto t0 = std::chrono::steady_clock::now();
  try {
    on_ranks(2, [](Group& g) {
      g.barrier();  // both ends connected: the failure comes from the all_reduce, not the connect
      if (g.rank() == 1) return;
      double x = 1;
      g.all_reduce(&x, 1, DType::f64, ReduceOp::sum);
    });
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("[dist] rank 0: all_reduce: gloo:"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 15.0);
}

TEST(DistGloo, SilentPeerTimesOut) {
  if (!gloo_available()) GTEST_SKIP() << "built without Gloo (BIGDL_WITH_GLOO=OFF)";
  // Rank 1 stays connected but never joins the collective: rank 0 times out after 1 s.
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  try {
    on_ranks(
        2,
        [&](Group& g) {
          g.barrier();
          if (g.rank() == 1) {
            std::unique_lock<std::mutex> lk(m);
            cv.wait_for(lk, std::chrono::seconds(10), [&] { return done; });
            return;
          }
          double x = 1;
          try {
            g.all_reduce(&x, 1, DType::f64, ReduceOp::sum);
          } catch (...) {
            std::lock_guard<std::mutex> lk(m);
            done = true;
            cv.notify_all();
            throw;
          }
        },
        1.0);
    FAIL() << "expected a timeout";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("no progress from peers"), std::string::npos) << e.what();
  }
}

TEST(DistGloo, BadArguments) {
  EXPECT_THROW(gloo_group(2, 2, [](const std::string& s) { return std::vector<std::string>{s}; }), Error);
}
