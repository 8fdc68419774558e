// Open MPI loaded at run time (dlopen), only when the process was started by mpirun: a plain run needs no MPI
// library at all, and the single-process path never calls into one.
#pragma once
#include <stddef.h>

// Loads libmpi and calls MPI_Init. Returns 0 on success; on failure, rb_mpi_error() says why.
int rb_mpi_start(int *rank, int *size);
const char *rb_mpi_error(void);
// The file that was loaded and the library's version string.
const char *rb_mpi_library(void);
// In-place sums over every rank (counts of any size; split into int-sized messages). 0 on success.
int rb_mpi_allreduce_sum_float(float *values, size_t count);
int rb_mpi_allreduce_sum_double(double *values, size_t count);
// In-place maximum over every rank.
int rb_mpi_allreduce_max_double(double *values, size_t count);
// Root's bytes to every rank.
int rb_mpi_broadcast(void *bytes, size_t count, int root);
// Ends every rank of the job with `code` (a rank that cannot go on must not leave the others waiting).
void rb_mpi_abort(int code);
int rb_mpi_finish(void);
