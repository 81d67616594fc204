#include "bigdl/tensor.h"  // shape_str
#include "bigdl/io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "bigdl/error.h"

namespace bigdl::io {

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr int kMaxArrayDepth = 4;  // real files nest 1 level (arrays of strings/numbers)
constexpr uint32_t kMaxDims = 4;   // GGML_MAX_DIMS

// The smallest encodings, used to refuse counts the remaining bytes cannot hold before
// anything is reserved: a kv is key length + type + a one-byte value; a tensor info is
// name length + n_dims + one dim + type + offset.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

constexpr int64_t kQK = 256;  // elements in a K-quant super-block
const GgufTypeTraits kTypeTable[] = {
    {GgufType::F32, "f32", 1, 4},
    {GgufType::F16, "f16", 1, 2},
    {GgufType::Q4_0, "q4_0", 32, 2 + 16},
    {GgufType::Q4_1, "q4_1", 32, 2 + 2 + 16},
    {GgufType::Q5_0, "q5_0", 32, 2 + 4 + 16},
    {GgufType::Q5_1, "q5_1", 32, 2 + 2 + 4 + 16},
    {GgufType::Q8_0, "q8_0", 32, 2 + 32},
    {GgufType::Q8_1, "q8_1", 32, 2 + 2 + 32},
    {GgufType::Q2_K, "q2_K", kQK, kQK / 16 + kQK / 4 + 2 + 2},
    {GgufType::Q3_K, "q3_K", kQK, kQK / 8 + kQK / 4 + 12 + 2},
    {GgufType::Q4_K, "q4_K", kQK, 2 + 2 + 12 + kQK / 2},
    {GgufType::Q5_K, "q5_K", kQK, 2 + 2 + 12 + kQK / 8 + kQK / 2},
    {GgufType::Q6_K, "q6_K", kQK, kQK / 2 + kQK / 4 + kQK / 16 + 2},
    {GgufType::Q8_K, "q8_K", kQK, 4 + kQK + kQK / 16 * 2},
    {GgufType::IQ2_XXS, "iq2_xxs", kQK, 2 + kQK / 8 * 2},
    {GgufType::IQ2_XS, "iq2_xs", kQK, 2 + kQK / 8 * 2 + kQK / 32},
    {GgufType::IQ3_XXS, "iq3_xxs", kQK, 2 + 3 * kQK / 8},
    {GgufType::IQ1_S, "iq1_s", kQK, 2 + kQK / 8 + kQK / 16},
    {GgufType::IQ4_NL, "iq4_nl", 32, 2 + 16},
    {GgufType::IQ3_S, "iq3_s", kQK, 2 + kQK / 4 + kQK / 32 + kQK / 8 + kQK / 64},
    {GgufType::IQ2_S, "iq2_s", kQK, 2 + kQK / 4 + kQK / 32 + kQK / 32},
    {GgufType::IQ4_XS, "iq4_xs", kQK, 2 + 2 + kQK / 64 + kQK / 2},
    {GgufType::I8, "i8", 1, 1},
    {GgufType::I16, "i16", 1, 2},
    {GgufType::I32, "i32", 1, 4},
    {GgufType::I64, "i64", 1, 8},
    {GgufType::F64, "f64", 1, 8},
    {GgufType::IQ1_M, "iq1_m", kQK, kQK / 8 + kQK / 16 + kQK / 32},
    {GgufType::BF16, "bf16", 1, 2},
    {GgufType::TQ1_0, "tq1_0", kQK, (kQK - 4 * kQK / 64) / 5 + kQK / 64 + 2},
    {GgufType::TQ2_0, "tq2_0", kQK, kQK / 4 + 2},
    {GgufType::MXFP4, "mxfp4", 32, 1 + 16},
    // bigdl's own formats (quant.h); llama.cpp cannot read them.
    {GgufType::BIGDL_NF4, "nf4", 32, 2 + 16},
    {GgufType::BIGDL_NF3, "nf3", 32, 2 + 8 + 4},
    {GgufType::BIGDL_FP4, "fp4", 32, 2 + 16},
    {GgufType::BIGDL_FP8_E4M3, "fp8_e4m3", 32, 2 + 32},
    {GgufType::BIGDL_FP8_E5M2, "fp8_e5m2", 32, 2 + 32},
};


bool known_value_type(uint32_t t) { return t <= uint32_t(GgufValueType::F64); }

uint64_t load_le(const uint8_t* p, uint64_t n) {
  uint64_t v = 0;
  for (uint64_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// Decodes a scalar's zero-extended bits as a signed integer (sign-extending the signed
// types); `ok` is false for a u64 above INT64_MAX.
int64_t int_from_bits(GgufValueType t, uint64_t bits, bool* ok) {
  *ok = true;
  switch (t) {
    case GgufValueType::I8: return int8_t(uint8_t(bits));
    case GgufValueType::I16: return int16_t(uint16_t(bits));
    case GgufValueType::I32: return int32_t(uint32_t(bits));
    case GgufValueType::I64: return int64_t(bits);
    case GgufValueType::U64:
      *ok = bits <= uint64_t(std::numeric_limits<int64_t>::max());
      return int64_t(bits);
    default: return int64_t(bits);  // u8, u16, u32
  }
}

double float_from_bits(GgufValueType t, uint64_t bits) {
  if (t == GgufValueType::F32) {
    const uint32_t b = uint32_t(bits);
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

[[noreturn]] void type_error(const std::string& where, const GgufValue& v, const char* want) {
  throw FormatError(detail::cat("[gguf] ", where, " has type ", v.type_name(), ", expected ",
                                want));
}

// A bounds-checked cursor over the file image.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& file)
      : p_(data), size_(size), file_(file) {}

  template <typename... Args>
  [[noreturn]] void fail(const Args&... args) const {
    throw FormatError(detail::cat("[gguf] ", file_, ": ", args...));
  }

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  void need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail("truncated: ", what, " needs ", n, " bytes at offset ", pos_, " but the file has ",
           size_, " bytes");
  }
  uint64_t uint(uint64_t n, const std::string& what) {
    need(n, what);
    const uint64_t v = load_le(p_ + pos_, n);
    pos_ += n;
    return v;
  }
  uint32_t u32(const std::string& what) { return uint32_t(uint(4, what)); }
  uint64_t u64(const std::string& what) { return uint(8, what); }
  // Reads a string, or returns false (consuming nothing) when it is truncated, so hot
  // loops build an error message only on failure.
  bool try_str(std::string* out) {
    if (remaining() < 8) return false;
    const uint64_t n = load_le(p_ + pos_, 8);
    if (n > remaining() - 8) return false;
    out->assign(reinterpret_cast<const char*>(p_ + pos_ + 8), size_t(n));
    pos_ += 8 + n;
    return true;
  }
  std::string str(const std::string& what) {
    std::string s;
    if (!try_str(&s)) {
      const uint64_t n = u64(what + " length");
      need(n, detail::cat(what, " (", n, " bytes)"));
    }
    return s;
  }
  const uint8_t* bytes(uint64_t n, const std::string& what) {
    need(n, what);
    const uint8_t* b = p_ + pos_;
    pos_ += n;
    return b;
  }

 private:
  const uint8_t* p_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& file_;
};

GgufValue read_value(Reader& r, uint32_t type_id, const std::string& key, int depth);

GgufValue read_array(Reader& r, const std::string& key, int depth) {
  if (depth >= kMaxArrayDepth)
    r.fail("metadata key '", key, "' nests arrays deeper than ", kMaxArrayDepth, " levels");
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  const uint32_t et = r.u32("metadata key '" + key + "' array element type");
  if (!known_value_type(et))
    r.fail("metadata key '", key, "' has unknown array element type ", et);
  v.elem_type = GgufValueType(et);
  v.count = r.u64("metadata key '" + key + "' array count");
  // Every element takes at least its scalar size, or 8 (a length or count) for strings
  // and 12 for arrays, so a count beyond that is corrupt; checked before reserving.
  const uint64_t esize = gguf_value_size(v.elem_type);
  const uint64_t min_bytes = esize ? esize : v.elem_type == GgufValueType::STRING ? 8 : 12;
  if (v.count > r.remaining() / min_bytes)
    r.fail("metadata key '", key, "' array of ", v.count, " ", gguf_value_type_name(v.elem_type),
           " needs at least ", min_bytes, " bytes each but only ", r.remaining(),
           " bytes remain at offset ", r.pos());
  if (esize) {
    const uint8_t* b = r.bytes(v.count * esize, "metadata key '" + key + "' array");
    v.raw.assign(b, b + v.count * esize);
    if (v.elem_type == GgufValueType::BOOL)
      for (uint8_t x : v.raw)
        if (x > 1) r.fail("metadata key '", key, "' has a bool array element ", int(x));
  } else if (v.elem_type == GgufValueType::STRING) {
    v.strings.reserve(size_t(v.count));
    for (uint64_t i = 0; i < v.count; ++i) {
      v.strings.emplace_back();
      if (!r.try_str(&v.strings.back()))
        r.str(detail::cat("metadata key '", key, "' string [", i, "]"));  // throws
    }
  } else {
    v.arrays.reserve(size_t(v.count));
    for (uint64_t i = 0; i < v.count; ++i) v.arrays.push_back(read_array(r, key, depth + 1));
  }
  return v;
}

GgufValue read_value(Reader& r, uint32_t type_id, const std::string& key, int depth) {
  if (!known_value_type(type_id)) r.fail("metadata key '", key, "' has unknown value type ", type_id);
  const GgufValueType t = GgufValueType(type_id);
  if (t == GgufValueType::ARRAY) return read_array(r, key, depth);
  GgufValue v;
  v.type = t;
  if (t == GgufValueType::STRING) {
    v.str = r.str("metadata key '" + key + "' string");
  } else {
    v.bits = r.uint(gguf_value_size(t), "metadata key '" + key + "' value");
    if (t == GgufValueType::BOOL && v.bits > 1)
      r.fail("metadata key '", key, "' has bool value ", v.bits);
  }
  return v;
}

}  // namespace

uint64_t gguf_value_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::BOOL: return 1;
    case GgufValueType::U16: case GgufValueType::I16: return 2;
    case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::F32: return 4;
    case GgufValueType::U64: case GgufValueType::I64: case GgufValueType::F64: return 8;
    default: return 0;
  }
}

