// The worker pool.
// Decode issues a few dozen products and parallel loops per step, microseconds apart, so a
// worker spins briefly for the next one before sleeping; waking threads through the kernel
// (or Dispatch) each time costs more than the work. The thread count is the matrix-product
// setting (`--threads`), so a run asked to use one core uses one.
#include "kernels.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64

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
