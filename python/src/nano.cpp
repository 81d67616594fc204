// bigdl_cpp._native.nano: nano::optimize and the InferenceModel it returns
// (include/bigdl/nano/inference.h). The Python InferenceOptimizer (bigdl_cpp.nano) runs
// the variants and builds the table.
#include <pybind11/stl.h>

#include "bigdl/nano/inference.h"
#include "native.h"

namespace py = pybind11;

namespace bigdl_py {

using namespace bigdl;

void bind_nano(py::module_ m) {
  py::class_<nano::InferenceModel, nn::Module, std::shared_ptr<nano::InferenceModel>>(m, "InferenceModel")
      .def_property_readonly("precision", [](const nano::InferenceModel& x) { return nano::precision_name(x.options().precision); })
      .def_property_readonly("num_steps", &nano::InferenceModel::num_steps);
  m.def(
      "optimize",
      [](const nn::ModulePtr& model, const std::string& precision, bool fold_batchnorm, bool fuse_activation,
         const py::object& calibration_data, const std::string& calibration, double percentile) {
        nano::OptimizeOptions o;
        o.precision = nano::parse_precision(precision);
        o.fold_batchnorm = fold_batchnorm;
        o.fuse_activation = fuse_activation;
        if (!calibration_data.is_none()) o.calibration_data = to_tensor(calibration_data, "calibration_data");
        o.calibration = nano::parse_calibration(calibration);
        o.percentile = percentile;
        py::gil_scoped_release release;
        return nano::optimize(model, o);
      },
      py::arg("model"), py::arg("precision") = "fp32", py::arg("fold_batchnorm") = true, py::arg("fuse_activation") = true,
      py::arg("calibration_data") = py::none(), py::arg("calibration") = "minmax", py::arg("percentile") = 99.99,
      "The model captured for inference (docs/nano.md): fp32, bf16, int8_static (with calibration_data) or "
      "int8_dynamic.");
  m.def("int8_weight_max", &nano::int8_weight_max,
        "127 where the int8 kernels use VNNI, else 63 (7-bit weights: docs/nano.md).");
  m.def("native_bf16", &nano::native_bf16, "True when this CPU runs bf16 natively (AVX-512 BF16 / AMX-BF16).");
  m.def(
      "save",
      [](const nano::InferenceModel& model, const std::string& path) {
        py::gil_scoped_release release;
        nano::save(model, path);
      },
      py::arg("model"), py::arg("path"), "Writes the captured model to one file (docs/nano.md).");
  m.def(
      "describe",
      [](const nano::InferenceModel& model) {
        nn::NamedTensors tensors;
        const std::string meta = nano::describe(model, tensors);
        py::dict arrays;
        for (const auto& [name, t] : tensors) arrays[py::str(name)] = to_numpy(t);
        return py::make_tuple(meta, arrays);
      },
      py::arg("model"), "(JSON description, {name: array}): what nano.save writes, in memory.");
  m.def(
      "load",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return nano::load(path);
      },
      py::arg("path"), "A captured model from a file nano.save wrote.");
}

}  // namespace bigdl_py
