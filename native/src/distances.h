// Distance kernels picked at run time for the CPU (AVX2+FMA when present). Debian's
// libfaiss.a is built for baseline x86-64, where FAISS's own kernels are scalar loops; the
// collection routes every distance (exact scans and the HNSW graph) through these instead.
#pragma once
#include <cstddef>

namespace sage {

using DistanceFn = float (*)(const float* x, const float* y, size_t d);

// Distances from x to four vectors at once (x is loaded once per chunk).
using DistanceBatch4Fn = void (*)(const float* x, const float* y0, const float* y1, const float* y2,
                                  const float* y3, size_t d, float* out);

// Squared Euclidean distance.
DistanceFn l2sqr_kernel();
// Inner product.
DistanceFn inner_product_kernel();
DistanceBatch4Fn l2sqr_batch4_kernel();
DistanceBatch4Fn inner_product_batch4_kernel();
// Whether this CPU runs the AVX2+FMA kernels.
bool has_avx2();
// Name of the selected implementation ("avx2" or "scalar"), for stats and tests.
const char* kernel_isa();

}  // namespace sage
