// Option parsing shared by the stand-alone benchmarks of this folder.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

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

// The items of `--name a,b,c` (empty items dropped), or {} when absent.
inline std::vector<std::string> list_arg(int argc, char** argv, const char* name) {
  std::vector<std::string> out;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) {
      std::string item;
      for (const char* c = argv[i + 1];; ++c) {
        if (*c == ',' || *c == '\0') {
          if (!item.empty()) out.push_back(item);
          item.clear();
          if (*c == '\0') break;
        } else {
          item += *c;
        }
      }
    }
  return out;
}

}  // namespace bench
