// The Group front: argument checks, the one-process backend, launcher detection, the
// world group, wire-format reduce_scatter and the tensor forms of the collectives.
#include "bigdl/dist/group.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

#include "bigdl/io/atomic_file.h"

#include "dist/internal.h"

namespace bigdl::dist {

const char* wire_type_name(WireType w) {
  switch (w) {
    case WireType::f32: return "f32";
    case WireType::bf16: return "bf16";
    case WireType::f16: return "f16";
  }
  return "?";
}

WireType parse_wire_type(const std::string& name) {
  for (WireType w : {WireType::f32, WireType::bf16, WireType::f16})
    if (name == wire_type_name(w)) return w;
  throw ValueError("[dist] unknown gradient wire type '" + name + "' (f32, bf16, f16)");
}

const char* collective_algo_name(CollectiveAlgo a) {
  switch (a) {
    case CollectiveAlgo::auto_: return "auto";
    case CollectiveAlgo::ring: return "ring";
    case CollectiveAlgo::mpi: return "mpi";
  }
  return "?";
}

CollectiveAlgo parse_collective_algo(const std::string& name) {
  for (CollectiveAlgo a : {CollectiveAlgo::auto_, CollectiveAlgo::ring, CollectiveAlgo::mpi})
    if (name == collective_algo_name(a)) return a;
  throw ValueError("[dist] unknown collective algorithm '" + name + "' (auto, ring, mpi)");
}

namespace detail {

void check_counts(const char* op, const std::vector<int64_t>& counts, int size) {
  BIGDL_CHECK(int64_t(counts.size()) == size, ValueError, "dist", op, ": got ", counts.size(),
              " counts for a group of size ", size);
  for (int64_t c : counts)
    BIGDL_CHECK(c >= 0 && c <= INT32_MAX, ValueError, "dist", op, ": count ", c, " is negative or exceeds 2^31 - 1");
}

void check_peer(const char* op, int peer, int size) {
  BIGDL_CHECK(peer >= 0 && peer < size, IndexError, "dist", op, ": rank ", peer, " does not exist in a group of size ",
              size);
}

void check_reduce_dtype(const char* op, DType dtype, bool allow_int) {
  const bool ok = dtype == DType::f32 || dtype == DType::f64 || (allow_int && (dtype == DType::i32 || dtype == DType::i64));
  BIGDL_CHECK(ok, DTypeError, "dist", op, ": unsupported dtype ", dtype_name(dtype),
              allow_int ? " (f32, f64, i32, i64)" : " (f32, f64)");
}

int64_t sum_counts(const std::vector<int64_t>& counts) {
  int64_t n = 0;
  for (int64_t c : counts) n += c;
  return n;
}

double env_timeout() {
  const char* v = std::getenv("BIGDL_DIST_TIMEOUT");
  if (!v || !*v) return 60.0;
  char* end = nullptr;
  const double t = std::strtod(v, &end);
  BIGDL_CHECK(end && *end == '\0' && t >= 0, ValueError, "dist",
              "BIGDL_DIST_TIMEOUT must be seconds >= 0 (0: no watchdog), got '", v, "'");
  return t;
}

}  // namespace detail

// ------------------------------------------------------------------ wire formats
void Group::reduce_scatter(const float* send, float* recv, const std::vector<int64_t>& counts, WireType wire) {
  if (wire == WireType::f32) {
    reduce_scatter(send, recv, counts, DType::f32);
    return;
  }
  const int n = size(), me = rank();
  detail::check_counts("reduce_scatter", counts, n);
  const int64_t total = detail::sum_counts(counts), mine = counts[size_t(me)];
  BIGDL_CHECK(2 * total <= INT32_MAX, ValueError, "dist", "reduce_scatter: ", total,
              " elements exceed one 16-bit exchange (2^30)");
  std::vector<uint16_t> wire_send(static_cast<size_t>(total)), wire_recv(static_cast<size_t>(mine * n));
  if (wire == WireType::bf16) {
    for (int64_t k = 0; k < total; ++k) wire_send[size_t(k)] = float_to_bf16(send[k]);
  } else {
    for (int64_t k = 0; k < total; ++k) wire_send[size_t(k)] = float_to_half(send[k]);
  }
  std::vector<int64_t> send_bytes(static_cast<size_t>(n)), recv_bytes(static_cast<size_t>(n), 2 * mine);
  for (int j = 0; j < n; ++j) send_bytes[size_t(j)] = 2 * counts[size_t(j)];
  all_to_all(wire_send.data(), send_bytes, wire_recv.data(), recv_bytes);
  // Sum in f32, rank order, so every run gives the same bits.
  for (int64_t k = 0; k < mine; ++k) recv[k] = 0.0f;
  for (int j = 0; j < n; ++j) {
    const uint16_t* blk = wire_recv.data() + size_t(j) * size_t(mine);
    if (wire == WireType::bf16) {
      for (int64_t k = 0; k < mine; ++k) recv[k] += bf16_to_float(blk[k]);
    } else {
      for (int64_t k = 0; k < mine; ++k) recv[k] += half_to_float(blk[k]);
    }
  }
}

// ------------------------------------------------------------------ one process
namespace {

class SingleGroup : public Group {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  std::string backend() const override { return "single"; }
  bool threads_ok() const override { return true; }
  void barrier() override {}
  void send(const void*, int64_t, int dst, int) override { detail::check_peer("send", dst, 1); no_self("send"); }
  void recv(void*, int64_t, int src, int) override { detail::check_peer("recv", src, 1); no_self("recv"); }
  void broadcast(void*, int64_t nbytes, int root) override {
    detail::check_peer("broadcast", root, 1);
    BIGDL_CHECK(nbytes >= 0, ValueError, "dist", "broadcast: negative size ", nbytes);
  }
  void all_reduce(void*, int64_t n, DType dtype, ReduceOp) override {
    detail::check_reduce_dtype("all_reduce", dtype, true);
    BIGDL_CHECK(n >= 0, ValueError, "dist", "all_reduce: negative count ", n);
  }
  void reduce_scatter(const void* send, void* recv, const std::vector<int64_t>& counts, DType dtype) override {
    detail::check_counts("reduce_scatter", counts, 1);
    detail::check_reduce_dtype("reduce_scatter", dtype, false);
    if (counts[0] > 0) std::memmove(recv, send, size_t(counts[0] * element_size(dtype)));
  }
  void all_gather(const void* send, void* recv, const std::vector<int64_t>& counts, DType dtype) override {
    detail::check_counts("all_gather", counts, 1);
    if (counts[0] > 0 && send != recv) std::memmove(recv, send, size_t(counts[0] * element_size(dtype)));
  }
  void all_to_all(const void* send, const std::vector<int64_t>& send_bytes, void* recv,
                  const std::vector<int64_t>& recv_bytes) override {
    detail::check_counts("all_to_all", send_bytes, 1);
    detail::check_counts("all_to_all", recv_bytes, 1);
    BIGDL_CHECK(send_bytes[0] == recv_bytes[0], ValueError, "dist", "all_to_all: sending ", send_bytes[0],
                " bytes to itself but receiving ", recv_bytes[0]);
    if (send_bytes[0] > 0) std::memmove(recv, send, size_t(send_bytes[0]));
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(nullptr);
    std::_Exit(code);
  }

