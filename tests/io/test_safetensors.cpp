#include "bigdl/io/safetensors.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "bigdl/error.h"
#include "io_test_util.h"

namespace {

using bigdl::io::RawTensor;
using bigdl::io::load_safetensors;
using bigdl::io::parse_safetensors;
using bigdl::io::save_safetensors;
using bigdl::io::serialize_safetensors;
using Tensors = std::vector<std::pair<std::string, RawTensor>>;

RawTensor make(const std::string& dtype, std::vector<int64_t> shape, uint8_t seed = 1) {
  RawTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data.resize(size_t(t.numel() * bigdl::io::raw_element_size(dtype)));
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = uint8_t(seed + 37 * i);
  if (dtype == "BOOL")
    for (auto& b : t.data) b &= 1;
  return t;
}

// A file image from a header string (padded as the spec asks) and a data area.
std::vector<uint8_t> image(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> out;
  io_test::put64(out, header.size());
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_bytes, 0xAB);
  return out;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    parse_safetensors(bytes.data(), bytes.size(), "m.safetensors");
  } catch (const bigdl::Error& e) {
    return e.what();
  }
  return "<no error>";
}

TEST(RawElementSize, Table) {
  EXPECT_EQ(bigdl::io::raw_element_size("F64"), 8);
  EXPECT_EQ(bigdl::io::raw_element_size("F32"), 4);
  EXPECT_EQ(bigdl::io::raw_element_size("F16"), 2);
  EXPECT_EQ(bigdl::io::raw_element_size("BF16"), 2);
  EXPECT_EQ(bigdl::io::raw_element_size("I64"), 8);
  EXPECT_EQ(bigdl::io::raw_element_size("I32"), 4);
  EXPECT_EQ(bigdl::io::raw_element_size("I16"), 2);
  EXPECT_EQ(bigdl::io::raw_element_size("I8"), 1);
  EXPECT_EQ(bigdl::io::raw_element_size("U8"), 1);
  EXPECT_EQ(bigdl::io::raw_element_size("BOOL"), 1);
  EXPECT_EQ(bigdl::io::raw_element_size("U64"), 8);
  EXPECT_THROW(bigdl::io::raw_element_size("F7"), bigdl::DTypeError);
  EXPECT_THROW(bigdl::io::raw_element_size("f32"), bigdl::DTypeError);
}

// The official library's file, every dtype, against the values it was written from.
TEST(Safetensors, LoadsOfficialFileWithEveryDtype) {
  const nlohmann::json expected = io_test::load_json(io_test::fixture("st_expected.json"));
  std::map<std::string, std::string> meta;
  Tensors ts = load_safetensors(io_test::fixture("st_all_dtypes.safetensors"), &meta);
  const auto& rows = expected["st_all_dtypes.safetensors"];
  ASSERT_EQ(ts.size(), rows.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    SCOPED_TRACE(ts[i].first);
    EXPECT_EQ(ts[i].first, rows[i][0].get<std::string>());  // offset order
    EXPECT_EQ(ts[i].second.dtype, rows[i][1].get<std::string>());
    EXPECT_EQ(ts[i].second.shape, rows[i][2].get<std::vector<int64_t>>());
    EXPECT_EQ(io_test::to_hex(ts[i].second.data), rows[i][3].get<std::string>());
  }
  EXPECT_EQ(meta, (expected["st_all_dtypes.safetensors metadata"]
                       .get<std::map<std::string, std::string>>()));
}

// Our writer reproduces the official bytes exactly, so the official library reads it.
TEST(Safetensors, WriterMatchesOfficialBytes) {
  for (const char* name : {"st_all_dtypes.safetensors", "st_small.safetensors"}) {
    SCOPED_TRACE(name);
    const std::string path = io_test::fixture(name);
    std::map<std::string, std::string> meta;
    Tensors ts = load_safetensors(path, &meta);
    EXPECT_EQ(serialize_safetensors(ts, meta), io_test::read_bytes(path));
    io_test::TempDir dir;
    save_safetensors(dir.file("out.safetensors"), ts, meta);
    EXPECT_EQ(io_test::read_bytes(dir.file("out.safetensors")), io_test::read_bytes(path));
  }
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  Tensors ts;
  uint8_t seed = 3;
  for (const char* dt : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
                         "U16", "U32", "U64", "F8_E4M3", "F8_E5M2"})
    ts.emplace_back(std::string("t_") + dt, make(dt, {2, 3}, seed++));
  ts.emplace_back("scalar", make("F32", {}));
  ts.emplace_back("empty", make("F32", {0, 5}));
  ts.emplace_back("weird name \"quoted\" \\ \xc3\xa9 \t", make("I8", {4}));
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "caf\xc3\xa9 \"q\"\n"}};
  io_test::TempDir dir;
  const std::string path = dir.file("rt.safetensors");
  save_safetensors(path, ts, meta);
  EXPECT_EQ(dir.list(), std::vector<std::string>{"rt.safetensors"});  // no temp left

  const std::vector<uint8_t> bytes = io_test::read_bytes(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[size_t(i)];
  EXPECT_EQ(n % 8, 0u) << "data area must start 8-byte aligned";
  EXPECT_EQ(bytes[8], '{');

  std::map<std::string, std::string> meta2;
  Tensors back = load_safetensors(path, &meta2);
  EXPECT_EQ(meta2, meta);
  ASSERT_EQ(back.size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(back[i].first, ts[i].first);
    EXPECT_EQ(back[i].second.dtype, ts[i].second.dtype);
    EXPECT_EQ(back[i].second.shape, ts[i].second.shape);
    EXPECT_EQ(back[i].second.data, ts[i].second.data);
  }
  EXPECT_EQ(bigdl::io::read_safetensors_header(path).size(), ts.size());
}

