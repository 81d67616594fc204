#include "bigdl/tensor.h"  // shape_str
#include "bigdl/io/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "bigdl/error.h"
#include "bigdl/io/atomic_file.h"

namespace bigdl::io {

namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderSize = 100'000'000;  // the official library's limit
// A valid header nests 3 levels ({name: {shape: [..]}}); anything much deeper is hostile.
constexpr int kMaxHeaderDepth = 8;

// Who is reporting (the public function) and about which file.
struct Where {
  const char* op;
  const std::string& file;
};

template <typename E = FormatError, typename... Args>
[[noreturn]] void fail(const Where& w, const Args&... args) {
  throw E(detail::cat("[", w.op, "] ", w.file, ": ", args...));
}

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Rejects deep nesting before nlohmann builds (and later destroys) the tree, and NULs.
void check_depth(const char* s, size_t n, const Where& w) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    // nlohmann stops at a NUL as if the input ended, which would accept "{}\0<junk>".
    if (c == '\0') fail(w, "header has a NUL byte at offset ", 8 + i);
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxHeaderDepth)
        fail(w, "header JSON nests deeper than ", kMaxHeaderDepth, " levels at byte ", 8 + i);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
}

json parse_json(const char* s, size_t n, const Where& w) {
  if (n == 0 || s[0] != '{') fail(w, "header does not start with '{'");
  check_depth(s, n, w);
  // nlohmann keeps the last of duplicate keys silently; a file whose tensors depend on
  // which duplicate wins is ambiguous, so refuse it.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto on_event = [&](int, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == json::parse_event_t::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == json::parse_event_t::key && !open_objects.empty() && duplicate.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (!open_objects.back().insert(key).second) duplicate = key;
    }
    return true;
  };
  json root;
  try {
    root = json::parse(s, s + n, on_event);
  } catch (const json::exception& e) {
    fail(w, "header is not valid JSON: ", e.what());
  }
  if (!duplicate.empty()) fail(w, "header has duplicate key '", duplicate, "'");
  if (!root.is_object()) fail(w, "header is not a JSON object");
  return root;
}

uint64_t json_u64(const json& v, const Where& w, const std::string& tensor, const char* field) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) fail(w, "tensor '", tensor, "' ", field, " has negative value ", v.dump());
  fail(w, "tensor '", tensor, "' ", field, " has non-integer value ", v.dump());
}