const char* gguf_value_type_name(GgufValueType t) {
  static const char* const names[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                      "bool", "string", "array", "u64", "i64", "f64"};
  return known_value_type(uint32_t(t)) ? names[uint32_t(t)] : "unknown";
}

const GgufTypeTraits* gguf_type_traits(GgufType t) {
  for (const GgufTypeTraits& row : kTypeTable)
    if (row.type == t) return &row;
  return nullptr;
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // checked against overflow when parsed
  return n;
}

// ---- GgufValue ----

bool GgufValue::is_integer() const {
  return gguf_value_size(type) != 0 && type != GgufValueType::BOOL && !is_float();
}

bool GgufValue::is_float() const { return type == GgufValueType::F32 || type == GgufValueType::F64; }

std::string GgufValue::type_name() const {
  if (type != GgufValueType::ARRAY) return gguf_value_type_name(type);
  return std::string("array[") + gguf_value_type_name(elem_type) + "]";
}

int64_t GgufValue::as_int(const std::string& where) const {
  if (!is_integer()) type_error(where, *this, "an integer");
  bool ok = true;
  const int64_t v = int_from_bits(type, bits, &ok);
  if (!ok) throw FormatError(detail::cat("[gguf] ", where, " value ", bits, " does not fit in int64"));
  return v;
}

