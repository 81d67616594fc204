// Helpers shared by the io/ tests: fixture paths, hex, temp files, a tiny zip writer
// (stored entries, optional ZIP64 records) and a pickle byte builder, so tests can craft
// hostile archives without Python.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace io_test {

inline std::string fixture(const std::string& name) {
  return std::string(BIGDL_TEST_DIR) + "/io/fixtures/" + name;
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

inline std::string to_hex(const std::vector<uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t b : bytes) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

inline nlohmann::json load_json(const std::string& path) {
  std::ifstream f(path);
  return nlohmann::json::parse(f);
}

// A fresh directory under /tmp, removed (with its files) when the object dies.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bigdl_io_test_XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "/tmp";
  }
  ~TempDir() {
    if (path_ != "/tmp") std::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Names of the entries in the directory.
  std::vector<std::string> list() const {
    std::vector<std::string> out;
    std::FILE* p = ::popen(("ls -A '" + path_ + "'").c_str(), "r");
    char line[4096];
    while (p && std::fgets(line, sizeof line, p)) {
      std::string s(line);
      if (!s.empty() && s.back() == '\n') s.pop_back();
      out.push_back(s);
    }
    if (p) ::pclose(p);
    return out;
  }

 private:
  std::string path_;
};

inline void put16(std::vector<uint8_t>& b, uint32_t v) {
  b.push_back(uint8_t(v));
  b.push_back(uint8_t(v >> 8));
}
inline void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, v & 0xFFFF);
  put16(b, v >> 16);
}
inline void put64(std::vector<uint8_t>& b, uint64_t v) {
  put32(b, uint32_t(v));
  put32(b, uint32_t(v >> 32));
}

using ZipFiles = std::vector<std::pair<std::string, std::vector<uint8_t>>>;

// A zip of stored entries. With zip64, sizes/offsets in the central directory are
// 0xFFFFFFFF with a ZIP64 extra field, and the end records are the ZIP64 ones.
inline std::vector<uint8_t> make_zip(const ZipFiles& files, bool zip64 = false) {
  std::vector<uint8_t> out, cd;
  for (const auto& [name, data] : files) {
    const uint32_t crc = uint32_t(crc32(crc32(0, nullptr, 0), data.data(), uInt(data.size())));
    const uint64_t offset = out.size();
    put32(out, 0x04034b50);
    put16(out, 20);
    put16(out, 0);
    put16(out, 0);  // stored
    put32(out, 0);  // time, date
    put32(out, crc);
    put32(out, uint32_t(data.size()));
    put32(out, uint32_t(data.size()));
    put16(out, uint32_t(name.size()));
    put16(out, 0);
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), data.begin(), data.end());

    put32(cd, 0x02014b50);
    put16(cd, 45);
    put16(cd, 45);
    put16(cd, 0);
    put16(cd, 0);
    put32(cd, 0);
    put32(cd, crc);
    put32(cd, zip64 ? 0xFFFFFFFF : uint32_t(data.size()));
    put32(cd, zip64 ? 0xFFFFFFFF : uint32_t(data.size()));
    put16(cd, uint32_t(name.size()));
    put16(cd, zip64 ? 28 : 0);  // extra length
    put16(cd, 0);               // comment
    put16(cd, 0);               // disk
    put16(cd, 0);
    put32(cd, 0);
    put32(cd, zip64 ? 0xFFFFFFFF : uint32_t(offset));
    cd.insert(cd.end(), name.begin(), name.end());
    if (zip64) {
      put16(cd, 0x0001);
      put16(cd, 24);
      put64(cd, data.size());  // uncompressed
      put64(cd, data.size());  // compressed
      put64(cd, offset);
    }
  }
  const uint64_t cd_offset = out.size();
  out.insert(out.end(), cd.begin(), cd.end());
  if (zip64) {
    const uint64_t end64 = out.size();
    put32(out, 0x06064b50);
    put64(out, 44);
    put16(out, 45);
    put16(out, 45);
    put32(out, 0);
    put32(out, 0);
    put64(out, files.size());
    put64(out, files.size());
    put64(out, cd.size());
    put64(out, cd_offset);
    put32(out, 0x07064b50);
    put32(out, 0);
    put64(out, end64);
    put32(out, 1);
  }
  put32(out, 0x06054b50);
  put16(out, 0);
  put16(out, 0);
  put16(out, zip64 ? 0xFFFF : uint32_t(files.size()));
  put16(out, zip64 ? 0xFFFF : uint32_t(files.size()));
  put32(out, zip64 ? 0xFFFFFFFF : uint32_t(cd.size()));
  put32(out, zip64 ? 0xFFFFFFFF : uint32_t(cd_offset));
  put16(out, 0);
  return out;
}

// Builds pickle bytes opcode by opcode.
struct Pickle {
  std::vector<uint8_t> b;

  Pickle& op(uint8_t c) { b.push_back(c); return *this; }
  Pickle& proto(uint8_t v) { return op(0x80).op(v); }
  Pickle& str(const std::string& s) {  // BINUNICODE
    op('X');
    put32(b, uint32_t(s.size()));
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Pickle& int1(uint8_t v) { return op('K').op(v); }
  Pickle& int4(int32_t v) { op('J'); put32(b, uint32_t(v)); return *this; }
  Pickle& global(const std::string& module, const std::string& name) {
    op('c');
    b.insert(b.end(), module.begin(), module.end());
    op('\n');
    b.insert(b.end(), name.begin(), name.end());
    return op('\n');
  }
  Pickle& put(uint8_t i) { return op('q').op(i); }
  Pickle& get(uint8_t i) { return op('h').op(i); }
  Pickle& mark() { return op('('); }
  Pickle& stop() { return op('.'); }
  // Pushes _rebuild_tensor_v2(storage(key, type, numel), offset, size, stride, False, {})
  // as torch writes it; `size`/`stride` are 1-D here for brevity.
  Pickle& tensor(const std::string& key, const std::string& storage_type, uint8_t numel,
                 uint8_t offset, uint8_t size, uint8_t stride) {
    global("torch._utils", "_rebuild_tensor_v2");
    mark();
    mark().str("storage").global("torch", storage_type).str(key).str("cpu").int1(numel).op('t');
    op('Q');
    int1(offset).int1(size).op(0x85).int1(stride).op(0x85).op(0x89).op('}');
    op('t');
    return op('R');
  }
};

// A torch.save-style archive: "<archive>/data.pkl" plus storages "<archive>/data/<key>".
inline std::vector<uint8_t> make_torch_zip(const std::vector<uint8_t>& pickle,
                                           const ZipFiles& storages = {},
                                           const std::string& archive = "archive") {
  ZipFiles files = {{archive + "/data.pkl", pickle}};
  for (const auto& [key, data] : storages) files.emplace_back(archive + "/data/" + key, data);
  files.emplace_back(archive + "/version", std::vector<uint8_t>{'3', '\n'});
  return make_zip(files);
}

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

}  // namespace io_test
