#ifndef RECKON_KERNELS_H
#define RECKON_KERNELS_H

// Decode's kernels (few-row product, attention over the cache), training attention's softmax
// rows, and the worker pool under them and under ReckonCore's parallel loops.

/// 1 when this CPU has AVX and FMA, the instructions the kernels are written in (cpu.c).
int rk_avx_fma_available(void);

/// 1 when it also has AVX-512F and VL, whose 32 vector registers the few-row product uses (cpu.c).
int rk_avx512vl_available(void);

/// C (n, m) = X (n, k) · Wᵀ, with W stored (m, k) row-major; C += when `accumulate`.
/// Every element is one dot product summed in the same order whatever n, m or the thread
/// count, so a row's result does not depend on the rows decoded alongside it.
/// Requires rk_avx_fma_available() and k % 8 == 0. Runs on the pool below (small_gemm.c).
void rk_small_gemm(const float *x, const float *w, float *c, int n, int k, int m, int accumulate);

/// One weight matrix W (m, k) and its output C (n, m) of a product that shares its input.
typedef struct {
    const float *w;
    float *c;
    int m;
} rk_gemm_segment;

/// rk_small_gemm for each segment, all on one pool job: C_s (+)= X · W_sᵀ. Each output's sum is
/// the one rk_small_gemm gives.
void rk_small_gemm_shared(const float *x, int n, int k, const rk_gemm_segment *segs, int count, int accumulate);

/// Whether the few-row product may use AVX-512VL's 32 registers (on by default where the CPU has
/// them); returns the setting now in effect. The sums are the same either way.
int rk_small_gemm_set_wide(int on);

/// out (hd) = softmax(scale · K q) · V over `len` cached positions, K and V (len, hd) row-major;
/// `scores` (len) is scratch. Requires rk_avx_fma_available() and hd % 8 == 0 (attend_head.c).
void rk_attend_head(const float *q, const float *keys, const float *values, int len, int hd,
                    float scale, float *scores, float *out);

/// rk_attend_head for `group` query heads that share one KV head: q and out (group, hd),
/// scores (group, len) scratch. Each head's output is bit-identical to rk_attend_head's; each
/// key and value row is read once for all of them (attend_head.c).
void rk_attend_group(const float *q, const float *keys, const float *values, int len, int hd, int group,
                     float scale, float *scores, float *out);

/// In place: row[0, len) = softmax(row[0, len)), row[len, width) = 0. Requires
/// rk_avx_fma_available() and len ≥ 1 (softmax.c).
void rk_softmax_row(float *row, int len, int width);

/// In place, the softmax backward with the score scale folded in: g[j] = p[j]·(g[j] − p·g)·scale
/// for j < len, g[len, width) = 0. Requires rk_avx_fma_available() (softmax.c).
void rk_softmax_backward_row(const float *p, float *g, int len, int width, float scale);

/// log Σ_j exp(x[j]) over len ≥ 1 values, stable (the max first), through the 8-lane exp.
/// Requires rk_avx_fma_available() (softmax.c).
float rk_log_sum_exp(const float *x, int len);

/// out[j] = scale · exp(x[j] − shift) for j < len, where every x[j] ≤ shift (e^x of x ≤ 0).
/// Requires rk_avx_fma_available() (softmax.c).
void rk_scaled_exp(const float *x, int len, float shift, float scale, float *out);

/// AdamW's hyper-parameters for one contiguous range of parameters (adamw.c).
typedef struct {
    float beta1, beta2, eps;
    float bc1, bc2;   // bias corrections 1 − β₁ᵗ, 1 − β₂ᵗ
    float clip;       // gradient scale from global-norm clipping (1 = none)
    float rate;       // this range's learning rate
    float decay;      // lr · weight decay, or 0 for a range without decay
} rk_adamw_args;

/// For i < n: gᵢ·clip into m and v, p −= rate·m̂/(√v̂ + eps), then p −= decay·p; in the
/// scalar reference's operation order, bit for bit. Requires rk_avx_fma_available() (adamw.c).
void rk_adamw(float *p, const float *g, float *m, float *v, long n, const rk_adamw_args *args);

/// Σ x[i]² in double precision over n values (4 double lanes twice, then the tail).
/// Requires rk_avx_fma_available() (adamw.c).
double rk_sum_squares(const float *x, long n);

/// out[i] = silu(a[i]) · b[i] for i < n, σ through the 8-lane exp (within a few 1e-7 of the
/// scalar expf reference). Requires rk_avx_fma_available() (swiglu.c).
void rk_swiglu_forward(const float *a, const float *b, float *out, long n);

/// The gate's backward for i < n: db = dout·silu(a), da = dout·b·σ(a)·(1 + a·(1 − σ(a))).
/// da and db are overwritten. Requires rk_avx_fma_available() (swiglu.c).
void rk_swiglu_backward(const float *dout, const float *a, const float *b, float *da, float *db, long n);

/// One share of a parallel job: part `part` of `parts`.
typedef void (*rk_part_fn)(void *ctx, int part, int parts);

/// Threads of the worker pool (pool.c), the caller included. Not to be changed while a job runs.
void rk_pool_set_threads(int threads);
int rk_pool_threads(void);

/// Runs fn(ctx, p, parts) once for each p in 0..<min(parts, threads), on whichever thread
/// claims p first (the caller included), and returns when all are done. Called again from
/// inside a job, it runs every part on its caller.
void rk_pool_run(int parts, rk_part_fn fn, void *ctx);

#endif