uint64_t GgufValue::as_uint(const std::string& where) const {
  if (!is_integer()) type_error(where, *this, "an integer");
  if (type == GgufValueType::U64) return bits;
  const int64_t v = as_int(where);
  if (v < 0) throw FormatError(detail::cat("[gguf] ", where, " value ", v, " is negative"));
  return uint64_t(v);
}

double GgufValue::as_float(const std::string& where) const {
  if (!is_float()) type_error(where, *this, "f32 or f64");
  return float_from_bits(type, bits);
}

bool GgufValue::as_bool(const std::string& where) const {
  if (type != GgufValueType::BOOL) type_error(where, *this, "bool");
  return bits != 0;
}

const std::string& GgufValue::as_string(const std::string& where) const {
  if (type != GgufValueType::STRING) type_error(where, *this, "string");
  return str;
}

const std::vector<std::string>& GgufValue::as_string_array(const std::string& where) const {
  if (type != GgufValueType::ARRAY || elem_type != GgufValueType::STRING)
    type_error(where, *this, "array[string]");
  return strings;
}

std::vector<int64_t> GgufValue::as_int_array(const std::string& where) const {
  GgufValue elem;
  elem.type = elem_type;
  if (type != GgufValueType::ARRAY || !elem.is_integer())
    type_error(where, *this, "an array of integers");
  const uint64_t esize = gguf_value_size(elem_type);
  std::vector<int64_t> out;
  out.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i) {
    bool ok = true;
    out.push_back(int_from_bits(elem_type, load_le(raw.data() + i * esize, esize), &ok));
    if (!ok)
      throw FormatError(detail::cat("[gguf] ", where, " [", i, "] value ", uint64_t(out.back()),
                                    " does not fit in int64"));
  }
  return out;
}

