// Vector-stream operators of sage_flow: exact k-NN and range joins of two windows of vectors,
// an index-backed (HNSW) join, and per-window aggregates. Inputs are contiguous row-major
// float32 matrices (one window's vectors); nothing here allocates per record.
//
// The exact joins score tiles of pairs with AMX bf16 tiles where the CPU and the kernel allow
// them (Sapphire Rapids and later), else with the collection's SIMD distance kernels, and
// re-score every pair that could belong to the answer with the float32 kernels (distances.h):
// each bf16 score is kept with a proven error bound, so the result is the exact float32 one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vector_index.h"

namespace sage::flow {

// Top-k of every row of `a` among the rows of `b`: labels[i*k + j] (row of b, -1 when b has
// fewer than k rows) and scores (squared L2 distance ascending, inner product / cosine
// descending). threads <= 0: OpenMP's default.
void knn_join(const float* a, size_t na, const float* b, size_t nb, size_t dim, Metric metric, size_t k,
              int threads, int64_t* labels, float* scores);

struct Pairs {
    std::vector<int64_t> left, right;
    std::vector<float> scores;
};
// Every pair within `threshold`: similarity >= threshold (ip, cosine) or squared L2 distance
// <= threshold (l2); sorted by left row, then best score first.
Pairs range_join(const float* a, size_t na, const float* b, size_t nb, size_t dim, Metric metric,
                 float threshold, int threads);

// k-NN join through an index built on `b` (the native core's VectorIndex: HNSW or flat).
void index_join(const float* a, size_t na, const float* b, size_t nb, size_t dim, Metric metric, size_t k,
                const IndexSpec& spec, int threads, int64_t* labels, float* scores);

// Mean of the rows of x (out: dim floats); zeros when n == 0.
void centroid(const float* x, size_t n, size_t dim, float* out);

// "amx-bf16" or the distance kernels' ISA ("avx2", "scalar"): what knn_join runs on here.
const char* join_isa();
// Force the float32 kernels even where AMX is available (tests compare both paths).
void set_amx_enabled(bool enabled);

}  // namespace sage::flow
