// OpenBLAS loaded at run time.
//
// Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to its slow `Prescott` kernels.
// It reads OPENBLAS_CORETYPE once, when the library is loaded. Linking it normally means it is loaded before
// any of our code runs, so instead we pick the core type from the CPU's features, set the variable (unless the
// user already set it) and only then dlopen the library.
#pragma once
#include <stddef.h>

enum { RB_ROW_MAJOR = 101, RB_NO_TRANS = 111, RB_TRANS = 112 };

// Loads the library once (thread-safe). Returns 0 on success; on failure, rb_blas_error() says why.
int rb_blas_load(void);
const char *rb_blas_error(void);
// The core type this loader chose from the CPU's features ("SkylakeX", "Haswell", ...), or "" when none.
const char *rb_blas_chosen_coretype(void);
// The OPENBLAS_CORETYPE the environment set before the library was loaded (the user's), or "" when none.
// OpenBLAS ignores a name it does not know (or kernels this CPU cannot run): compare with rb_blas_corename().
const char *rb_blas_requested_coretype(void);
// The file that was loaded.
const char *rb_blas_library_path(void);

void rb_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void rb_dgemm(int transA, int transB, int M, int N, int K, double alpha, const double *A, int lda,
              const double *B, int ldb, double beta, double *C, int ldc);
void rb_blas_set_threads(int n);
int rb_blas_get_threads(void);
const char *rb_blas_corename(void);
const char *rb_blas_config(void);
