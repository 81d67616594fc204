// bigdl_cpp._native.nano: nano::optimize and the InferenceModel it returns
// (include/bigdl/nano/inference.h). The Python InferenceOptimizer (bigdl_cpp.nano) runs
// the variants and builds the table.
#include <pybind11/stl.h>

#include "bigdl/nano/inference.h"
#include "bigdl/nano/onnx.h"
#include "native.h"

namespace py = pybind11;

namespace bigdl_py {

using namespace bigdl;

namespace {

// The options optimize() and import_onnx() share.
nano::OptimizeOptions options_of(const std::string& precision, const py::object& calibration_data, const std::string& calibration,
                                 double percentile) {
  nano::OptimizeOptions o;
  o.precision = nano::parse_precision(precision);
  if (!calibration_data.is_none()) o.calibration_data = to_tensor(calibration_data, "calibration_data");
  o.calibration = nano::parse_calibration(calibration);
  o.percentile = percentile;
  return o;
}

}  // namespace

void bind_nano(py::module_ m) {
  py::class_<nano::InferenceModel, nn::Module, std::shared_ptr<nano::InferenceModel>>(m, "InferenceModel")
      .def_property_readonly("precision", [](const nano::InferenceModel& x) { return nano::precision_name(x.options().precision); })
      .def_property_readonly("num_steps", &nano::InferenceModel::num_steps)
      .def_property_readonly("num_inputs", &nano::InferenceModel::num_inputs)
      .def_property_readonly("input_names", &nano::InferenceModel::input_names)
      .def_property_readonly("output_names", &nano::InferenceModel::output_names)
      .def(
          "run",
          [](nano::InferenceModel& model, const py::object& feeds) {
            // feeds: {name: array} (an imported ONNX model's input names) or a sequence of
            // arrays in input order; returns every output as an array, as ONNX Runtime does.
            std::vector<Tensor> xs;
            if (py::isinstance<py::dict>(feeds)) {
              const py::dict d = feeds.cast<py::dict>();
              BIGDL_CHECK(!model.input_names().empty(), ValueError, "nano.InferenceModel.run",
                          "the model has no input names: give a list of arrays");
              for (const std::string& n : model.input_names()) {
                BIGDL_CHECK(d.contains(n), ValueError, "nano.InferenceModel.run", "input '", n, "' is not given");
                xs.push_back(to_tensor(d[py::str(n)], n.c_str()));
              }
              BIGDL_CHECK(d.size() == xs.size(), ValueError, "nano.InferenceModel.run", "unknown input names (the model's: ",
                          py::str(py::cast(model.input_names())).cast<std::string>(), ")");
            } else if (py::isinstance<py::list>(feeds) || py::isinstance<py::tuple>(feeds)) {
              for (const py::handle& h : feeds) xs.push_back(to_tensor(h, "input"));
            } else {
              xs.push_back(to_tensor(feeds, "input"));
            }
            std::vector<Tensor> ys;
            {
              py::gil_scoped_release release;
              ys = model.forward_inputs(xs);
            }
            py::list out;
            for (const Tensor& y : ys) out.append(to_numpy(y));
            return out;
          },
          py::arg("feeds"), "All outputs (a list of arrays) for feeds: {input name: array}, a list of arrays, or one array.");
  m.def(
      "import_onnx",
      [](const std::string& path, const std::string& precision, bool rewrite, const py::object& calibration_data,
         const std::string& calibration, double percentile) {
        nano::OptimizeOptions o = options_of(precision, calibration_data, calibration, percentile);
        o.rewrite = rewrite;
        py::gil_scoped_release release;
        return nano::import_onnx(path, o);
      },
      py::arg("path"), py::arg("precision") = "fp32", py::arg("rewrite") = true, py::arg("calibration_data") = py::none(),
      py::arg("calibration") = "minmax", py::arg("percentile") = 99.99,
      "An ONNX model imported as an InferenceModel (docs/nano.md \"ONNX import\"); rewrite=False runs each "
      "operator as the file has it.");
  m.def(
      "optimize",
      [](const nn::ModulePtr& model, const std::string& precision, bool fold_batchnorm, bool fuse_activation,
         const py::object& calibration_data, const std::string& calibration, double percentile) {
        nano::OptimizeOptions o = options_of(precision, calibration_data, calibration, percentile);
        o.fold_batchnorm = fold_batchnorm;
        o.fuse_activation = fuse_activation;
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
