// Probe: does oneMKL's packed-matrix API (a weight packed once and shared by both threads) beat two threads each
// calling cblas_sgemm on half of C's rows (the engine's split)? Times the best of REPS runs of each way, packing
// included, and prints their ratio and the largest difference between the two results. papers/engine.md has the
// numbers. Build and run (oneMKL from setup.sh):
//   gcc -O2 -o /tmp/mkl_packed_probe scripts/mkl_packed_probe.c -ldl -lpthread -lm
//   /tmp/mkl_packed_probe M N K TRANSB REPS     e.g. 4096 768 256 1 30 (C = A B^T, B [N x K]); TRANSB 0: C = A B
#include "mkl_probe.h"
#include <math.h>
#include <pthread.h>

static int M, N, K, transB;
static float *A, *B, *C, *Cpacked, *P;

typedef struct { int lo, hi, packed; } job;

static void *run(void *arg) {  // rows lo..<hi of C
    job *j = arg;
    int m = j->hi - j->lo;
    if (j->packed)
        compute(ROW_MAJOR, NO_TRANS, PACKED, m, N, K, A + (size_t)j->lo * K, K, P, N, 0.0f, Cpacked + (size_t)j->lo * N, N);
    else
        sgemm(ROW_MAJOR, NO_TRANS, transB ? TRANS : NO_TRANS, m, N, K, 1.0f, A + (size_t)j->lo * K, K, B, transB ? K : N, 0.0f,
              C + (size_t)j->lo * N, N);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: %s M N K TRANSB REPS\n", argv[0]); return 2; }
    load_mkl();
    M = atoi(argv[1]); N = atoi(argv[2]); K = atoi(argv[3]); transB = atoi(argv[4]);
    int reps = atoi(argv[5]), half = M / 2;
    A = aligned_alloc(64, 4L * M * K); B = aligned_alloc(64, 4L * K * N);
    C = aligned_alloc(64, 4L * M * N); Cpacked = aligned_alloc(64, 4L * M * N);
    for (long i = 0; i < (long)M * K; i++) A[i] = (rand() % 1000) / 1000.0f - 0.5f;
    for (long i = 0; i < (long)K * N; i++) B[i] = (rand() % 1000) / 1000.0f - 0.5f;
    P = aligned_alloc(64, (pack_size(B_MATRIX, half, N, K) + 63) / 64 * 64);
    double best[2] = {1e9, 1e9};
    for (int r = 0; r < reps; r++)
        for (int packed = 0; packed < 2; packed++) {
            double t0 = now();
            if (packed) pack(ROW_MAJOR, B_MATRIX, transB ? TRANS : NO_TRANS, half, N, K, 1.0f, B, transB ? K : N, P);
            pthread_t other;
            job first = {0, half, packed}, second = {half, M, packed};
            pthread_create(&other, NULL, run, &second);
            run(&first);
            pthread_join(other, NULL);
            double t = now() - t0;
            if (t < best[packed]) best[packed] = t;
        }
    double diff = 0;
    for (long i = 0; i < (long)M * N; i++) diff = fmax(diff, fabs(C[i] - Cpacked[i]));
    printf("%dx%dx%d %s: split sgemm %.3f ms, packed B shared (packing included) %.3f ms, speed %.3fx, max difference %g\n",
           M, N, K, transB ? "NT" : "NN", best[0] * 1e3, best[1] * 1e3, best[0] / best[1], diff);
    return 0;
}
