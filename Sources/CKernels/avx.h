// Shared by the AVX/FMA kernels: the target attribute (no global -mavx flag, so the rest of
// the target builds for any x86-64 and the kernels are only called after the cpuid check) and
// the fixed-order 8-lane sum every output goes through.
#ifndef RECKON_AVX_H
#define RECKON_AVX_H

#include <immintrin.h>

#define TARGET __attribute__((target("avx,fma")))

TARGET static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#endif