std::vector<float> GgufValue::as_float_array(const std::string& where) const {
  if (type != GgufValueType::ARRAY ||
      (elem_type != GgufValueType::F32 && elem_type != GgufValueType::F64))
    type_error(where, *this, "array[f32] or array[f64]");
  const uint64_t esize = gguf_value_size(elem_type);
  std::vector<float> out;
  out.reserve(size_t(count));
  for (uint64_t i = 0; i < count; ++i)
    out.push_back(float(float_from_bits(elem_type, load_le(raw.data() + i * esize, esize))));
  return out;
}

// ---- GgufFile ----

GgufFile GgufFile::parse(const uint8_t* data, size_t size, std::string name_for_errors) {
  GgufFile f;
  f.name_ = std::move(name_for_errors);
  Reader r(data, size, f.name_);

  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) {
    if (size < 4) r.fail("file is ", size, " bytes, too short for the GGUF magic");
    static const char* digits = "0123456789abcdef";
    std::string found;
    for (int i = 0; i < 4; ++i)
      found += std::string(i ? " " : "") + digits[data[i] >> 4] + digits[data[i] & 15];
    r.fail("bad magic: expected \"GGUF\" (47 47 55 46), found ", found);
  }
  r.u32("magic");
  f.version_ = r.u32("version");
  if (f.version_ == 1)
    r.fail("GGUF version 1 is not supported (only versions 2 and 3); re-convert the model "
           "with a current llama.cpp");
  if (f.version_ != 2 && f.version_ != 3) {
    if ((f.version_ & 0xFFFF) == 0)
      r.fail("GGUF version ", f.version_, " is not supported (a big-endian file?)");
    r.fail("GGUF version ", f.version_, " is not supported (only versions 2 and 3)");
  }
  const uint64_t n_tensors = r.u64("tensor count");
  const uint64_t n_kv = r.u64("metadata count");
  if (n_kv > r.remaining() / kMinKvBytes)
    r.fail("metadata count ", n_kv, " is too large for a file of ", size, " bytes");
  if (n_tensors > r.remaining() / kMinTensorInfoBytes)
    r.fail("tensor count ", n_tensors, " is too large for a file of ", size, " bytes");

  f.metadata_.reserve(size_t(n_kv));
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = r.str(detail::cat("metadata key #", i));
    if (f.metadata_index_.count(key)) r.fail("duplicate metadata key '", key, "'");
    const uint32_t type_id = r.u32("metadata key '" + key + "' value type");
    GgufValue v = read_value(r, type_id, key, 0);
    f.metadata_index_.emplace(key, f.metadata_.size());
    f.metadata_.emplace_back(std::move(key), std::move(v));
  }

  if (const GgufValue* a = f.find("general.alignment")) {
    if (a->type != GgufValueType::U32)
      r.fail("metadata key 'general.alignment' has type ", a->type_name(), ", expected u32");
    f.alignment_ = a->bits;
    if (f.alignment_ == 0 || (f.alignment_ & (f.alignment_ - 1)) != 0)
      r.fail("general.alignment ", f.alignment_, " is not a power of two");
  } else {
    f.alignment_ = kDefaultAlignment;
  }

  f.tensors_.reserve(size_t(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = r.str(detail::cat("tensor name #", i));
    if (f.tensor_index_.count(t.name)) r.fail("duplicate tensor name '", t.name, "'");
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t n_dims = r.u32(what + " n_dims");
    if (n_dims == 0 || n_dims > kMaxDims)
      r.fail(what, " has ", n_dims, " dims (expected 1 to ", kMaxDims, ")");
    std::vector<int64_t> ne(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = r.u64(what + " dims");
      if (dim == 0 || dim > uint64_t(std::numeric_limits<int64_t>::max()))
        r.fail(what, " has dim ne[", d, "] = ", int64_t(dim), " (must be >= 1)");
      if (__builtin_mul_overflow(numel, dim, &numel) ||
          numel > uint64_t(std::numeric_limits<int64_t>::max()))
        r.fail(what, " has too many elements (the dims overflow 63 bits)");
      ne[d] = int64_t(dim);
    }
    t.shape.assign(ne.rbegin(), ne.rend());
    const uint32_t type_id = r.u32(what + " type");
    const GgufTypeTraits* tt = gguf_type_traits(GgufType(type_id));
    if (tt == nullptr) r.fail(what, " has unknown ggml type ", type_id);
    t.type = tt->type;
    if (ne[0] % tt->block_size != 0)
      r.fail(what, " ", shape_str(t.shape), " has rows of ", ne[0],
             " elements, not a multiple of the ", tt->name, " block size ", tt->block_size);
    if (__builtin_mul_overflow(numel / uint64_t(tt->block_size), uint64_t(tt->block_bytes),
                               &t.nbytes))
      r.fail(what, " byte size overflows 64 bits");
    t.offset = r.u64(what + " offset");
    if (t.offset % f.alignment_ != 0)
      r.fail(what, " offset ", t.offset, " is not a multiple of the alignment ", f.alignment_);
    f.tensor_index_.emplace(t.name, f.tensors_.size());
    f.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment. A file without
  // tensors (a vocab-only file) may end before that.
  const uint64_t pos = r.pos();
  f.data_offset_ = pos + (f.alignment_ - pos % f.alignment_) % f.alignment_;
  if (!f.tensors_.empty() && f.data_offset_ > size)
    r.fail("data section would start at offset ", f.data_offset_, " past the end of the file (",
           size, " bytes)");
  const uint64_t data_size = f.data_offset_ <= size ? size - f.data_offset_ : 0;

  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(f.tensors_.size());
  for (GgufTensorInfo& t : f.tensors_) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      r.fail("tensor '", t.name, "' data [", t.offset, ", ", t.offset + t.nbytes,
             ") lies outside the data section of ", data_size, " bytes");
    t.data = data + f.data_offset_ + t.offset;
    by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const auto* a, const auto* b) {
    return std::pair(a->offset, a->nbytes) < std::pair(b->offset, b->nbytes);
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& prev = *by_offset[i - 1];
    const GgufTensorInfo& cur = *by_offset[i];
    if (cur.offset < prev.offset + prev.nbytes)
      r.fail("tensor '", cur.name, "' data [", cur.offset, ", ", cur.offset + cur.nbytes,
             ") overlaps tensor '", prev.name, "' data [", prev.offset, ", ",
             prev.offset + prev.nbytes, ")");
  }
  return f;
}

