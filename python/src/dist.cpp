// bigdl_cpp._native.dist: process groups (include/bigdl/dist/group.h) for training inside a
// cluster engine's tasks. gloo_group's rendezvous calls back into Python (Spark's
// BarrierTaskContext.allGather) with the GIL taken; the connect itself runs without it.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bigdl/dist/group.h"
#include "native.h"

namespace py = pybind11;

namespace bigdl_py {

using namespace bigdl;

void bind_dist(py::module_ m) {
  py::class_<dist::Group, dist::GroupPtr>(m, "Group")
      .def_property_readonly("rank", &dist::Group::rank)
      .def_property_readonly("size", &dist::Group::size)
      .def_property_readonly("local_size", &dist::Group::local_size)
      .def_property_readonly("backend", &dist::Group::backend)
      .def("barrier", [](dist::Group& g) {
        py::gil_scoped_release release;
        g.barrier();
      })
      .def("all_reduce_sum", [](dist::Group& g, std::vector<double> v) {
        {
          py::gil_scoped_release release;
          g.all_reduce(v.data(), int64_t(v.size()), DType::f64, dist::ReduceOp::sum);
        }
        return v;
      }, py::arg("values"), "Sums a list of floats over the ranks (every rank gets the sums).");
  m.def("gloo_available", &dist::gloo_available);
  m.def("launched_by_mpi", &dist::launched_by_mpi, "Was this process started by mpirun / srun with more than one rank?");
  m.def("world", [] {
    py::gil_scoped_release release;
    return dist::world();
  }, "The group of every process of the job: MPI's when launched by mpirun / srun, else one process.");
  m.def(
      "gloo_group",
      [](int rank, int size, py::function exchange, const std::string& hostname, double timeout) {
        // bytes in, list of bytes out; called with the GIL held.
        dist::AllGatherBytes ex = [exchange](const std::string& mine) {
          py::gil_scoped_acquire gil;
          py::object out = exchange(py::bytes(mine));
          std::vector<std::string> all;
          for (const py::handle& b : out) all.push_back(b.cast<std::string>());
          return all;
        };
        dist::GlooOptions o;
        o.hostname = hostname;
        o.timeout = timeout;
        py::gil_scoped_release release;
        return dist::gloo_group(rank, size, ex, o);
      },
      py::arg("rank"), py::arg("size"), py::arg("exchange"), py::arg("hostname") = "127.0.0.1",
      py::arg("timeout") = -1.0,
      "A Gloo group: exchange(bytes) -> [bytes of every rank] is the rendezvous (e.g. "
      "BarrierTaskContext.allGather); timeout in seconds (-1: BIGDL_DIST_TIMEOUT or 60).");
  m.def(
      "gloo_group_in_dir",
      [](int rank, int size, const std::string& directory, double timeout) {
        dist::GlooOptions o;
        o.timeout = timeout;
        py::gil_scoped_release release;
        return dist::gloo_group(rank, size, dist::file_exchange(directory, rank, size, timeout < 0 ? 60.0 : timeout), o);
      },
      py::arg("rank"), py::arg("size"), py::arg("directory"), py::arg("timeout") = -1.0,
      "A Gloo group on 127.0.0.1 of processes of this machine that share `directory` for the rendezvous "
      "(dist::file_exchange).");
}

}  // namespace bigdl_py
