#include "bigdl/io/torch_pickle.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "io_test_util.h"

namespace {

using bigdl::io::load_torch_state_dict;
using bigdl::io::parse_torch_state_dict;
using bigdl::io::RawTensor;
using io_test::Pickle;
using Tensors = std::vector<std::pair<std::string, RawTensor>>;

void expect_matches_json(const Tensors& ts, const std::string& fixture_name) {
  const nlohmann::json expected = io_test::load_json(io_test::fixture("torch_expected.json"));
  const auto& rows = expected[fixture_name];
  ASSERT_EQ(ts.size(), rows.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    SCOPED_TRACE(fixture_name + " " + ts[i].first);
    EXPECT_EQ(ts[i].first, rows[i][0].get<std::string>());
    EXPECT_EQ(ts[i].second.dtype, rows[i][1].get<std::string>());
    EXPECT_EQ(ts[i].second.shape, rows[i][2].get<std::vector<int64_t>>());
    EXPECT_EQ(io_test::to_hex(ts[i].second.data), rows[i][3].get<std::string>());
    EXPECT_EQ(int64_t(ts[i].second.data.size()),
              ts[i].second.numel() * bigdl::io::raw_element_size(ts[i].second.dtype));
  }
}

std::string error_of(const std::vector<uint8_t>& file) {
  try {
    parse_torch_state_dict(file.data(), file.size(), "p.pt");
  } catch (const bigdl::SecurityError& e) {
    return std::string("SecurityError: ") + e.what();
  } catch (const bigdl::FormatError& e) {
    return std::string("FormatError: ") + e.what();
  } catch (const bigdl::Error& e) {
    return std::string("Error: ") + e.what();
  }
  return "<no error>";
}

float f32_at(const RawTensor& t, size_t i) {
  float v;
  std::memcpy(&v, t.data.data() + 4 * i, 4);
  return v;
}

// Every dtype torch has a storage for, a transposed view, views sharing one storage at
// offsets, a strided slice, a 0-d and an empty tensor.
TEST(TorchPickle, LoadsEveryDtypeAndView) {
  for (const char* name : {"torch_dtypes.pt", "torch_proto4.pt", "torch_nested.pt",
                           "torch_deflate.pt", "torch_bigendian.pt"}) {
    SCOPED_TRACE(name);
    expect_matches_json(load_torch_state_dict(io_test::fixture(name)), name);
  }
}

TEST(TorchPickle, BufferEntryPointMatchesFile) {
  const auto bytes = io_test::read_bytes(io_test::fixture("torch_dtypes.pt"));
  expect_matches_json(parse_torch_state_dict(bytes.data(), bytes.size(), "mem"), "torch_dtypes.pt");
}

// The real checkpoint; reference values from /usr/bin/python3 torch.load (see
// gen_io_fixtures.py, which prints them).
TEST(TorchPickle, LoadsMnistCheckpoint) {
  const std::string path =
      std::string(BIGDL_SHARED_DATA) + "/vision/mnist-mlp/mnist_model.state_dict";
  if (!io_test::file_exists(path)) GTEST_SKIP() << path << " not present";
  const Tensors ts = load_torch_state_dict(path);
  ASSERT_EQ(ts.size(), 4u);
  const std::vector<std::pair<std::string, std::vector<int64_t>>> want = {
      {"fc1.weight", {500, 784}}, {"fc1.bias", {500}}, {"fc2.weight", {10, 500}}, {"fc2.bias", {10}}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(ts[i].first, want[i].first);
    EXPECT_EQ(ts[i].second.dtype, "F32");
    EXPECT_EQ(ts[i].second.shape, want[i].second);
    EXPECT_EQ(int64_t(ts[i].second.data.size()), ts[i].second.numel() * 4);
  }
  const RawTensor& fc1w = ts[0].second;
  EXPECT_EQ(f32_at(fc1w, 0), 0x1.a8d626p-7f);
  EXPECT_EQ(f32_at(fc1w, 1), 0x1.c30b26p-9f);
  EXPECT_EQ(f32_at(fc1w, 2), -0x1.d65346p-6f);
  EXPECT_EQ(f32_at(fc1w, 500 * 784 - 1), 0x1.36f534p-6f);
  EXPECT_EQ(f32_at(ts[1].second, 0), 0x1.8b9c5ep-3f);
  EXPECT_EQ(f32_at(ts[2].second, 0), -0x1.43280ep-6f);
  EXPECT_EQ(f32_at(ts[3].second, 0), -0x1.9d040cp-4f);
  EXPECT_EQ(f32_at(ts[3].second, 9), 0x1.ab093cp-9f);
}

TEST(TorchPickle, RefusesMaliciousGlobals) {
  const std::string sys_path = io_test::fixture("torch_evil_system.pt");
  try {
    load_torch_state_dict(sys_path);
    FAIL() << "no error";
  } catch (const bigdl::SecurityError& e) {
    EXPECT_EQ(std::string(e.what()), "[load_torch_state_dict] " + sys_path +
                                         ": pickle asks for global 'posix.system'; only tensors "
                                         "and plain containers are allowed");
  }
  try {
    load_torch_state_dict(io_test::fixture("torch_evil_eval.pt"));  // via STACK_GLOBAL
    FAIL() << "no error";
  } catch (const bigdl::SecurityError& e) {
    EXPECT_NE(std::string(e.what()).find("global 'builtins.eval'"), std::string::npos);
  }
  for (const auto& [module, name] : std::vector<std::pair<std::string, std::string>>{
           {"os", "system"}, {"subprocess", "Popen"}, {"builtins", "exec"},
           {"torch", "load"}, {"collections", "defaultdict"}, {"torch._utils", "_rebuild_qtensor"},
           {"torch\n", "FloatStorage"}}) {
    Pickle p;
    p.proto(2).op('}').str("x").global(module, name).str("id").op(0x85).op('R').op('s').stop();
    EXPECT_EQ(error_of(io_test::make_torch_zip(p.b)).rfind("SecurityError: [parse_torch_state_dict] p.pt: pickle asks for global", 0), 0u)
        << module << "." << name << ": " << error_of(io_test::make_torch_zip(p.b));
  }
  Pickle sg;  // STACK_GLOBAL spelled by hand
  sg.proto(4).str("posix").str("system").op(0x93).stop();
  EXPECT_NE(error_of(io_test::make_torch_zip(sg.b)).find("'posix.system'"), std::string::npos);
}

TEST(TorchPickle, RefusesLegacyFormatAndNonTorchZips) {
  EXPECT_NE(error_of(io_test::read_bytes(io_test::fixture("torch_legacy.pt"))).find("legacy"),
            std::string::npos);
  EXPECT_NE(error_of(io_test::make_zip({{"x.txt", {'h', 'i'}}})).find("no '<archive>/data.pkl'"),
            std::string::npos);
  EXPECT_NE(error_of({1, 2, 3}).find("not a zip file"), std::string::npos);
  EXPECT_THROW(load_torch_state_dict("/nonexistent/model.pt"), bigdl::IOError);
}

// A storage "0" of four F32 values 0..3 used by hand-built pickles below.
std::vector<uint8_t> zip_with(const Pickle& p, size_t storage_bytes = 16) {
  std::vector<uint8_t> storage = io_test::f32_bytes({0, 1, 2, 3});
  storage.resize(storage_bytes);
  return io_test::make_torch_zip(p.b, {{"0", storage}});
}

TEST(TorchPickle, HandBuiltStateDict) {
  Pickle p;
  p.proto(2).op('}').put(0).mark();
  p.str("all").tensor("0", "FloatStorage", 4, 0, 4, 1);
  p.str("odd").tensor("0", "FloatStorage", 4, 1, 2, 2);   // elements 1, 3
  p.str("rep").tensor("0", "FloatStorage", 4, 2, 3, 0);   // stride 0: 2, 2, 2
  p.str("n").int1(5);
  p.op('u').stop();
  const auto file = zip_with(p);
  const Tensors ts = parse_torch_state_dict(file.data(), file.size(), "h");
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(ts[0].second.data, io_test::f32_bytes({0, 1, 2, 3}));
  EXPECT_EQ(ts[1].second.data, io_test::f32_bytes({1, 3}));
  EXPECT_EQ(ts[2].second.data, io_test::f32_bytes({2, 2, 2}));
}

struct BadPickle {
  const char* what;
  Pickle pickle;
  const char* part;
  size_t storage_bytes = 16;
};

TEST(TorchPickle, RefusesMalformedPickles) {
  auto with_tensor = [](uint8_t numel, uint8_t offset, uint8_t size, uint8_t stride,
                        const std::string& key = "0") {
    Pickle p;
    p.proto(2).op('}').str("w").tensor(key, "FloatStorage", numel, offset, size, stride);
    p.op('s').stop();
    return p;
  };
  std::vector<BadPickle> cases;
  cases.push_back({"unknown opcode", Pickle().proto(2).op('i'), "unsupported pickle opcode 0x69"});
  cases.push_back({"NEWOBJ refused", Pickle().proto(2).op(0x81), "unsupported pickle opcode 0x81"});
  cases.push_back({"stack underflow", Pickle().proto(2).op('s'), "stack underflow"});
  cases.push_back({"underflow below mark", Pickle().proto(2).op('}').mark().op('0'), "stack underflow"});
  cases.push_back({"no mark", Pickle().proto(2).op(']').op('e'), "needs a MARK"});
  cases.push_back({"memo miss", Pickle().proto(2).get(7), "memo has no entry 7"});
  cases.push_back({"no STOP", Pickle().proto(2).op('}'), "without STOP"});
  cases.push_back({"empty pickle", Pickle(), "without STOP"});
  cases.push_back({"STOP on empty stack", Pickle().proto(2).stop(), "empty stack"});
  cases.push_back({"bad protocol", Pickle().proto(9), "protocol 9"});
  cases.push_back({"truncated string", Pickle().proto(2).op('X').op(0xFF).op(0xFF).op(0xFF).op(0x7F), "truncated"});
  cases.push_back({"truncated frame", Pickle().proto(4).op(0x95).op(0xFF).op(0xFF).op(0xFF).op(0xFF).op(0).op(0).op(0).op(0), "FRAME"});
  cases.push_back({"unterminated GLOBAL", Pickle().proto(2).op('c').op('o').op('s'), "newline"});
  cases.push_back({"SETITEM on list", Pickle().proto(2).op(']').int1(1).int1(2).op('s'), "expected a dict"});
  cases.push_back({"APPEND on tuple", Pickle().proto(2).op(')').int1(1).op('a'), "expected a list"});
  cases.push_back({"odd SETITEMS", Pickle().proto(2).op('}').mark().int1(1).op('u'), "odd number"});
  cases.push_back({"REDUCE on a string", Pickle().proto(2).str("f").op(')').op('R'), "REDUCE calls a str"});
  cases.push_back({"REDUCE with list args", Pickle().proto(2).global("collections", "OrderedDict").op(']').op('R'), "not a tuple"});
  cases.push_back({"calling a storage type", Pickle().proto(2).global("torch", "FloatStorage").op(')').op('R'), "cannot be called"});
  cases.push_back({"LONG1 too long", Pickle().proto(2).op(0x8a).op(9), "LONG1"});
  cases.push_back({"bad persistent id", Pickle().proto(2).str("storage").op(0x85).op('Q'), "5-tuple"});
  cases.push_back({"top level int", Pickle().proto(2).int1(3).stop(), "is a int, not a dict"});
  cases.push_back({"missing storage entry", with_tensor(4, 0, 4, 1, "9"), "no entry 'archive/data/9'"});
  cases.push_back({"storage size mismatch", with_tensor(4, 0, 4, 1), "has 12 bytes, expected 4 x 4", 12});
  cases.push_back({"view past storage", with_tensor(4, 1, 4, 1), "reaches element 4"});
  cases.push_back({"strided view past storage", with_tensor(4, 0, 3, 2), "reaches element 4"});
  cases.push_back({"numel mismatch between uses",
                   [] {
                     Pickle p;
                     p.proto(2).op('}').mark();
                     p.str("a").tensor("0", "FloatStorage", 4, 0, 4, 1);
                     p.str("b").tensor("0", "FloatStorage", 3, 0, 3, 1);
                     return p.op('u').stop();
                   }(),
                   "is used as F32[4] and as F32[3]"});
  cases.push_back({"dtype mismatch between uses",
                   [] {
                     Pickle p;
                     p.proto(2).op('}').mark();
                     p.str("a").tensor("0", "FloatStorage", 4, 0, 4, 1);
                     p.str("b").tensor("0", "IntStorage", 4, 0, 4, 1);
                     return p.op('u').stop();
                   }(),
                   "and as I32[4]"});
  cases.push_back({"duplicate flattened name",
                   [] {
                     Pickle p;
                     p.proto(2).op('}').mark();
                     p.str("a.b").tensor("0", "FloatStorage", 4, 0, 4, 1);
                     p.str("a").op('}').str("b").tensor("0", "FloatStorage", 4, 0, 4, 1).op('s');
                     return p.op('u').stop();
                   }(),
                   "two tensors are named 'a.b'"});
  cases.push_back({"parameter of a non-tensor",
                   Pickle().proto(2).global("torch._utils", "_rebuild_parameter").int1(1).op(0x89).op('}').op(0x87).op('R'),
                   "wraps a int"});
  for (const BadPickle& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string msg = error_of(zip_with(c.pickle, c.storage_bytes));
    EXPECT_EQ(msg.rfind("FormatError: [parse_torch_state_dict] p.pt: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.part), std::string::npos) << msg;
  }
}

// Self-reference and exponential sharing through the memo: refused quickly, no leak.
TEST(TorchPickle, CyclicAndSharedContainers) {
  Pickle cyc;
  cyc.proto(2).op(']').put(0).get(0).op('a').stop();  // l = []; l.append(l)
  EXPECT_NE(error_of(zip_with(cyc)).find("deeper than 64"), std::string::npos);

  Pickle dag;  // d0 = {}; d_{k+1} = [d_k, d_k]: 2^60 paths through 61 objects
  dag.proto(2).op('}');
  for (int k = 0; k < 60; ++k) dag.put(0).op('0').op(']').mark().get(0).get(0).op('e');
  dag.stop();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(error_of(zip_with(dag)).find("container graph is too large"), std::string::npos);

  Pickle wide;  // {"kkk...k" (100 KB): [e, e, ..., e]} with one shared empty dict e
  wide.proto(2).op('}').str(std::string(100000, 'k')).op(']').op('}').put(0).op('a');
  for (int i = 0; i < 50000; ++i) wide.get(0).op('a');
  wide.op('s').stop();
  EXPECT_NE(error_of(zip_with(wide)).find("container graph is too large"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));

  Pickle dims;  // a 65-d size tuple
  dims.proto(2).op('}').str("w").global("torch._utils", "_rebuild_tensor_v2").mark();
  dims.mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").int1(4).op('t').op('Q');
  dims.int1(0).mark();
  for (int i = 0; i < 65; ++i) dims.int1(1);
  dims.op('t').put(1).get(1).op(0x89).op('}').op('t').op('R').op('s').stop();
  EXPECT_NE(error_of(zip_with(dims)).find("more than 64 dims"), std::string::npos);
}

TEST(TorchPickle, TruncatedAtEveryLength) {
  const auto full = io_test::read_bytes(io_test::fixture("torch_proto4.pt"));
  ASSERT_FALSE(full.empty());
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + ptrdiff_t(n));
    EXPECT_THROW(parse_torch_state_dict(cut.data(), cut.size(), "t"), bigdl::FormatError)
        << "cut at " << n;
  }
}

}  // namespace
