// bigdl::dist — the process group of a data-parallel job (docs/distributed.md).
//
// A Group is the small interface every communication backend implements: rank and
// size, barrier, blocking point-to-point send/recv, and the collectives data-parallel
// training needs (all_reduce, reduce_scatter, all_gather, broadcast, all_to_all).
// Buffers are raw memory with an element count and a DType (or a byte count), so a
// Group works on tensors, flat parameter buffers and plain vectors alike; the Tensor
// forms below are thin wrappers.
//
// Backends:
//   "single"  one process, no communication (size 1); always built.
//   "mpi"     MPI_COMM_WORLD of an MPI job (OpenMPI or MPICH, started by mpirun,
//             mpiexec or Slurm's srun); built when CMake finds MPI (BIGDL_WITH_MPI).
//             A build without MPI links a stub whose init throws DistError.
//   "gloo"    Facebook's Gloo over TCP (Debian libgloo-dev), for jobs whose processes a
//             cluster engine starts without an MPI launcher: Spark's barrier tasks
//             (bigdl_cpp.orca). Created with gloo_group() below from a rendezvous
//             exchange; built when CMake finds Gloo (BIGDL_WITH_GLOO), else a stub
//             whose gloo_group throws DistError.
//
//   auto g = bigdl::dist::world();            // MPI when launched by mpirun/srun, else single
//   float x[4] = {...};
//   g->all_reduce(x, 4, DType::f32);          // in place: sum over ranks
//
// Rules (as for MPI): every rank of the group must make the same sequence of collective
// calls with matching counts; a Group may be used from several threads, but its calls
// are serialized (one at a time), so a thread blocked in a collective holds the others.
// Counts are elements (int64); one call moves at most 2^31 - 1 elements per block.
// Bad arguments (counts that do not match the group size, unsupported dtypes, a peer
// that does not exist) throw ValueError/DTypeError/IndexError naming "[dist] <op>";
// communication failures and switched-off backends throw DistError.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bigdl/dtype.h"
#include "bigdl/error.h"
#include "bigdl/tensor.h"

namespace bigdl::dist {

// A communication failure, or a backend that this build or this launch cannot provide.
class DistError : public Error {
 public:
  using Error::Error;
};

enum class ReduceOp : uint8_t { sum, max, min };

// How f32 gradients travel in reduce_scatter: as f32, or rounded to bf16 / f16 (half
// the bytes). With a 16-bit wire every rank's block is rounded once and the sum over
// ranks is accumulated in f32 on the receiving rank (never re-rounded on the way).
enum class WireType : uint8_t { f32, bf16, f16 };
const char* wire_type_name(WireType w);                 // "f32", "bf16", "f16"
WireType parse_wire_type(const std::string& name);      // throws ValueError naming the choices

// How the MPI backend runs large reduce_scatter and all_gather calls:
//   auto_  a segmented ring on point-to-point messages for calls of >= 1 MB in total on
//          >= 3 ranks (it keeps every link busy in both directions: time close to the
//          bound 2(N-1)/N * bytes / link rate), MPI's own collective otherwise
//   ring   the ring whenever size() > 1
//   mpi    always MPI's collective (MPI_Reduce_scatter, MPI_Allgatherv)
// The ring sums f32/f64 in another order than MPI (block b is summed starting at rank
// b+1 around the ring): results agree to rounding, not bit for bit. Env BIGDL_DIST_ALGO
// (auto, ring, mpi) sets the starting choice; every rank must use the same one.
enum class CollectiveAlgo : uint8_t { auto_, ring, mpi };
const char* collective_algo_name(CollectiveAlgo a);          // "auto", "ring", "mpi"
CollectiveAlgo parse_collective_algo(const std::string& name);  // throws ValueError naming the choices

class Group {
 public:
  virtual ~Group() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Processes of this group on this host (to size thread pools when oversubscribed).
  virtual int local_size() const = 0;
  virtual std::string backend() const = 0;  // "single", "mpi"
  // May threads other than the creating one call this group (one at a time)? MPI: the
  // library granted MPI_THREAD_SERIALIZED. Gradient overlap needs it.
  virtual bool threads_ok() const = 0;

