// Training attention's softmax rows, forward and backward. The scalar loops spent most of
// attention's non-product time in expf; these run 8 lanes wide, tails through masked loads
// so every position goes through the same exp.
#include "kernels.h"
#include "avx.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

// Lanes [0, n) of a mask, for n in 0...8.
TARGET static inline __m256i lanes(int n) {
    static const int32_t table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(table + 8 - n));
}

TARGET void rk_softmax_row(float *row, int len, int width) {
    int full = len & ~7, rest = len - full;
    __m256i tail = lanes(rest);
    __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vmx = ninf;
    for (int j = 0; j < full; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(row + j));
    if (rest) vmx = _mm256_max_ps(vmx, _mm256_blendv_ps(ninf, _mm256_maskload_ps(row + full, tail), _mm256_castsi256_ps(tail)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmx), _mm256_extractf128_ps(vmx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    __m256 mx = _mm256_set1_ps(_mm_cvtss_f32(m4)), vsum = _mm256_setzero_ps();
    for (int j = 0; j < full; j += 8) {
        __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(row + j), mx));
        _mm256_storeu_ps(row + j, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    if (rest) {
        __m256 e = _mm256_and_ps(exp_neg(_mm256_sub_ps(_mm256_maskload_ps(row + full, tail), mx)), _mm256_castsi256_ps(tail));
        _mm256_maskstore_ps(row + full, tail, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    __m256 inv = _mm256_set1_ps(1.0f / hsum(vsum));
    for (int j = 0; j < full; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(_mm256_loadu_ps(row + j), inv));
    if (rest) _mm256_maskstore_ps(row + full, tail, _mm256_mul_ps(_mm256_maskload_ps(row + full, tail), inv));
    if (width > len) memset(row + len, 0, (size_t)(width - len) * sizeof(float));
}

TARGET void rk_softmax_backward_row(const float *p, float *g, int len, int width, float scale) {
    int full = len & ~7, rest = len - full;
    __m256i tail = lanes(rest);
    __m256 acc = _mm256_setzero_ps();
    for (int j = 0; j < full; j += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(p + j), _mm256_loadu_ps(g + j), acc);
    if (rest) acc = _mm256_fmadd_ps(_mm256_maskload_ps(p + full, tail), _mm256_maskload_ps(g + full, tail), acc);
    __m256 dot = _mm256_set1_ps(hsum(acc)), s = _mm256_set1_ps(scale);
    for (int j = 0; j < full; j += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(g + j), dot);
        _mm256_storeu_ps(g + j, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p + j), d), s));
    }
    if (rest) {
        __m256 d = _mm256_sub_ps(_mm256_maskload_ps(g + full, tail), dot);
        _mm256_maskstore_ps(g + full, tail, _mm256_mul_ps(_mm256_mul_ps(_mm256_maskload_ps(p + full, tail), d), s));
    }
    if (width > len) memset(g + len, 0, (size_t)(width - len) * sizeof(float));
}

// Cross-entropy rows over the vocabulary (tens of thousands of columns per row): the same
// 8-lane max, exp and sum as the rows above, without writing the probabilities back.
TARGET float rk_log_sum_exp(const float *x, int len) {
    int full = len & ~7, rest = len - full;
    __m256i tail = lanes(rest);
    __m256 ninf = _mm256_set1_ps(-INFINITY);
    __m256 vmx = ninf;
    for (int j = 0; j < full; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(x + j));
    if (rest) vmx = _mm256_max_ps(vmx, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + full, tail), _mm256_castsi256_ps(tail)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmx), _mm256_extractf128_ps(vmx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float m = _mm_cvtss_f32(m4);
    __m256 mx = _mm256_set1_ps(m), s0 = _mm256_setzero_ps(), s1 = s0;
    int j = 0;
    for (; j + 16 <= full; j += 16) {
        s0 = _mm256_add_ps(s0, exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + j), mx)));
        s1 = _mm256_add_ps(s1, exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), mx)));
    }
    for (; j < full; j += 8) s0 = _mm256_add_ps(s0, exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + j), mx)));
    if (rest) s1 = _mm256_add_ps(s1, _mm256_and_ps(exp_neg(_mm256_sub_ps(_mm256_maskload_ps(x + full, tail), mx)),
                                                   _mm256_castsi256_ps(tail)));
    return m + logf(hsum(_mm256_add_ps(s0, s1)));
}

TARGET void rk_scaled_exp(const float *x, int len, float shift, float scale, float *out) {
    int full = len & ~7, rest = len - full;
    __m256i tail = lanes(rest);
    __m256 sh = _mm256_set1_ps(shift), sc = _mm256_set1_ps(scale);
    for (int j = 0; j < full; j += 8)
        _mm256_storeu_ps(out + j, _mm256_mul_ps(sc, exp_neg(_mm256_sub_ps(_mm256_loadu_ps(x + j), sh))));
    if (rest)
        _mm256_maskstore_ps(out + full, tail, _mm256_mul_ps(sc, exp_neg(_mm256_sub_ps(_mm256_maskload_ps(x + full, tail), sh))));
}
