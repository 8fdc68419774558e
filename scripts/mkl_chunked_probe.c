// Probe: can the engine's static split of a product (one block of C per thread) be beaten by smaller blocks that the
// two threads claim in turn, so that a thread slowed by the host does not hold the other up? Smaller blocks with
// cblas_sgemm pack the shared operand once per block; here that operand is packed once (cblas_sgemm_pack) and the
// blocks are computed from it (cblas_sgemm_compute). Replays the products of one training step of a transformer
// (forward NT, input-gradient NN and weight-gradient TN products of the qkv, output, and two feed-forward layers)
// REPS times, the three ways interleaved, and prints each way's mean, median and best time. papers/engine.md has
// the numbers. Build and run (oneMKL from setup.sh):
//   gcc -O2 -o /tmp/mkl_chunked_probe scripts/mkl_chunked_probe.c -ldl -lpthread -lm
//   /tmp/mkl_chunked_probe TOKENS WIDTH FF CHUNKS REPS     e.g. 4096 256 1024 8 40 (cpu shape), 2048 512 2048 8 15 (t12)
#include "mkl_probe.h"
#include <pthread.h>

enum { STATIC_SPLIT, PACKED_CHUNKS, PLAIN_CHUNKS, WAYS };
static const char *names[WAYS] = {"static split, one block per thread (the engine)",
                                  "shared operand packed once, chunks claimed in turn",
                                  "chunks claimed in turn, each cblas_sgemm packing again"};

typedef struct { int ta, tb, m, n, k, lda, ldb; float *a, *b, *c, *packed; } product;
static product *current;
static int way, chunks, next_chunk;
static pthread_barrier_t barrier;

// Rows lo..<hi of C (or columns, when C is wide), with cblas_sgemm or from the packed shared operand.
static void block(const product *p, int lo, int hi, int from_packed) {
    int rows = p->m >= p->n, ta = p->ta ? TRANS : NO_TRANS, tb = p->tb ? TRANS : NO_TRANS;
    if (rows) {
        const float *a = p->a + (p->ta ? lo : (size_t)lo * p->lda);
        float *c = p->c + (size_t)lo * p->n;
        if (from_packed) compute(ROW_MAJOR, ta, PACKED, hi - lo, p->n, p->k, a, p->lda, p->packed, p->ldb, 0, c, p->n);
        else sgemm(ROW_MAJOR, ta, tb, hi - lo, p->n, p->k, 1, a, p->lda, p->b, p->ldb, 0, c, p->n);
    } else {
        const float *b = p->b + (p->tb ? (size_t)lo * p->ldb : lo);
        if (from_packed) compute(ROW_MAJOR, PACKED, tb, p->m, hi - lo, p->k, p->packed, p->lda, b, p->ldb, 0, p->c + lo, p->n);
        else sgemm(ROW_MAJOR, ta, tb, p->m, hi - lo, p->k, 1, p->a, p->lda, b, p->ldb, 0, p->c + lo, p->n);
    }
}

static void work(int self) {
    product *p = current;
    int total = p->m >= p->n ? p->m : p->n;
    if (way == STATIC_SPLIT) {
        block(p, total * self / 2, total * (self + 1) / 2, 0);
        return;
    }
    int size = total / chunks;
    if (way == PACKED_CHUNKS) {
        if (self == 0) {
            if (p->m >= p->n) pack(ROW_MAJOR, B_MATRIX, p->tb ? TRANS : NO_TRANS, size, p->n, p->k, 1, p->b, p->ldb, p->packed);
            else pack(ROW_MAJOR, A_MATRIX, p->ta ? TRANS : NO_TRANS, p->m, size, p->k, 1, p->a, p->lda, p->packed);
        }
        pthread_barrier_wait(&barrier);
    }
    for (int i; (i = __atomic_fetch_add(&next_chunk, 1, __ATOMIC_RELAXED)) < chunks;)
        block(p, i * size, (i + 1) * size, way == PACKED_CHUNKS);
}

static void *worker(void *unused) {
    (void)unused;
    for (;;) {
        pthread_barrier_wait(&barrier);
        work(1);
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

static float *random_floats(size_t n) {
    float *x = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    for (size_t i = 0; i < n; i++) x[i] = (rand() % 1000) / 1000.0f - 0.5f;
    return x;
}

static product make(int ta, int tb, int m, int n, int k) {
    product p = {ta, tb, m, n, k, ta ? m : k, tb ? k : n, random_floats((size_t)m * k), random_floats((size_t)k * n),
                 random_floats((size_t)m * n), NULL};
    size_t bytes = m >= n ? pack_size(B_MATRIX, m, n, k) : pack_size(A_MATRIX, m, n, k);
    p.packed = aligned_alloc(64, (bytes + 4096) / 64 * 64);
    return p;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: %s TOKENS WIDTH FF CHUNKS REPS\n", argv[0]);
        return 2;
    }
    load_mkl();
    int t = atoi(argv[1]), d = atoi(argv[2]), f = atoi(argv[3]), reps = atoi(argv[5]);
    chunks = atoi(argv[4]);
    product step[12] = {
        make(0, 1, t, 3 * d, d), make(0, 1, t, d, d), make(0, 1, t, f, d), make(0, 1, t, d, f),  // forward
        make(0, 0, t, d, 3 * d), make(0, 0, t, d, d), make(0, 0, t, d, f), make(0, 0, t, f, d),  // input gradients
        make(1, 0, 3 * d, d, t), make(1, 0, d, d, t), make(1, 0, f, d, t), make(1, 0, d, f, t),  // weight gradients
    };
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_t other;
    pthread_create(&other, NULL, worker, NULL);
    double *times[WAYS];
    for (int w = 0; w < WAYS; w++) times[w] = calloc(reps, sizeof(double));
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < WAYS; i++) {
            way = (i + r) % WAYS;
            double t0 = now();
            for (int j = 0; j < 12; j++) {
                current = &step[j];
                next_chunk = 0;
                pthread_barrier_wait(&barrier);
                work(0);
                pthread_barrier_wait(&barrier);
            }
            times[way][r] = now() - t0;
        }
    printf("tokens %d, width %d, ff %d, %d chunks, %d interleaved replays of a step's 12 products on 2 threads:\n", t, d, f, chunks, reps);
    for (int w = 0; w < WAYS; w++) {
        double sum = 0;
        for (int r = 0; r < reps; r++) sum += times[w][r];
        qsort(times[w], reps, sizeof(double), by_value);
        printf("  %-55s mean %.2f ms, median %.2f, best %.2f\n", names[w], sum / reps * 1e3, times[w][reps / 2] * 1e3, times[w][0] * 1e3);
    }
    return 0;
}
