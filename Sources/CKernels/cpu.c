// Whether the AVX/FMA kernels may run on this CPU, and whether AVX-512VL's 32 registers may.
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

int rk_avx512vl_available(void) {
    if (!rk_avx_fma_available()) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int f = (b >> 16) & 1, vl = (b >> 31) & 1;
    if (!(f && vl)) return 0;
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0xe6) == 0xe6;  // the OS saves the opmask and all 32 vector registers
}
