#ifndef RECKON_CBLAS_SHIM_H
#define RECKON_CBLAS_SHIM_H
// OpenBLAS's cblas.h declares cblas_* and openblas_set_num_threads.
#include <cblas.h>
#endif
