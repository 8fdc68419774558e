#define _GNU_SOURCE
#include "blas_loader.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                         double, double *, int);

struct rb_blas_lib {
    const char *vendor;
    char path[512];
    char config[512];
    char corename[128];
    sgemm_fn sgemm;
    dgemm_fn dgemm;
    void (*set_threads)(int);
    int (*get_threads)(void);
};

// oneMKL's code-path names (mkl_cbwr.h), by mkl_cbwr_get_auto_branch()'s value.
static const char *mkl_branch_name(int b) {
    switch (b) {
    case 4: return "SSE2";
    case 6: return "SSSE3";
    case 7: return "SSE4_1";
    case 8: return "SSE4_2";
    case 9: return "AVX";
    case 10: return "AVX2";
    case 12: return "AVX512";
    case 14: return "AVX512_E1";
    default: return NULL;
    }
}

// Fills `lib` from an opened handle: which library it is, its functions, its description. 0 on success.
static int describe(void *h, const char *path, struct rb_blas_lib *lib, char *err, size_t errlen) {
    memset(lib, 0, sizeof(*lib));
    snprintf(lib->path, sizeof(lib->path), "%s", path);
    lib->sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    lib->dgemm = (dgemm_fn)dlsym(h, "cblas_dgemm");
    if (!lib->sgemm || !lib->dgemm) {
        snprintf(err, errlen, "%s has no cblas_sgemm/cblas_dgemm", path);
        return -1;
    }
    int (*mkl_layer)(int) = (int (*)(int))dlsym(h, "MKL_Set_Threading_Layer");
    char *(*ob_config)(void) = (char *(*)(void))dlsym(h, "openblas_get_config");
    const char *(*blis_version)(void) = (const char *(*)(void))dlsym(h, "bli_info_get_version_str");
    if (mkl_layer) {
        // Before any other oneMKL call: the sequential layer (no OpenMP runtime; the engine owns the threads and
        // splits large products over them, as with OpenBLAS). oneMKL's own OpenMP threading of a whole product was
        // measured no faster than the engine's split here (`replicate bench blas`, papers/engine.md).
        mkl_layer(1 /* MKL_THREADING_SEQUENTIAL */);
        lib->vendor = "oneMKL";
        void (*version)(char *, int) = (void (*)(char *, int))dlsym(h, "MKL_Get_Version_String");
        if (version) version(lib->config, (int)sizeof(lib->config));
        int (*branch)(void) = (int (*)(void))dlsym(h, "mkl_cbwr_get_auto_branch");
        int b = branch ? branch() : -1;
        const char *name = mkl_branch_name(b);
        if (name) snprintf(lib->corename, sizeof(lib->corename), "%s, sequential", name);
        else snprintf(lib->corename, sizeof(lib->corename), "code path %d, sequential", b);
        lib->set_threads = (void (*)(int))dlsym(h, "MKL_Set_Num_Threads");
        lib->get_threads = (int (*)(void))dlsym(h, "MKL_Get_Max_Threads");
    } else if (ob_config) {
        lib->vendor = "OpenBLAS";
        snprintf(lib->config, sizeof(lib->config), "%s", ob_config());
        char *(*corename)(void) = (char *(*)(void))dlsym(h, "openblas_get_corename");
        snprintf(lib->corename, sizeof(lib->corename), "%s", corename ? corename() : "unknown");
        lib->set_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
        lib->get_threads = (int (*)(void))dlsym(h, "openblas_get_num_threads");
    } else if (blis_version) {
        lib->vendor = "BLIS";
        snprintf(lib->config, sizeof(lib->config), "BLIS %s", blis_version());
        const char *(*arch_name)(int) = (const char *(*)(int))dlsym(h, "bli_arch_string");
        int (*arch_query)(void) = (int (*)(void))dlsym(h, "bli_arch_query_id");
        snprintf(lib->corename, sizeof(lib->corename), "%s", arch_name && arch_query ? arch_name(arch_query()) : "unknown");
        lib->set_threads = (void (*)(int))dlsym(h, "bli_thread_set_num_threads");
    } else {
        lib->vendor = "BLAS";
        snprintf(lib->config, sizeof(lib->config), "%s", path);
        snprintf(lib->corename, sizeof(lib->corename), "unknown");
    }
    // Single-threaded: the engine splits large products over its own threads, so library worker threads would
    // only spin (sched_yield) against the engine's kernels.
    if (lib->set_threads) lib->set_threads(1);
    return 0;
}

static const char *pick_coretype(void);

