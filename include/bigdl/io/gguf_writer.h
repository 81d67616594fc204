// GGUF writer: the inverse of gguf.h's reader, version 3, alignment 32.
//
// Byte layout written (see gguf.h for the format):
//   "GGUF" u32 3, u64 n_tensors, u64 n_kv, the metadata in the order set() first saw each
//   key, the tensor infos in add order (ne = shape reversed, offsets relative to the data
//   section), zero padding to 32, then each tensor's bytes, each padded to 32.
// "general.alignment" is not written (32 is GGUF's default).
//
// The file is written atomically (io/atomic_file.h): on any error, including an
// exception from a lazy tensor producer, no file (or the old one) is left at the path.
//
// Errors: ValueError "[gguf_writer] ..." for a duplicate tensor name, a shape whose rows
// are not whole blocks of the type, or data of the wrong size; IOError from the write.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bigdl/io/gguf.h"

namespace bigdl::io {

// Metadata values, built the way the reader stores them.
GgufValue gguf_u8(uint8_t v);
GgufValue gguf_i8(int8_t v);
GgufValue gguf_u16(uint16_t v);
GgufValue gguf_i16(int16_t v);
GgufValue gguf_u32(uint32_t v);
GgufValue gguf_i32(int32_t v);
GgufValue gguf_u64(uint64_t v);
GgufValue gguf_i64(int64_t v);
GgufValue gguf_f32(float v);
GgufValue gguf_f64(double v);
GgufValue gguf_bool(bool v);
GgufValue gguf_string(std::string v);
GgufValue gguf_string_array(std::vector<std::string> v);
GgufValue gguf_f32_array(const std::vector<float>& v);
GgufValue gguf_i32_array(const std::vector<int32_t>& v);
// An array of scalars of `elem` type from their little-endian bytes (count * size bytes).
GgufValue gguf_scalar_array(GgufValueType elem, uint64_t count, std::vector<uint8_t> raw);
// An array of arrays.
GgufValue gguf_array_array(std::vector<GgufValue> arrays);

class GgufWriter {
 public:
  // Fills the tensor's bytes when write() reaches it (nbytes of them; may throw).
  using Producer = std::function<std::vector<uint8_t>()>;
  // Called once per tensor after its bytes are written: index (0-based), its info
  // (offset relative to the data section, data pointer null).
  using Progress = std::function<void(size_t index, const GgufTensorInfo& info)>;

  // Sets a metadata key; a key set twice keeps its first position and the last value.
  void set(const std::string& key, GgufValue value);
  bool has(const std::string& key) const;

  // Tensors; shape outermost first (as GgufTensorInfo::shape), 1..4 dims.
  // Borrowed bytes: must stay valid until write() returns.
  void add_tensor(const std::string& name, const std::vector<int64_t>& shape, GgufType type,
                  const void* data, uint64_t nbytes);
  // Owned bytes.
  void add_tensor(const std::string& name, const std::vector<int64_t>& shape, GgufType type,
                  std::vector<uint8_t> bytes);
  // Bytes produced at write time (keeps peak memory to one tensor).
  void add_tensor(const std::string& name, const std::vector<int64_t>& shape, GgufType type,
                  Producer producer);

  size_t n_tensors() const { return tensors_.size(); }
  // The tensor infos in add order (offsets relative to the data section, data null).
  std::vector<GgufTensorInfo> tensor_infos() const;
  // The file size write() produces.
  uint64_t file_size() const;

  // Writes the file atomically.
  void write(const std::string& path, const Progress& progress = {}) const;

 private:
  struct Entry {
    GgufTensorInfo info;  // offset filled at add time
    const uint8_t* borrowed = nullptr;
    std::vector<uint8_t> owned;
    Producer producer;
  };
  Entry& add(const std::string& name, const std::vector<int64_t>& shape, GgufType type);
  std::vector<uint8_t> header() const;

  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Entry> tensors_;
  uint64_t data_size_ = 0;  // data section bytes so far, padded
};

}  // namespace bigdl::io
