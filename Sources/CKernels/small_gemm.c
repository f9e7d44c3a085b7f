// Decode's matrix products: few rows (one per live sequence) against a fixed weight matrix.
// OpenBLAS packs the whole weight matrix on every call, which costs as much as the product
// when there are only a few dozen rows; this kernel reads W in place. Each output is a dot
// product of two contiguous rows, accumulated 8 lanes wide, 4 rows × 3 weight rows at a time
// (12 accumulators keep both FMA pipes busy), and W's 3 rows stay in L1 while every
// row block passes over them.
#include "small_gemm.h"

#include <cpuid.h>
#include <math.h>
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#define ROW_BLOCK 4
#define COL_BLOCK 3
#define COL_TILE 12   // weight rows one tile sweeps all input rows over
#define MAX_THREADS 64

int rk_small_gemm_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int avx = (c >> 28) & 1, fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
    if (!(avx && fma && osxsave)) return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;  // the OS saves the YMM registers
}

#define TARGET __attribute__((target("avx,fma")))

TARGET static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

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

// Rows 0..<n of columns [lo, hi).
TARGET static void columns(const float *x, const float *w, float *c, int n, int k, int m,
                           int lo, int hi, int accumulate) {
    for (int t0 = lo; t0 < hi; t0 += COL_TILE) {
        int t1 = t0 + COL_TILE < hi ? t0 + COL_TILE : hi;
        int r = 0;
        for (; r + ROW_BLOCK <= n; r += ROW_BLOCK) {
            const float *xr = x + (size_t)r * k;
            float *cr = c + (size_t)r * m;
            int j = t0;
            for (; j + COL_BLOCK <= t1; j += COL_BLOCK)
                block(ROW_BLOCK, COL_BLOCK, xr, w + (size_t)j * k, cr + j, k, m, accumulate);
            for (; j < t1; j++) block(ROW_BLOCK, 1, xr, w + (size_t)j * k, cr + j, k, m, accumulate);
        }
        for (; r < n; r++) {
            const float *xr = x + (size_t)r * k;
            float *cr = c + (size_t)r * m;
            int j = t0;
            for (; j + COL_BLOCK <= t1; j += COL_BLOCK)
                block(1, COL_BLOCK, xr, w + (size_t)j * k, cr + j, k, m, accumulate);
            for (; j < t1; j++) block(1, 1, xr, w + (size_t)j * k, cr + j, k, m, accumulate);
        }
    }
}

// ---- One query's attention over its cached positions ----
// Decode's attention per (row, head): two BLAS calls of a few thousand FLOPs each cost more
// in call overhead than in arithmetic, and a scalar expf per position is the rest.

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

// ---- Worker pool ----
// Decode issues a few dozen products and parallel loops per step, microseconds apart, so a
// worker spins briefly for the next one before sleeping; waking threads through the kernel
// (or Dispatch) each time costs more than the work. The thread count is the matrix-product
// setting (`--threads`), so a run asked to use one core uses one.

static rk_part_fn job_fn;
static void *job_ctx;
static int job_parts;
static int threads = 0, started = 0;   // 0: not set yet, use the online cores
static atomic_uint generation;         // bumped once per job
static atomic_int pending;             // workers yet to finish (or skip) the current job
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;  // one job on the pool at a time
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;  // guards sleeping and thread start
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

#define SPIN_NS 50000

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static unsigned first_seen[MAX_THREADS];  // the generation when each worker was created

static void *worker(void *arg) {
    int part = (int)(size_t)arg;
    // Not a fresh load: a job posted before this thread first ran is still this thread's.
    unsigned seen = first_seen[part];
    for (;;) {
        long long deadline = now_ns() + SPIN_NS;
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen) {
            _mm_pause();
            if (++spins % 256 == 0 && now_ns() > deadline) {
                pthread_mutex_lock(&mutex);
                while ((g = atomic_load_explicit(&generation, memory_order_acquire)) == seen)
                    pthread_cond_wait(&wake, &mutex);
                pthread_mutex_unlock(&mutex);
                break;
            }
        }
        seen = g;
        // Every worker acknowledges every job, even one with fewer parts than workers, so
        // the next job is never posted while a worker may still read this one's fields.
        if (part < job_parts) job_fn(job_ctx, part, job_parts);
        atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel);
    }
    return NULL;
}

// Caller holds `mutex`.
static void start_workers(int n) {
    for (; started < n - 1; started++) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        first_seen[started + 1] = atomic_load(&generation);
        int failed = pthread_create(&t, &attr, worker, (void *)(size_t)(started + 1));
        pthread_attr_destroy(&attr);
        if (failed) break;  // run on the threads we have
    }
    threads = n < started + 1 ? n : started + 1;
}

void rk_pool_set_threads(int n) {
    n = n < 1 ? 1 : (n > MAX_THREADS ? MAX_THREADS : n);
    pthread_mutex_lock(&mutex);
    start_workers(n);
    pthread_mutex_unlock(&mutex);
}

int rk_pool_threads(void) {
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        rk_pool_set_threads(cores < 1 ? 1 : (int)cores);
    }
    return threads;
}

void rk_pool_run(int parts, rk_part_fn fn, void *ctx) {
    int t = rk_pool_threads();
    if (parts > t) parts = t;
    // A job started from inside a job (or from a second thread) runs on its caller.
    if (parts <= 1 || pthread_mutex_trylock(&owner) != 0) {
        for (int p = 0; p < (parts < 1 ? 1 : parts); p++) fn(ctx, p, parts < 1 ? 1 : parts);
        return;
    }
    job_fn = fn;
    job_ctx = ctx;
    job_parts = parts;
    atomic_store_explicit(&pending, started, memory_order_relaxed);
    pthread_mutex_lock(&mutex);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mutex);
    fn(ctx, 0, parts);
    while (atomic_load_explicit(&pending, memory_order_acquire) > 0) _mm_pause();
    pthread_mutex_unlock(&owner);
}

// ---- The product on the pool ----

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
