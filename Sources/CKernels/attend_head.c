// One query's attention over its cached positions (decode, per row and head).
#include "kernels.h"
#include "avx.h"

#include <math.h>
#include <stddef.h>

// Decode's attention per (row, head): two BLAS calls of a few thousand FLOPs each cost more
// in call overhead than in arithmetic, and a scalar expf per position is the rest.

TARGET void rk_attend_head(const float *q, const float *keys, const float *values, int len, int hd,
                           float scale, float *scores, float *out) {
    float mx = -INFINITY;
    for (int t = 0; t < len; t++) {
        const float *k = keys + (size_t)t * hd;
        __m256 acc = _mm256_setzero_ps();
        for (int i = 0; i < hd; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(k + i), acc);
        float s = hsum(acc) * scale;
        scores[t] = s;
        mx = s > mx ? s : mx;
    }
    __m256 vmx = _mm256_set1_ps(mx), vsum = _mm256_setzero_ps();
    int t = 0;
    for (; t + 8 <= len; t += 8) {
        __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(scores + t), vmx));
        _mm256_storeu_ps(scores + t, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum(vsum);
    if (t < len) {  // the tail through the same 8-lane exp, so every position rounds alike
        float tail[8] = {0};
        for (int i = t; i < len; i++) tail[i - t] = scores[i] - mx;
        float e[8];
        _mm256_storeu_ps(e, exp_neg(_mm256_loadu_ps(tail)));
        for (int i = t; i < len; i++) { scores[i] = e[i - t]; sum += e[i - t]; }
    }
    // 32 columns at a time in four independent accumulators, then any 8-column rest.
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    int i = 0;
    for (; i + 32 <= hd; i += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int u = 0; u < len; u++) {
            __m256 p = _mm256_set1_ps(scores[u]);
            const float *v = values + (size_t)u * hd + i;
            a0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v), a0);
            a1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8), a1);
            a2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 16), a2);
            a3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 24), a3);
        }
        _mm256_storeu_ps(out + i, _mm256_mul_ps(a0, inv));
        _mm256_storeu_ps(out + i + 8, _mm256_mul_ps(a1, inv));
        _mm256_storeu_ps(out + i + 16, _mm256_mul_ps(a2, inv));
        _mm256_storeu_ps(out + i + 24, _mm256_mul_ps(a3, inv));
    }
    for (; i < hd; i += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int u = 0; u < len; u++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(scores[u]), _mm256_loadu_ps(values + (size_t)u * hd + i), acc);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(acc, inv));
    }
}
