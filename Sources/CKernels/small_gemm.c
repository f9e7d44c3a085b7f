// Decode's matrix products: few rows (one per live sequence) against a fixed weight matrix.
// OpenBLAS packs the whole weight matrix on every call, which costs as much as the product
// when there are only a few dozen rows; this kernel reads W in place. Each output is a dot
// product of two contiguous rows, accumulated 8 lanes wide, 4 rows × 3 weight rows at a time
// (12 accumulators keep both FMA pipes busy), and W's 3 rows stay in L1 while every
// row block passes over them.
//
// With a few dozen rows the product is compute-bound once W is in cache, but W (538 MB for
// SmolLM2-135M) comes from memory: the first row block over a tile waits for it while the
// others find it cached, and the memory sits idle in between. So every block also prefetches
// an even share of the next tile into L2, one cache line every other step of 8, which keeps
// the stream going at the rate the arithmetic consumes it. Prefetches do not change a sum.
#include "kernels.h"
#include "avx.h"

#include <stddef.h>

#define ROW_BLOCK 4
#define COL_BLOCK 3
#define COL_TILE 12   // weight rows one tile sweeps all input rows over

// c[r, j] (+)= x[r, :] · w[j, :] for r < R, j < J, prefetching bytes [0, pflen) of `pf`
// into L2 along the way. Inlined with constant R and J.
TARGET static inline __attribute__((always_inline)) void block(
    int R, int J, const float *x, const float *w, float *c, size_t k, size_t ldc, int accumulate,
    const char *pf, size_t pflen) {
    __m256 acc[ROW_BLOCK][COL_BLOCK];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < J; j++) acc[r][j] = _mm256_setzero_ps();
    size_t p = 0;
    for (size_t i = 0; i < k; i += 8) {
        if (p < pflen && (i & 8) == 0) { _mm_prefetch(pf + p, _MM_HINT_T1); p += 64; }
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
    for (; p < pflen; p += 64) _mm_prefetch(pf + p, _MM_HINT_T1);
}

// A share of the next tile's bytes for one block call to prefetch.
typedef struct {
    const char *at;    // next byte to hand out
    size_t left, per;  // bytes not yet handed out; bytes per block call
} prefetch_plan;

static inline size_t take(prefetch_plan *pp, const char **from) {
    size_t n = pp->left < pp->per ? pp->left : pp->per;
    *from = pp->at;
    pp->at += n;
    pp->left -= n;
    return n;
}

// Rows 0..<n of columns [lo, hi): row blocks of R, each over the tile's weight rows in
// blocks of 3 and then one at a time. Inlined with constant R.
TARGET static inline __attribute__((always_inline)) void tile_rows(
    int R, const float *x, const float *w, float *c, int k, int m, int t0, int t1, int accumulate,
    prefetch_plan *pp) {
    int j = t0;
    const char *pf;
    // A lone row (batch-1 decode) is bound by reading W: one weight row at a time is a single
    // sequential stream, which reads at the machine's full bandwidth, where three rows' streams
    // at once read about 1.6x slower here. Each output's sum is the same either way.
    if (R > 1)
        for (; j + COL_BLOCK <= t1; j += COL_BLOCK) {
            size_t len = take(pp, &pf);
            block(R, COL_BLOCK, x, w + (size_t)j * k, c + j, k, m, accumulate, pf, len);
        }
    for (; j < t1; j++) {
        size_t len = take(pp, &pf);
        block(R, 1, x, w + (size_t)j * k, c + j, k, m, accumulate, pf, len);
    }
}

TARGET static void columns(const float *x, const float *w, float *c, int n, int k, int m,
                           int lo, int hi, int accumulate) {
    if (n < 1) return;
    // A lone row reads each weight once, in one stream the hardware prefetcher follows.
    int prefetch = n >= 2;
    int blocks_per_tile = (n / ROW_BLOCK + n % ROW_BLOCK) * ((COL_TILE + COL_BLOCK - 1) / COL_BLOCK);  // ≥ 1
    for (int t0 = lo; t0 < hi; t0 += COL_TILE) {
        int t1 = t0 + COL_TILE < hi ? t0 + COL_TILE : hi;
        int t2 = t1 + COL_TILE < hi ? t1 + COL_TILE : hi;   // the next tile: [t1, t2)
        size_t bytes = prefetch ? (size_t)(t2 - t1) * k * sizeof(float) : 0;
        prefetch_plan pp = {(const char *)(w + (size_t)t1 * k), bytes, (bytes / blocks_per_tile + 63) & ~(size_t)63};
        int r = 0;
        for (; r + ROW_BLOCK <= n; r += ROW_BLOCK)
            tile_rows(ROW_BLOCK, x + (size_t)r * k, w, c + (size_t)r * m, k, m, t0, t1, accumulate, &pp);
        for (; r < n; r++) tile_rows(1, x + (size_t)r * k, w, c + (size_t)r * m, k, m, t0, t1, accumulate, &pp);
    }
}

// The product on the pool.
//
// Columns are claimed, not split in fixed halves: a thread that finishes early (or a worker
// that another process delayed) would otherwise leave the other waiting at the end of every
// product, hundreds of times a decode step. Each claim takes a shrinking share of the
// columns left (guided scheduling): few claims, since each starts on a tile nobody
// prefetched, and a last claim of two tiles at most. A lone row claims even shares. Which
// thread computes a column does not change its sum.

#include <stdatomic.h>

typedef struct {
    const float *x, *w;
    float *c;
    int n, k, m, accumulate;
    int blocks;           // column blocks of COL_BLOCK
    atomic_int next;      // first unclaimed column block
} gemm_args;

static void gemm_part(void *ctx, int part, int parts) {
    (void)part;
    gemm_args *a = ctx;
    const int least = 2 * COL_TILE / COL_BLOCK;   // blocks of the smallest claim: two tiles
    for (;;) {
        int b0 = atomic_load_explicit(&a->next, memory_order_relaxed), take;
        do {
            int left = a->blocks - b0;
            if (left <= 0) return;
            // A lone row streams W without prefetches: one even share per thread keeps each
            // thread's stream unbroken.
            take = parts == 1 ? left : a->n < 2 ? (a->blocks + parts - 1) / parts : left / (2 * parts);
            if (take < least) take = least;
            if (take > left) take = left;
        } while (!atomic_compare_exchange_weak_explicit(&a->next, &b0, b0 + take, memory_order_relaxed,
                                                        memory_order_relaxed));
        int lo = b0 * COL_BLOCK, hi = (b0 + take) * COL_BLOCK < a->m ? (b0 + take) * COL_BLOCK : a->m;
        columns(a->x, a->w, a->c, a->n, a->k, a->m, lo, hi, a->accumulate);
    }
}

void rk_small_gemm(const float *x, const float *w, float *c, int n, int k, int m, int accumulate) {
    gemm_args a = {x, w, c, n, k, m, accumulate, (m + COL_BLOCK - 1) / COL_BLOCK, 0};
    // Below this much work a second thread costs more than it saves.
    int parts = (long)n * m * k < 32768L ? 1 : rk_pool_threads();
    rk_pool_run(parts, gemm_part, &a);
}
