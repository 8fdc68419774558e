#pragma once
#include "allocator.h"
#include "blas_loader.h"
#include "vector_math.h"
#include "signals.h"
#include "mpi_loader.h"
#include "thread_budget.h"
