// What the oneMKL probes (mkl_packed_probe.c, mkl_chunked_probe.c, mkl_bf16_probe.c) share: setup.sh's oneMKL opened at run time in
// its sequential layer, and its sgemm and packed-matrix entry points, and the clock they time with.
#pragma once
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112, PACKED = 151, A_MATRIX = 161, B_MATRIX = 162, SEQUENTIAL = 1 };
typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef size_t (*pack_size_t)(int, int, int, int);
typedef void (*pack_t)(int, int, int, int, int, int, float, const float *, int, float *);
typedef void (*compute_t)(int, int, int, int, int, int, const float *, int, const float *, int, float, float *, int);

// Seconds on the monotonic clock.
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *mkl;  // the library's handle, for entry points of one probe only
static sgemm_t sgemm;
static pack_size_t pack_size;
static pack_t pack;
static compute_t compute;

// Opens /opt/replicate-mkl's libmkl_rt in its sequential layer and finds the four functions; exits when it cannot.
static void load_mkl(void) {
    mkl = dlopen("/opt/replicate-mkl/lib/libmkl_rt.so.3", RTLD_NOW | RTLD_GLOBAL);
    if (!mkl) {
        fprintf(stderr, "%s (./setup.sh installs oneMKL)\n", dlerror());
        exit(1);
    }
    ((int (*)(int))dlsym(mkl, "MKL_Set_Threading_Layer"))(SEQUENTIAL);
    sgemm = (sgemm_t)dlsym(mkl, "cblas_sgemm");
    pack_size = (pack_size_t)dlsym(mkl, "cblas_sgemm_pack_get_size");
    pack = (pack_t)dlsym(mkl, "cblas_sgemm_pack");
    compute = (compute_t)dlsym(mkl, "cblas_sgemm_compute");
}
