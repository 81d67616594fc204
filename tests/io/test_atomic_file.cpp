#include "bigdl/io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <stdexcept>
#include <string>

#include "bigdl/error.h"
#include "io_test_util.h"

namespace {

using bigdl::io::write_all;
using bigdl::io::write_file_atomic;

void write_text(std::FILE* f, const std::string& s) { write_all(f, s.data(), s.size()); }

std::string read_text(const std::string& path) {
  const auto b = io_test::read_bytes(path);
  return std::string(b.begin(), b.end());
}

TEST(AtomicFile, WritesAndReplaces) {
  io_test::TempDir dir;
  const std::string path = dir.file("a.bin");
  write_file_atomic(path, [](std::FILE* f) { write_text(f, "first"); });
  EXPECT_EQ(read_text(path), "first");
  write_file_atomic(path, [](std::FILE* f) { write_text(f, "second, longer"); });
  EXPECT_EQ(read_text(path), "second, longer");
  write_file_atomic(path, [](std::FILE*) {});
  EXPECT_EQ(read_text(path), "");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"a.bin"});
}

TEST(AtomicFile, WriterExceptionLeavesOldFileAndNoTemp) {
  io_test::TempDir dir;
  const std::string path = dir.file("a.bin");
  write_file_atomic(path, [](std::FILE* f) { write_text(f, "good"); });
  EXPECT_THROW(write_file_atomic(path,
                                 [](std::FILE* f) {
                                   write_text(f, "half of a new ");
                                   throw std::runtime_error("writer failed");
                                 }),
               std::runtime_error);
  EXPECT_EQ(read_text(path), "good");
  EXPECT_EQ(dir.list(), std::vector<std::string>{"a.bin"});

  const std::string fresh = dir.file("never.bin");
  EXPECT_THROW(write_file_atomic(fresh, [](std::FILE*) { throw bigdl::ValueError("x"); }),
               bigdl::ValueError);
  EXPECT_FALSE(io_test::file_exists(fresh));
  EXPECT_EQ(dir.list(), std::vector<std::string>{"a.bin"});
}

TEST(AtomicFile, MissingDirectoryIsIOError) {
  const std::string path = "/nonexistent_dir_bigdl_io/x.bin";
  try {
    write_file_atomic(path, [](std::FILE* f) { write_text(f, "x"); });
    FAIL() << "no error";
  } catch (const bigdl::IOError& e) {
    EXPECT_EQ(std::string(e.what()), "[write_file_atomic] " + path + ": No such file or directory");
  }
}

TEST(AtomicFile, RenameFailureRemovesTemp) {
  io_test::TempDir dir;
  const std::string path = dir.file("is_a_dir");
  ASSERT_EQ(::mkdir(path.c_str(), 0755), 0);
  ::mkdir((path + "/keep").c_str(), 0755);  // non-empty: rename over it must fail
  try {
    write_file_atomic(path, [](std::FILE* f) { write_text(f, "x"); });
    FAIL() << "no error";
  } catch (const bigdl::IOError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("[write_file_atomic] " + path + ": ", 0), 0u) << e.what();
  }
  EXPECT_EQ(dir.list(), std::vector<std::string>{"is_a_dir"});
}

}  // namespace
