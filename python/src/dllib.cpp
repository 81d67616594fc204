// bigdl_cpp._native.dllib: the Keras-style model building and training of the core
// (include/bigdl/train/keras.h, train/model.h, train/callbacks.h) for the Python package
// bigdl_cpp.dllib.keras, which gives them BigDL's names and keyword arguments.
//
// Arrays: NumPy in, NumPy out. A C-contiguous float32 (or int64 label) array becomes a
// tensor over the array's own memory (no copy; the tensor keeps the array alive); other
// dtypes and layouts are converted once (float -> float32, integer -> int64). Results
// (predict, get_weights) are arrays over the tensor's memory, which they keep alive.
//
// The GIL is released while fit / evaluate / predict run; Python callbacks take it back
// for each call (PyCallback). An exception raised in a Python callback stops fit and
// reaches the caller unchanged.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bigdl/dist/group.h"
#include "bigdl/error.h"
#include "bigdl/nn/module.h"
#include "bigdl/optim/optimizer.h"
#include "bigdl/tensor.h"
#include "bigdl/train/callbacks.h"
#include "bigdl/train/keras.h"
#include "bigdl/train/model.h"
#include "native.h"

namespace py = pybind11;

namespace {

using namespace bigdl;
using bigdl_py::to_numpy;
using bigdl_py::to_tensor;

keras::LayerArgs layer_args(const std::optional<Shape>& input_shape, const std::string& name, bool use_bias) {
  keras::LayerArgs a;
  if (input_shape) a.input_shape = *input_shape;
  a.name = name;
  a.use_bias = use_bias;
  return a;
}

keras::Size2 size2(const std::vector<int64_t>& v, const char* what) {
  if (v.size() == 1) return keras::Size2(v[0]);
  if (v.size() == 2) return keras::Size2(v[0], v[1]);
  throw ValueError(std::string(what) + ": expected one int or two, got " + std::to_string(v.size()));
}

// A Python callback object (bigdl_cpp.dllib.keras.callbacks.Callback) seen from fit:
// each hook it defines is called with the GIL held; `model.stop_training = True` set by
// the hook stops training after the epoch, as in Keras.
class PyCallback : public train::Callback {
 public:
  // hooks: the names of the hooks obj's class overrides; the others are not called (a
  // no-op on_batch_end would take the GIL on every batch).
  PyCallback(py::object obj, const std::vector<std::string>& hooks) : obj_(std::move(obj)) {
    for (const auto& h : hooks)
      for (int i = 0; i < kHooks; ++i)
        if (h == kHookNames[i]) on_[i] = true;
  }
  ~PyCallback() override {
    py::gil_scoped_acquire gil;
    obj_ = py::object();
  }
  // Each hook builds its Python arguments inside call(), after the GIL is taken.
  void on_train_begin(train::Model& m) override {
    call(m, kTrainBegin, [&] { obj_.attr("on_train_begin")(); });
  }
  void on_epoch_begin(train::Model& m, int64_t epoch) override {
    call(m, kEpochBegin, [&] { obj_.attr("on_epoch_begin")(epoch); });
  }
  void on_batch_end(train::Model& m, int64_t batch, double loss) override {
    call(m, kBatchEnd, [&] { obj_.attr("on_batch_end")(batch, py::dict(py::arg("loss") = loss)); });
  }
  void on_epoch_end(train::Model& m, int64_t epoch, const train::Logs& logs) override {
    call(m, kEpochEnd, [&] { obj_.attr("on_epoch_end")(epoch, py::cast(logs)); });
  }
  void on_train_end(train::Model& m) override {
    call(m, kTrainEnd, [&] { obj_.attr("on_train_end")(); });
  }