GgufFile GgufFile::open(const std::string& path) {
  auto io_fail = [&](const char* what) {
    throw IOError(detail::cat("[gguf] ", path, ": ", what, ": ", std::strerror(errno)));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_fail("cannot open");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    io_fail("cannot stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IOError(detail::cat("[gguf] ", path, ": not a regular file"));
  }
  const size_t size = size_t(st.st_size);
  std::shared_ptr<const void> mapping;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int e = errno;
    ::close(fd);  // the mapping keeps the file
    errno = e;
    if (p == MAP_FAILED) io_fail("cannot mmap");
    mapping = std::shared_ptr<const void>(p, [size](const void* q) {
      ::munmap(const_cast<void*>(q), size);
    });
  } else {
    ::close(fd);
  }
  static const uint8_t kEmpty = 0;
  const uint8_t* data = size ? static_cast<const uint8_t*>(mapping.get()) : &kEmpty;
  GgufFile f = parse(data, size, path);
  f.mapping_ = std::move(mapping);
  return f;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

const GgufTensorInfo* GgufFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::string GgufFile::where(const std::string& key) const {
  return name_ + ": metadata key '" + key + "'";
}

const GgufValue& GgufFile::get(const std::string& key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) throw FormatError(detail::cat("[gguf] ", where(key), " missing"));
  return *v;
}

const std::string& GgufFile::get_string(const std::string& key) const {
  return get(key).as_string(where(key));
}
int64_t GgufFile::get_int(const std::string& key) const { return get(key).as_int(where(key)); }
double GgufFile::get_float(const std::string& key) const { return get(key).as_float(where(key)); }
bool GgufFile::get_bool(const std::string& key) const { return get(key).as_bool(where(key)); }
const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  return get(key).as_string_array(where(key));
}
std::vector<float> GgufFile::get_float_array(const std::string& key) const {
  return get(key).as_float_array(where(key));
}
std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  return get(key).as_int_array(where(key));
}

}  // namespace bigdl::io
