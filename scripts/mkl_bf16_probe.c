// Probe: what would AMX's bfloat16 products give in place of oneMKL's f32 sgemm, and does oneMKL's CPU library
// honour MKL_BLAS_COMPUTE_MODE (its "alternate compute modes", e.g. FLOAT_TO_BF16X3) for cblas_sgemm?
// One thread, C = A B^T on the shape given: times the best of REPS runs of cblas_sgemm and of cblas_gemm_bf16bf16f32
// (the operands rounded to bfloat16 beforehand, rounding not timed), and prints the largest relative difference of
// each result from a Double product of the f32 operands. Run it with and without MKL_BLAS_COMPUTE_MODE set: if
// sgemm's error and checksum do not move, the mode is not applied. papers/engine.md has the numbers. Build and run:
//   gcc -O2 -o /tmp/mkl_bf16_probe scripts/mkl_bf16_probe.c -ldl -lpthread -lm
//   /tmp/mkl_bf16_probe M N K REPS                 e.g. 2048 1024 256 20
//   MKL_BLAS_COMPUTE_MODE=FLOAT_TO_BF16X3 /tmp/mkl_bf16_probe 2048 1024 256 20
#include "mkl_probe.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

typedef void (*bf16gemm_t)(int, int, int, int, int, int, float, const uint16_t *, int, const uint16_t *, int, float,
                           float *, int);

// Round to nearest even bfloat16 (finite inputs).
static uint16_t to_bf16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

// Largest |c - exact| / max|exact| over C, with the exact product in Double.
static double error(const float *c, const double *exact, long n) {
    double scale = 0, worst = 0;
    for (long i = 0; i < n; i++) scale = fmax(scale, fabs(exact[i]));
    for (long i = 0; i < n; i++) worst = fmax(worst, fabs(c[i] - exact[i]));
    return worst / scale;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: %s M N K REPS\n", argv[0]); return 2; }
    load_mkl();
    bf16gemm_t bf16gemm = (bf16gemm_t)dlsym(mkl, "cblas_gemm_bf16bf16f32");
    if (!bf16gemm) { fprintf(stderr, "this oneMKL has no cblas_gemm_bf16bf16f32\n"); return 1; }
    int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]), reps = atoi(argv[4]);
    float *A = aligned_alloc(64, 4L * M * K), *B = aligned_alloc(64, 4L * N * K);
    float *C = aligned_alloc(64, 4L * M * N), *Cb = aligned_alloc(64, 4L * M * N);
    uint16_t *Ab = aligned_alloc(64, 2L * M * K), *Bb = aligned_alloc(64, 2L * N * K);
    double *exact = malloc(8L * M * N);
    srand(1);
    for (long i = 0; i < (long)M * K; i++) { A[i] = rand() / (float)RAND_MAX - 0.5f; Ab[i] = to_bf16(A[i]); }
    for (long i = 0; i < (long)N * K; i++) { B[i] = rand() / (float)RAND_MAX - 0.5f; Bb[i] = to_bf16(B[i]); }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int p = 0; p < K; p++) s += (double)A[(long)i * K + p] * B[(long)j * K + p];
            exact[(long)i * N + j] = s;
        }
    double best[2] = {1e9, 1e9};
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        sgemm(ROW_MAJOR, NO_TRANS, TRANS, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N);
        double t1 = now();
        bf16gemm(ROW_MAJOR, NO_TRANS, TRANS, M, N, K, 1.0f, Ab, K, Bb, K, 0.0f, Cb, N);
        double t2 = now();
        best[0] = fmin(best[0], t1 - t0);
        best[1] = fmin(best[1], t2 - t1);
    }
    double flop = 2.0 * M * N * K, checksum = 0;
    for (long i = 0; i < (long)M * N; i++) checksum += C[i];
    const char *mode = getenv("MKL_BLAS_COMPUTE_MODE");
    printf("%dx%dx%d, MKL_BLAS_COMPUTE_MODE=%s\n", M, N, K, mode ? mode : "(unset)");
    printf("  sgemm: %.3f ms, %.0f GFLOP/s, max relative error %.3g, checksum %.9g\n", best[0] * 1e3,
           flop / best[0] / 1e9, error(C, exact, (long)M * N), checksum);
    printf("  bf16 (AMX): %.3f ms, %.0f GFLOP/s (%.2fx sgemm), max relative error %.3g\n", best[1] * 1e3,
           flop / best[1] / 1e9, best[0] / best[1], error(Cb, exact, (long)M * N));
    return 0;
}
