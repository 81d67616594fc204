// shape_str (include/bigdl/tensor.h) on its own, so that the io sources, which the fuzz
// build compiles without the rest of the library, share it.
#include <string>

#include "bigdl/tensor.h"

namespace bigdl {

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace bigdl
