// Open MPI through dlopen: see mpi_loader.h. Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the
// addresses of exported objects (ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_op_sum, ...), so they are looked
// up like the functions; MPI_IN_PLACE is (void *)1 in Open MPI's mpi.h.
#include "mpi_loader.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

typedef void *handle;
static int (*p_init)(int *, char ***);
static int (*p_initialized)(int *);
static int (*p_rank)(handle, int *);
static int (*p_size)(handle, int *);
static int (*p_allreduce)(const void *, void *, int, handle, handle, handle);
static int (*p_bcast)(void *, int, handle, int, handle);
static int (*p_abort)(handle, int);
static int (*p_finalize)(void);
static int (*p_version)(char *, int *);
static handle comm_world, type_float, type_double, type_byte, op_sum, op_max;
static char error[512] = "", library[256] = "", version[512] = "";
#define IN_PLACE ((void *)1)

static void *need(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    if (!p && !error[0]) snprintf(error, sizeof error, "%s has no symbol %s (not Open MPI?)", library, name);
    return p;
}

int rb_mpi_start(int *rank, int *size) {
    const char *names[] = {"libmpi.so.40", "libmpi.so", NULL};
    void *lib = NULL;
    for (int i = 0; names[i] && !lib; i++) {
        lib = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);  // global: Open MPI's components dlopen themselves against it
        if (lib) snprintf(library, sizeof library, "%s", names[i]);
    }
    if (!lib) {
        snprintf(error, sizeof error, "cannot load Open MPI's libmpi.so.40 (%s); install openmpi-bin and libopenmpi3 (./setup.sh does)",
                 dlerror());
        return -1;
    }
    p_init = need(lib, "MPI_Init"); p_initialized = need(lib, "MPI_Initialized");
    p_rank = need(lib, "MPI_Comm_rank"); p_size = need(lib, "MPI_Comm_size");
    p_allreduce = need(lib, "MPI_Allreduce"); p_bcast = need(lib, "MPI_Bcast");
    p_abort = need(lib, "MPI_Abort"); p_finalize = need(lib, "MPI_Finalize"); p_version = need(lib, "MPI_Get_library_version");
    comm_world = need(lib, "ompi_mpi_comm_world"); type_float = need(lib, "ompi_mpi_float");
    type_double = need(lib, "ompi_mpi_double"); type_byte = need(lib, "ompi_mpi_byte");
    op_sum = need(lib, "ompi_mpi_op_sum"); op_max = need(lib, "ompi_mpi_op_max");
    if (error[0]) return -1;
    int done = 0;
    p_initialized(&done);
    if (!done && p_init(NULL, NULL) != 0) { snprintf(error, sizeof error, "MPI_Init failed"); return -1; }
    if (p_rank(comm_world, rank) != 0 || p_size(comm_world, size) != 0) { snprintf(error, sizeof error, "MPI_Comm_rank/size failed"); return -1; }
    int n = 0;
    char v[4096];
    if (p_version(v, &n) == 0) {
        v[n < (int)sizeof v ? n : (int)sizeof v - 1] = 0;
        char *nl = strchr(v, ','); if (nl) *nl = 0;  // "Open MPI v4.1.4, package: ..." -> "Open MPI v4.1.4"
        snprintf(version, sizeof version, "%s", v);
    }
    return 0;
}

const char *rb_mpi_error(void) { return error; }
const char *rb_mpi_library(void) { return version[0] ? version : library; }

static int allreduce(void *values, size_t count, size_t width, handle type, handle op) {
    char *p = values;
    while (count > 0) {
        int n = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        if (p_allreduce(IN_PLACE, p, n, type, op, comm_world) != 0) return -1;
        p += (size_t)n * width;
        count -= (size_t)n;
    }
    return 0;
}

int rb_mpi_allreduce_sum_float(float *values, size_t count) { return allreduce(values, count, sizeof(float), type_float, op_sum); }
int rb_mpi_allreduce_sum_double(double *values, size_t count) { return allreduce(values, count, sizeof(double), type_double, op_sum); }
int rb_mpi_allreduce_max_double(double *values, size_t count) { return allreduce(values, count, sizeof(double), type_double, op_max); }

int rb_mpi_broadcast(void *bytes, size_t count, int root) {
    char *p = bytes;
    while (count > 0) {
        int n = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        if (p_bcast(p, n, type_byte, root, comm_world) != 0) return -1;
        p += n;
        count -= (size_t)n;
    }
    return 0;
}

void rb_mpi_abort(int code) { if (p_abort) p_abort(comm_world, code); }
int rb_mpi_finish(void) { return p_finalize ? p_finalize() : 0; }
