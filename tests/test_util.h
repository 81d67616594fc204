// Helpers every test folder shares (tests/ is on each test binary's include path).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>

#include <unistd.h>

#include "bigdl/tensor.h"

namespace test_util {

// max |a - b| / max |b| over two f32 tensors of the same shape.
inline double rel_diff(const bigdl::Tensor& a, const bigdl::Tensor& b) {
  const bigdl::Tensor ac = a.contiguous(), bc = b.contiguous();
  EXPECT_EQ(ac.shape(), bc.shape());
  double num = 0, den = 0;
  for (int64_t i = 0; i < ac.numel(); ++i) {
    num = std::max(num, double(std::fabs(ac.data<float>()[i] - bc.data<float>()[i])));
    den = std::max(den, double(std::fabs(bc.data<float>()[i])));
  }
  return num / den;
}

// Runs f, which must throw an E, and returns its what(). Another exception type, or none,
// is a test failure (reported here) and returns "".
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no exception thrown";
  return "";
}

// A fresh folder under the system temp directory, removed with its files when the
// object dies. `name` makes it recognisable; the pid keeps parallel ctest runs apart.
class TempDir {
 public:
  explicit TempDir(const std::string& name = "tmp")
      : path_((std::filesystem::temp_directory_path() / ("bigdl_test_" + name + "_" + std::to_string(::getpid())))
                  .string()) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace test_util