  virtual void barrier() = 0;
  // A barrier that gives up: true when every rank arrived within `seconds`, false
  // otherwise (the group is then only good for abort()). It runs apart from the other
  // collectives, so it is safe while other ranks wait in one: error handlers use it to
  // tell "every rank failed" (report once, exit) from "this rank alone failed" (abort).
  virtual bool barrier_within(double seconds) {
    barrier();
    return true;
  }
  // Blocking point-to-point transfer of nbytes; recv's nbytes must equal the sender's.
  virtual void send(const void* data, int64_t nbytes, int dst, int tag = 0) = 0;
  virtual void recv(void* data, int64_t nbytes, int src, int tag = 0) = 0;
  // root's nbytes at data are copied to data on every rank.
  virtual void broadcast(void* data, int64_t nbytes, int root = 0) = 0;
  // In place: data[0, n) becomes op over all ranks' data. dtype: f32, f64, i32, i64.
  virtual void all_reduce(void* data, int64_t n, DType dtype, ReduceOp op = ReduceOp::sum) = 0;
  // send holds sum(counts) elements, block j (counts[j] elements, blocks in rank order)
  // meant for rank j; recv receives counts[rank()] elements: the sum over ranks of their
  // block rank(). counts has size() entries, identical on every rank; zeros allowed.
  // dtype: f32 or f64. send and recv must not overlap.
  virtual void reduce_scatter(const void* send, void* recv, const std::vector<int64_t>& counts, DType dtype) = 0;
  // recv holds sum(counts) elements; rank j's send (counts[j] elements) lands in block j
  // on every rank. send may point at this rank's own block of recv (in place).
  virtual void all_gather(const void* send, void* recv, const std::vector<int64_t>& counts, DType dtype) = 0;
  // Personalised exchange in bytes: block j of send (send_bytes[j]) goes to rank j, and
  // block j of recv (recv_bytes[j]) comes from rank j; blocks are packed in rank order.
  // send_bytes[j] on rank i must equal recv_bytes[i] on rank j.
  virtual void all_to_all(const void* send, const std::vector<int64_t>& send_bytes, void* recv,
                          const std::vector<int64_t>& recv_bytes) = 0;
  // Ends every process of the job with this exit code (MPI_Abort): for an error on one
  // rank, so that the others do not wait forever in a collective.
  [[noreturn]] virtual void abort(int code) = 0;
  // The hang watchdog (docs/distributed.md "Fault recovery"): when one blocking call
  // (send, recv, barrier, a collective) has waited `seconds` for its peers, the process
  // prints "[dist] rank r: no progress from peers for T s in <op> (a peer died or hangs);
  // aborting" and ends the job with abort(1). 0 turns it off. The MPI backend starts
  // with env BIGDL_DIST_TIMEOUT (seconds) or 60; one process never waits.
  virtual void set_timeout(double /*seconds*/) {}
  virtual double timeout() const { return 0; }
  // The algorithm of reduce_scatter / all_gather (CollectiveAlgo above). Set it on every
  // rank between collectives, never while one runs. Backends with one algorithm ignore it.
  virtual void set_collective_algo(CollectiveAlgo /*algo*/) {}
  virtual CollectiveAlgo collective_algo() const { return CollectiveAlgo::auto_; }

