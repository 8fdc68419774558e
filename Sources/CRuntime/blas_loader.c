#define _GNU_SOURCE
#include "openblas_loader.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                         double, double *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*string_fn)(void);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[512] = "OpenBLAS not loaded";
static const char *chosen = "";
static char requested[128] = "";
static const char *loaded_path = "";
static sgemm_fn p_sgemm;
static dgemm_fn p_dgemm;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;
static string_fn p_corename;
static string_fn p_config;

// The best OpenBLAS 0.3.21 kernel family this CPU can run, from its feature bits.
static const char *pick_coretype(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    if (__builtin_cpu_supports("avx")) return "Sandybridge";
#endif
    return "";
}

static void load(void) {
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user && *user) {
        chosen = "";  // the user's choice stands
        snprintf(requested, sizeof(requested), "%s", user);
    } else {
        chosen = pick_coretype();
        if (*chosen) setenv("OPENBLAS_CORETYPE", chosen, 0);
    }
    const char *candidates[] = {getenv("REPLICATE_OPENBLAS"), "libopenblas.so.0", "libopenblas.so",
                                "libopenblas.dylib"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]) && !h; i++) {
        if (candidates[i] && *candidates[i]) {
            h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
            if (h) loaded_path = candidates[i];
        }
    }
    if (!h) {
        snprintf(load_error, sizeof(load_error),
                 "cannot load OpenBLAS (libopenblas.so.0): install it with 'apt-get install libopenblas-dev'");
        return;
    }
    p_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    p_dgemm = (dgemm_fn)dlsym(h, "cblas_dgemm");
    p_set_threads = (set_threads_fn)dlsym(h, "openblas_set_num_threads");
    p_get_threads = (get_threads_fn)dlsym(h, "openblas_get_num_threads");
    p_corename = (string_fn)dlsym(h, "openblas_get_corename");
    p_config = (string_fn)dlsym(h, "openblas_get_config");
    if (!p_sgemm || !p_dgemm) {
        snprintf(load_error, sizeof(load_error), "%s has no cblas_sgemm/cblas_dgemm", loaded_path);
        return;
    }
    // Single-threaded: the engine splits large products over its own threads, so OpenBLAS's worker threads
    // would only spin (sched_yield) against the engine's kernels.
    if (p_set_threads) p_set_threads(1);
    load_status = 0;
    load_error[0] = 0;
}

int rb_blas_load(void) {
    pthread_once(&once, load);
    return load_status;
}
const char *rb_blas_error(void) { return load_error; }
const char *rb_blas_chosen_coretype(void) { return chosen; }
const char *rb_blas_requested_coretype(void) { return requested; }
const char *rb_blas_library_path(void) { return loaded_path; }

// Every entry point loads the library on first use; without it there is nothing sensible to compute.
static void require_loaded(void) {
    if (__builtin_expect(load_status != 0, 0) && rb_blas_load() != 0) {
        fprintf(stderr, "error: %s\n", load_error);
        exit(1);
    }
}

void rb_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    require_loaded();
    p_sgemm(RB_ROW_MAJOR, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void rb_dgemm(int transA, int transB, int M, int N, int K, double alpha, const double *A, int lda,
              const double *B, int ldb, double beta, double *C, int ldc) {
    require_loaded();
    p_dgemm(RB_ROW_MAJOR, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void rb_blas_set_threads(int n) { if (p_set_threads) p_set_threads(n); }
int rb_blas_get_threads(void) { return p_get_threads ? p_get_threads() : 1; }
const char *rb_blas_corename(void) { return p_corename ? p_corename() : "unknown"; }
const char *rb_blas_config(void) { return p_config ? p_config() : "unknown"; }
