// GGUF writer. See include/bigdl/io/gguf_writer.h.
#include "bigdl/io/gguf_writer.h"

#include <cstring>

#include "bigdl/error.h"
#include "bigdl/io/atomic_file.h"

namespace bigdl::io {

namespace {
constexpr const char* kOp = "gguf_writer";
constexpr uint64_t kAlign = 32;

uint64_t pad(uint64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

GgufValue scalar(GgufValueType t, uint64_t bits) {
  GgufValue v;
  v.type = t;
  v.bits = bits;
  return v;
}

void put_le(std::vector<uint8_t>& out, uint64_t v, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_string(std::vector<uint8_t>& out, const std::string& s) {
  put_le(out, s.size(), 8);
  out.insert(out.end(), s.begin(), s.end());
}

void put_value(std::vector<uint8_t>& out, const GgufValue& v, const std::string& key) {
  if (v.type == GgufValueType::STRING) {
    put_string(out, v.str);
  } else if (v.type == GgufValueType::ARRAY) {
    put_le(out, static_cast<uint32_t>(v.elem_type), 4);
    put_le(out, v.count, 8);
    if (v.elem_type == GgufValueType::STRING) {
      BIGDL_CHECK(v.strings.size() == v.count, ValueError, kOp, "key '", key, "': string array count mismatch");
      for (const auto& s : v.strings) put_string(out, s);
    } else if (v.elem_type == GgufValueType::ARRAY) {
      BIGDL_CHECK(v.arrays.size() == v.count, ValueError, kOp, "key '", key, "': array count mismatch");
      for (const auto& a : v.arrays) {
        BIGDL_CHECK(a.type == GgufValueType::ARRAY, ValueError, kOp, "key '", key, "': nested value is not an array");
        put_value(out, a, key);
      }
    } else {
      const uint64_t es = gguf_value_size(v.elem_type);
      BIGDL_CHECK(es != 0 && v.raw.size() == v.count * es, ValueError, kOp, "key '", key,
                  "': array of ", v.count, " ", gguf_value_type_name(v.elem_type), " has ", v.raw.size(), " bytes");
      out.insert(out.end(), v.raw.begin(), v.raw.end());
    }
  } else {
    const uint64_t n = gguf_value_size(v.type);
    BIGDL_CHECK(n != 0, ValueError, kOp, "key '", key, "': unknown value type ", static_cast<uint32_t>(v.type));
    put_le(out, v.bits, n);
  }
}
}  // namespace

GgufValue gguf_u8(uint8_t v) { return scalar(GgufValueType::U8, v); }
GgufValue gguf_i8(int8_t v) { return scalar(GgufValueType::I8, static_cast<uint8_t>(v)); }
GgufValue gguf_u16(uint16_t v) { return scalar(GgufValueType::U16, v); }
GgufValue gguf_i16(int16_t v) { return scalar(GgufValueType::I16, static_cast<uint16_t>(v)); }
GgufValue gguf_u32(uint32_t v) { return scalar(GgufValueType::U32, v); }
GgufValue gguf_i32(int32_t v) { return scalar(GgufValueType::I32, static_cast<uint32_t>(v)); }
GgufValue gguf_u64(uint64_t v) { return scalar(GgufValueType::U64, v); }
GgufValue gguf_i64(int64_t v) { return scalar(GgufValueType::I64, static_cast<uint64_t>(v)); }
GgufValue gguf_f32(float v) {
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return scalar(GgufValueType::F32, b);
}
GgufValue gguf_f64(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return scalar(GgufValueType::F64, b);
}
GgufValue gguf_bool(bool v) { return scalar(GgufValueType::BOOL, v ? 1 : 0); }
GgufValue gguf_string(std::string s) {
  GgufValue v;
  v.type = GgufValueType::STRING;
  v.str = std::move(s);
  return v;
}
GgufValue gguf_string_array(std::vector<std::string> s) {
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  v.elem_type = GgufValueType::STRING;
  v.count = s.size();
  v.strings = std::move(s);
  return v;
}
GgufValue gguf_scalar_array(GgufValueType elem, uint64_t count, std::vector<uint8_t> raw) {
  const uint64_t es = gguf_value_size(elem);
  BIGDL_CHECK(es != 0 && raw.size() == count * es, ValueError, kOp, "array of ", count, " ",
              gguf_value_type_name(elem), " needs ", count * es, " bytes, got ", raw.size());
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  v.elem_type = elem;
  v.count = count;
  v.raw = std::move(raw);
  return v;
}
GgufValue gguf_f32_array(const std::vector<float>& f) {
  std::vector<uint8_t> raw(f.size() * 4);
  if (!f.empty()) std::memcpy(raw.data(), f.data(), raw.size());  // little-endian hosts only (as the reader)
  return gguf_scalar_array(GgufValueType::F32, f.size(), std::move(raw));
}
GgufValue gguf_i32_array(const std::vector<int32_t>& x) {
  std::vector<uint8_t> raw(x.size() * 4);
  if (!x.empty()) std::memcpy(raw.data(), x.data(), raw.size());
  return gguf_scalar_array(GgufValueType::I32, x.size(), std::move(raw));
}
GgufValue gguf_array_array(std::vector<GgufValue> a) {
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  v.elem_type = GgufValueType::ARRAY;
  v.count = a.size();
  v.arrays = std::move(a);
  return v;
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : metadata_)
    if (k == key) {
      v = std::move(value);
      return;
    }
  metadata_.emplace_back(key, std::move(value));
}

bool GgufWriter::has(const std::string& key) const {
  for (const auto& kv : metadata_)
    if (kv.first == key) return true;
  return false;
}

GgufWriter::Entry& GgufWriter::add(const std::string& name, const std::vector<int64_t>& shape, GgufType type) {
  for (const auto& e : tensors_)
    BIGDL_CHECK(e.info.name != name, ValueError, kOp, "tensor '", name, "' added twice");
  const GgufTypeTraits* tr = gguf_type_traits(type);
  BIGDL_CHECK(tr != nullptr, ValueError, kOp, "tensor '", name, "': unknown type ", static_cast<uint32_t>(type));
  BIGDL_CHECK(!shape.empty() && shape.size() <= 4, ValueError, kOp, "tensor '", name, "' has ", shape.size(),
              " dims, expected 1..4");
  uint64_t numel = 1;
  for (int64_t d : shape) {
    BIGDL_CHECK(d >= 1, ValueError, kOp, "tensor '", name, "' has a dimension ", d);
    numel *= static_cast<uint64_t>(d);
  }
  BIGDL_CHECK(shape.back() % tr->block_size == 0, ValueError, kOp, "tensor '", name, "': rows of ", shape.back(),
              " are not whole blocks of ", tr->block_size, " (", tr->name, ")");
  Entry e;
  e.info.name = name;
  e.info.shape = shape;
  e.info.type = type;
  e.info.offset = data_size_;
  e.info.nbytes = numel / tr->block_size * tr->block_bytes;
  data_size_ += pad(e.info.nbytes);
  tensors_.push_back(std::move(e));
  return tensors_.back();
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape, GgufType type,
                            const void* data, uint64_t nbytes) {
  Entry& e = add(name, shape, type);
  if (nbytes != e.info.nbytes) {
    data_size_ -= pad(e.info.nbytes);
    tensors_.pop_back();
    throw ValueError(bigdl::detail::cat("[", kOp, "] tensor '", name, "' needs ", e.info.nbytes, " bytes, got ", nbytes));
  }
  e.borrowed = static_cast<const uint8_t*>(data);
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape, GgufType type,
                            std::vector<uint8_t> bytes) {
  add_tensor(name, shape, type, bytes.data(), bytes.size());
  tensors_.back().owned = std::move(bytes);  // the heap buffer does not move
  tensors_.back().borrowed = tensors_.back().owned.data();
}

void GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape, GgufType type,
                            Producer producer) {
  add(name, shape, type).producer = std::move(producer);
}

std::vector<uint8_t> GgufWriter::header() const {
  std::vector<uint8_t> h;
  put_le(h, 0x46554747u, 4);  // "GGUF"
  put_le(h, 3, 4);
  put_le(h, tensors_.size(), 8);
  put_le(h, metadata_.size(), 8);
  for (const auto& [k, v] : metadata_) {
    put_string(h, k);
    put_le(h, static_cast<uint32_t>(v.type), 4);
    put_value(h, v, k);
  }
  for (const auto& e : tensors_) {
    put_string(h, e.info.name);
    put_le(h, e.info.shape.size(), 4);
    for (size_t i = e.info.shape.size(); i-- > 0;) put_le(h, static_cast<uint64_t>(e.info.shape[i]), 8);
    put_le(h, static_cast<uint32_t>(e.info.type), 4);
    put_le(h, e.info.offset, 8);
  }
  h.resize(pad(h.size()), 0);
  return h;
}

std::vector<GgufTensorInfo> GgufWriter::tensor_infos() const {
  std::vector<GgufTensorInfo> r;
  for (const auto& e : tensors_) r.push_back(e.info);
  return r;
}

uint64_t GgufWriter::file_size() const { return header().size() + data_size_; }

void GgufWriter::write(const std::string& path, const Progress& progress) const {
  const std::vector<uint8_t> h = header();
  write_file_atomic(path, [&](std::FILE* f) {
    write_all(f, h.data(), h.size());
    static const uint8_t zeros[kAlign] = {};
    for (size_t i = 0; i < tensors_.size(); ++i) {
      const Entry& e = tensors_[i];
      if (e.producer) {
        const std::vector<uint8_t> bytes = e.producer();
        BIGDL_CHECK(bytes.size() == e.info.nbytes, ValueError, kOp, "tensor '", e.info.name, "': producer gave ",
                    bytes.size(), " bytes, expected ", e.info.nbytes);
        write_all(f, bytes.data(), bytes.size());
      } else {
        write_all(f, e.borrowed, e.info.nbytes);
      }
      write_all(f, zeros, pad(e.info.nbytes) - e.info.nbytes);
      if (progress) progress(i, e.info);
    }
  });
}

}  // namespace bigdl::io