  // reduce_scatter of f32 data (sum) with a wire format. f32 is the primitive above;
  // bf16 / f16 round each block once, exchange with all_to_all and sum in f32.
  void reduce_scatter(const float* send, float* recv, const std::vector<int64_t>& counts, WireType wire);
};
using GroupPtr = std::shared_ptr<Group>;

enum class Backend : uint8_t { auto_, single, mpi };

// Was bigdl built with the MPI backend?
bool mpi_available();
// Does the environment say this process was started by an MPI launcher with more than
// one process? Reads OMPI_COMM_WORLD_SIZE (OpenMPI), PMI_SIZE (MPICH hydra, srun
// --mpi=pmi2), PMIX_RANK with SLURM_NTASKS or OMPI_COMM_WORLD_SIZE (srun --mpi=pmix).
// srun -n N (N > 1) without an MPI environment throws DistError: its tasks would each run
// alone. (init() likewise throws when a launcher says N > 1 but MPI sees one process: the
// launcher of another MPI than the build's, e.g. MPICH's mpiexec for an OpenMPI build.)
bool launched_by_mpi();
// World size the launcher announced in the environment; 1 when none.
int env_world_size();

// The group of every process of the job, created once (later calls return the same
// group; asking for another backend then throws ValueError). auto_: mpi when
// launched_by_mpi(), else single. mpi on a build without MPI throws DistError:
//   [dist] bigdl was built without MPI; rebuild with libopenmpi-dev (or MPICH) installed
// MPI is initialised with MPI_THREAD_SERIALIZED and finalised at process exit.
GroupPtr init(Backend backend = Backend::auto_);
// init() with auto_ on first use.
GroupPtr world();
// A one-process group (no communication), e.g. for a local baseline inside an MPI job.
GroupPtr single_group();

// ---- Gloo ----
// Was bigdl built with the Gloo backend?
bool gloo_available();
// The rendezvous of gloo_group: every rank calls it with its own bytes, and it returns
// every rank's bytes in rank order (Spark's BarrierTaskContext.allGather, an MPI
// allgather, threads of a test...). It may be called from another thread than the one
// that called gloo_group, and is called the same number of times on every rank.
using AllGatherBytes = std::function<std::vector<std::string>(const std::string&)>;
struct GlooOptions {
  std::string hostname = "127.0.0.1";  // the address this rank listens on (an IP or a name)
  std::string iface;                   // or a network interface ("eth0"); wins over hostname
  // Seconds a blocking call waits for its peers before it throws DistError naming the op
  // ("[dist] all_reduce: gloo: Timed out ... (a peer died or hangs)"); a peer that exits
  // fails the call at once (its socket closes). -1: env BIGDL_DIST_TIMEOUT, or 60.
  double timeout = -1;
};
// A group of `size` processes over Gloo TCP (full mesh), this one being `rank`. Each rank
// publishes its listening addresses and host name through `exchange`, then connects to
// every other rank. Errors (a peer that never comes, a closed connection, a timeout) are
// DistError; abort() exits this process only (the cluster engine ends the others: Spark
// fails the barrier stage). reduce_scatter and all_gather run as a ring on Gloo's
// point-to-point buffers (every link busy both ways: the bandwidth bound), all_reduce,
// broadcast, barrier and all_to_all are Gloo's own algorithms.
GroupPtr gloo_group(int rank, int size, const AllGatherBytes& exchange, const GlooOptions& opts = {});
// A rendezvous for processes that share a directory (one machine: Nano's num_processes,
// `bigdl train --num-processes`): call k of rank r writes <dir>/x<k>_<r> (to a temporary
// name, then renamed, so readers never see half a file) and waits until every rank's file
// of call k exists; DistError naming the missing ranks after `timeout` seconds.
AllGatherBytes file_exchange(const std::string& dir, int rank, int size, double timeout);

// ---- collectives on tensors (contiguous; in place where the name says so) ----
// t becomes op over ranks (f32, f64, i32, i64).
void all_reduce_(Tensor& t, Group& g, ReduceOp op = ReduceOp::sum);
// t becomes root's t (same shape and dtype on every rank).
void broadcast_(Tensor& t, Group& g, int root = 0);
// Concatenation over ranks along dim 0; ranks may differ in size(0), not in the rest.
Tensor all_gather(const Tensor& t, Group& g);

}  // namespace bigdl::dist
