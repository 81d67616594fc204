// Helpers for the libFuzzer targets: an in-memory file (for loaders that take a path)
// and a sink that keeps reads from being optimised away.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fuzz {

// A memfd holding the input, reachable as a path: loaders that take a file name read
// it without touching the disk. One per process, rewritten for each input.
class MemFile {
 public:
  MemFile() {
    fd_ = ::memfd_create("bigdl_fuzz", 0);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& write(const uint8_t* data, size_t size) {
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, data, size, 0) != ssize_t(size)) {
      std::perror("memfd write");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

// Reads a byte so ASan checks that the address is inside the input.
inline volatile uint8_t sink;
inline void touch(const void* p) { sink = *static_cast<const volatile uint8_t*>(p); }

}  // namespace fuzz
