// Read-only zip archive reader: enough of PKWARE APPNOTE 6.3 for torch.save archives
// (and npz-style files): stored and deflate entries, ZIP64, no encryption, one disk.
//
// Byte layout (all integers little-endian):
//
//   per entry:  local file header  "PK\3\4" (30 bytes + name + extra)  then the data
//   central directory, one record per entry:
//               "PK\1\2" (46 bytes + name + extra + comment): method, crc32,
//               compressed/uncompressed size, offset of the local header
//   [ZIP64 end of central directory "PK\6\6" (56 bytes) + locator "PK\6\7" (20 bytes)]
//   end of central directory "PK\5\6" (22 bytes + comment <= 65535): entry count,
//               central directory size and offset
//
// Every offset and size read from the file is checked against the file size (and the
// central directory against the end records) before it is used; entries must lie before
// the central directory, names must be unique, stored entries must have equal
// compressed and uncompressed sizes, and each entry is checked against its CRC-32 when
// read. Anything else throws FormatError "[<op>] <file>: zip: ...".
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace bigdl::io {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;            // 0 stored, 8 deflate
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t size = 0;              // uncompressed bytes
  uint64_t local_header_offset = 0;
};

class ZipReader {
 public:
  // Opens `path` and reads its central directory. `op` names the public operation in
  // error messages. Throws IOError if the file cannot be opened, FormatError if it is
  // not a well-formed zip.
  ZipReader(const std::string& path, const std::string& op);
  // Reads an in-memory archive; `data` must outlive the reader.
  ZipReader(const uint8_t* data, size_t size, const std::string& name_for_errors,
            const std::string& op);
  ~ZipReader();
  ZipReader(const ZipReader&) = delete;
  ZipReader& operator=(const ZipReader&) = delete;

  // Entries in central-directory order.
  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry called `name`, or nullptr.
  const ZipEntry* find(const std::string& name) const;
  // The uncompressed bytes of `entry`, CRC-checked.
  std::vector<uint8_t> read(const ZipEntry& entry) const;
  // Total archive size in bytes.
  uint64_t size() const { return size_; }

 private:
  void read_at(uint64_t offset, uint64_t n, uint8_t* dst) const;
  void parse_directory();

  std::string op_;
  std::string file_;
  int fd_ = -1;                        // file source, or
  const uint8_t* data_ = nullptr;      // memory source
  uint64_t size_ = 0;
  uint64_t data_limit_ = 0;            // entry data must end before this (central dir start)
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;
};

}  // namespace bigdl::io
