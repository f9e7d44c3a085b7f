// Shared by the AVX/FMA kernels: the target attribute (no global -mavx flag, so the rest of
// the target builds for any x86-64 and the kernels are only called after the cpuid check),
// the fixed-order 8-lane sum every output goes through, and the 8-lane exp of the softmaxes.
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

// e^x for x ≤ 0, 8 lanes: Cephes' expf polynomial after x = n·ln2 + r (relative error about
// 1e-7). Lanes below -87 give 0. 2^n is built in the exponent field with 128-bit integer
// halves, since this CPU class has AVX but not AVX2.
TARGET static inline __m256 exp_neg(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m128i lo = _mm_slli_epi32(_mm_add_epi32(_mm256_castsi256_si128(ni), _mm_set1_epi32(127)), 23);
    __m128i hi = _mm_slli_epi32(_mm_add_epi32(_mm256_extractf128_si256(ni, 1), _mm_set1_epi32(127)), 23);
    __m256 scale = _mm256_castsi256_ps(_mm256_insertf128_si256(_mm256_castsi128_si256(lo), hi, 1));
    return _mm256_mul_ps(y, scale);
}

#endif
