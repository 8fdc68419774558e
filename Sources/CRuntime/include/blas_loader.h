// The BLAS, loaded at run time: Intel oneMKL when present (setup.sh installs PyPI's `mkl` wheel), else OpenBLAS.
//
// REPLICATE_BLAS chooses: "mkl" (oneMKL or a one-line error), "openblas" (OpenBLAS only), unset or "auto" (oneMKL
// when found, else OpenBLAS). REPLICATE_MKL names libmkl_rt (a file, or the folder holding it).
//
// oneMKL runs its sequential layer: the engine splits large products over its own threads (gemmAccumulate).
// Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to its slow `Prescott` kernels; it
// reads OPENBLAS_CORETYPE once, when loaded, so the loader picks the core type from the CPU's features, sets the
// variable (unless the user already set it) and only then dlopens the library.
#pragma once
#include <stddef.h>

enum { RB_ROW_MAJOR = 101, RB_NO_TRANS = 111, RB_TRANS = 112 };

// Loads the library once (thread-safe). Returns 0 on success; on failure, rb_blas_error() says why.
int rb_blas_load(void);
const char *rb_blas_error(void);
// "oneMKL" or "OpenBLAS" (or "BLIS"), once loaded.
const char *rb_blas_vendor(void);
// The core type this loader chose from the CPU's features ("SkylakeX", "Haswell", ...), or "" when none (or when
// the library is not OpenBLAS).
const char *rb_blas_chosen_coretype(void);
// The OPENBLAS_CORETYPE the environment set before the library was loaded (the user's), or "" when none.
// OpenBLAS ignores a name it does not know (or kernels this CPU cannot run): compare with rb_blas_corename().
const char *rb_blas_requested_coretype(void);
// The file that was loaded.
const char *rb_blas_library_path(void);
// Where oneMKL is looked for first: REPLICATE_MKL (a file, or a folder holding libmkl_rt.so.3), else setup.sh's
// /opt/replicate-mkl/lib/libmkl_rt.so.3.
const char *rb_blas_mkl_path(void);

void rb_sgemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
void rb_dgemm(int transA, int transB, int M, int N, int K, double alpha, const double *A, int lda,
              const double *B, int ldb, double beta, double *C, int ldc);
void rb_blas_set_threads(int n);
int rb_blas_get_threads(void);
// OpenBLAS: its kernel family ("SkylakeX"); oneMKL: the instruction set its dispatcher chose; BLIS: its
// configuration.
const char *rb_blas_corename(void);
// The library's own description of its build (OpenBLAS's config string, oneMKL's version string).
const char *rb_blas_config(void);

// Any further BLAS library, opened beside the one in use (for `replicate bench blas`): NULL when the file cannot
// be loaded or has no cblas_sgemm (then err says why). Never closed.
typedef struct rb_blas_lib rb_blas_lib;
rb_blas_lib *rb_blas_open(const char *path, char *err, size_t errlen);
void rb_blas_lib_sgemm(const rb_blas_lib *lib, int transA, int transB, int M, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
const char *rb_blas_lib_vendor(const rb_blas_lib *lib);
const char *rb_blas_lib_config(const rb_blas_lib *lib);
const char *rb_blas_lib_corename(const rb_blas_lib *lib);
