#ifndef RECKON_CMPI_SHIM_H
#define RECKON_CMPI_SHIM_H
// Open MPI for data-parallel training (Sources/ReckonTrain/GradientReducer.swift).
// MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE ... are macros over global objects that
// Swift cannot import, so the few calls the reducer makes are wrapped here on the world
// communicator. Every function returns MPI's status code (MPI_SUCCESS is 0).
#include <mpi.h>

static inline int reckon_mpi_success(void) { return MPI_SUCCESS; }

static inline int reckon_mpi_init(void) { return MPI_Init(NULL, NULL); }
static inline int reckon_mpi_initialized(void) { int flag = 0; MPI_Initialized(&flag); return flag; }
static inline int reckon_mpi_finalized(void) { int flag = 0; MPI_Finalized(&flag); return flag; }
static inline int reckon_mpi_finalize(void) { return MPI_Finalize(); }
static inline int reckon_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static inline int reckon_mpi_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
static inline int reckon_mpi_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }
/// Errors come back as codes instead of aborting the job, so Swift can throw them.
static inline int reckon_mpi_errors_return(void) { return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); }

static inline int reckon_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

/// In-place sums over every rank.
static inline int reckon_mpi_allreduce_sum_float(float *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}
static inline int reckon_mpi_allreduce_sum_double(double *values, int count) {
    return MPI_Allreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}
/// Every rank's `count` ints, rank order, into `out` (size × count).
static inline int reckon_mpi_allgather_int(const int *values, int count, int *out) {
    return MPI_Allgather(values, count, MPI_INT, out, count, MPI_INT, MPI_COMM_WORLD);
}
/// Every rank's bytes, rank order: rank r's `counts[r]` bytes land at `out + offsets[r]`.
static inline int reckon_mpi_allgatherv_bytes(const void *bytes, int count, void *out, const int *counts, const int *offsets) {
    return MPI_Allgatherv(bytes, count, MPI_BYTE, out, counts, offsets, MPI_BYTE, MPI_COMM_WORLD);
}
static inline int reckon_mpi_error_string(int code, char *text, int *length) { return MPI_Error_string(code, text, length); }
#endif
