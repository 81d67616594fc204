// Atomic file replacement: a writer callback fills "<path>.tmp.<pid>.<n>" in the same
// directory; the temp file is flushed, fsync'ed and renamed over <path>, then the
// directory is fsync'ed. rename(2) within one directory is atomic on POSIX, so a reader
// (or a crash) sees either the old file or the complete new one, never a partial write.
// On any error the temp file is removed and <path> is left as it was.
#pragma once

#include <cstddef>
#include <cstdio>
#include <functional>
#include <string>

namespace bigdl::io {

// Writes `path` atomically through `writer`, which receives a FILE* opened "wb" and may
// throw (the exception propagates after the temp file is removed). Write failures
// (fwrite, fflush, fsync, fclose, rename) throw IOError
// "[write_file_atomic] <path>: <strerror>".
void write_file_atomic(const std::string& path, const std::function<void(std::FILE*)>& writer);

// fwrite that throws IOError "[write_file_atomic] write failed: <strerror>" on a short
// write, for use inside a writer callback.
void write_all(std::FILE* f, const void* data, std::size_t size);

}  // namespace bigdl::io