rb_blas_lib *rb_blas_open(const char *path, char *err, size_t errlen) {
    // An OpenBLAS opened here gets the kernels it would get as the library in use (harmless to the others).
    const char *core = pick_coretype();
    if (*core) setenv("OPENBLAS_CORETYPE", core, 0);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    rb_blas_lib *lib = malloc(sizeof(rb_blas_lib));
    if (!lib) snprintf(err, errlen, "out of memory opening %s", path);
    if (!lib || describe(h, path, lib, err, errlen) != 0) {
        free(lib);
        dlclose(h);
        return NULL;
    }
    return lib;
}
void rb_blas_lib_sgemm(const rb_blas_lib *lib, int transA, int transB, int M, int N, int K, float alpha,
                       const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    lib->sgemm(RB_ROW_MAJOR, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
const char *rb_blas_lib_vendor(const rb_blas_lib *lib) { return lib->vendor; }
const char *rb_blas_lib_config(const rb_blas_lib *lib) { return lib->config; }
const char *rb_blas_lib_corename(const rb_blas_lib *lib) { return lib->corename; }

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int load_status = -1;
static char load_error[768] = "BLAS not loaded";
static const char *chosen = "";
static char requested[128] = "";
static struct rb_blas_lib active;

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

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char mkl_path[600];
static pthread_once_t mkl_path_once = PTHREAD_ONCE_INIT;
static void resolve_mkl_path(void) {
    const char *env = getenv("REPLICATE_MKL");
    if (env && *env) snprintf(mkl_path, sizeof(mkl_path), is_dir(env) ? "%s/libmkl_rt.so.3" : "%s", env);
    else snprintf(mkl_path, sizeof(mkl_path), "/opt/replicate-mkl/lib/libmkl_rt.so.3");
}

const char *rb_blas_mkl_path(void) {
    pthread_once(&mkl_path_once, resolve_mkl_path);
    return mkl_path;
}

static int user_chose_mkl(void) {
    const char *env = getenv("REPLICATE_MKL");
    return env && *env;
}

// Tries the oneMKL candidates in order (REPLICATE_MKL alone when set); 0 when one loaded.
static int load_mkl(char *why, size_t whylen) {
    if (user_chose_mkl()) {  // the user's file stands or falls alone
        void *h = dlopen(rb_blas_mkl_path(), RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(why, whylen, "cannot load REPLICATE_MKL=%s: %s", getenv("REPLICATE_MKL"), dlerror());
            return -1;
        }
        return describe(h, rb_blas_mkl_path(), &active, why, whylen);
    }
    const char *candidates[] = {rb_blas_mkl_path(), "libmkl_rt.so.3", "libmkl_rt.so.2", "libmkl_rt.so"};
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        void *h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (h) return describe(h, candidates[i], &active, why, whylen);
    }
    snprintf(why, whylen, "oneMKL (libmkl_rt) not found");
    return -1;
}

static int load_openblas(char *why, size_t whylen) {
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
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (!candidates[i] || !*candidates[i]) continue;
        void *h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (h) return describe(h, candidates[i], &active, why, whylen);
    }
    snprintf(why, whylen, "cannot load OpenBLAS (libopenblas.so.0): install it with 'apt-get install libopenblas-dev'");
    return -1;
}

static void load(void) {
    const char *pref = getenv("REPLICATE_BLAS");
    if (!pref || !*pref) pref = "auto";
    char why[512] = "";
    if (strcmp(pref, "mkl") == 0) {
        if (load_mkl(why, sizeof(why)) != 0) {
            snprintf(load_error, sizeof(load_error), "REPLICATE_BLAS=mkl: %s (./setup.sh installs it)", why);
            return;
        }
    } else if (strcmp(pref, "openblas") == 0) {
        if (load_openblas(why, sizeof(why)) != 0) {
            snprintf(load_error, sizeof(load_error), "%s", why);
            return;
        }
    } else if (strcmp(pref, "auto") == 0) {
        if (load_mkl(why, sizeof(why)) != 0) {
            if (user_chose_mkl()) {
                snprintf(load_error, sizeof(load_error), "%s", why);
                return;
            }
            if (load_openblas(why, sizeof(why)) != 0) {
                snprintf(load_error, sizeof(load_error), "%s", why);
                return;
            }
        }
    } else {
        snprintf(load_error, sizeof(load_error), "REPLICATE_BLAS=%s: expected mkl, openblas or auto", pref);
        return;
    }
    load_status = 0;
    load_error[0] = 0;
}

int rb_blas_load(void) {
    pthread_once(&once, load);
    return load_status;
}
const char *rb_blas_error(void) { return load_error; }
const char *rb_blas_vendor(void) { return active.vendor ? active.vendor : ""; }
const char *rb_blas_chosen_coretype(void) { return chosen; }
const char *rb_blas_requested_coretype(void) { return requested; }
const char *rb_blas_library_path(void) { return active.path; }

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
    active.sgemm(RB_ROW_MAJOR, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void rb_dgemm(int transA, int transB, int M, int N, int K, double alpha, const double *A, int lda,
              const double *B, int ldb, double beta, double *C, int ldc) {
    require_loaded();
    active.dgemm(RB_ROW_MAJOR, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void rb_blas_set_threads(int n) { if (active.set_threads) active.set_threads(n); }
int rb_blas_get_threads(void) { return active.get_threads ? active.get_threads() : 1; }
const char *rb_blas_corename(void) { return active.corename[0] ? active.corename : "unknown"; }
const char *rb_blas_config(void) { return active.config[0] ? active.config : "unknown"; }
