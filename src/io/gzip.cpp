#include "bigdl/io/gzip.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "bigdl/error.h"

namespace bigdl::io {

namespace {
constexpr const char* kOp = "read_file";

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) throw IOError(::bigdl::detail::cat("[", kOp, "] ", path, ": ", std::strerror(errno)));
  // fopen succeeds on a directory; fread would then fail with a less helpful EISDIR.
  struct stat st {};
  if (fstat(fileno(f.get()), &st) == 0 && S_ISDIR(st.st_mode))
    throw IOError(::bigdl::detail::cat("[", kOp, "] ", path, ": Is a directory"));

  std::vector<uint8_t> out;
  if (S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  uint8_t buf[1 << 16];
  for (;;) {
    size_t n = std::fread(buf, 1, sizeof(buf), f.get());
    out.insert(out.end(), buf, buf + n);
    if (n < sizeof(buf)) break;
  }
  if (std::ferror(f.get()))
    throw IOError(::bigdl::detail::cat("[", kOp, "] ", path, ": read error: ", std::strerror(errno)));
  return out;
}

bool is_gzip(const uint8_t* data, size_t size) {
  return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& name) {
  z_stream zs{};
  // 16 + MAX_WBITS: expect a gzip header and check the trailing CRC32 and length.
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    throw InternalError(::bigdl::detail::cat("[", kOp, "] ", name, ": inflateInit2 failed"));
  struct Ender {
    z_stream* zs;
    ~Ender() { inflateEnd(zs); }
  } ender{&zs};

  std::vector<uint8_t> out;
  out.reserve(size * 4);
  zs.next_in = const_cast<Bytef*>(data);
  size_t consumed = 0;  // input bytes handed to zlib so far
  uint8_t buf[1 << 16];
  for (;;) {
    if (zs.avail_in == 0) {
      size_t chunk = std::min<size_t>(size - consumed, 1u << 30);  // avail_in is 32-bit
      zs.avail_in = static_cast<uInt>(chunk);
      consumed += chunk;
    }
    zs.next_out = buf;
    zs.avail_out = sizeof(buf);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), buf, buf + (sizeof(buf) - zs.avail_out));
    if (rc == Z_STREAM_END) {
      size_t left = zs.avail_in + (size - consumed);
      const uint8_t* rest = zs.next_in;
      if (left == 0) break;
      // Another gzip member follows: keep going, as gunzip does. Anything else
      // (zero padding from tape-era tools, say) is ignored.
      if (!is_gzip(rest, left)) break;
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && consumed == size)
      throw FormatError(::bigdl::detail::cat("[", kOp, "] ", name, ": truncated gzip stream (input ends after ",
                                    size, " bytes, ", out.size(), " bytes inflated)"));
    if (rc != Z_OK)
      throw FormatError(::bigdl::detail::cat("[", kOp, "] ", name, ": corrupt gzip stream: ",
                                    zs.msg ? zs.msg : zError(rc)));
  }
  return out;
}

std::vector<uint8_t> read_file_maybe_gzip(const std::string& path) {
  std::vector<uint8_t> raw = read_file_bytes(path);
  if (!is_gzip(raw.data(), raw.size())) return raw;
  return gunzip(raw.data(), raw.size(), path);
}

}  // namespace bigdl::io
