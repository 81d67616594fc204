// ONNX import (bigdl/nano/onnx.h) against ONNX Runtime: the models and outputs of
// tests/nano/fixtures/onnx (made by tests/nano/gen_onnx_fixtures.py from PyTorch 1.13
// exports) at every precision, the "original" (no rewrite) form, save / load, and the
// errors: an unsupported operator, a truncated file, a dangling input.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>
#include <onnx/onnx_pb.h>

#include "bigdl/error.h"
#include "bigdl/io/gzip.h"
#include "bigdl/io/onnx.h"
#include "bigdl/nano/onnx.h"
#include "bigdl/ops.h"
#include "bigdl/random.h"
#include "test_util.h"

namespace {

using namespace bigdl;
using test_util::rel_diff;

const std::string kDir = std::string(BIGDL_TEST_DIR) + "/nano/fixtures/onnx/";

Tensor tensor_of(const nlohmann::json& j) {
  const Shape shape = j.at("shape").get<Shape>();
  const std::string dt = j.at("dtype").get<std::string>();
  const std::vector<double> v = j.at("data").get<std::vector<double>>();
  Tensor t = empty(shape, DType::f64);
  std::copy(v.begin(), v.end(), t.data<double>());
  return t.to(dt == "int64" ? DType::i64 : dt == "bool" ? DType::boolean : DType::f32);
}

struct Case {
  std::vector<std::string> input_names, output_names;
  std::vector<Tensor> inputs, outputs;
};

Case load_case(const std::string& name) {
  std::ifstream f(kDir + name + ".json");
  const nlohmann::json j = nlohmann::json::parse(f);
  Case c;
  // The graph's input order is the file's; ONNX Runtime wrote them in that order too.
  for (const auto& [k, v] : j.at("inputs").items()) c.input_names.push_back(k), c.inputs.push_back(tensor_of(v));
  for (const auto& [k, v] : j.at("outputs").items()) c.output_names.push_back(k), c.outputs.push_back(tensor_of(v));
  return c;
}

// The inputs in the model's order (json objects sort their keys).
std::vector<Tensor> inputs_for(const nano::InferenceModel& m, const Case& c) {
  std::vector<Tensor> xs;
  for (const std::string& n : m.input_names()) {
    auto it = std::find(c.input_names.begin(), c.input_names.end(), n);
    EXPECT_NE(it, c.input_names.end()) << n;
    xs.push_back(c.inputs[size_t(it - c.input_names.begin())]);
  }
  return xs;
}

// Max relative difference of every output against ONNX Runtime's.
double worst(nano::InferenceModel& m, const Case& c) {
  const std::vector<Tensor> ys = m.forward_inputs(inputs_for(m, c));
  EXPECT_EQ(ys.size(), m.output_names().size());
  double w = 0;
  for (size_t k = 0; k < ys.size(); ++k) {
    auto it = std::find(c.output_names.begin(), c.output_names.end(), m.output_names()[k]);
    EXPECT_NE(it, c.output_names.end());
    w = std::max(w, rel_diff(ys[k], c.outputs[size_t(it - c.output_names.begin())]));
  }
  return w;
}

nano::OptimizeOptions with(nano::Precision p) {
  nano::OptimizeOptions o;
  o.precision = p;
  return o;
}

class OnnxModels : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxModels, MatchOnnxRuntime) {
  const Case c = load_case(GetParam());
  const std::string path = kDir + GetParam() + ".onnx";
  nano::OptimizeOptions literal;
  literal.rewrite = false;
  // fp32 (rewritten and as the file says) agrees with ONNX Runtime to float rounding
  // (fixtures hold 7 significant digits).
  EXPECT_LT(worst(*nano::import_onnx(path, literal), c), 2e-5) << "original";
  auto fp32 = nano::import_onnx(path);
  EXPECT_LT(worst(*fp32, c), 2e-5) << fp32->repr();
  // int8 dynamic: int8 weights in blocks of 32 and int8 activations per block; measured
  // 0.4-1.1 % on these random-weight models.
  auto q8 = nano::import_onnx(path, with(nano::Precision::int8_dynamic));
  EXPECT_LT(worst(*q8, c), 0.04) << q8->repr();
  if (nano::native_bf16()) EXPECT_LT(worst(*nano::import_onnx(path, with(nano::Precision::bf16)), c), 0.05);
  // One file: the same outputs after load.
  test_util::TempDir dir("onnx_" + GetParam());
  const std::string file = dir.file("model.nano");
  nano::save(*q8, file);
  auto back = nano::load(file);
  EXPECT_EQ(back->input_names(), q8->input_names());
  const std::vector<Tensor> a = q8->forward_inputs(inputs_for(*q8, c)), b = back->forward_inputs(inputs_for(*q8, c));
  for (size_t k = 0; k < a.size(); ++k) EXPECT_EQ(rel_diff(a[k], b[k]), 0.0);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, OnnxModels, ::testing::Values("mlp", "cnn", "bert13", "bert17"));