TEST(Safetensors, EmptyFileHasNoTensors) {
  const std::vector<uint8_t> bytes = serialize_safetensors({});
  EXPECT_EQ(bytes.size(), 16u);  // "{}" padded to 8
  EXPECT_TRUE(parse_safetensors(bytes.data(), bytes.size(), "e").empty());
}

TEST(Safetensors, WriterRefusesBadInput) {
  io_test::TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  RawTensor short_data = make("F32", {2, 3});
  short_data.data.pop_back();
  EXPECT_THROW(save_safetensors(path, {{"a", short_data}}), bigdl::ValueError);
  EXPECT_THROW(save_safetensors(path, {{"a", make("F32", {1})}, {"a", make("F32", {1})}}),
               bigdl::ValueError);
  EXPECT_THROW(save_safetensors(path, {{"__metadata__", make("F32", {1})}}), bigdl::ValueError);
  RawTensor unknown = make("F32", {1});
  unknown.dtype = "Q4_0";
  EXPECT_THROW(save_safetensors(path, {{"a", unknown}}), bigdl::DTypeError);
  RawTensor negative;
  negative.dtype = "F32";
  negative.shape = {-1};
  EXPECT_THROW(save_safetensors(path, {{"a", negative}}), bigdl::ValueError);
  EXPECT_THROW(save_safetensors(path, {{"bad utf8 \xff", make("F32", {1})}}), bigdl::ValueError);
  EXPECT_FALSE(io_test::file_exists(path));
  EXPECT_TRUE(dir.list().empty());
  EXPECT_THROW(save_safetensors("/nonexistent_dir_bigdl/x.safetensors", {}), bigdl::IOError);
}

TEST(Safetensors, ErrorMessagesNameFileAndTensor) {
  const std::string header =
      R"({"fc1.weight":{"dtype":"F32","shape":[4,6],"data_offsets":[0,100]}})";
  EXPECT_EQ(parse_error(image(header, 100)),
            "[parse_safetensors] m.safetensors: tensor 'fc1.weight' data_offsets [0, 100] hold "
            "100 bytes, expected 96 (F32 [4, 6])");
  io_test::TempDir dir;
  const std::string path = dir.file("m.safetensors");
  io_test::write_bytes(path, image(header, 100));
  try {
    load_safetensors(path);
    FAIL() << "no error";
  } catch (const bigdl::FormatError& e) {
    EXPECT_EQ(std::string(e.what()),
              "[load_safetensors] " + path +
                  ": tensor 'fc1.weight' data_offsets [0, 100] hold 100 bytes, expected 96 (F32 "
                  "[4, 6])");
  }
  EXPECT_THROW(load_safetensors(dir.file("missing.safetensors")), bigdl::IOError);
}

struct BadHeader {
  const char* what;
  std::string header;
  size_t data_bytes;
  const char* message_part;
};

