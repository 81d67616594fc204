// The library's one thread pool. parallel_for splits [0, n) into chunks that the
// calling thread and the workers take from a shared counter; nested calls from a
// worker run inline, so kernels can call parallel_for freely.
//
// Waking a thread blocked on a condition variable costs tens of microseconds (a futex
// round trip through the scheduler), and one LLM decode step runs a few hundred short
// parallel regions. So a worker that finishes a region first spins on the job counter
// for kSpinMicros (~0.1 ms) before it blocks: back-to-back regions are picked up in
// well under a microsecond, and a pool left idle stops burning its cores after that
// short spin. After the first ~1000 pauses the spin yields the core on every turn, so
// on an oversubscribed machine it does not take the time slice of the thread it waits
// for. The caller always works on its own region too and never waits for a sleeping
// worker, so progress does not depend on how fast workers wake.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

#include <pthread.h>

#include <cblas.h>

#include "backend/cpu/onednn_infer.h"
#include "core/internal.h"

namespace bigdl {
namespace {

thread_local bool t_in_worker = false;

// How long an idle worker spins before it blocks (BIGDL_SPIN_US overrides; 0 = never).
constexpr int64_t kSpinMicros = 100;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until pred() holds; after a while yields the core, so that on an oversubscribed
// machine a caller does not hold the CPU a descheduled worker needs to finish its chunk.
template <typename Pred>
void spin_until(Pred pred) {
  for (int i = 0; !pred(); ++i) {
    if (i < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

// One parallel region: lives on the caller's stack for the duration of run().
struct Job {
  uint64_t gen = 0;
  const std::function<void(int64_t)>* fn = nullptr;
  int64_t n_chunks = 0;
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> done{0};
};

class ThreadPool {
 public:
  static ThreadPool& get() {
    static ThreadPool pool;
    return pool;
  }
  int size() const { return n_threads_; }

  void resize(int n) {
    stop_workers();
    n_threads_ = std::max(1, n);
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  void run(int64_t n_chunks, const std::function<void(int64_t)>& chunk_fn) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);  // one parallel region at a time
    Job job;
    job.gen = gen_.load(std::memory_order_relaxed) + 1;
    job.fn = &chunk_fn;
    job.n_chunks = n_chunks;
    job_.store(&job, std::memory_order_seq_cst);
    gen_.store(job.gen, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lk(m_);  // a sleeper is either before its check or in wait()
      cv_.notify_all();
    }
    t_in_worker = true;
    work(job);
    t_in_worker = false;
    spin_until([&] { return job.done.load(std::memory_order_acquire) == n_chunks; });
    // Workers that registered on this job may still be reading its counters.
    job_.store(nullptr, std::memory_order_seq_cst);
    spin_until([&] { return active_.load(std::memory_order_seq_cst) == 0; });
  }

  ~ThreadPool() { stop_workers(); }

 private:
  ThreadPool() {
    int n = int(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("BIGDL_NUM_THREADS")) n = std::atoi(env);
    if (const char* env = std::getenv("BIGDL_SPIN_US")) spin_us_ = std::max(0, std::atoi(env));
    resize(n > 0 ? n : 1);
  }

  static void work(Job& job) {
    for (;;) {
      const int64_t i = job.next.fetch_add(1, std::memory_order_relaxed);
      if (i >= job.n_chunks) break;
      (*job.fn)(i);
      job.done.fetch_add(1, std::memory_order_release);
    }
  }

  // Waits (spinning, then blocking) until gen_ moves past `seen` or the pool stops.
  // Returns false on stop.
  bool wait_for_job(uint64_t seen) {
    using Clock = std::chrono::steady_clock;
    const auto until = Clock::now() + std::chrono::microseconds(spin_us_);
    for (int i = 0;; ++i) {
      if (stop_.load(std::memory_order_relaxed)) return false;
      if (gen_.load(std::memory_order_acquire) != seen) return true;
      // A few microseconds of pause-spinning, then yields: on an oversubscribed machine
      // the core goes to whoever is runnable (maybe the thread this one waits for).
      if (i < 1024) cpu_relax();
      else std::this_thread::yield();
      if ((i & 63) == 63 && Clock::now() >= until) break;
    }
    std::unique_lock<std::mutex> lk(m_);
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    cv_.wait(lk, [&] { return stop_.load() || gen_.load(std::memory_order_seq_cst) != seen; });
    sleepers_.fetch_sub(1, std::memory_order_relaxed);
    return !stop_.load();
  }

  void worker_loop() {
    t_in_worker = true;
    pthread_setname_np(pthread_self(), "bigdl-pool");  // visible in top / perf / /proc
    uint64_t seen = 0;
    while (wait_for_job(seen)) {
      seen = gen_.load(std::memory_order_acquire);
      Job* job = job_.load(std::memory_order_seq_cst);
      if (job == nullptr) continue;
      // Register before touching the job, then check it is still the published one: the
      // caller clears job_ before it waits for active_ == 0, so a job seen here stays
      // alive until active_ is decremented (Dekker-style, both sides seq_cst).
      active_.fetch_add(1, std::memory_order_seq_cst);
      if (job_.load(std::memory_order_seq_cst) == job) {
        seen = job->gen;
        work(*job);
      }
      active_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_.store(true);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_.store(false);
  }

  int n_threads_ = 1;
  int64_t spin_us_ = kSpinMicros;
  std::vector<std::thread> workers_;
  std::mutex m_, job_mutex_;
  std::condition_variable cv_;
  std::atomic<Job*> job_{nullptr};
  std::atomic<uint64_t> gen_{0};
  std::atomic<int> active_{0}, sleepers_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace

void set_num_threads(int n) {
  BIGDL_CHECK(n >= 1, ValueError, "set_num_threads", "thread count must be >= 1, got ", n);
  ThreadPool::get().resize(n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return ThreadPool::get().size(); }

namespace {
std::atomic<bool> g_autocast_bf16{false};
}
void set_autocast_bf16(bool on) {
  BIGDL_CHECK(!on || detail::native_bf16(), ValueError, "autocast",
              "bf16 needs a CPU with AVX-512 BF16 or AMX-BF16; this one would only emulate it");
  g_autocast_bf16.store(on);
}
bool autocast_bf16() { return g_autocast_bf16.load(std::memory_order_relaxed); }

namespace detail {

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  ThreadPool& pool = ThreadPool::get();
  const int threads = pool.size();
  if (threads == 1 || t_in_worker || n <= grain) {
    fn(0, n);
    return;
  }
  // A few chunks per thread balance uneven work (or a core busy with something else)
  // without much overhead.
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, int64_t(threads) * 4);
  const int64_t per = (n + chunks - 1) / chunks;
  chunks = (n + per - 1) / per;
  // An exception in a chunk must not escape a worker thread (that would terminate the
  // process): keep the first one and rethrow it on the calling thread.
  std::exception_ptr error;
  std::mutex error_mutex;
  pool.run(chunks, [&](int64_t c) {
    const int64_t b = c * per;
    try {
      fn(b, std::min(n, b + per));
    } catch (...) {
      std::lock_guard<std::mutex> lk(error_mutex);
      if (!error) error = std::current_exception();
    }
  });
  if (error) std::rethrow_exception(error);
}

}  // namespace detail
}  // namespace bigdl