TEST(OnnxImport, LayersAreRewritten) {
  // The MLP's Gemm + BatchNormalization + Relu is one layer, its erf-GELU fuses into the
  // next; the CNN's Conv + Relu is one oneDNN layer.
  const std::string mlp = nano::import_onnx(kDir + "mlp.onnx")->repr();
  EXPECT_NE(mlp.find("Linear(20 -> 32) + relu"), std::string::npos) << mlp;
  EXPECT_NE(mlp.find("Linear(32 -> 24) + gelu"), std::string::npos) << mlp;
  EXPECT_EQ(mlp.find("Erf"), std::string::npos) << mlp;
  const std::string cnn = nano::import_onnx(kDir + "cnn.onnx")->repr();
  EXPECT_NE(cnn.find("Conv2d(1 -> 8, 3x3) + relu"), std::string::npos) << cnn;
  EXPECT_NE(cnn.find("MaxPool2d(2x2"), std::string::npos) << cnn;
  const std::string bert = nano::import_onnx(kDir + "bert17.onnx", with(nano::Precision::int8_dynamic))->repr();
  EXPECT_NE(bert.find("Linear(32 -> 64) + gelu [int8"), std::string::npos) << bert;
  // Attention's Div, mask Add and Softmax: one step; not when nothing is to be rewritten.
  EXPECT_NE(bert.find("bigdl.ScaledMaskedSoftmax"), std::string::npos) << bert;
  EXPECT_EQ(bert.find(") Softmax"), std::string::npos) << bert;
  nano::OptimizeOptions literal;
  literal.rewrite = false;
  const std::string plain = nano::import_onnx(kDir + "bert17.onnx", literal)->repr();
  EXPECT_EQ(plain.find("bigdl.ScaledMaskedSoftmax"), std::string::npos) << plain;
  EXPECT_NE(plain.find("Erf"), std::string::npos) << plain;
}

TEST(OnnxImport, Int8StaticCalibratesTheCnn) {
  const Case c = load_case("cnn");
  nano::OptimizeOptions o = with(nano::Precision::int8_static);
  o.calibration_data = c.inputs[0];
  auto q = nano::import_onnx(kDir + "cnn.onnx", o);
  EXPECT_LT(worst(*q, c), 0.05) << q->repr();
  // Several inputs: no single calibration batch.
  o.calibration_data = zeros({2, 9});
  const std::string e = test_util::error_of<ValueError>([&] { nano::import_onnx(kDir + "bert17.onnx", o); });
  EXPECT_NE(e.find("int8_static calibrates models with one input"), std::string::npos) << e;
}

TEST(OnnxImport, DynamicShapes) {
  // The BERT graph computes its shapes from its inputs: other batch sizes and lengths run,
  // and a row's output does not depend on the rows beside it (ONNX Runtime agrees at
  // another length in tests/python/test_nano_onnx.py).
  auto m = nano::import_onnx(kDir + "bert17.onnx");
  const Case c = load_case("bert17");
  const std::vector<Tensor> xs = inputs_for(*m, c);
  const auto rows = [&](int64_t r0, int64_t n, int64_t len) {
    std::vector<Tensor> part;
    for (const Tensor& x : xs) part.push_back(x.narrow(0, r0, n).narrow(1, 0, len).contiguous());
    return m->forward_inputs(part)[0];
  };
  const Tensor full = m->forward_inputs(xs)[0];
  const Tensor alone = rows(0, 1, 9);
  EXPECT_EQ(alone.shape(), (Shape{1, 9, 32}));
  EXPECT_LT(rel_diff(alone, full.narrow(0, 0, 1)), 1e-5);
  const Tensor short_pair = rows(0, 2, 5), short_alone = rows(0, 1, 5);
  EXPECT_EQ(short_pair.shape(), (Shape{2, 5, 32}));
  EXPECT_LT(rel_diff(short_alone, short_pair.narrow(0, 0, 1)), 1e-5);
}

