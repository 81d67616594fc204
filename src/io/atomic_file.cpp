#include "bigdl/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "bigdl/error.h"

namespace bigdl::io {

namespace {

std::atomic<unsigned> g_temp_counter{0};

[[noreturn]] void throw_io(const std::string& path, int err) {
  throw IOError(detail::cat("[write_file_atomic] ", path, ": ", std::strerror(err)));
}

std::string parent_dir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Durability of the rename itself; failure here cannot undo the (already atomic)
// replacement, so it is best effort.
void fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_all(std::FILE* f, const void* data, std::size_t size) {
  if (size == 0) return;
  if (std::fwrite(data, 1, size, f) != size)
    throw IOError(detail::cat("[write_file_atomic] write failed: ", std::strerror(errno)));
}

void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& writer) {
  // The counter keeps two threads of one process that save the same path apart.
  const std::string tmp = detail::cat(path, ".tmp.", ::getpid(), ".", g_temp_counter++);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw_io(path, errno);

  int err = 0;
  try {
    writer(f);
  } catch (...) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw;
  }
  if (std::ferror(f)) err = errno != 0 ? errno : EIO;
  if (err == 0 && std::fflush(f) != 0) err = errno;
  if (err == 0 && ::fsync(::fileno(f)) != 0) err = errno;
  if (std::fclose(f) != 0 && err == 0) err = errno;
  if (err == 0 && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    std::remove(tmp.c_str());
    throw_io(path, err);
  }
  fsync_dir(parent_dir(path));
}

}  // namespace bigdl::io