 private:
  enum Hook { kTrainBegin, kEpochBegin, kBatchEnd, kEpochEnd, kTrainEnd, kHooks };
  static constexpr const char* kHookNames[kHooks] = {"on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end",
                                                     "on_train_end"};
  template <class F>
  void call(train::Model& m, Hook which, F&& hook) {
    if (!on_[which]) return;
    py::gil_scoped_acquire gil;
    hook();
    py::object model = py::getattr(obj_, "model", py::none());
    if (!model.is_none() && py::hasattr(model, "stop_training") && model.attr("stop_training").cast<bool>()) {
      m.stop_training = true;
      model.attr("stop_training") = false;
    }
  }
  py::object obj_;
  bool on_[kHooks] = {};
};

train::MonitorMode monitor_mode(const std::string& mode) {
  if (mode == "auto") return train::MonitorMode::auto_;
  if (mode == "min") return train::MonitorMode::min;
  if (mode == "max") return train::MonitorMode::max;
  throw ValueError("mode: expected 'auto', 'min' or 'max', got '" + mode + "'");
}

// The optimizer of compile(): keras::make_optimizer by name (BigDL's defaults, the lr if
// given, ValueError naming an unknown one), then the other hyper-parameters that
// bigdl_cpp.dllib.keras.optimizers passes (Keras' names) set on its options, which every
// step reads.
optim::OptimizerPtr make_optimizer(const std::string& name, const std::map<std::string, double>& hp,
                                   std::vector<Tensor> params) {
  const auto lr = hp.find("lr");
  auto opt = keras::make_optimizer(name, std::move(params), lr == hp.end() ? -1 : lr->second);
  const auto set = [&](const char* key, auto& field) {
    if (const auto it = hp.find(key); it != hp.end()) field = static_cast<std::decay_t<decltype(field)>>(it->second);
  };
  if (auto* o = dynamic_cast<optim::SGD*>(opt.get())) {
    set("momentum", o->options.momentum);
    set("weight_decay", o->options.weight_decay);
    set("nesterov", o->options.nesterov);
  } else if (auto* o = dynamic_cast<optim::Adam*>(opt.get())) {  // and AdamW
    set("beta_1", o->options.beta1);
    set("beta_2", o->options.beta2);
    set("epsilon", o->options.eps);
    set("amsgrad", o->options.amsgrad);
    set("weight_decay", o->options.weight_decay);
  } else if (auto* o = dynamic_cast<optim::RMSprop*>(opt.get())) {
    set("rho", o->options.alpha);
    set("epsilon", o->options.eps);
    set("momentum", o->options.momentum);
  } else if (auto* o = dynamic_cast<optim::Adagrad*>(opt.get())) {
    set("epsilon", o->options.eps);
  }
  return opt;
}

py::list history_of(const train::History& h) {
  py::list out;
  for (const auto& e : h.epochs) out.append(py::cast(e));
  return out;
}

}  // namespace

