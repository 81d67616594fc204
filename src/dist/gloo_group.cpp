// The Gloo backend (group.h "gloo"): a full TCP mesh of Gloo pairs behind the Group
// interface, for processes that a cluster engine starts without an MPI launcher (Spark's
// barrier tasks). Compiled only when CMake finds Gloo (BIGDL_WITH_GLOO); no_gloo.cpp
// stands in otherwise.
//
// Rendezvous: one call of the caller's all-gather of bytes (Spark:
// BarrierTaskContext.allGather) carries every rank's host name and pair addresses
// (MeshContext below).
//
// Calls are serialized by a mutex (threads_ok: the gradient thread may call too). Gloo's
// own errors (closed sockets, timeouts) become DistError naming the op.
#include <gloo/allreduce.h>
#include <gloo/alltoallv.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/context.h>
#include <gloo/transport/context.h>
#include <gloo/transport/pair.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "dist/internal.h"

namespace bigdl::dist {
namespace {

// Gloo slots of our own point-to-point traffic: the high byte keeps them apart from the
// slots Gloo's collectives build from their tags (prefixes 0x01..0x0f) and from nextSlot().
constexpr uint64_t kUserSlot = uint64_t(0x70) << 56;   // send / recv, | tag
constexpr uint64_t kRingSlot = uint64_t(0x71) << 56;   // ring steps, | sequence
constexpr uint32_t kSideTag = 0x5151;                  // barrier_within

// A Gloo context connected by one exchange: every rank creates its pairs, publishes
// [host name, pair addresses] through the caller's all-gather, and connects each pair to
// the peer's address for it. (Gloo's connectFullMesh needs a key-value store and asks
// it in a rank-dependent order; one all-gather needs no store.)
class MeshContext : public gloo::Context {
 public:
  MeshContext(int rank, int size) : gloo::Context(rank, size) {}

  // Returns every rank's host name.
  std::vector<std::string> connect(const std::shared_ptr<gloo::transport::Device>& dev, const std::string& host,
                                   const AllGatherBytes& exchange) {
    auto tc = dev->createContext(rank, size);
    tc->setTimeout(getTimeout());
    std::string mine;
    put_bytes(mine, host);
    for (int i = 0; i < size; ++i) {
      if (i == rank) continue;
      const std::vector<char> a = tc->createPair(i)->address().bytes();
      put_bytes(mine, std::string(a.begin(), a.end()));
    }
    const std::vector<std::string> all = exchange(mine);
    BIGDL_CHECK(int(all.size()) == size, DistError, "dist", "gloo rendezvous: the exchange returned ", all.size(),
                " messages for a group of ", size);
    std::vector<std::string> hosts;
    for (int i = 0; i < size; ++i) {
      size_t at = 0;
      hosts.push_back(get_bytes(all[size_t(i)], at));
      if (i == rank) continue;
      // Rank i's pair addresses skip itself: the one for this rank is entry rank - (rank > i).
      std::string addr;
      for (int j = 0; j <= rank - (rank > i ? 1 : 0); ++j) addr = get_bytes(all[size_t(i)], at);
      tc->getPair(i)->connect(std::vector<char>(addr.begin(), addr.end()));
    }
    device_ = dev;
    transportContext_ = std::move(tc);
    return hosts;
  }

