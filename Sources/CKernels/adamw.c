// AdamW's element-wise update and the sum of squares under the gradient norm, 8 lanes wide.
// The scalar loop (ReckonCore/OptimizerKernels.swift's reference) spent most of a SmolLM2-135M
// step's optimizer time one parameter at a time. Each lane does the reference's operations in
// the reference's order, with no fused multiply-adds, so every result is bit-identical to it.
#include "kernels.h"
#include "avx.h"

#include <math.h>

// The reference rounds after every operation; so must the tail here.
#pragma STDC FP_CONTRACT OFF

TARGET void rk_adamw(float *p, const float *g, float *m, float *v, long n, const rk_adamw_args *a) {
    __m256 clip = _mm256_set1_ps(a->clip), b1 = _mm256_set1_ps(a->beta1), b2 = _mm256_set1_ps(a->beta2);
    __m256 ob1 = _mm256_set1_ps(1 - a->beta1), ob2 = _mm256_set1_ps(1 - a->beta2);
    __m256 bc1 = _mm256_set1_ps(a->bc1), bc2 = _mm256_set1_ps(a->bc2), eps = _mm256_set1_ps(a->eps);
    __m256 rate = _mm256_set1_ps(a->rate), decay = _mm256_set1_ps(a->decay);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), clip);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(ob1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(ob2, gi), gi));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 step = _mm256_div_ps(_mm256_mul_ps(rate, _mm256_div_ps(mi, bc1)),
                                    _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(vi, bc2)), eps));
        __m256 pi = _mm256_sub_ps(_mm256_loadu_ps(p + i), step);
        if (a->decay != 0) pi = _mm256_sub_ps(pi, _mm256_mul_ps(decay, pi));
        _mm256_storeu_ps(p + i, pi);
    }
    for (; i < n; i++) {  // the tail, as the reference writes it
        float gi = g[i] * a->clip;
        m[i] = a->beta1 * m[i] + (1 - a->beta1) * gi;
        v[i] = a->beta2 * v[i] + (1 - a->beta2) * gi * gi;
        p[i] -= a->rate * (m[i] / a->bc1) / (sqrtf(v[i] / a->bc2) + a->eps);
        if (a->decay != 0) p[i] -= a->decay * p[i];
    }
}

TARGET double rk_sum_squares(const float *x, long n) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(xv)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1));
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(lo, lo));
        s1 = _mm256_add_pd(s1, _mm256_mul_pd(hi, hi));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(s0, s1));
    double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}
