// Whether the AVX/FMA kernels may run on this CPU.
#include "kernels.h"

#include <cpuid.h>

int rk_avx_fma_available(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int avx = (c >> 28) & 1, fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
    if (!(avx && fma && osxsave)) return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;  // the OS saves the YMM registers
}
