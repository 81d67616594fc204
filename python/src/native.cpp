// bigdl_cpp._native: the C++ library seen from Python (pybind11). One extension module,
// one submodule per public header group (core, llm, dist, chronos, dllib, nano),
// mirroring include/bigdl/. The Python package (python/bigdl_cpp) wraps these in
// BigDL's names; nothing here is meant to be imported by users directly.
//
// Errors: bigdl::Error subclasses become the matching Python exception with the same
// one-line message (ValueError / TypeError / IndexError / OSError / MemoryError; see
// translate_errors). Long calls (load, generate, forward, save_low_bit) release the GIL.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <new>

#include "bigdl/dist/group.h"
#include "bigdl/error.h"
#include "bigdl/tensor.h"
#include "native.h"

namespace py = pybind11;

namespace {

// bigdl::Error -> the Python exception a Python user expects for that kind of error.
void translate_errors() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const bigdl::DTypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const bigdl::IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const bigdl::IOError& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const bigdl::dist::DistError& e) {  // a peer died, a timeout: not the caller's values
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const bigdl::InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const bigdl::Error& e) {  // ValueError, ShapeError, FormatError, SecurityError
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "out of memory");
    }
  });
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "bigdl-cpp's C++ engine (internal; use the bigdl_cpp package)";
  translate_errors();
  m.def("set_autocast_bf16", &bigdl::set_autocast_bf16, py::arg("on"),
        "bf16 autocast on / off (include/bigdl/tensor.h); ValueError without native bf16.");
  m.def("autocast_bf16", &bigdl::autocast_bf16, "Is bf16 autocast on?");
  m.def("set_num_threads", &bigdl::set_num_threads, py::arg("n"),
        "Threads of the library's pool (default: the machine's cores).");
  m.def("get_num_threads", &bigdl::get_num_threads);
  bigdl_py::bind_core(m.def_submodule("core", "tensors, autograd, nn modules, losses, optimizers (include/bigdl)"));
  bigdl_py::bind_llm(m.def_submodule("llm", "low-bit LLM inference (include/bigdl/llm)"));
  bigdl_py::bind_dist(m.def_submodule("dist", "process groups for data-parallel training (include/bigdl/dist)"));
  bigdl_py::bind_chronos(m.def_submodule("chronos", "time-series data sets (include/bigdl/chronos)"));
  bigdl_py::bind_dllib(m.def_submodule("dllib", "Keras-style models and training (include/bigdl/train)"));
  bigdl_py::bind_nano(m.def_submodule("nano", "inference acceleration (include/bigdl/nano)"));
}
