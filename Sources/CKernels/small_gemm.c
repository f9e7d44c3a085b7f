// Decode's matrix products: few rows (one per live sequence) against a fixed weight matrix.
// OpenBLAS packs the whole weight matrix on every call, which costs as much as the product
// when there are only a few dozen rows; this kernel reads W in place. Each output is a dot
// product of two contiguous rows, accumulated 8 lanes wide, 4 rows × 3 weight rows at a time
// (12 accumulators keep both FMA pipes busy), and W's 3 rows stay in L1 while every
// row block passes over them. With AVX-512VL's 32 registers the blocks are 4 × 6: 24
// accumulators, and each row loaded serves twice the weight rows. The instructions and
// every sum are the same 8-lane ones, so the two give the same bits (SmallGemmTests).
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
#define NARROW_COLS 3   // weight rows per block with 16 registers
#define WIDE_COLS 6     // and with 32
#define COL_TILE 12     // weight rows one tile sweeps all input rows over; a multiple of both
#define TARGET_WIDE __attribute__((target("avx,fma,avx512f,avx512vl")))

// c[r, j] (+)= x[r, :] · w[j, :] for r < R, j < J, prefetching bytes [0, pflen) of `pf`
// into L2 along the way. Inlined with constant R and J, into callers that may have more
// registers.
TARGET static inline __attribute__((always_inline)) void block(
    int R, int J, const float *x, const float *w, float *c, size_t k, size_t ldc, int accumulate,
    const char *pf, size_t pflen) {
    __m256 acc[ROW_BLOCK][WIDE_COLS];
    for (int r = 0; r < R; r++)
        for (int j = 0; j < J; j++) acc[r][j] = _mm256_setzero_ps();
    size_t p = 0;
    for (size_t i = 0; i < k; i += 8) {
        if (p < pflen && (i & 8) == 0) { _mm_prefetch(pf + p, _MM_HINT_T1); p += 64; }
        __m256 wv[WIDE_COLS];
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

// Rows 0..<R of columns [t0, t1): blocks of CB weight rows, then of 3, then one at a time.
// Inlined with constant R and CB.
TARGET static inline __attribute__((always_inline)) void tile_rows(
    int R, int CB, const float *x, const float *w, float *c, int k, int m, int t0, int t1, int accumulate,
    prefetch_plan *pp) {
    int j = t0;
    const char *pf;
    // A lone row (batch-1 decode) is bound by reading W: one weight row at a time is a single
    // sequential stream, which reads at the machine's full bandwidth, where three rows' streams
    // at once read about 1.6x slower here. Each output's sum is the same either way.
    if (R > 1) {
        for (; j + CB <= t1; j += CB) {
            size_t len = take(pp, &pf);
            block(R, CB, x, w + (size_t)j * k, c + j, k, m, accumulate, pf, len);
        }
        for (; j + NARROW_COLS <= t1; j += NARROW_COLS) {
            size_t len = take(pp, &pf);
            block(R, NARROW_COLS, x, w + (size_t)j * k, c + j, k, m, accumulate, pf, len);
        }
    }
    for (; j < t1; j++) {
        size_t len = take(pp, &pf);
        block(R, 1, x, w + (size_t)j * k, c + j, k, m, accumulate, pf, len);
    }
}

// Columns [lo, hi) of c (n, m), in tiles of COL_TILE, blocks of CB. Inlined with constant CB.
TARGET static inline __attribute__((always_inline)) void columns(
    int CB, const float *x, const float *w, float *c, int n, int k, int m, int lo, int hi, int accumulate) {
    if (n < 1) return;
    // A lone row reads each weight once, in one stream the hardware prefetcher follows.
    int prefetch = n >= 2;
    int blocks_per_tile = (n / ROW_BLOCK + n % ROW_BLOCK) * (COL_TILE / CB);  // ≥ 1
    for (int t0 = lo; t0 < hi; t0 += COL_TILE) {
        int t1 = t0 + COL_TILE < hi ? t0 + COL_TILE : hi;
        int t2 = t1 + COL_TILE < hi ? t1 + COL_TILE : hi;   // the next tile: [t1, t2)
        size_t bytes = prefetch ? (size_t)(t2 - t1) * k * sizeof(float) : 0;
        prefetch_plan pp = {(const char *)(w + (size_t)t1 * k), bytes, (bytes / blocks_per_tile + 63) & ~(size_t)63};
        int r = 0;
        for (; r + ROW_BLOCK <= n; r += ROW_BLOCK)
            tile_rows(ROW_BLOCK, CB, x + (size_t)r * k, w, c + (size_t)r * m, k, m, t0, t1, accumulate, &pp);
        for (; r < n; r++) tile_rows(1, CB, x + (size_t)r * k, w, c + (size_t)r * m, k, m, t0, t1, accumulate, &pp);
    }
}

TARGET static void columns_narrow(const float *x, const float *w, float *c, int n, int k, int m,
                                  int lo, int hi, int accumulate) {
    columns(NARROW_COLS, x, w, c, n, k, m, lo, hi, accumulate);
}

TARGET_WIDE static void columns_wide(const float *x, const float *w, float *c, int n, int k, int m,
                                     int lo, int hi, int accumulate) {
    columns(WIDE_COLS, x, w, c, n, k, m, lo, hi, accumulate);
}

// -1 until the first product asks the CPU.
static int wide = -1;

int rk_small_gemm_set_wide(int on) {
    wide = on && rk_avx512vl_available();
    return wide;
}

// The product on the pool.
//
// Columns are claimed, not split in fixed halves: a thread that finishes early (or a worker
// that another process delayed) would otherwise leave the other waiting at the end of every
// product, hundreds of times a decode step. Each claim takes a shrinking share of the
// tiles left (guided scheduling): few claims, since each starts on a tile nobody
// prefetched, and a last claim of two tiles at most. A lone row claims even shares. Which
// thread computes a column does not change its sum.
//
// The products that share an input (a layer's query, key and value; its gate and up
// projections) are one job: their tiles are numbered one after the other, so the threads
// meet once for all of them, and a claim may run from one matrix into the next.

#include <stdatomic.h>

#define MAX_SEGMENTS 4

typedef struct {
    const float *x;
    rk_gemm_segment seg[MAX_SEGMENTS];
    int first[MAX_SEGMENTS + 1];   // first tile of each segment; first[count] = all tiles
    int count, n, k, accumulate;
    atomic_int next;               // first unclaimed tile
} gemm_args;

// Tiles [g0, g1) of the job, segment by segment.
static void run_tiles(const gemm_args *a, int g0, int g1) {
    for (int s = 0; s < a->count && g0 < g1; s++) {
        if (g0 >= a->first[s + 1]) continue;
        int end = g1 < a->first[s + 1] ? g1 : a->first[s + 1];
        const rk_gemm_segment *sg = &a->seg[s];
        int lo = (g0 - a->first[s]) * COL_TILE, hi = (end - a->first[s]) * COL_TILE;
        if (hi > sg->m) hi = sg->m;
        if (wide) columns_wide(a->x, sg->w, sg->c, a->n, a->k, sg->m, lo, hi, a->accumulate);
        else columns_narrow(a->x, sg->w, sg->c, a->n, a->k, sg->m, lo, hi, a->accumulate);
        g0 = end;
    }
}

static void gemm_part(void *ctx, int part, int parts) {
    (void)part;
    gemm_args *a = ctx;
    const int tiles = a->first[a->count], least = 2;   // the smallest claim: two tiles
    for (;;) {
        int g0 = atomic_load_explicit(&a->next, memory_order_relaxed), take;
        do {
            int left = tiles - g0;
            if (left <= 0) return;
            // A lone row streams W without prefetches: one even share per thread keeps each
            // thread's stream unbroken.
            take = parts == 1 ? left : a->n < 2 ? (tiles + parts - 1) / parts : left / (2 * parts);
            if (take < least) take = least;
            if (take > left) take = left;
        } while (!atomic_compare_exchange_weak_explicit(&a->next, &g0, g0 + take, memory_order_relaxed,
                                                        memory_order_relaxed));
        run_tiles(a, g0, g0 + take);
    }
}

void rk_small_gemm_shared(const float *x, int n, int k, const rk_gemm_segment *segs, int count, int accumulate) {
    if (wide < 0) rk_small_gemm_set_wide(1);
    while (count > MAX_SEGMENTS) {   // more than one job holds
        rk_small_gemm_shared(x, n, k, segs, MAX_SEGMENTS, accumulate);
        segs += MAX_SEGMENTS;
        count -= MAX_SEGMENTS;
    }
    gemm_args a = {.x = x, .count = count, .n = n, .k = k, .accumulate = accumulate};
    long columns_total = 0;
    a.first[0] = 0;
    for (int s = 0; s < count; s++) {
        a.seg[s] = segs[s];
        a.first[s + 1] = a.first[s] + (segs[s].m + COL_TILE - 1) / COL_TILE;
        columns_total += segs[s].m;
    }
    atomic_init(&a.next, 0);
    // Below this much work a second thread costs more than it saves.
    int parts = (long)n * columns_total * k < 32768L ? 1 : rk_pool_threads();
    rk_pool_run(parts, gemm_part, &a);
}

void rk_small_gemm(const float *x, const float *w, float *c, int n, int k, int m, int accumulate) {
    rk_gemm_segment one = {w, c, m};
    rk_small_gemm_shared(x, n, k, &one, 1, accumulate);
}
