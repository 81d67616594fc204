// bigdl_cpp._native.chronos: TSDataset and Scaler (include/bigdl/chronos/tsdataset.h).
// The Python TSDataset (bigdl_cpp.chronos.data) converts pandas to these columns.
#include <pybind11/stl.h>

#include "bigdl/chronos/models.h"
#include "bigdl/chronos/tsdataset.h"
#include "native.h"

namespace py = pybind11;

namespace bigdl_py {

using namespace bigdl;
using chronos::Scaler;
using chronos::TSDataset;

void bind_chronos(py::module_ m) {
  m.def("parse_datetime", &chronos::parse_datetime, py::arg("text"), py::arg("what") = "timestamp");
  m.def("format_datetime", &chronos::format_datetime, py::arg("seconds"));

  py::class_<Scaler>(m, "Scaler")
      .def(py::init([](const std::string& kind) {
             if (kind == "standard") return Scaler(Scaler::Kind::standard);
             if (kind == "minmax") return Scaler(Scaler::Kind::minmax);
             throw ValueError("[Scaler] kind must be standard or minmax, got '" + kind + "'");
           }),
           py::arg("kind") = "standard")
      .def_readonly("columns", &Scaler::columns)
      .def_readonly("shift", &Scaler::shift)
      .def_readonly("scale", &Scaler::scale)
      .def_property_readonly("fitted", &Scaler::fitted);

  py::class_<TSDataset>(m, "TSDataset")
      .def_static("from_columns", &TSDataset::from_columns, py::arg("dt"), py::arg("ids"), py::arg("names"),
                  py::arg("values"), py::arg("target_cols"), py::arg("extra_feature_cols"))
      .def_static("from_csv", &TSDataset::from_csv, py::arg("path"), py::arg("dt_col"), py::arg("target_cols"),
                  py::arg("extra_feature_cols"), py::arg("id_col"))
      .def_property_readonly("target_cols", &TSDataset::target_cols)
      .def_property_readonly("feature_cols", &TSDataset::feature_cols)
      .def_property_readonly("rows", &TSDataset::rows)
      .def("copy", [](const TSDataset& t) { return TSDataset(t); })
      // Every series as (id, dt seconds int64 [n], values float64 [n, columns]).
      .def("series", [](const TSDataset& t) {
        py::list out;
        const size_t c = t.columns().size();
        for (const auto& s : t.series()) {
          py::array_t<int64_t> dt(py::ssize_t(s.dt.size()));
          std::copy(s.dt.begin(), s.dt.end(), dt.mutable_data());
          py::array_t<double> v({py::ssize_t(s.dt.size()), py::ssize_t(c)});
          std::copy(s.values.begin(), s.values.end(), v.mutable_data());
          out.append(py::make_tuple(s.id, dt, v));
        }
        return out;
      })
      .def("deduplicate", &TSDataset::deduplicate, py::return_value_policy::reference_internal)
      .def("impute", &TSDataset::impute, py::arg("mode") = "last", py::arg("const_num") = 0.0,
           py::return_value_policy::reference_internal)
      .def("resample", &TSDataset::resample, py::arg("interval_seconds"), py::arg("merge_mode") = "mean",
           py::return_value_policy::reference_internal)
      .def("gen_dt_feature", &TSDataset::gen_dt_feature, py::arg("features") = std::vector<std::string>{},
           py::return_value_policy::reference_internal)
      .def("scale", &TSDataset::scale, py::arg("scaler"), py::arg("fit") = true,
           py::return_value_policy::reference_internal)
      .def("unscale", [](const TSDataset& t, const py::handle& y, const Scaler& s) {
        return to_numpy(t.unscale(to_tensor(y, "y"), s));
      }, py::arg("y"), py::arg("scaler"))
      .def("roll", [](const TSDataset& t, int64_t lookback, int64_t horizon) {
        auto [x, y] = t.roll(lookback, horizon);
        return py::make_tuple(to_numpy_view(x), to_numpy_view(y));  // windows over one copy of the series
      }, py::arg("lookback"), py::arg("horizon"));
  py::class_<chronos::DLinear, nn::Module, std::shared_ptr<chronos::DLinear>>(m, "DLinear")
      .def(py::init<int64_t, int64_t, int64_t, int64_t>(), py::arg("lookback"), py::arg("horizon"),
           py::arg("kernel") = 25, py::arg("outputs") = 0);
  py::class_<chronos::TCN, nn::Module, std::shared_ptr<chronos::TCN>>(m, "TCN")
      .def(py::init<int64_t, int64_t, int64_t, int64_t, std::vector<int64_t>, int64_t, double, bool, int64_t>(),
           py::arg("lookback"), py::arg("horizon"), py::arg("input_features"), py::arg("output_features"),
           py::arg("channels"), py::arg("kernel"), py::arg("dropout"), py::arg("normalization"),
           py::arg("quantiles") = 1);
  py::class_<chronos::LSTMModel, nn::Module, std::shared_ptr<chronos::LSTMModel>>(m, "LSTMModel")
      .def(py::init<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, bool, int64_t>(), py::arg("lookback"),
           py::arg("horizon"), py::arg("input_features"), py::arg("output_features"), py::arg("hidden"),
           py::arg("layers"), py::arg("dropout"), py::arg("normalization"), py::arg("quantiles") = 1);
  py::class_<chronos::PatchTST, nn::Module, std::shared_ptr<chronos::PatchTST>>(m, "PatchTST")
      .def(py::init([](int64_t lookback, int64_t horizon, int64_t input_features, int64_t output_features,
                       int64_t patch_len, int64_t stride, int64_t d_model, int64_t heads, int64_t d_ff, int64_t layers,
                       double dropout, double head_dropout, bool revin, bool res_attention, const std::string& norm) {
             chronos::PatchTSTOptions o{lookback, horizon, input_features, output_features, patch_len, stride,
                                        d_model, heads, d_ff, layers, dropout, head_dropout, revin, res_attention, norm};
             return std::make_shared<chronos::PatchTST>(o);
           }),
           py::arg("lookback"), py::arg("horizon"), py::arg("input_features"), py::arg("output_features"),
           py::arg("patch_len") = 16, py::arg("stride") = 8, py::arg("d_model") = 16, py::arg("heads") = 4,
           py::arg("d_ff") = 128, py::arg("layers") = 3, py::arg("dropout") = 0.3, py::arg("head_dropout") = 0.0,
           py::arg("revin") = true, py::arg("res_attention") = true, py::arg("norm") = "batch")
      .def_readonly("num_patches", &chronos::PatchTST::num_patches);
  py::class_<chronos::NBeats, nn::Module, std::shared_ptr<chronos::NBeats>>(m, "NBeats")
      .def(py::init([](int64_t lookback, int64_t horizon, int64_t input_features, int64_t output_features,
                       std::vector<std::string> stack_types, int64_t blocks_per_stack, std::vector<int64_t> thetas_dim,
                       bool share, int64_t hidden, int64_t harmonics, double dropout) {
             chronos::NBeatsOptions o{lookback, horizon, input_features, output_features, std::move(stack_types),
                                      blocks_per_stack, std::move(thetas_dim), share, hidden, harmonics, dropout};
             return std::make_shared<chronos::NBeats>(o);
           }),
           py::arg("lookback"), py::arg("horizon"), py::arg("input_features"), py::arg("output_features"),
           py::arg("stack_types"), py::arg("blocks_per_stack"), py::arg("thetas_dim"), py::arg("share_weights_in_stack"),
           py::arg("hidden"), py::arg("harmonics"), py::arg("dropout"));
  py::class_<chronos::Seq2Seq, nn::Module, std::shared_ptr<chronos::Seq2Seq>>(m, "Seq2Seq")
      .def(py::init<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, int64_t>(), py::arg("lookback"),
           py::arg("horizon"), py::arg("input_features"), py::arg("output_features"), py::arg("hidden"),
           py::arg("layers"), py::arg("dropout"), py::arg("quantiles") = 1);
  m.def("split", &chronos::split, py::arg("ts"), py::arg("val_ratio"), py::arg("test_ratio"));
}

}  // namespace bigdl_py
