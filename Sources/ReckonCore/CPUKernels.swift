// Whether CKernels' AVX/FMA kernels may run on this CPU (CKernels/cpu.c); not the kernels or their callers' fallbacks.

import CKernels

/// Whether the CKernels AVX/FMA kernels (few-row product, decode attention, softmax rows) may
/// run here. Without AVX and FMA every caller takes its OpenBLAS or scalar path instead.
public enum CPUKernels {
    public static let available = rk_avx_fma_available() != 0

    /// Lets the few-row product use AVX-512VL's 32 registers (the default where the CPU has
    /// them) or not; returns whether it now does. The sums are the same either way, so this
    /// exists for tests and benchmarks to compare the two.
    @discardableResult
    public static func setWideProducts(_ on: Bool) -> Bool { rk_small_gemm_set_wide(on ? 1 : 0) != 0 }
}
