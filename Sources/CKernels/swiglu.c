// The SwiGLU gate, forward and backward, 8 lanes wide. The scalar loops (ReckonCore/SwiGLU.swift's
// references) call expf once per element: 94 M times a pass for SmolLM2-135M at B·T = 2,048.
// σ(x) comes from e = exp(−|x|) ≤ 1 through the softmaxes' exp: 1/(1 + e) for x ≥ 0 and
// e/(1 + e) below, so no lane overflows.
#include "kernels.h"
#include "avx.h"

#include <math.h>

TARGET static inline __m256 sigmoid(__m256 x) {
    __m256 neg_abs = _mm256_or_ps(x, _mm256_set1_ps(-0.0f));  // −|x|
    __m256 e = exp_neg(neg_abs);
    __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    __m256 below = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(r, _mm256_mul_ps(e, r), below);
}

// Lanes [0, n) of a mask, for n in 0...8.
TARGET static inline __m256i lanes(int n) {
    static const int lane_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(lane_table + 8 - n));
}

TARGET void rk_swiglu_forward(const float *a, const float *b, float *out, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(x, sigmoid(x)), _mm256_loadu_ps(b + i)));
    }
    if (i < n) {  // the tail through the same lanes, so every element rounds alike
        __m256i m = lanes((int)(n - i));
        __m256 x = _mm256_maskload_ps(a + i, m);
        _mm256_maskstore_ps(out + i, m, _mm256_mul_ps(_mm256_mul_ps(x, sigmoid(x)), _mm256_maskload_ps(b + i, m)));
    }
}

TARGET static inline void backward8(const float *dout, const float *a, const float *b, float *da, float *db,
                                    __m256i m, int masked) {
    __m256 g = masked ? _mm256_maskload_ps(dout, m) : _mm256_loadu_ps(dout);
    __m256 x = masked ? _mm256_maskload_ps(a, m) : _mm256_loadu_ps(a);
    __m256 bv = masked ? _mm256_maskload_ps(b, m) : _mm256_loadu_ps(b);
    __m256 sig = sigmoid(x), one = _mm256_set1_ps(1.0f);
    __m256 dbv = _mm256_mul_ps(g, _mm256_mul_ps(x, sig));
    // dout · b · σ · (1 + x·(1 − σ)), left to right as the reference writes it
    __m256 dav = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(g, bv), sig),
                               _mm256_add_ps(one, _mm256_mul_ps(x, _mm256_sub_ps(one, sig))));
    if (masked) { _mm256_maskstore_ps(db, m, dbv); _mm256_maskstore_ps(da, m, dav); }
    else { _mm256_storeu_ps(db, dbv); _mm256_storeu_ps(da, dav); }
}

TARGET void rk_swiglu_backward(const float *dout, const float *a, const float *b, float *da, float *db, long n) {
    long i = 0;
    __m256i all = lanes(8);
    for (; i + 8 <= n; i += 8) backward8(dout + i, a + i, b + i, da + i, db + i, all, 0);
    if (i < n) backward8(dout + i, a + i, b + i, da + i, db + i, lanes((int)(n - i)), 1);
}
