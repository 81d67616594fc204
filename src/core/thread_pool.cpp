// The library's one thread pool. parallel_for splits [0, n) into chunks that the
// calling thread and the workers take from a shared counter; nested calls from a
// worker run inline, so kernels can call parallel_for freely.
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>

#include <cblas.h>

#include "core/internal.h"

namespace bigdl {
namespace {

thread_local bool t_in_worker = false;

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
    std::unique_lock<std::mutex> job_lock(job_mutex_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &chunk_fn;
      n_chunks_ = n_chunks;
      next_.store(0);
      done_.store(0);
      ++generation_;
    }
    cv_.notify_all();
    t_in_worker = true;
    work();
    t_in_worker = false;
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return done_.load() == n_chunks_ && active_ == 0; });
    fn_ = nullptr;
  }

  ~ThreadPool() { stop_workers(); }

 private:
  ThreadPool() {
    int n = int(std::thread::hardware_concurrency());
    if (const char* env = std::getenv("BIGDL_NUM_THREADS")) n = std::atoi(env);
    resize(n > 0 ? n : 1);
  }

  void work() {
    for (;;) {
      const int64_t i = next_.fetch_add(1);
      if (i >= n_chunks_) break;
      (*fn_)(i);
      done_.fetch_add(1);
    }
  }

  void worker_loop() {
    t_in_worker = true;
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return stop_ || (generation_ != seen && fn_ != nullptr); });
        if (stop_) return;
        seen = generation_;
        ++active_;
      }
      work();
      {
        std::lock_guard<std::mutex> lk(m_);
        --active_;
      }
      done_cv_.notify_all();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_ = false;
  }

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex m_, job_mutex_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t n_chunks_ = 0;
  std::atomic<int64_t> next_{0}, done_{0};
  uint64_t generation_ = 0;
  int active_ = 0;
  bool stop_ = false;
};

}  // namespace

void set_num_threads(int n) {
  BIGDL_CHECK(n >= 1, ValueError, "set_num_threads", "thread count must be >= 1, got ", n);
  ThreadPool::get().resize(n);
  openblas_set_num_threads(n);
}

int get_num_threads() { return ThreadPool::get().size(); }

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
  // A few chunks per thread balance uneven work without much overhead.
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
