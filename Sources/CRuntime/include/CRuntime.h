#pragma once
#include "allocator.h"
#include "openblas_loader.h"
#include "vector_math.h"
#include "signals.h"
#include "mpi_loader.h"