namespace bigdl_py {

void bind_dllib(py::module_ m) {
  using keras::Layer;
  using keras::Node;

  py::class_<Node>(m, "Node")
      .def_property_readonly("shape", &Node::shape)
      .def_property_readonly("name", &Node::name);
  m.def("Input", &keras::Input, py::arg("shape"), py::arg("name") = "");

  py::class_<Layer>(m, "Layer")
      .def("__call__", py::overload_cast<const Node&>(&Layer::operator(), py::const_))
      .def("__call__", py::overload_cast<const std::vector<Node>&>(&Layer::operator(), py::const_))
      .def_property_readonly("name", [](const Layer& l) { return l->name(); })
      .def_property_readonly("type", [](const Layer& l) { return l->type(); })
      .def_property_readonly("output_shape", [](const Layer& l) { return l->output_shape(); })
      .def("count_params", [](const Layer& l) { return l->count_params(); });

  const auto opt_shape = py::arg("input_shape") = std::optional<Shape>();
  m.def("Dense",
        [](int64_t units, const std::string& act, std::optional<Shape> in, const std::string& name, bool bias) {
          return keras::Dense(units, act, layer_args(in, name, bias));
        },
        py::arg("units"), py::arg("activation"), opt_shape, py::arg("name"), py::arg("use_bias"));
  m.def("Conv2D",
        [](int64_t filters, std::vector<int64_t> k, std::vector<int64_t> s, const std::string& pad, const std::string& act,
           std::optional<Shape> in, const std::string& name, bool bias) {
          return keras::Conv2D(filters, size2(k, "kernel_size"), size2(s, "strides"), pad, act, layer_args(in, name, bias));
        },
        py::arg("filters"), py::arg("kernel_size"), py::arg("strides"), py::arg("padding"), py::arg("activation"),
        opt_shape, py::arg("name"), py::arg("use_bias"));
  const auto pool = [](auto make) {
    return [make](std::vector<int64_t> p, std::optional<std::vector<int64_t>> s, const std::string& pad,
                  std::optional<Shape> in, const std::string& name) {
      std::optional<keras::Size2> st;
      if (s) st = size2(*s, "strides");
      return make(size2(p, "pool_size"), st, pad, layer_args(in, name, true));
    };
  };
  m.def("MaxPooling2D", pool([](keras::Size2 p, std::optional<keras::Size2> s, const std::string& pad, keras::LayerArgs a) {
          return keras::MaxPooling2D(p, s, pad, std::move(a));
        }),
        py::arg("pool_size"), py::arg("strides"), py::arg("padding"), opt_shape, py::arg("name"));
  m.def("AveragePooling2D",
        pool([](keras::Size2 p, std::optional<keras::Size2> s, const std::string& pad, keras::LayerArgs a) {
          return keras::AveragePooling2D(p, s, pad, std::move(a));
        }),
        py::arg("pool_size"), py::arg("strides"), py::arg("padding"), opt_shape, py::arg("name"));
  // Layers whose only arguments are the common ones, or one more.
  m.def("GlobalAveragePooling2D", [](std::optional<Shape> in, const std::string& name) {
    return keras::GlobalAveragePooling2D(layer_args(in, name, true));
  }, opt_shape, py::arg("name"));
  m.def("Flatten", [](std::optional<Shape> in, const std::string& name) { return keras::Flatten(layer_args(in, name, true)); },
        opt_shape, py::arg("name"));
  m.def("Dropout", [](double p, std::optional<Shape> in, const std::string& name) {
    return keras::Dropout(p, layer_args(in, name, true));
  }, py::arg("p"), opt_shape, py::arg("name"));
  m.def("BatchNormalization", [](double eps, double mom, std::optional<Shape> in, const std::string& name) {
    return keras::BatchNormalization(eps, mom, layer_args(in, name, true));
  }, py::arg("epsilon"), py::arg("momentum"), opt_shape, py::arg("name"));
  m.def("Activation", [](const std::string& act, std::optional<Shape> in, const std::string& name) {
    return keras::Activation(act, layer_args(in, name, true));
  }, py::arg("activation"), opt_shape, py::arg("name"));
  m.def("Embedding", [](int64_t n, int64_t d, std::optional<Shape> in, const std::string& name) {
    return keras::Embedding(n, d, layer_args(in, name, true));
  }, py::arg("input_dim"), py::arg("output_dim"), opt_shape, py::arg("name"));
  m.def("LSTM", [](int64_t units, bool seq, std::optional<Shape> in, const std::string& name, bool bias) {
    return keras::LSTM(units, seq, layer_args(in, name, bias));
  }, py::arg("units"), py::arg("return_sequences"), opt_shape, py::arg("name"), py::arg("use_bias"));
  m.def("GRU", [](int64_t units, bool seq, std::optional<Shape> in, const std::string& name, bool bias) {
    return keras::GRU(units, seq, layer_args(in, name, bias));
  }, py::arg("units"), py::arg("return_sequences"), opt_shape, py::arg("name"), py::arg("use_bias"));
  m.def("Reshape", [](Shape target, std::optional<Shape> in, const std::string& name) {
    return keras::Reshape(std::move(target), layer_args(in, name, true));
  }, py::arg("target_shape"), opt_shape, py::arg("name"));
  m.def("Add", [](const std::string& name) { return keras::Add(layer_args(std::nullopt, name, true)); }, py::arg("name"));
  m.def("Concatenate", [](int64_t axis, const std::string& name) {
    return keras::Concatenate(axis, layer_args(std::nullopt, name, true));
  }, py::arg("axis"), py::arg("name"));

  // The networks are nn::Modules (bound in core.cpp: parameters, state_dict, forward).
  py::class_<keras::Sequential, nn::Module, std::shared_ptr<keras::Sequential>>(m, "Sequential")
      .def(py::init<>())
      .def("add", [](keras::Sequential& s, const Layer& l) { s.add(l); }, py::arg("layer"))
      .def("summary", &keras::Sequential::summary)
      .def_property_readonly("layers", &keras::Sequential::layers)
      .def("get_layer", &keras::Sequential::get_layer, py::arg("name"))
      .def_property_readonly("output_shape", &keras::Sequential::output_shape);
  py::class_<keras::Model, nn::Module, std::shared_ptr<keras::Model>>(m, "Model")
      .def(py::init<const std::vector<Node>&, const std::vector<Node>&>(), py::arg("inputs"), py::arg("outputs"))
      .def("summary", &keras::Model::summary)
      .def_property_readonly("layers", &keras::Model::layers)
      .def("get_layer", &keras::Model::get_layer, py::arg("name"));

  // train::Callback and the C++ callbacks; PyCallback wraps a Python object.
  py::class_<train::Callback, std::shared_ptr<train::Callback>>(m, "Callback");
  m.def("python_callback", [](py::object obj, const std::vector<std::string>& hooks) -> train::CallbackPtr {
    return std::make_shared<PyCallback>(std::move(obj), hooks);
  }, py::arg("callback"), py::arg("hooks"));
  m.def("EarlyStopping", [](std::string monitor, int64_t patience, double min_delta, const std::string& mode, bool restore) {
    return train::CallbackPtr(std::make_shared<train::EarlyStopping>(std::move(monitor), patience, min_delta,
                                                                     monitor_mode(mode), restore));
  }, py::arg("monitor"), py::arg("patience"), py::arg("min_delta"), py::arg("mode"), py::arg("restore_best_weights"));
  // Keras' LearningRateScheduler(schedule): lr = schedule(epoch, lr) at each epoch's start.
  // The Python function is held with a deleter that takes the GIL (the callback may be
  // destroyed without it), and called with the GIL taken.
  m.def("LearningRateScheduler", [](py::function schedule) {
    auto fn = std::shared_ptr<py::function>(new py::function(std::move(schedule)), [](py::function* p) {
      py::gil_scoped_acquire gil;
      delete p;
    });
    return train::CallbackPtr(std::make_shared<train::LearningRateScheduler>([fn](int64_t epoch, double lr) {
      py::gil_scoped_acquire gil;
      py::object v = (*fn)(epoch, lr);
      if (!py::isinstance<py::float_>(v) && !py::isinstance<py::int_>(v))
        throw DTypeError("LearningRateScheduler: the schedule must return a number, got " +
                        std::string(py::str(py::type::of(v).attr("__name__"))));
      const double out = v.cast<double>();
      if (!(out > 0)) throw ValueError("LearningRateScheduler: the schedule returned lr " + std::to_string(out) + "; it must be > 0");
      return out;
    }));
  }, py::arg("schedule"));
  m.def("ReduceLROnPlateau", [](std::string monitor, double factor, int64_t patience, const std::string& mode,
                                double min_delta, int64_t cooldown, double min_lr) {
    return train::CallbackPtr(std::make_shared<train::ReduceLROnPlateau>(std::move(monitor), factor, patience,
                                                                         monitor_mode(mode), min_delta, cooldown, min_lr));
  }, py::arg("monitor"), py::arg("factor"), py::arg("patience"), py::arg("mode"), py::arg("min_delta"),
     py::arg("cooldown"), py::arg("min_lr"));
  m.def("ModelCheckpoint", [](std::string path, std::string monitor, bool best_only, const std::string& mode) {
    return train::CallbackPtr(std::make_shared<train::ModelCheckpoint>(std::move(path), std::move(monitor), best_only,
                                                                       monitor_mode(mode)));
  }, py::arg("filepath"), py::arg("monitor"), py::arg("save_best_only"), py::arg("mode"));

  // Real data sets (include/bigdl/train/data.h), as NumPy arrays.
  m.def("load_idx_dataset", [](const std::string& images, const std::string& labels) {
    std::pair<Tensor, Tensor> xy;
    {
      py::gil_scoped_release release;
      xy = train::load_idx_dataset(images, labels);
    }
    return py::make_tuple(to_numpy(xy.first), to_numpy(xy.second));
  }, py::arg("images"), py::arg("labels"), "IDX image + label files (.gz too): x f32 [N, 1, H, W] / 255, y i64 [N].");

  // A compiled network: train::Model.
  py::class_<train::Model>(m, "Trainer")
      .def(py::init([](std::shared_ptr<nn::Module> net, const std::string& optimizer,
                       const std::map<std::string, double>& hp, const std::string& loss,
                       const std::vector<std::string>& metrics) {
             auto opt = make_optimizer(optimizer, hp, net->parameters());
             auto t = std::make_unique<train::Model>(net);
             t->compile(opt, keras::make_loss(loss, keras::output_activation(*net)), metrics);
             return t;
           }),
           py::arg("net"), py::arg("optimizer"), py::arg("hyper_parameters"), py::arg("loss"), py::arg("metrics"))
      .def(py::init([](std::shared_ptr<nn::Module> net, const std::string& optimizer,
                       const std::map<std::string, double>& hp, nn::LossPtr loss, const std::vector<std::string>& metrics) {
             auto t = std::make_unique<train::Model>(net);
             t->compile(make_optimizer(optimizer, hp, net->parameters()), std::move(loss), metrics);
             return t;
           }),
           py::arg("net"), py::arg("optimizer"), py::arg("hyper_parameters"), py::arg("loss"), py::arg("metrics"),
           "With a criterion object (nn.QuantileLoss, ...) instead of a Keras loss name.")
      .def("fit",
           [](train::Model& t, const py::handle& x, const py::handle& y, int64_t batch_size, int64_t epochs,
              const py::object& val_x, const py::object& val_y, bool shuffle, uint64_t seed,
              std::vector<train::CallbackPtr> callbacks, int verbose, std::string log_dir, int64_t initial_epoch,
              std::string checkpoint_dir, int64_t checkpoint_every, std::string resume, dist::GroupPtr group) {
             train::FitOptions o;
             o.batch_size = batch_size;
             o.epochs = epochs;
             o.shuffle = shuffle;
             o.seed = seed;
             o.callbacks = std::move(callbacks);
             o.verbose = verbose;
             o.log_dir = std::move(log_dir);
             o.initial_epoch = initial_epoch;
             o.checkpoint_dir = std::move(checkpoint_dir);
             o.checkpoint_every = checkpoint_every;
             o.resume = std::move(resume);
             o.distributed = group ? train::FitOptions::Distributed::on : train::FitOptions::Distributed::off;
             o.group = group;
             const Tensor tx = to_tensor(x, "x"), ty = to_tensor(y, "y");
             Tensor vx, vy;
             if (!val_x.is_none()) {
               vx = to_tensor(val_x, "validation_data x");
               vy = to_tensor(val_y, "validation_data y");
             }
             train::History h;
             {
               py::gil_scoped_release release;
               if (group) {
                 // x, y (and the validation data) are this rank's part of data spread over the group.
                 auto train_set = std::make_shared<train::PartitionedDataset>(tx, ty, group);
                 std::shared_ptr<train::Dataset> val_set;
                 if (vx.defined()) val_set = std::make_shared<train::PartitionedDataset>(vx, vy, group);
                 h = t.fit(train_set, val_set, o);
               } else {
                 o.val_x = vx;
                 o.val_y = vy;
                 h = t.fit(tx, ty, o);
               }
             }
             return history_of(h);
           },
           py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("epochs"), py::arg("val_x"), py::arg("val_y"),
           py::arg("shuffle"), py::arg("seed"), py::arg("callbacks"), py::arg("verbose"), py::arg("log_dir"),
           py::arg("initial_epoch"), py::arg("checkpoint_dir"), py::arg("checkpoint_every"), py::arg("resume"),
           py::arg("group") = dist::GroupPtr(),
           "With a group, x and y are this rank's part of data spread over the group (PartitionedDataset): "
           "training equals one process on all parts in rank order.")
      .def("evaluate", [](train::Model& t, const py::handle& x, const py::handle& y, int64_t batch_size,
                          dist::GroupPtr group) {
        const Tensor tx = to_tensor(x, "x"), ty = to_tensor(y, "y");
        py::gil_scoped_release release;
        if (group) return t.evaluate(std::make_shared<train::PartitionedDataset>(tx, ty, group), batch_size, *group);
        return t.evaluate(tx, ty, batch_size);
      }, py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("group") = dist::GroupPtr())
      .def("predict", [](train::Model& t, const py::handle& x, int64_t batch_size) {
        const Tensor tx = to_tensor(x, "x");
        Tensor out;
        {
          py::gil_scoped_release release;
          out = t.predict(tx, batch_size);
        }
        return to_numpy(out);
      }, py::arg("x"), py::arg("batch_size"))
      .def("save_checkpoint", [](const train::Model& t, const std::string& path, int64_t epoch) {
        py::gil_scoped_release release;
        t.save_checkpoint(path, epoch);
      }, py::arg("path"), py::arg("epoch"))
      .def("load_checkpoint", [](train::Model& t, const std::string& path) {
        py::gil_scoped_release release;
        return t.load_checkpoint(path);
      }, py::arg("path"));
}

}  // namespace bigdl_py
