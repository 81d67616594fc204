// NumPy arrays <-> bigdl::Tensor for every binding (native.h).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "bigdl/tensor.h"
#include "native.h"

namespace py = pybind11;

namespace bigdl_py {

using bigdl::DType;
using bigdl::Shape;
using bigdl::Tensor;

Tensor to_tensor(const py::handle& obj, const char* what) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  py::array a = py::array::ensure(obj);
  if (!a) throw bigdl::ValueError(std::string(what) + ": expected an array-like of numbers");
  const char kind = a.dtype().kind();
  DType dt;
  if (kind == 'f') {
    a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
    dt = DType::f32;
  } else if (kind == 'i' || kind == 'u' || kind == 'b') {
    a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    dt = DType::i64;
  } else {
    throw bigdl::DTypeError(std::string(what) + ": expected numbers, got an array of dtype '" +
                            std::string(py::str(a.dtype())) + "'");
  }
  Shape shape(a.shape(), a.shape() + a.ndim());
  // The deleter may run on a worker thread without the GIL: it takes it to drop the array.
  auto keep = std::shared_ptr<void>(new py::object(a), [](void* p) {
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
  return bigdl::from_blob(const_cast<void*>(a.data()), shape, dt, std::move(keep));
}

py::array to_numpy(const Tensor& t_in) {
  Tensor t = t_in.detach().contiguous();
  if (t.dtype() != DType::f32 && t.dtype() != DType::i64) t = t.to(DType::f32);
  auto* owner = new Tensor(t);
  py::capsule keep(owner, [](void* p) { delete static_cast<Tensor*>(p); });
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end());
  if (t.dtype() == DType::i64) return py::array_t<int64_t>(shape, t.data<int64_t>(), keep);
  return py::array_t<float>(shape, t.data<float>(), keep);
}

py::array to_numpy_view(const Tensor& t_in) {
  if (t_in.dtype() != DType::f32 && t_in.dtype() != DType::i64) return to_numpy(t_in);
  Tensor t = t_in.detach();
  auto* owner = new Tensor(t);
  py::capsule keep(owner, [](void* p) { delete static_cast<Tensor*>(p); });
  const py::ssize_t es = py::ssize_t(element_size(t.dtype()));
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(py::ssize_t(s) * es);
  if (t.dtype() == DType::i64) return py::array_t<int64_t>(shape, strides, t.data<int64_t>(), keep);
  return py::array_t<float>(shape, strides, t.data<float>(), keep);
}

}  // namespace bigdl_py
