// Whole-file reads that look through gzip compression.
//
// Data sets are shipped both plain and gzipped (MNIST's *-ubyte.gz, sklearn's
// digits.csv.gz). Readers call read_file_maybe_gzip() and never care which: a file whose
// first two bytes are the gzip magic 1f 8b is inflated with zlib, anything else is
// returned as is. Concatenated gzip members (what `cat a.gz b.gz` or pigz produce) are
// inflated one after another, as gunzip does.
//
// Errors:
//   IOError      [read_file] <path>: No such file or directory     (strerror of the open/read)
//   FormatError  [read_file] <path>: truncated gzip stream (...)   (file ends mid-stream)
//   FormatError  [read_file] <path>: corrupt gzip stream: <zlib message>
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bigdl::io {

// Contents of the file at `path`, inflated if it is gzip (detected by magic bytes, not
// by the file name).
std::vector<uint8_t> read_file_maybe_gzip(const std::string& path);

// Contents of the file at `path`, byte for byte.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// True if `data` starts with the gzip magic bytes 1f 8b.
bool is_gzip(const uint8_t* data, size_t size);

// Inflates a complete gzip stream held in memory; `name` only appears in error messages.
std::vector<uint8_t> gunzip(const uint8_t* data, size_t size, const std::string& name);

}  // namespace bigdl::io
