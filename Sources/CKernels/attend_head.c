// Decode's attention: one query (rk_attend_head), or the queries of the heads that share one
// KV head (rk_attend_group), over cached positions.
#include "kernels.h"
#include "avx.h"

#include <math.h>
#include <stddef.h>

// Decode's attention per (row, head): two BLAS calls of a few thousand FLOPs each cost more
// in call overhead than in arithmetic, and a scalar expf per position is the rest.

// scores[t] = e^(scores[t] − mx) in place, through the 8-lane exp (the tail too, so every
// position rounds alike); returns their sum.
TARGET static inline float exp_shifted(float *scores, int len, float mx) {
    __m256 vmx = _mm256_set1_ps(mx), vsum = _mm256_setzero_ps();
    int t = 0;
    for (; t + 8 <= len; t += 8) {
        __m256 e = exp_neg(_mm256_sub_ps(_mm256_loadu_ps(scores + t), vmx));
        _mm256_storeu_ps(scores + t, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum(vsum);
    if (t < len) {
        float tail[8] = {0};
        for (int i = t; i < len; i++) tail[i - t] = scores[i] - mx;
        float e[8];
        _mm256_storeu_ps(e, exp_neg(_mm256_loadu_ps(tail)));
        for (int i = t; i < len; i++) { scores[i] = e[i - t]; sum += e[i - t]; }
    }
    return sum;
}

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
    float sum = exp_shifted(scores, len, mx);
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

// G heads (constant after inlining) over one KV head. Each head's every lane goes through
// rk_attend_head's operations in its order (a dot product per position in one accumulator,
// the same exp, then Σ_u p_u·v_u per column from u = 0), so the results are bit-identical to
// it; what changes is that each key and value row is loaded once for G queries, and G heads'
// independent accumulators keep both FMA pipes busy where one head's four chains waited on
// FMA latency.
TARGET static inline __attribute__((always_inline)) void attend_heads(
    int G, const float *q, const float *keys, const float *values, int len, int hd, float scale,
    float *scores, float *out) {
    float mx[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int t = 0; t < len; t++) {
        const float *k = keys + (size_t)t * hd;
        __m256 acc[3];
        for (int h = 0; h < G; h++) acc[h] = _mm256_setzero_ps();
        for (int i = 0; i < hd; i += 8) {
            __m256 kv = _mm256_loadu_ps(k + i);
            for (int h = 0; h < G; h++) acc[h] = _mm256_fmadd_ps(_mm256_loadu_ps(q + (size_t)h * hd + i), kv, acc[h]);
        }
        for (int h = 0; h < G; h++) {
            float s = hsum(acc[h]) * scale;
            scores[(size_t)h * len + t] = s;
            mx[h] = s > mx[h] ? s : mx[h];
        }
    }
    __m256 inv[3];
    for (int h = 0; h < G; h++) inv[h] = _mm256_set1_ps(1.0f / exp_shifted(scores + (size_t)h * len, len, mx[h]));
    int i = 0;
    for (; i + 32 <= hd; i += 32) {
        __m256 a[3][4];
        for (int h = 0; h < G; h++)
            for (int j = 0; j < 4; j++) a[h][j] = _mm256_setzero_ps();
        for (int u = 0; u < len; u++) {
            const float *v = values + (size_t)u * hd + i;
            for (int h = 0; h < G; h++) {
                __m256 p = _mm256_set1_ps(scores[(size_t)h * len + u]);
                for (int j = 0; j < 4; j++) a[h][j] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8 * j), a[h][j]);
            }
        }
        for (int h = 0; h < G; h++)
            for (int j = 0; j < 4; j++) _mm256_storeu_ps(out + (size_t)h * hd + i + 8 * j, _mm256_mul_ps(a[h][j], inv[h]));
    }
    for (; i < hd; i += 8) {
        __m256 a[3];
        for (int h = 0; h < G; h++) a[h] = _mm256_setzero_ps();
        for (int u = 0; u < len; u++) {
            __m256 v = _mm256_loadu_ps(values + (size_t)u * hd + i);
            for (int h = 0; h < G; h++) a[h] = _mm256_fmadd_ps(_mm256_set1_ps(scores[(size_t)h * len + u]), v, a[h]);
        }
        for (int h = 0; h < G; h++) _mm256_storeu_ps(out + (size_t)h * hd + i, _mm256_mul_ps(a[h], inv[h]));
    }
}

TARGET void rk_attend_group(const float *q, const float *keys, const float *values, int len, int hd, int group,
                            float scale, float *scores, float *out) {
    // Heads three at a time: 12 accumulators and 3 weights fill AVX's 16 registers.
    for (int h = 0; h < group; h += 3) {
        const float *qh = q + (size_t)h * hd;
        float *sh = scores + (size_t)h * len, *oh = out + (size_t)h * hd;
        switch (group - h) {
        case 1: attend_heads(1, qh, keys, values, len, hd, scale, sh, oh); break;
        case 2: attend_heads(2, qh, keys, values, len, hd, scale, sh, oh); break;
        default: attend_heads(3, qh, keys, values, len, hd, scale, sh, oh); break;
        }
    }
}