 private:
  [[noreturn]] static void no_self(const char* op) {
    throw ValueError(std::string("[dist] ") + op + ": a one-process group has no peer to talk to");
  }
};

int env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return -1;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (end && *end == '\0' && x >= 0 && x < (1 << 24)) ? int(x) : -1;
}

std::mutex g_world_mu;
GroupPtr g_world;
Backend g_world_backend = Backend::auto_;

}  // namespace

int env_world_size() {
  // OpenMPI's mpirun; MPICH's hydra and srun --mpi=pmi2 (PMI_SIZE); srun --mpi=pmix
  // sets PMIX_RANK, with the size in SLURM_NTASKS (or OMPI_COMM_WORLD_SIZE under OpenMPI).
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"}) {
    const int v = env_int(name);
    if (v > 0) return v;
  }
  if (env_int("PMIX_RANK") >= 0) {
    const int v = env_int("SLURM_NTASKS");
    if (v > 0) return v;
  }
  return 1;
}

bool launched_by_mpi() {
  if (env_world_size() > 1) return true;
  // srun -n N without --mpi: N copies of a one-process job would train side by side and
  // write the same files. SLURM_STEP_NUM_TASKS is set for the tasks of an srun step only.
  const int step_tasks = env_int("SLURM_STEP_NUM_TASKS");
  if (step_tasks > 1)
    throw DistError(bigdl::detail::cat("[dist] srun started ", step_tasks,
                                       " tasks without an MPI environment, so each would run alone: use srun "
                                       "--mpi=pmix (or --mpi=pmi2), or srun -n 1 for one process"));
  return false;
}

GroupPtr single_group() { return std::make_shared<SingleGroup>(); }

