// Top-k search over a FAISS HNSW graph using the collection's SIMD kernels, a reusable
// per-thread visited table and prefetching of neighbour vectors. FAISS 1.7.3's own search
// allocates a visited table and opens an OpenMP team per call, which dominates one-query
// latency; the graph itself (built by FAISS) is only read here. With 8-bit codes the walk reads
// those and the nodes it keeps are re-scored from the float vectors.
#pragma once
#include <faiss/impl/HNSW.h>

#include <cstddef>
#include <cstdint>

#include "bitmap.h"
#include "distances.h"
#include "sq8.h"

namespace sage {

struct HnswQuery {
    const float* vector;
    size_t k;
    int ef;
    const Bitmap* allow;  // null: every node is eligible
    const Sq8Codes* codes = nullptr;  // codes of every node to walk on; null: the float vectors
};

// Writes up to k hits, best first, into labels/distances (lower distance is better; callers
// negate for inner product). Unused entries get label -1.
void hnsw_search(const faiss::HNSW& graph, const float* base, size_t dim, DistanceFn distance,
                 DistanceBatch4Fn distance4, bool negate,
                 const HnswQuery& query, int64_t* labels, float* distances);

}  // namespace sage
