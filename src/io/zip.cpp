#include "bigdl/io/zip.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bigdl/error.h"

namespace bigdl::io {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;
constexpr uint64_t kEndSize = 22;
constexpr uint64_t kEnd64Size = 56;
constexpr uint64_t kLocatorSize = 20;
constexpr uint64_t kCentralSize = 46;
constexpr uint64_t kLocalSize = 30;
// Deflate cannot expand data by more than ~1032:1; a larger claim is a lie that would
// make us allocate for nothing.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint16_t u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t u32(const uint8_t* p) { return uint32_t(u16(p)) | (uint32_t(u16(p + 2)) << 16); }
uint64_t u64(const uint8_t* p) { return uint64_t(u32(p)) | (uint64_t(u32(p + 4)) << 32); }

// a + b <= limit without overflow.
bool fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

}  // namespace

ZipReader::ZipReader(const std::string& path, const std::string& op) : op_(op), file_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0)
    throw IOError(detail::cat("[", op_, "] ", file_, ": ", std::strerror(errno)));
  struct stat st {};
  const bool stat_ok = ::fstat(fd_, &st) == 0;
  if (!stat_ok || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw IOError(detail::cat("[", op_, "] ", file_, ": ",
                              stat_ok ? "not a regular file" : std::strerror(err)));
  }
  size_ = uint64_t(st.st_size);
  try {
    parse_directory();
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

ZipReader::ZipReader(const uint8_t* data, size_t size, const std::string& name_for_errors,
                     const std::string& op)
    : op_(op), file_(name_for_errors), data_(data), size_(size) {
  parse_directory();
}

ZipReader::~ZipReader() {
  if (fd_ >= 0) ::close(fd_);
}

void ZipReader::read_at(uint64_t offset, uint64_t n, uint8_t* dst) const {
  BIGDL_CHECK(fits(offset, n, size_), FormatError, op_, file_, ": zip: read of ", n,
              " bytes at offset ", offset, " runs past the end of the ", size_, "-byte file");
  if (data_ != nullptr) {
    if (n > 0) std::memcpy(dst, data_ + offset, n);
    return;
  }
  while (n > 0) {
    ssize_t got = ::pread(fd_, dst, size_t(std::min<uint64_t>(n, 1u << 30)), off_t(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw IOError(detail::cat("[", op_, "] ", file_, ": ",
                                got < 0 ? std::strerror(errno) : "file shrank while reading"));
    dst += got;
    offset += uint64_t(got);
    n -= uint64_t(got);
  }
}

void ZipReader::parse_directory() {
  auto fail = [&](const auto&... args) -> void {
    throw FormatError(detail::cat("[", op_, "] ", file_, ": zip: ", args...));
  };
  if (size_ < kEndSize) fail("not a zip file (", size_, " bytes is too short)");

  // The end record sits in the last 22 + 65535 (max comment) bytes; scan backwards.
  const uint64_t tail_size = std::min<uint64_t>(size_, kEndSize + 0xFFFF);
  std::vector<uint8_t> tail(tail_size);
  read_at(size_ - tail_size, tail_size, tail.data());
  int64_t found = -1;
  for (int64_t i = int64_t(tail_size - kEndSize); i >= 0; --i) {
    const uint8_t* p = tail.data() + i;
    if (u32(p) == kEndSig && uint64_t(i) + kEndSize + u16(p + 20) <= tail_size) {
      found = i;
      break;
    }
  }
  if (found < 0) fail("not a zip file (no end-of-central-directory record)");
  const uint64_t end_pos = size_ - tail_size + uint64_t(found);
  const uint8_t* end = tail.data() + found;
  uint64_t disk = u16(end + 4), cd_disk = u16(end + 6);
  uint64_t count_disk = u16(end + 8), count = u16(end + 10);
  uint64_t cd_size = u32(end + 12), cd_offset = u32(end + 16);
  uint64_t cd_limit = end_pos;  // the central directory ends before the end records

  if (count == 0xFFFF || count_disk == 0xFFFF || cd_size == 0xFFFFFFFF ||
      cd_offset == 0xFFFFFFFF || disk == 0xFFFF || cd_disk == 0xFFFF) {
    if (end_pos < kLocatorSize) fail("ZIP64 end-of-central-directory locator missing");
    uint8_t loc[kLocatorSize];
    read_at(end_pos - kLocatorSize, kLocatorSize, loc);
    if (u32(loc) != kEnd64LocatorSig) fail("ZIP64 end-of-central-directory locator missing");
    const uint64_t end64_pos = u64(loc + 8);
    if (!fits(end64_pos, kEnd64Size, end_pos - kLocatorSize))
      fail("ZIP64 end record offset ", end64_pos, " is out of range");
    uint8_t e64[kEnd64Size];
    read_at(end64_pos, kEnd64Size, e64);
    if (u32(e64) != kEnd64Sig) fail("bad ZIP64 end-of-central-directory signature");
    disk = u32(e64 + 16);
    cd_disk = u32(e64 + 20);
    count_disk = u64(e64 + 24);
    count = u64(e64 + 32);
    cd_size = u64(e64 + 40);
    cd_offset = u64(e64 + 48);
    cd_limit = end64_pos;
  }
  if (disk != 0 || cd_disk != 0 || count_disk != count)
    fail("multi-disk archives are not supported");
  if (!fits(cd_offset, cd_size, cd_limit))
    fail("central directory [", cd_offset, ", +", cd_size, ") runs past its end record at ",
         cd_limit);
  if (count > cd_size / kCentralSize)
    fail("central directory of ", cd_size, " bytes cannot hold ", count, " entries");
  data_limit_ = cd_offset;

  std::vector<uint8_t> cd(cd_size);
  read_at(cd_offset, cd_size, cd.data());
  uint64_t pos = 0;
  entries_.reserve(count);
  for (uint64_t k = 0; k < count; ++k) {
    if (!fits(pos, kCentralSize, cd_size)) fail("central directory entry ", k, " is truncated");
    const uint8_t* p = cd.data() + pos;
    if (u32(p) != kCentralSig) fail("central directory entry ", k, " has a bad signature");
    const uint16_t flags = u16(p + 8);
    ZipEntry e;
    e.method = u16(p + 10);
    e.crc32 = u32(p + 16);
    e.compressed_size = u32(p + 20);
    e.size = u32(p + 24);
    const uint64_t name_len = u16(p + 28), extra_len = u16(p + 30), comment_len = u16(p + 32);
    uint64_t entry_disk = u16(p + 34);
    e.local_header_offset = u32(p + 42);
    if (!fits(pos + kCentralSize, name_len + extra_len + comment_len, cd_size))
      fail("central directory entry ", k, " is truncated");
    e.name.assign(reinterpret_cast<const char*>(p + kCentralSize), name_len);

    // ZIP64 extended information: the 8-byte values replace the 0xFFFFFFFF fields, in
    // this order, and only those present.
    const uint8_t* x = p + kCentralSize + name_len;
    const uint8_t* x_end = x + extra_len;
    while (x_end - x >= 4) {
      const uint16_t id = u16(x), len = u16(x + 2);
      if (uint64_t(x_end - x - 4) < len) fail("entry '", e.name, "' has a truncated extra field");
      if (id == 0x0001) {
        const uint8_t* f = x + 4;
        const uint8_t* f_end = f + len;
        auto take64 = [&](uint64_t& v) {
          if (f_end - f < 8) fail("entry '", e.name, "' has a truncated ZIP64 extra field");
          v = u64(f);
          f += 8;
        };
        if (e.size == 0xFFFFFFFF) take64(e.size);
        if (e.compressed_size == 0xFFFFFFFF) take64(e.compressed_size);
        if (e.local_header_offset == 0xFFFFFFFF) take64(e.local_header_offset);
        if (entry_disk == 0xFFFF) {
          if (f_end - f < 4) fail("entry '", e.name, "' has a truncated ZIP64 extra field");
          entry_disk = u32(f);
        }
      }
      x += 4 + len;
    }
    if (entry_disk != 0) fail("entry '", e.name, "' is on another disk");
    if (flags & 0x1) fail("entry '", e.name, "' is encrypted");
    if (e.method != 0 && e.method != 8)
      fail("entry '", e.name, "' uses compression method ", e.method,
           "; only stored (0) and deflate (8) are supported");
    if (e.method == 0 && e.compressed_size != e.size)
      fail("stored entry '", e.name, "' has compressed size ", e.compressed_size,
           " != size ", e.size);
    if (e.method == 8 && e.size / kMaxDeflateRatio > e.compressed_size + 1)
      fail("entry '", e.name, "' claims ", e.size, " bytes from ", e.compressed_size,
           " deflated bytes");
    // The local header (30 bytes + name) and the data must lie before the central dir;
    // the exact data start needs the local header's own extra length, checked in read().
    if (!fits(e.local_header_offset, kLocalSize + name_len, data_limit_) ||
        !fits(e.local_header_offset + kLocalSize + name_len, e.compressed_size, data_limit_))
      fail("entry '", e.name, "' at offset ", e.local_header_offset, " with ",
           e.compressed_size, " bytes runs past the central directory at ", data_limit_);
    if (!by_name_.emplace(e.name, entries_.size()).second)
      fail("duplicate entry name '", e.name, "'");
    entries_.push_back(std::move(e));
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

std::vector<uint8_t> ZipReader::read(const ZipEntry& e) const {
  auto fail = [&](const auto&... args) -> void {
    throw FormatError(detail::cat("[", op_, "] ", file_, ": zip: entry '", e.name, "' ", args...));
  };
  uint8_t lh[kLocalSize];
  read_at(e.local_header_offset, kLocalSize, lh);
  if (u32(lh) != kLocalSig) fail("has a bad local header signature");
  const uint64_t name_len = u16(lh + 26), extra_len = u16(lh + 28);
  const uint64_t data_start = e.local_header_offset + kLocalSize + name_len + extra_len;
  if (!fits(data_start, e.compressed_size, data_limit_))
    fail("data [", data_start, ", +", e.compressed_size, ") runs past the central directory at ",
         data_limit_);
  if (name_len != e.name.size()) fail("local header names a different file");
  std::string local_name(name_len, '\0');
  read_at(e.local_header_offset + kLocalSize, name_len, reinterpret_cast<uint8_t*>(local_name.data()));
  if (local_name != e.name) fail("local header names a different file '", local_name, "'");

  std::vector<uint8_t> out(e.size);
  if (e.method == 0) {
    read_at(data_start, e.size, out.data());
  } else {
    std::vector<uint8_t> in(e.compressed_size);
    read_at(data_start, e.compressed_size, in.data());
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail("inflate could not start");
    uint8_t dummy = 0;  // zlib wants a valid pointer even for zero-sized output
    uint64_t in_pos = 0, out_pos = 0;
    int ret = Z_OK;
    // zlib counts in 32 bits; feed entries larger than that in slices. Every pass must
    // consume input or produce output, so the loop ends.
    for (;;) {
      const uint64_t in_chunk = std::min<uint64_t>(in.size() - in_pos, 1u << 30);
      const uint64_t out_chunk = std::min<uint64_t>(out.size() - out_pos, 1u << 30);
      zs.next_in = in_chunk == 0 ? &dummy : in.data() + in_pos;
      zs.avail_in = uInt(in_chunk);
      zs.next_out = out_chunk == 0 ? &dummy : out.data() + out_pos;
      zs.avail_out = uInt(out_chunk);
      ret = inflate(&zs, Z_NO_FLUSH);
      const uint64_t used = in_chunk - zs.avail_in, made = out_chunk - zs.avail_out;
      in_pos += used;
      out_pos += made;
      if (ret == Z_STREAM_END) break;
      if ((ret != Z_OK && ret != Z_BUF_ERROR) || (used == 0 && made == 0)) break;
    }
    inflateEnd(&zs);
    if (ret != Z_STREAM_END) {
      if (ret == Z_OK || ret == Z_BUF_ERROR) {
        if (out_pos == out.size()) fail("inflates to more than the ", out.size(), " bytes the directory says");
        fail("has a truncated deflate stream");
      }
      fail("is not a valid deflate stream (zlib error ", ret, ")");
    }
    if (out_pos != out.size())
      fail("inflates to ", out_pos, " bytes, the directory says ", out.size());
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for (uint64_t pos = 0; pos < out.size();) {
    const uint64_t chunk = std::min<uint64_t>(out.size() - pos, 1u << 30);
    crc = crc32(crc, out.data() + pos, uInt(chunk));
    pos += chunk;
  }
  if (uint32_t(crc) != e.crc32) fail("fails its CRC-32 check (corrupt file)");
  return out;
}

}  // namespace bigdl::io
