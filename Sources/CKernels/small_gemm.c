// Decode's matrix products: few rows (one per live sequence) against a fixed weight matrix.
// OpenBLAS packs the whole weight matrix on every call, which costs as much as the product
// when there are only a few dozen rows; this kernel reads W in place. Each output is a dot
// product of two contiguous rows, accumulated 8 lanes wide, 4 rows × 3 weight rows at a time
// (12 accumulators keep both FMA pipes busy), and W's 3 rows stay in L1 while every
// row block passes over them.
#include "kernels.h"
#include "avx.h"

#include <stddef.h>

#define ROW_BLOCK 4
#define COL_BLOCK 3
#define COL_TILE 12   // weight rows one tile sweeps all input rows over

// c[r, j] (+)= x[r, :] · w[j, :] for r < R, j < J. Inlined with constant R and J.
TARGET static inline __attribute__((always_inline)) void block(
    int R, int J, const float *x, const float *w, float *c, size_t k, size_t ldc, int accumulate) {
    __m256 acc[ROW_BLOCK][COL_BLOCK];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < J; j++) acc[r][j] = _mm256_setzero_ps();
    for (size_t i = 0; i < k; i += 8) {
        __m256 wv[COL_BLOCK];
        for (int j = 0; j < J; j++) wv[j] = _mm256_loadu_ps(w + j * k + i);
        for (int r = 0; r < R; r++) {
            __m256 xv = _mm256_loadu_ps(x + r * k + i);
            for (int j = 0; j < J; j++) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int j = 0; j < J; j++) {
            float s = hsum(acc[r][j]);
            c[r * ldc + j] = accumulate ? c[r * ldc + j] + s : s;
        }
}

// Rows 0..<n of columns [lo, hi): row blocks of R, each over the tile's weight rows in
// blocks of 3 and then one at a time. Inlined with constant R.
TARGET static inline __attribute__((always_inline)) void tile_rows(
    int R, const float *x, const float *w, float *c, int k, int m, int t0, int t1, int accumulate) {
    int j = t0;
    // A lone row (batch-1 decode) is bound by reading W: one weight row at a time is a single
    // sequential stream, which reads at the machine's full bandwidth, where three rows' streams
    // at once read about 1.6x slower here. Each output's sum is the same either way.
    if (R > 1)
        for (; j + COL_BLOCK <= t1; j += COL_BLOCK) block(R, COL_BLOCK, x, w + (size_t)j * k, c + j, k, m, accumulate);
    for (; j < t1; j++) block(R, 1, x, w + (size_t)j * k, c + j, k, m, accumulate);
}

TARGET static void columns(const float *x, const float *w, float *c, int n, int k, int m,
                           int lo, int hi, int accumulate) {
    for (int t0 = lo; t0 < hi; t0 += COL_TILE) {
        int t1 = t0 + COL_TILE < hi ? t0 + COL_TILE : hi;
        int r = 0;
        for (; r + ROW_BLOCK <= n; r += ROW_BLOCK)
            tile_rows(ROW_BLOCK, x + (size_t)r * k, w, c + (size_t)r * m, k, m, t0, t1, accumulate);
        for (; r < n; r++) tile_rows(1, x + (size_t)r * k, w, c + (size_t)r * m, k, m, t0, t1, accumulate);
    }
}

// The product on the pool.

typedef struct {
    const float *x, *w;
    float *c;
    int n, k, m, accumulate;
} gemm_args;

// Part `part` of `parts` takes a contiguous share of columns, cut at COL_BLOCK multiples.
static void gemm_part(void *ctx, int part, int parts) {
    const gemm_args *a = ctx;
    int blocks = (a->m + COL_BLOCK - 1) / COL_BLOCK;
    int b0 = blocks * part / parts, b1 = blocks * (part + 1) / parts;
    int lo = b0 * COL_BLOCK, hi = b1 * COL_BLOCK < a->m ? b1 * COL_BLOCK : a->m;
    if (lo < hi) columns(a->x, a->w, a->c, a->n, a->k, a->m, lo, hi, a->accumulate);
}

void rk_small_gemm(const float *x, const float *w, float *c, int n, int k, int m, int accumulate) {
    gemm_args a = {x, w, c, n, k, m, accumulate};
    // Below this much work a second thread costs more than it saves.
    int parts = (long)n * m * k < 32768L ? 1 : rk_pool_threads();
    rk_pool_run(parts, gemm_part, &a);
}