// Validates the parsed header against a data area of data_size bytes and returns the
// entries sorted by offset.
std::vector<SafetensorsEntry> parse_header(const char* s, size_t n, uint64_t data_size,
                                           const Where& w,
                                           std::map<std::string, std::string>* metadata) {
  json root = parse_json(s, n, w);
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> meta;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(w, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          fail(w, "__metadata__ value for '", m.key(), "' is not a string");
        meta[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail(w, "tensor '", name, "' entry is not an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!v.contains(field)) fail(w, "tensor '", name, "' has no ", field);
    const json& dtype = v["dtype"];
    const json& shape = v["shape"];
    const json& offsets = v["data_offsets"];
    if (!dtype.is_string()) fail(w, "tensor '", name, "' dtype is not a string");
    if (!shape.is_array()) fail(w, "tensor '", name, "' shape is not an array");
    if (!offsets.is_array() || offsets.size() != 2)
      fail(w, "tensor '", name, "' data_offsets is not an array of two integers");

    SafetensorsEntry e;
    e.name = name;
    e.dtype = dtype.get<std::string>();
    int64_t elem_size = 0;
    try {
      elem_size = raw_element_size(e.dtype);
    } catch (const DTypeError&) {
      fail<DTypeError>(w, "tensor '", name, "' has unknown dtype '", e.dtype, "'");
    }
    uint64_t numel = 1;
    for (const json& d : shape) {
      uint64_t dim = json_u64(d, w, name, "shape");
      if (dim > uint64_t(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(numel, dim, &numel))
        fail(w, "tensor '", name, "' shape ", shape.dump(), " overflows 64 bits");
      e.shape.push_back(int64_t(dim));
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, uint64_t(elem_size), &nbytes))
      fail(w, "tensor '", name, "' shape ", shape.dump(), " overflows 64 bits");
    e.data_begin = json_u64(offsets[0], w, name, "data_offsets");
    e.data_end = json_u64(offsets[1], w, name, "data_offsets");
    if (e.data_begin > e.data_end)
      fail(w, "tensor '", name, "' data_offsets [", e.data_begin, ", ", e.data_end,
           "] are reversed");
    if (e.data_end > data_size)
      fail(w, "tensor '", name, "' data_offsets [", e.data_begin, ", ", e.data_end,
           "] lie outside the data area of ", data_size, " bytes");
    if (e.data_end - e.data_begin != nbytes)
      fail(w, "tensor '", name, "' data_offsets [", e.data_begin, ", ", e.data_end, "] hold ",
           e.data_end - e.data_begin, " bytes, expected ", nbytes, " (", e.dtype, " ",
           shape_str(e.shape), ")");
    entries.push_back(std::move(e));
  }

  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return std::pair(a.data_begin, a.data_end) < std::pair(b.data_begin, b.data_end);
  });
  uint64_t cursor = 0;
  const std::string* prev = nullptr;
  for (const SafetensorsEntry& e : entries) {
    if (e.data_begin < cursor)
      fail(w, "tensor '", e.name, "' data_offsets [", e.data_begin, ", ", e.data_end,
           "] overlap tensor '", *prev, "' which ends at ", cursor);
    if (e.data_begin > cursor)
      fail(w, "tensor '", e.name, "' data_offsets [", e.data_begin, ", ", e.data_end,
           "] leave a gap: the previous tensor ends at ", cursor);
    cursor = e.data_end;
    prev = &e.name;
  }
  if (cursor != data_size)
    fail(w, "tensors end at byte ", cursor, " of a data area of ", data_size,
         " bytes (trailing data)");
  if (metadata != nullptr) *metadata = std::move(meta);
  return entries;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// An open .safetensors file whose header has been read and validated.
struct OpenFile {
  FilePtr file;
  uint64_t data_start = 0;
  std::vector<SafetensorsEntry> entries;
};

OpenFile open_safetensors(const std::string& path, const Where& w,
                          std::map<std::string, std::string>* metadata) {
  OpenFile of;
  of.file.reset(std::fopen(path.c_str(), "rb"));
  if (!of.file) fail<IOError>(w, std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(of.file.get()), &st) != 0) fail<IOError>(w, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail<IOError>(w, "not a regular file");
  const uint64_t size = uint64_t(st.st_size);
  if (size < 8) fail(w, "file is ", size, " bytes, shorter than the 8-byte header length");
  uint8_t len_bytes[8];
  if (std::fread(len_bytes, 1, 8, of.file.get()) != 8) fail<IOError>(w, "short read");
  const uint64_t n = read_u64_le(len_bytes);
  if (n > kMaxHeaderSize)
    fail(w, "header length ", n, " exceeds the limit of ", kMaxHeaderSize, " bytes");
  if (n > size - 8) fail(w, "header length ", n, " exceeds file size ", size);
  std::string header(n, '\0');
  if (std::fread(header.data(), 1, n, of.file.get()) != n) fail<IOError>(w, "short read");
  of.data_start = 8 + n;
  of.entries = parse_header(header.data(), n, size - 8 - n, w, metadata);
  return of;
}

// JSON string literal for s (quotes and escapes as serde_json writes them).
std::string json_quote(const std::string& s, const Where& w) {
  try {
    return json(s).dump();
  } catch (const json::exception&) {
    fail<ValueError>(w, "a tensor name or metadata string is not valid UTF-8");
  }
}

// The padded header JSON, written by hand (not through a json object, whose key lookups
// would make many-tensor headers quadratic). Checks what the writer is given, since the
// reader would refuse the result otherwise.
std::string make_header(const std::vector<std::pair<std::string, RawTensor>>& tensors,
                        const std::map<std::string, std::string>& metadata, const Where& w) {
  std::string s = "{";
  if (!metadata.empty()) {
    s += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      s += (first ? "" : ",") + json_quote(k, w) + ":" + json_quote(v, w);
      first = false;
    }
    s += "}";
  }
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") fail<ValueError>(w, "'__metadata__' cannot name a tensor");
    if (!seen.insert(name).second) fail<ValueError>(w, "duplicate tensor name '", name, "'");
    int64_t elem_size = 0;
    try {
      elem_size = raw_element_size(t.dtype);
    } catch (const DTypeError&) {
      fail<DTypeError>(w, "tensor '", name, "' has unknown dtype '", t.dtype, "'");
    }
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) fail<ValueError>(w, "tensor '", name, "' has negative dim in ", shape_str(t.shape));
      if (__builtin_mul_overflow(numel, uint64_t(d), &numel))
        fail<ValueError>(w, "tensor '", name, "' shape ", shape_str(t.shape), " overflows");
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, uint64_t(elem_size), &nbytes) || nbytes != t.data.size())
      fail<ValueError>(w, "tensor '", name, "' has ", t.data.size(), " bytes, expected ",
                       numel * uint64_t(elem_size), " for ", t.dtype, " ", shape_str(t.shape));
    if (s.size() > 1) s += ",";
    s += json_quote(name, w) + ":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
    s += "],\"data_offsets\":[" + std::to_string(offset) + "," +
         std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  s += "}";
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

