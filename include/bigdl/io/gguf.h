// GGUF (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md) reader, versions 2
// and 3. Reads metadata and tensor descriptions and points into the file for the tensor
// bytes; it does not decode quantized blocks (that is the quant kernels' job).
//
// Byte layout of a .gguf file (all integers little-endian):
//
//   u32  magic        "GGUF" (bytes 47 47 55 46)
//   u32  version      2 or 3 (1 used u32 counts and lengths and is refused)
//   u64  n_tensors
//   u64  n_kv
//   n_kv times        key: string, u32 value type, value
//   n_tensors times   name: string, u32 n_dims (1..4), u64 ne[n_dims], u32 ggml type,
//                     u64 offset (bytes from the start of the data section)
//   zero padding up to a multiple of the alignment
//   data section      each tensor's blocks at its offset (a multiple of the alignment)
//
//   string = u64 byte length + that many bytes (no terminator, not checked for UTF-8)
//   value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool (one byte, 0/1),
//                8 string, 9 array (u32 element type, u64 count, elements), 10 u64,
//                11 i64, 12 f64. Arrays may hold arrays (we allow 4 levels).
//   alignment = metadata "general.alignment" (u32, a power of two), default 32.
//
// ne[0] is ggml's innermost (contiguous) dimension; GgufTensorInfo::shape lists the dims
// outermost first (reversed ne), the row-major convention of the rest of bigdl, so
// token_embd.weight with ne = [n_embd, n_vocab] reads as {n_vocab, n_embd}. A row
// (ne[0] elements) is a whole number of blocks of the tensor's type.
//
// The reader trusts nothing: every count, length and offset is checked against the bytes
// that remain before it is used, and every failure throws FormatError (IOError when the
// file cannot be opened or mapped) whose message starts "[gguf] <file>: ", e.g.
//   [gguf] m.gguf: tensor 'blk.0.attn_q.weight' data [4096, 8448) lies outside the data
//   section of 4352 bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace bigdl::io {

// Metadata value type ids, as stored in the file.
enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
// Byte size of one value of a scalar type (1, 2, 4 or 8); 0 for STRING, ARRAY and unknown ids.
uint64_t gguf_value_size(GgufValueType t);

// "u32", "string", "array"...; "unknown" for ids outside the enum.
const char* gguf_value_type_name(GgufValueType t);

// One metadata value. Scalars keep their bits; arrays keep their elements compactly
// (numbers as the file's bytes), so memory stays proportional to the file.
struct GgufValue {
  GgufValueType type = GgufValueType::U8;
  uint64_t bits = 0;  // integer, float and bool scalars: the value's bytes, zero-extended
  std::string str;    // STRING

  // ARRAY only: element type and count; the elements live in exactly one of
  // raw (numbers and bools: count * element size bytes), strings or arrays.
  GgufValueType elem_type = GgufValueType::U8;
  uint64_t count = 0;
  std::vector<uint8_t> raw;
  std::vector<std::string> strings;
  std::vector<GgufValue> arrays;

  bool is_integer() const;  // u8..i64 (not bool)
  bool is_float() const;    // f32 / f64

  // Typed reads. A wrong type throws FormatError "[gguf] <where>: has type string,
  // expected an integer"; GgufFile passes "<file>: metadata key '<key>'" as where.
  int64_t as_int(const std::string& where = "value") const;    // any integer type that fits
  uint64_t as_uint(const std::string& where = "value") const;  // any non-negative integer
  double as_float(const std::string& where = "value") const;   // f32 / f64
  bool as_bool(const std::string& where = "value") const;
  const std::string& as_string(const std::string& where = "value") const;
  const std::vector<std::string>& as_string_array(const std::string& where = "value") const;
  std::vector<int64_t> as_int_array(const std::string& where = "value") const;
  std::vector<float> as_float_array(const std::string& where = "value") const;  // f64 narrowed

  // "u32", "string", "array[f32]", "array[array]".
  std::string type_name() const;
};

// ggml tensor type ids, as stored in the file. Ids 4, 5, 31-33 and 36-38 were removed
// from ggml and are refused.
//
// Ids from 1024 on are bigdl's own low-bit formats, which have no ggml type (blocks of
// 32 weights; layouts in src/backend/cpu/quant/quant.h and docs/quant.md). They let
// bigdl round-trip its own nf4 / nf3 / fp4 / fp8 files; llama.cpp (and any other GGUF
// reader) refuses such a file with an unknown-type error.
enum class GgufType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
  // bigdl only:    bytes / 32 weights
  BIGDL_NF4 = 1024,       // 18: fp16 absmax + 16 bytes of NormalFloat4 codes
  BIGDL_NF3 = 1025,       // 14: fp16 absmax + 8 + 4 bytes of 3-bit NormalFloat codes
  BIGDL_FP4 = 1026,       // 18: fp16 scale + 16 bytes of e2m1 codes
  BIGDL_FP8_E4M3 = 1027,  // 34: fp16 scale + 32 e4m3 bytes
  BIGDL_FP8_E5M2 = 1028,  // 34: fp16 scale + 32 e5m2 bytes
};

// One row of the type table: a tensor of this type is stored as blocks of
// block_size elements taking block_bytes bytes each.
struct GgufTypeTraits {
  GgufType type;
  const char* name;  // ggml's name: "f32", "q4_0", "q4_K"...
  int64_t block_size;
  int64_t block_bytes;
};

// The table row for t, or nullptr for an id ggml does not (or no longer) define.
const GgufTypeTraits* gguf_type_traits(GgufType t);

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // outermost first (reversed ggml ne); 1..4 dims, each >= 1
  GgufType type = GgufType::F32;
  uint64_t offset = 0;         // bytes from the start of the data section
  uint64_t nbytes = 0;         // numel / block_size * block_bytes
  const uint8_t* data = nullptr;  // nbytes bytes inside the file image
  int64_t numel() const;
};

// A parsed GGUF file. Copies share the file image; tensor data pointers stay valid while
// any copy of a GgufFile made by open() lives.
class GgufFile {
 public:
  // Maps path read-only and parses it. IOError if it cannot be opened or mapped,
  // FormatError for bad content.
  static GgufFile open(const std::string& path);

  // Parses an in-memory file image of `size` bytes; name_for_errors stands in for the
  // file name in messages. Does not copy: data must outlive the result and its tensor
  // pointers. The entry point for fuzzers.
  static GgufFile parse(const uint8_t* data, size_t size, std::string name_for_errors);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // file offset of the data section

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;  // nullptr when absent

  // Typed metadata reads. A missing key throws FormatError
  // "[gguf] <file>: metadata key 'llama.block_count' missing"; a wrong type names the
  // key and both types.
  const std::string& get_string(const std::string& key) const;
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  std::vector<float> get_float_array(const std::string& key) const;
  std::vector<int64_t> get_int_array(const std::string& key) const;

  // Tensors in file (tensor info) order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* tensor(const std::string& name) const;  // nullptr when absent

 private:
  const GgufValue& get(const std::string& key) const;
  std::string where(const std::string& key) const;

  std::shared_ptr<const void> mapping_;  // keeps an mmap alive (null for parse())
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::unordered_map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace bigdl::io