TEST(Safetensors, RefusesCorruptHeaders) {
  const std::string ok_entry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::vector<BadHeader> cases = {
      {"not json", "{\"a\":", 0, "not valid JSON"},
      {"not an object", "[1,2]", 0, "does not start with '{'"},
      {"leading space", " {}", 0, "does not start with '{'"},
      {"array root", "{}[]", 0, "not valid JSON"},
      {"missing dtype", R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8, "tensor 'a' has no dtype"},
      {"missing shape", R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", 8, "tensor 'a' has no shape"},
      {"missing offsets", R"({"a":{"dtype":"F32","shape":[2]}})", 8, "has no data_offsets"},
      {"entry not object", R"({"a":[1]})", 0, "entry is not an object"},
      {"dtype not string", R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", 8, "dtype is not a string"},
      {"negative dim", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, "negative value -2"},
      {"float dim", R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8, "non-integer"},
      {"shape overflow", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8, "overflows"},
      {"one offset", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8, "two integers"},
      {"reversed", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8, "reversed"},
      {"outside", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 8, "outside the data area of 8 bytes"},
      {"size mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "hold 8 bytes, expected 12"},
      {"overlap", "{" + ok_entry + R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, "overlap tensor 'a'"},
      {"gap", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, "leave a gap"},
      {"trailing data", "{" + ok_entry + "}", 12, "trailing data"},
      {"duplicate key", "{" + ok_entry + "," + ok_entry + "}", 8, "duplicate key 'a'"},
      {"duplicate inner key", R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8, "duplicate key 'dtype'"},
      {"deep nesting", "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", 0, "nests deeper"},
      {"metadata not object", R"({"__metadata__":"x"})", 0, "__metadata__ is not an object"},
      {"metadata value", R"({"__metadata__":{"k":1}})", 0, "value for 'k' is not a string"},
      {"invalid utf8", "{\"a\xff\":{}}", 0, "not valid JSON"},
      {"nul padding", std::string("{}\0\0", 4), 0, "NUL byte at offset 10"},
      {"nul then junk", std::string("{}\0junk", 7), 0, "NUL byte"},
  };
  for (const BadHeader& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string msg = parse_error(image(c.header, c.data_bytes));
    EXPECT_NE(msg.find("[parse_safetensors] m.safetensors: "), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.message_part), std::string::npos) << msg;
  }
  // Unknown dtype is a DTypeError, still naming the tensor.
  const auto unknown = image(R"({"w":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}})", 8);
  EXPECT_THROW(parse_safetensors(unknown.data(), unknown.size(), "m"), bigdl::DTypeError);
  EXPECT_NE(parse_error(unknown).find("tensor 'w' has unknown dtype 'F7'"), std::string::npos);
}

TEST(Safetensors, RefusesBadHeaderLength) {
  std::vector<uint8_t> bytes = image("{}      ", 0);
  EXPECT_EQ(parse_safetensors(bytes.data(), bytes.size(), "m").size(), 0u);
  bytes[0] = 200;  // longer than the file
  EXPECT_NE(parse_error(bytes).find("header length 200 exceeds file size 16"), std::string::npos);
  std::vector<uint8_t> huge;
  io_test::put64(huge, 100'000'001);
  huge.resize(64, ' ');
  EXPECT_NE(parse_error(huge).find("exceeds the limit"), std::string::npos);
  std::vector<uint8_t> max64(16, 0xFF);
  EXPECT_THROW(parse_safetensors(max64.data(), max64.size(), "m"), bigdl::FormatError);
  for (size_t n = 0; n < 8; ++n) {
    std::vector<uint8_t> tiny(n, 0);
    EXPECT_NE(parse_error(tiny).find("shorter than the 8-byte header length"), std::string::npos);
  }
}

// Every prefix of a valid file is refused cleanly, from memory and from disk.
TEST(Safetensors, TruncatedAtEveryLength) {
  for (const char* name : {"st_small.safetensors", "st_all_dtypes.safetensors"}) {
    const std::vector<uint8_t> full = io_test::read_bytes(io_test::fixture(name));
    ASSERT_FALSE(full.empty());
    for (size_t n = 0; n < full.size(); ++n) {
      std::vector<uint8_t> cut(full.begin(), full.begin() + ptrdiff_t(n));
      EXPECT_THROW(parse_safetensors(cut.data(), cut.size(), name), bigdl::FormatError)
          << name << " cut at " << n;
    }
  }
  const std::vector<uint8_t> full = io_test::read_bytes(io_test::fixture("st_small.safetensors"));
  io_test::TempDir dir;
  for (size_t n : {size_t(0), size_t(7), size_t(8), size_t(20), full.size() - 1}) {
    io_test::write_bytes(dir.file("cut.safetensors"),
                         std::vector<uint8_t>(full.begin(), full.begin() + ptrdiff_t(n)));
    EXPECT_THROW(load_safetensors(dir.file("cut.safetensors")), bigdl::FormatError) << n;
  }
}

// Every header byte changed to a few values: an error or a valid parse, never a crash.
TEST(Safetensors, CorruptedHeaderBytes) {
  const std::vector<uint8_t> full = io_test::read_bytes(io_test::fixture("st_small.safetensors"));
  size_t errors = 0, parsed = 0;
  for (size_t pos = 0; pos < full.size() && pos < 8 + size_t(full[0]); ++pos) {
    for (uint8_t v : {uint8_t(0x00), uint8_t(0x01), uint8_t('"'), uint8_t('9'), uint8_t('['),
                      uint8_t('}'), uint8_t(0x80), uint8_t(0xFF)}) {
      std::vector<uint8_t> bytes = full;
      if (bytes[pos] == v) continue;
      bytes[pos] = v;
      try {
        parse_safetensors(bytes.data(), bytes.size(), "c");
        ++parsed;
      } catch (const bigdl::Error&) {
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, 100u);
  (void)parsed;  // e.g. a changed padding byte or name letter still parses
}

}  // namespace