 private:
  static void put_bytes(std::string& s, const std::string& b) {
    const uint32_t n = uint32_t(b.size());
    s.append(reinterpret_cast<const char*>(&n), 4);
    s += b;
  }
  static std::string get_bytes(const std::string& s, size_t& at) {
    uint32_t n = 0;
    BIGDL_CHECK(at + 4 <= s.size(), DistError, "dist", "gloo rendezvous: truncated exchange message");
    std::memcpy(&n, s.data() + at, 4);
    at += 4;
    BIGDL_CHECK(at + n <= s.size(), DistError, "dist", "gloo rendezvous: truncated exchange message");
    std::string out = s.substr(at, n);
    at += n;
    return out;
  }
};

template <typename T>
using ReduceFn = void (*)(void*, const void*, const void*, size_t);

template <typename T>
ReduceFn<T> reduce_fn(ReduceOp op) {
  switch (op) {
    case ReduceOp::max: return &gloo::max<T>;
    case ReduceOp::min: return &gloo::min<T>;
    case ReduceOp::sum: break;
  }
  return &gloo::sum<T>;
}

class GlooGroup : public Group {
 public:
  GlooGroup(int rank, int size, const AllGatherBytes& exchange, const GlooOptions& o) : rank_(rank), size_(size) {
    BIGDL_CHECK(size >= 1 && rank >= 0 && rank < size, ValueError, "dist", "gloo_group: rank ", rank,
                " is not in a group of size ", size);
    BIGDL_CHECK(exchange != nullptr, ValueError, "dist", "gloo_group: the rendezvous exchange is null");
    set_timeout(o.timeout < 0 ? detail::env_timeout() : o.timeout);
    gloo::transport::tcp::attr attr;
    if (!o.iface.empty()) attr.iface = o.iface;
    else attr.hostname = o.hostname;
    const std::string host = o.iface.empty() ? o.hostname : o.iface;
    std::vector<std::string> hosts;
    try {
      auto dev = gloo::transport::tcp::CreateDevice(attr);
      ctx_ = std::make_shared<MeshContext>(rank, size);
      ctx_->setTimeout(gloo_timeout());
      hosts = ctx_->connect(dev, host, exchange);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw DistError(std::string("[dist] gloo_group: cannot connect rank ") + std::to_string(rank) + " of " +
                      std::to_string(size) + " on '" + host + "': " + e.what());
    }
    for (const std::string& h : hosts) local_size_ += h == host;
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "gloo"; }
  bool threads_ok() const override { return true; }

  void set_timeout(double seconds) override {
    BIGDL_CHECK(seconds >= 0, ValueError, "dist", "set_timeout: seconds must be >= 0, got ", seconds);
    timeout_ = seconds;
    if (ctx_) ctx_->setTimeout(gloo_timeout());
  }
  double timeout() const override { return timeout_; }

  void barrier() override {
    run("barrier", [&] {
      gloo::BarrierOptions opts(ctx_);
      opts.setTimeout(gloo_timeout());
      gloo::barrier(opts);
    });
  }