void append_u64_le(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

}  // namespace

std::vector<std::pair<std::string, RawTensor>> load_safetensors(
    const std::string& path, std::map<std::string, std::string>* metadata) {
  const Where w{"load_safetensors", path};
  OpenFile of = open_safetensors(path, w, metadata);
  std::vector<std::pair<std::string, RawTensor>> out;
  out.reserve(of.entries.size());
  // Entries tile the data area in order, so one sequential pass reads them all.
  if (::fseeko(of.file.get(), off_t(of.data_start), SEEK_SET) != 0)
    fail<IOError>(w, std::strerror(errno));
  for (SafetensorsEntry& e : of.entries) {
    RawTensor t;
    t.dtype = std::move(e.dtype);
    t.shape = std::move(e.shape);
    t.data.resize(e.data_end - e.data_begin);
    if (std::fread(t.data.data(), 1, t.data.size(), of.file.get()) != t.data.size())
      fail<IOError>(w, "short read in tensor '", e.name, "' (file changed while reading?)");
    out.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

std::vector<std::pair<std::string, RawTensor>> parse_safetensors(
    const uint8_t* data, size_t size, const std::string& name_for_errors,
    std::map<std::string, std::string>* metadata) {
  const Where w{"parse_safetensors", name_for_errors};
  if (size < 8) fail(w, "file is ", size, " bytes, shorter than the 8-byte header length");
  const uint64_t n = read_u64_le(data);
  if (n > kMaxHeaderSize)
    fail(w, "header length ", n, " exceeds the limit of ", kMaxHeaderSize, " bytes");
  if (n > size - 8) fail(w, "header length ", n, " exceeds file size ", size);
  std::vector<SafetensorsEntry> entries = parse_header(
      reinterpret_cast<const char*>(data + 8), size_t(n), size - 8 - n, w, metadata);
  const uint8_t* area = data + 8 + n;
  std::vector<std::pair<std::string, RawTensor>> out;
  out.reserve(entries.size());
  for (SafetensorsEntry& e : entries) {
    RawTensor t;
    t.dtype = std::move(e.dtype);
    t.shape = std::move(e.shape);
    t.data.assign(area + e.data_begin, area + e.data_end);
    out.emplace_back(std::move(e.name), std::move(t));
  }
  return out;
}

std::vector<SafetensorsEntry> read_safetensors_header(
    const std::string& path, std::map<std::string, std::string>* metadata) {
  return open_safetensors(path, Where{"read_safetensors_header", path}, metadata).entries;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, RawTensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  const std::string header = make_header(tensors, metadata, Where{"save_safetensors", path});
  write_file_atomic(path, [&](std::FILE* f) {
    std::vector<uint8_t> len;
    append_u64_le(len, header.size());
    write_all(f, len.data(), len.size());
    write_all(f, header.data(), header.size());
    for (const auto& [name, t] : tensors) write_all(f, t.data.data(), t.data.size());
  });
}

std::vector<uint8_t> serialize_safetensors(
    const std::vector<std::pair<std::string, RawTensor>>& tensors,
    const std::map<std::string, std::string>& metadata) {
  const std::string name = "<buffer>";
  const std::string header = make_header(tensors, metadata, Where{"serialize_safetensors", name});
  std::vector<uint8_t> out;
  size_t total = 8 + header.size();
  for (const auto& [n, t] : tensors) total += t.data.size();
  out.reserve(total);
  append_u64_le(out, header.size());
  out.insert(out.end(), header.begin(), header.end());
  for (const auto& [n, t] : tensors) out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

}  // namespace bigdl::io
