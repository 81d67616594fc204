// Helpers for the libFuzzer targets: an in-memory file (for loaders that take a path),
// a sink that keeps reads from being optimised away, and the encode / decode round of
// the tokenizer targets.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "bigdl/llm/vocab.h"

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

// `text` encoded with and without special-token parsing; every id must be inside the
// vocabulary (else __builtin_trap: a finding), and the ids are decoded back, whole and
// through a StreamDecoder.
inline void encode_decode(const bigdl::llm::Vocab& v, std::string_view text) {
  using bigdl::llm::TokenId;
  for (const bool special : {false, true}) {
    const std::vector<TokenId> ids = v.encode(text, v.add_bos(), special);
    for (const TokenId id : ids)
      if (id < 0 || id >= v.size()) __builtin_trap();
    (void)v.decode(ids, special);
    bigdl::llm::StreamDecoder stream(v);
    for (const TokenId id : ids) (void)stream.push(id);
    (void)stream.flush();
  }
}

}  // namespace fuzz