GroupPtr init(Backend backend) {
  std::lock_guard<std::mutex> lk(g_world_mu);
  Backend want = backend;
  if (want == Backend::auto_) want = launched_by_mpi() ? Backend::mpi : Backend::single;
  if (want == Backend::mpi && !mpi_available()) detail::make_mpi_group();  // the stub's DistError
  if (g_world) {
    BIGDL_CHECK(backend == Backend::auto_ || want == g_world_backend, ValueError, "dist",
                "init: the world group already exists with backend '", g_world->backend(), "'");
    return g_world;
  }
  GroupPtr g = want == Backend::mpi ? detail::make_mpi_group() : single_group();
  // A launcher of another MPI (MPICH's mpiexec for this OpenMPI build, or the reverse)
  // starts N processes that each initialise as a one-rank MPI job.
  if (want == Backend::mpi && g->size() == 1 && env_world_size() > 1)
    throw DistError(bigdl::detail::cat("[dist] the launcher started ", env_world_size(),
                                " processes but MPI sees 1 in each: the launcher (mpiexec / mpirun / srun --mpi) "
                                "belongs to another MPI than the one this binary is built with; use that MPI's mpirun"));
  g_world = std::move(g);
  g_world_backend = want;
  return g_world;
}

GroupPtr world() { return init(Backend::auto_); }

// ------------------------------------------------------------------ tensor forms
namespace {
void check_tensor(const char* op, const Tensor& t) {
  BIGDL_CHECK(t.defined(), ValueError, "dist", op, ": tensor is undefined");
  BIGDL_CHECK(t.is_contiguous(), ValueError, "dist", op, ": tensor must be contiguous");
}
}  // namespace

void all_reduce_(Tensor& t, Group& g, ReduceOp op) {
  check_tensor("all_reduce_", t);
  g.all_reduce(t.raw_data(), t.numel(), t.dtype(), op);
}

void broadcast_(Tensor& t, Group& g, int root) {
  check_tensor("broadcast_", t);
  g.broadcast(t.raw_data(), t.numel() * element_size(t.dtype()), root);
}

Tensor all_gather(const Tensor& t_in, Group& g) {
  BIGDL_CHECK(t_in.defined() && t_in.dim() >= 1, ShapeError, "dist", "all_gather: tensor needs a dim 0");
  const Tensor t = t_in.contiguous();
  const int n = g.size();
  // Rows per rank, then a check that the other dims agree (compare their element count
  // and dtype, enough to make the byte exchange well formed).
  std::vector<int64_t> info(size_t(n) * 3, 0);
  const int64_t row = shape_numel(Shape(t.shape().begin() + 1, t.shape().end()));
  info[size_t(g.rank()) * 3] = t.size(0);
  info[size_t(g.rank()) * 3 + 1] = row;
  info[size_t(g.rank()) * 3 + 2] = int64_t(t.dtype());
  g.all_reduce(info.data(), int64_t(info.size()), DType::i64, ReduceOp::sum);
  std::vector<int64_t> counts(static_cast<size_t>(n));
  int64_t rows = 0;
  for (int j = 0; j < n; ++j) {
    BIGDL_CHECK(info[size_t(j) * 3 + 1] == row && info[size_t(j) * 3 + 2] == int64_t(t.dtype()), ShapeError, "dist",
                "all_gather: rank ", j, " has rows of ", info[size_t(j) * 3 + 1], " elements (dtype code ",
                info[size_t(j) * 3 + 2], "), this rank ", row, " (", dtype_name(t.dtype()), ")");
    counts[size_t(j)] = info[size_t(j) * 3] * row * element_size(t.dtype());
    rows += info[size_t(j) * 3];
  }
  Shape shape = t.shape();
  shape[0] = rows;
  Tensor out = empty(shape, t.dtype());
  g.all_gather(t.raw_data(), out.raw_data(), counts, DType::u8);
  return out;
}

AllGatherBytes file_exchange(const std::string& dir, int rank, int size, double timeout) {
  BIGDL_CHECK(size >= 1 && rank >= 0 && rank < size, ValueError, "dist", "file_exchange: rank ", rank, " is not in a group of size ",
              size);
  auto calls = std::make_shared<int>(0);
  return [dir, rank, size, timeout, calls](const std::string& mine) {
    const int k = (*calls)++;
    const auto name = [&](int r) { return dir + "/x" + std::to_string(k) + "_" + std::to_string(r); };
    io::write_file_atomic(name(rank), [&](std::FILE* f) { io::write_all(f, mine.data(), mine.size()); });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
    std::vector<std::string> all(static_cast<size_t>(size));
    for (int r = 0; r < size; ++r) {
      std::FILE* f = nullptr;
      while ((f = std::fopen(name(r).c_str(), "rb")) == nullptr) {
        if (std::chrono::steady_clock::now() > deadline) {
          std::string missing;
          for (int q = r; q < size; ++q)
            if (!std::filesystem::exists(name(q))) missing += (missing.empty() ? "" : ", ") + std::to_string(q);
          throw DistError(::bigdl::detail::cat("[dist] file_exchange: rank ", rank, " waited ", timeout, " s in ", dir,
                                      " for ranks ", missing, " (did they start?)"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      std::string& out = all[size_t(r)];
      char buf[4096];
      for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
      std::fclose(f);
    }
    return all;
  };
}

}  // namespace bigdl::dist
