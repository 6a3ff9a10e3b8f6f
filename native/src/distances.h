// Distance kernels picked at run time for the CPU (AVX2+FMA when present). Debian's
// libfaiss.a is built for baseline x86-64, where FAISS's own kernels are scalar loops; the
// collection routes every distance (exact scans and the HNSW graph) through these instead.
#pragma once
#include <cstddef>

namespace sage {

using DistanceFn = float (*)(const float* x, const float* y, size_t d);

// Squared Euclidean distance.
DistanceFn l2sqr_kernel();
// Inner product.
DistanceFn inner_product_kernel();
// Name of the selected implementation ("avx2" or "scalar"), for stats and tests.
const char* kernel_isa();

}  // namespace sage
