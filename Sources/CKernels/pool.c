// The worker pool.
// Decode issues a few dozen products and parallel loops per step, microseconds apart, so a
// worker spins briefly for the next one before sleeping; waking threads through the kernel
// (or Dispatch) each time costs more than the work. The thread count is the matrix-product
// setting (`--threads`), so a run asked to use one core uses one.
//
// Parts are claimed, not assigned: whichever thread is free takes the next one, the caller
// included. When other processes hold the cores, a worker may sleep through a whole job and
// the caller then runs its part, instead of waiting a scheduler time slice for it. A part's
// result does not depend on the thread that runs it.
#include "kernels.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define SPIN_NS 50000

// The current job: generation (bits 32–63), parts (16–31) and the next unclaimed part (0–15),
// in one word so that a claim can never mix two jobs.
static _Atomic uint64_t state;
static rk_part_fn job_fn;       // written before a job's state is published, read after a claim
static void *job_ctx;
static atomic_int done;         // parts of the current job finished
static int threads = 0, started = 0;   // 0: not set yet, use the online cores
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;  // one job on the pool at a time
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;  // guards sleeping and thread start
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static inline unsigned generation_of(uint64_t s) { return (unsigned)(s >> 32); }
static inline int parts_of(uint64_t s) { return (int)((s >> 16) & 0xffff); }
static inline int next_of(uint64_t s) { return (int)(s & 0xffff); }

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

// Claims and runs parts of job `generation` until none is left. The claimed part keeps the
// job from finishing, so job_fn and job_ctx cannot change while it runs.
static void run_parts(unsigned generation) {
    uint64_t s = atomic_load_explicit(&state, memory_order_acquire);
    while (generation_of(s) == generation && next_of(s) < parts_of(s)) {
        if (!atomic_compare_exchange_weak_explicit(&state, &s, s + 1, memory_order_acq_rel, memory_order_acquire))
            continue;
        job_fn(job_ctx, next_of(s), parts_of(s));
        atomic_fetch_add_explicit(&done, 1, memory_order_release);
        s = atomic_load_explicit(&state, memory_order_acquire);
    }
}

static void *worker(void *arg) {
    unsigned seen = (unsigned)(size_t)arg;  // the generation when this worker was created
    for (;;) {
        long long deadline = now_ns() + SPIN_NS;
        unsigned g;
        int spins = 0;
        while ((g = generation_of(atomic_load_explicit(&state, memory_order_acquire))) == seen) {
            _mm_pause();
            if (++spins % 256 == 0 && now_ns() > deadline) {
                pthread_mutex_lock(&mutex);
                while ((g = generation_of(atomic_load_explicit(&state, memory_order_acquire))) == seen)
                    pthread_cond_wait(&wake, &mutex);
                pthread_mutex_unlock(&mutex);
                break;
            }
        }
        seen = g;
        run_parts(g);
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
        unsigned g = generation_of(atomic_load(&state));
        int failed = pthread_create(&t, &attr, worker, (void *)(size_t)g);
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
    // The previous job is finished, so no thread reads these until the new state is out.
    job_fn = fn;
    job_ctx = ctx;
    atomic_store_explicit(&done, 0, memory_order_relaxed);
    unsigned g = generation_of(atomic_load_explicit(&state, memory_order_relaxed)) + 1;
    pthread_mutex_lock(&mutex);
    atomic_store_explicit(&state, ((uint64_t)g << 32) | ((uint64_t)parts << 16), memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mutex);
    run_parts(g);
    // Parts claimed by workers: spin briefly, then give the core away, since the worker we
    // wait for may be waiting for this very core.
    long long deadline = now_ns() + SPIN_NS;
    int spins = 0;
    while (atomic_load_explicit(&done, memory_order_acquire) < parts) {
        _mm_pause();
        if (++spins % 256 == 0 && now_ns() > deadline) sched_yield();
    }
    pthread_mutex_unlock(&owner);
}
