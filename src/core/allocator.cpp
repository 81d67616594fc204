// A caching allocator for tensor storage. Training allocates the same buffer sizes
// every step; returning large blocks to the OS and faulting them back in cost ~10% of a
// ResNet step (perf: clear_page / exc_page_fault). Freed blocks of at least
// kMinCached bytes are kept in per-size free lists, up to a byte budget
// (BIGDL_ALLOC_CACHE_MB, default 1024; 0 disables caching).
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/internal.h"

namespace bigdl::detail {
namespace {
constexpr size_t kAlign = 64;
constexpr size_t kMinCached = 16 * 1024;

struct Cache {
  std::mutex m;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  size_t cached = 0;
  size_t budget = 0;
  Cache() {
    const char* env = std::getenv("BIGDL_ALLOC_CACHE_MB");
    budget = size_t(env ? std::atoll(env) : 1024) << 20;
  }
  void release_all() {
    for (auto& [sz, v] : free_lists)
      for (void* p : v) std::free(p);
    free_lists.clear();
    cached = 0;
  }
  ~Cache() { release_all(); }
};
Cache& cache() {
  static Cache* c = new Cache();  // leaked on purpose: storages may die after static destruction
  return *c;
}
size_t round_size(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

void* cpu_alloc(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  const size_t n = round_size(nbytes);
  if (n >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lk(c.m);
    auto it = c.free_lists.find(n);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= n;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, n);
  if (!p) {  // give the cache back and try once more
    Cache& c = cache();
    {
      std::lock_guard<std::mutex> lk(c.m);
      c.release_all();
    }
    p = std::aligned_alloc(kAlign, n);
  }
  return p;
}

void cpu_free(void* p, size_t nbytes) {
  if (!p) return;
  const size_t n = round_size(nbytes);
  if (n >= kMinCached) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lk(c.m);
    if (c.cached + n <= c.budget) {
      c.free_lists[n].push_back(p);
      c.cached += n;
      return;
    }
  }
  std::free(p);
}

}  // namespace bigdl::detail
