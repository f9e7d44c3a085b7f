// Whether CKernels' AVX/FMA kernels may run on this CPU (CKernels/cpu.c); not the kernels or their callers' fallbacks.

import CKernels

/// Whether the CKernels AVX/FMA kernels (few-row product, decode attention, softmax rows) may
/// run here. Without AVX and FMA every caller takes its OpenBLAS or scalar path instead.
public enum CPUKernels {
    public static let available = rk_avx_fma_available() != 0
}
