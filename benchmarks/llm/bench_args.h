// Option parsing shared by the stand-alone benchmarks of this folder.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bench {

// The value of `--name N` in argv (a positive integer), or def when absent. A value that
// is not a positive integer: one line "prog: --name expects a positive integer, got 'x'"
// on stderr and exit 2.
inline long positive_arg(int argc, char** argv, const char* prog, const char* name, long def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) {
      char* end = nullptr;
      const long v = std::strtol(argv[i + 1], &end, 10);
      if (end == argv[i + 1] || *end != '\0' || v < 1) {
        std::fprintf(stderr, "%s: %s expects a positive integer, got '%s'\n", prog, name, argv[i + 1]);
        std::exit(2);
      }
      return v;
    }
  return def;
}

}  // namespace bench
