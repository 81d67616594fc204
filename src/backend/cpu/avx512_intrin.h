// <immintrin.h> for the *_avx512.cpp files. GCC 12 warns about the deliberately
// undefined pass-through operand inside its own AVX-512 intrinsics (GCC bug 105593); the
// warning points into the header, so it is silenced around the include only.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
