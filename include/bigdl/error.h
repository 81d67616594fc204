// Errors in bigdl-cpp come in two kinds (see docs/errors.md):
//
//  * Bad user input (wrong shapes, dtypes, indices, files) throws a typed exception
//    derived from bigdl::Error. The message starts with the operation in brackets:
//      [matmul] shapes [2, 3] and [4, 5] cannot be multiplied
//      [load_safetensors] model.safetensors: header length 912 exceeds file size 100
//  * A broken internal invariant is a bug: BIGDL_ASSERT aborts the operation with an
//    InternalError that names file:line.
//
// The CLI catches bigdl::Error at the edge, prints what() on one line and exits 1.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace bigdl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { public: using Error::Error; };     // incompatible shapes
class DTypeError : public Error { public: using Error::Error; };     // unsupported / mismatched dtype
class IndexError : public Error { public: using Error::Error; };     // index or dim out of range
class ValueError : public Error { public: using Error::Error; };     // bad argument value
class IOError : public Error { public: using Error::Error; };        // cannot open / read / write a file
class FormatError : public Error { public: using Error::Error; };    // file content truncated or corrupt
class SecurityError : public Error { public: using Error::Error; };  // input asks for something we refuse (e.g. pickle code)
class InternalError : public Error { public: using Error::Error; };  // a bug in bigdl-cpp

namespace detail {
template <typename... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace bigdl

// Throw ExcType with message "[op] ..." unless cond holds.
#define BIGDL_CHECK(cond, ExcType, op, ...)                                         \
  do {                                                                              \
    if (!(cond)) throw ExcType(::bigdl::detail::cat("[", op, "] ", __VA_ARGS__));   \
  } while (0)

// Internal invariant; failing it is a bug in bigdl-cpp, not in the caller's input.
#define BIGDL_ASSERT(cond)                                                              \
  do {                                                                                  \
    if (!(cond))                                                                        \
      throw ::bigdl::InternalError(::bigdl::detail::cat("internal error at ", __FILE__, \
                                                        ":", __LINE__, ": ", #cond));   \
  } while (0)