  bool barrier_within(double seconds) override {
    // Its own tag; not serialized with the other calls (it must work while one waits).
    try {
      gloo::BarrierOptions opts(ctx_);
      opts.setTag(kSideTag);
      opts.setTimeout(std::chrono::milliseconds(int64_t(seconds * 1000)));
      gloo::barrier(opts);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }

  void send(const void* data, int64_t nbytes, int dst, int tag) override {
    detail::check_peer("send", dst, size_);
    run("send", [&] {
      auto buf = ctx_->createUnboundBuffer(const_cast<void*>(data), size_t(nbytes));
      buf->send(dst, kUserSlot | uint32_t(tag));
      wait_send(*buf, "send");
    });
  }

  void recv(void* data, int64_t nbytes, int src, int tag) override {
    detail::check_peer("recv", src, size_);
    run("recv", [&] {
      auto buf = ctx_->createUnboundBuffer(data, size_t(nbytes));
      buf->recv(src, kUserSlot | uint32_t(tag));
      wait_recv(*buf, "recv");
    });
  }

  void broadcast(void* data, int64_t nbytes, int root) override {
    detail::check_peer("broadcast", root, size_);
    if (nbytes == 0 || size_ == 1) return;
    run("broadcast", [&] {
      gloo::BroadcastOptions opts(ctx_);
      opts.setOutput(static_cast<uint8_t*>(data), size_t(nbytes));
      opts.setRoot(root);
      opts.setTimeout(gloo_timeout());
      gloo::broadcast(opts);
    });
  }

  void all_reduce(void* data, int64_t n, DType dtype, ReduceOp op) override {
    detail::check_reduce_dtype("all_reduce", dtype, true);
    BIGDL_CHECK(n >= 0, ValueError, "dist", "all_reduce: count ", n, " is negative");
    if (n == 0 || size_ == 1) return;
    run("all_reduce", [&] {
      gloo::AllreduceOptions opts(ctx_);
      opts.setTimeout(gloo_timeout());
      switch (dtype) {
        case DType::f32: set_reduce<float>(opts, data, n, op); break;
        case DType::f64: set_reduce<double>(opts, data, n, op); break;
        case DType::i32: set_reduce<int32_t>(opts, data, n, op); break;
        default: set_reduce<int64_t>(opts, data, n, op); break;
      }
      gloo::allreduce(opts);
    });
  }

  void reduce_scatter(const void* send, void* recv, const std::vector<int64_t>& counts, DType dtype) override {
    detail::check_counts("reduce_scatter", counts, size_);
    detail::check_reduce_dtype("reduce_scatter", dtype, false);
    const int64_t es = element_size(dtype);
    const std::vector<int64_t> off = offsets(counts);
    if (size_ == 1) {
      std::memcpy(recv, send, size_t(counts[0] * es));
      return;
    }
    run("reduce_scatter", [&] {
      // Ring: at step s rank r sends its partial sum of block (r - s - 1) to the right and
      // adds the left neighbour's partial sum of block (r - s - 2) into its own copy; after
      // size - 1 steps block r holds every rank's contribution.
      work_.assign(static_cast<const char*>(send), static_cast<const char*>(send) + off.back() * es);
      int64_t max_block = 0;
      for (int64_t c : counts) max_block = std::max(max_block, c);
      tmp_.resize(size_t(max_block * es));
      auto add = dtype == DType::f64 ? &detail::add_into<double> : &detail::add_into<float>;
      const int right = (rank_ + 1) % size_, left = (rank_ + size_ - 1) % size_;
      for (int s = 0; s + 1 < size_; ++s) {
        const int sb = ((rank_ - s - 1) % size_ + size_) % size_, rb = ((rank_ - s - 2) % size_ + size_) % size_;
        ring_step(work_.data() + off[size_t(sb)] * es, counts[size_t(sb)] * es, right, tmp_.data(),
                  counts[size_t(rb)] * es, left);
        add(work_.data() + off[size_t(rb)] * es, tmp_.data(), counts[size_t(rb)]);
      }
      std::memcpy(recv, work_.data() + off[size_t(rank_)] * es, size_t(counts[size_t(rank_)] * es));
    });
  }

  void all_gather(const void* send, void* recv, const std::vector<int64_t>& counts, DType dtype) override {
    detail::check_counts("all_gather", counts, size_);
    const int64_t es = element_size(dtype);
    const std::vector<int64_t> off = offsets(counts);
    char* out = static_cast<char*>(recv);
    char* mine = out + off[size_t(rank_)] * es;
    if (send != mine) std::memmove(mine, send, size_t(counts[size_t(rank_)] * es));
    if (size_ == 1) return;
    run("all_gather", [&] {
      // Ring: at step s rank r forwards block (r - s) to the right and receives block
      // (r - s - 1) from the left, straight into place.
      const int right = (rank_ + 1) % size_, left = (rank_ + size_ - 1) % size_;
      for (int s = 0; s + 1 < size_; ++s) {
        const int sb = ((rank_ - s) % size_ + size_) % size_, rb = ((rank_ - s - 1) % size_ + size_) % size_;
        ring_step(out + off[size_t(sb)] * es, counts[size_t(sb)] * es, right, out + off[size_t(rb)] * es,
                  counts[size_t(rb)] * es, left);
      }
    });
  }

  void all_to_all(const void* send, const std::vector<int64_t>& send_bytes, void* recv,
                  const std::vector<int64_t>& recv_bytes) override {
    detail::check_counts("all_to_all", send_bytes, size_);
    detail::check_counts("all_to_all", recv_bytes, size_);
    if (size_ == 1) {
      std::memcpy(recv, send, size_t(send_bytes[0]));
      return;
    }
    run("all_to_all", [&] {
      // Gloo's alltoallv wants non-null buffers even when every block is empty.
      static char dummy = 0;
      gloo::AlltoallvOptions opts(ctx_);
      opts.setInput(send ? static_cast<uint8_t*>(const_cast<void*>(send)) : reinterpret_cast<uint8_t*>(&dummy),
                    send_bytes);
      opts.setOutput(recv ? static_cast<uint8_t*>(recv) : reinterpret_cast<uint8_t*>(&dummy), recv_bytes);
      opts.setTimeout(gloo_timeout());
      gloo::alltoallv(opts);
    });
  }

  [[noreturn]] void abort(int code) override {
    std::fflush(nullptr);
    std::_Exit(code);  // the peers see the closed sockets and fail their calls
  }

 private:
  std::chrono::milliseconds gloo_timeout() const {
    // 0 (no watchdog) means wait for good; Gloo takes a very long timeout for that.
    return timeout_ > 0 ? std::chrono::milliseconds(int64_t(timeout_ * 1000)) : std::chrono::hours(24 * 365);
  }

  template <typename T>
  static void set_reduce(gloo::AllreduceOptions& opts, void* data, int64_t n, ReduceOp op) {
    opts.setOutput(static_cast<T*>(data), size_t(n));
    opts.setReduceFunction(reduce_fn<T>(op));
  }

  static std::vector<int64_t> offsets(const std::vector<int64_t>& counts) {
    std::vector<int64_t> off(counts.size() + 1, 0);
    for (size_t i = 0; i < counts.size(); ++i) off[i + 1] = off[i] + counts[i];
    return off;
  }

  // One ring step: send sbytes to `right` while receiving rbytes from `left`.
  void ring_step(char* sdata, int64_t sbytes, int right, char* rdata, int64_t rbytes, int left) {
    const uint64_t slot = kRingSlot | (ring_seq_++ & 0xffffffffull);
    std::unique_ptr<gloo::transport::UnboundBuffer> rb, sb;
    if (rbytes > 0) {
      rb = ctx_->createUnboundBuffer(rdata, size_t(rbytes));
      rb->recv(left, slot);
    }
    if (sbytes > 0) {
      sb = ctx_->createUnboundBuffer(sdata, size_t(sbytes));
      sb->send(right, slot);
    }
    if (rb) wait_recv(*rb, op_);
    if (sb) wait_send(*sb, op_);
  }

  void wait_send(gloo::transport::UnboundBuffer& b, const char* op) {
    if (!b.waitSend(gloo_timeout())) throw DistError(std::string("[dist] ") + op + ": gloo send was aborted");
  }
  void wait_recv(gloo::transport::UnboundBuffer& b, const char* op) {
    if (!b.waitRecv(gloo_timeout())) throw DistError(std::string("[dist] ") + op + ": gloo recv was aborted");
  }

  // Runs one call under the mutex; Gloo's exceptions become DistError naming the op.
  template <typename F>
  void run(const char* op, F&& f) {
    std::lock_guard<std::mutex> lk(mu_);
    op_ = op;
    try {
      f();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      std::string what = e.what();
      const bool timed_out = what.find("Timed out") != std::string::npos || what.find("timed out") != std::string::npos;
      // Gloo's messages start with the source location "[.../pair.cc:510] ..."; keep the text.
      if (what.size() && what[0] == '[') {
        const size_t close = what.find("] ");
        if (close != std::string::npos) what = what.substr(close + 2);
      }
      throw DistError(std::string("[dist] rank ") + std::to_string(rank_) + ": " + op + ": gloo: " + what +
                      (timed_out ? " (no progress from peers; a peer died or hangs)" : " (a peer died?)"));
    }
  }

  int rank_, size_, local_size_ = 0;
  double timeout_ = 60;
  std::shared_ptr<MeshContext> ctx_;
  std::mutex mu_;
  const char* op_ = "";
  uint64_t ring_seq_ = 0;
  std::vector<char> work_, tmp_;
};

}  // namespace

bool gloo_available() { return true; }

GroupPtr gloo_group(int rank, int size, const AllGatherBytes& exchange, const GlooOptions& opts) {
  return std::make_shared<GlooGroup>(rank, size, exchange, opts);
}

}  // namespace bigdl::dist