TEST(OnnxImport, LeavesTheGlobalRandomStreamAlone) {
  manual_seed(7);
  const Tensor want = randn({16});
  manual_seed(7);
  nano::import_onnx(kDir + "bert17.onnx");  // makes Linear modules, which initialise weights
  EXPECT_EQ(rel_diff(randn({16}), want), 0.0);
}

TEST(OnnxImport, UnsupportedOperatorIsNamed) {
  const std::string e = test_util::error_of<ValueError>([&] { nano::import_onnx(kDir + "unsupported.onnx"); });
  EXPECT_NE(e.find("[nano.import_onnx]"), std::string::npos) << e;
  EXPECT_NE(e.find("Det 'det_0'"), std::string::npos) << e;
  EXPECT_NE(e.find("operator 'Det' is not supported"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(OnnxImport, TruncatedAndForeignFiles) {
  const std::vector<uint8_t> bytes = io::read_file_bytes(kDir + "cnn.onnx");
  for (size_t cut : {size_t(0), size_t(10), bytes.size() / 2, bytes.size() - 3}) {
    const std::string e = test_util::error_of<FormatError>([&] { io::parse_onnx(bytes.data(), cut, "cnn.onnx"); });
    EXPECT_NE(e.find("[read_onnx] cnn.onnx"), std::string::npos) << cut << ": " << e;
  }
  const std::string json = R"({"not": "onnx"})";
  EXPECT_NE(test_util::error_of<FormatError>([&] {
              io::parse_onnx(reinterpret_cast<const uint8_t*>(json.data()), json.size(), "x.json");
            }).find("x.json"),
            std::string::npos);
  EXPECT_NE(test_util::error_of<IOError>([&] { nano::import_onnx(kDir + "missing.onnx"); }).find("missing.onnx"), std::string::npos);
}

TEST(OnnxImport, DanglingInputAndBadInitializer) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  auto* in = g->add_input();
  in->set_name("x");
  auto* n = g->add_node();
  n->set_op_type("Add");
  n->add_input("x");
  n->add_input("nowhere");
  n->add_output("y");
  g->add_output()->set_name("y");
  std::string bytes = m.SerializeAsString();
  std::string e = test_util::error_of<FormatError>([&] {
    io::parse_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.onnx");
  });
  EXPECT_NE(e.find("reads 'nowhere'"), std::string::npos) << e;
  n->set_input(1, "w");
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->add_float_data(1.f);  // 1 value for 4
  bytes = m.SerializeAsString();
  e = test_util::error_of<FormatError>([&] { io::parse_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.onnx"); });
  EXPECT_NE(e.find("tensor 'w' holds 1 values, its shape needs 4"), std::string::npos) << e;
  w->set_data_type(onnx::TensorProto::STRING);
  bytes = m.SerializeAsString();
  e = test_util::error_of<DTypeError>([&] { io::parse_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.onnx"); });
  EXPECT_NE(e.find("tensor 'w' has ONNX data type 8"), std::string::npos) << e;
}

TEST(OnnxImport, WrongInputsAtRunTime) {
  auto m = nano::import_onnx(kDir + "bert17.onnx");
  EXPECT_EQ(m->num_inputs(), 3u);
  EXPECT_NE(test_util::error_of<ValueError>([&] { m->forward(zeros({1, 4}, DType::i64)); }).find("takes 3 inputs"), std::string::npos);
  EXPECT_NE(test_util::error_of<ValueError>([&] { m->forward_inputs({zeros({1, 4}, DType::i64)}); }).find("got 1"), std::string::npos);
  // A token id past the vocabulary: the Gather names it.
  const std::string e = test_util::error_of<IndexError>([&] {
    m->forward_inputs({full({1, 4}, 500, DType::i64), ones({1, 4}, DType::i64), zeros({1, 4}, DType::i64)});
  });
  EXPECT_NE(e.find("nano.onnx.Gather"), std::string::npos) << e;
}

}  // namespace

namespace {

// A one-node-at-a-time ONNX graph built here (no exporter makes these forms).
struct GraphBuilder {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  GraphBuilder() : g(m.mutable_graph()) {
    m.set_ir_version(8);
    m.add_opset_import()->set_version(13);
  }
  void input(const std::string& name) { g->add_input()->set_name(name); }
  void output(const std::string& name) { g->add_output()->set_name(name); }
  void init(const std::string& name, const Tensor& t) {
    auto* p = g->add_initializer();
    p->set_name(name);
    p->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : t.shape()) p->add_dims(d);
    const Tensor c = t.contiguous();
    for (int64_t i = 0; i < c.numel(); ++i) p->add_float_data(c.data<float>()[i]);
  }
  onnx::NodeProto* node(const std::string& op, std::vector<std::string> in, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  }
  std::shared_ptr<nano::InferenceModel> import() const {
    const std::string bytes = m.SerializeAsString();
    return nano::import_onnx(io::parse_onnx(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "built.onnx"), "built.onnx");
  }
};

}  // namespace

TEST(OnnxImport, BatchNormNotAfterALayerAndGemmWithMatrixC) {
  // BatchNormalization on a graph input of rank 3 runs as the operator (over dim 1).
  GraphBuilder b;
  b.input("x");
  const Tensor scale = tensor_of(nlohmann::json{{"shape", {3}}, {"dtype", "float32"}, {"data", {1.5, 0.5, 2.0}}});
  const Tensor bias = tensor_of(nlohmann::json{{"shape", {3}}, {"dtype", "float32"}, {"data", {0.1, -0.2, 0.3}}});
  const Tensor mean = tensor_of(nlohmann::json{{"shape", {3}}, {"dtype", "float32"}, {"data", {0.5, 1.0, -1.0}}});
  const Tensor var = tensor_of(nlohmann::json{{"shape", {3}}, {"dtype", "float32"}, {"data", {4.0, 1.0, 0.25}}});
  for (auto [n, t] : {std::pair{"s", scale}, {"b", bias}, {"m", mean}, {"v", var}}) b.init(n, t);
  b.node("BatchNormalization", {"x", "s", "b", "m", "v"}, "y");
  b.output("y");
  const Tensor x = tensor_of(nlohmann::json{{"shape", {2, 3, 2}}, {"dtype", "float32"}, {"data", {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6}}});
  const Tensor y = b.import()->forward(x);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t l = 0; l < 2; ++l) {
        const float v = x.contiguous().data<float>()[(n * 3 + c) * 2 + l];
        const float want = (v - mean.data<float>()[c]) / std::sqrt(var.data<float>()[c] + 1e-5f) * scale.data<float>()[c] +
                           bias.data<float>()[c];
        EXPECT_NEAR(y.contiguous().data<float>()[(n * 3 + c) * 2 + l], want, 1e-5);
      }
  // Gemm with a C of one value per output element (not a bias): the operator, not a Linear.
  GraphBuilder g;
  g.input("a");
  g.init("w", tensor_of(nlohmann::json{{"shape", {2, 2}}, {"dtype", "float32"}, {"data", {1, 2, 3, 4}}}));
  g.init("c", tensor_of(nlohmann::json{{"shape", {2, 2}}, {"dtype", "float32"}, {"data", {10, 20, 30, 40}}}));
  g.node("Gemm", {"a", "w", "c"}, "out");
  g.output("out");
  const Tensor a = tensor_of(nlohmann::json{{"shape", {2, 2}}, {"dtype", "float32"}, {"data", {1, 0, 0, 1}}});
  const Tensor out = g.import()->forward(a).contiguous();  // a @ w + c
  const std::vector<float> want{11, 22, 33, 44};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(out.data<float>()[i], want[size_t(i)]);
}

// The importer and the operator steps on damaged files: 400 single-byte changes of each
// fixture (deterministic; in the BERT's 130 KB most land in weights, so its changes are
// drawn from the graph's first 8 KB, where the nodes are), each imported and, when that
// works, run. Every outcome is
// an output or a bigdl::Error; anything else (another exception, a crash) fails.
TEST(OnnxImport, DamagedFilesGiveTypedErrors) {
  for (const std::string name : {"mlp", "cnn", "bert13"}) {
    const std::vector<uint8_t> bytes = io::read_file_bytes(kDir + name + ".onnx");
    const size_t span = name == "bert13" ? std::min<size_t>(bytes.size(), 8192) : bytes.size();
    const Case c = load_case(name);
    uint64_t state = 88172645463325252ull;
    const auto next = [&] {  // xorshift64
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;
      return state;
    };
    int imported = 0, ran = 0;
    for (int k = 0; k < 400; ++k) {
      std::vector<uint8_t> b = bytes;
      b[next() % span] = uint8_t(next());
      try {
        auto m = nano::import_onnx(io::parse_onnx(b.data(), b.size(), "damaged.onnx"), "damaged.onnx");
        ++imported;
        m->forward_inputs(c.inputs);
        ++ran;
      } catch (const Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << name << " mutation " << k << ": untyped " << e.what();
      }
    }
    std::printf("%s: 400 damaged files, %d imported, %d ran\n", name.c_str(), imported, ran);
    EXPECT_GT(imported, 0);  // most single-byte changes hit weights: those still import
  }
}
