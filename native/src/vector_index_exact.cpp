// What every backend shares: the exact scan, the scan-or-index rule, and the factory that
// picks a backend for an IndexSpec::Type.
#include <algorithm>
#include <cmath>
#include <queue>

#include "distances.h"
#include "vector_index_backend.h"

namespace sage {

void exact_search(const VectorData& vectors, const float* queries, size_t nq, size_t k,
                  const Bitmap* allow, int64_t* labels, float* scores) {
    const size_t dim = vectors.dim;
    const bool higher = higher_is_better(vectors.metric);
    const DistanceFn distance = higher ? inner_product_kernel() : l2sqr_kernel();
    const size_t n = vectors.slots();
    const float* data = vectors.data.data();
#pragma omp parallel for if (nq > 1) schedule(dynamic)
    for (size_t qi = 0; qi < nq; ++qi) {
        const float* q = queries + qi * dim;
        // Heap whose top is the worst kept hit, compared in "lower is better" terms.
        using Hit = std::pair<float, int64_t>;
        std::priority_queue<Hit> heap;
        auto consider = [&](size_t s) {
            const float* v = data + s * dim;
            const float raw = distance(q, v, dim);
            const float key = higher ? -raw : raw;
            if (heap.size() < k) {
                heap.emplace(key, static_cast<int64_t>(s));
            } else if (key < heap.top().first) {
                heap.pop();
                heap.emplace(key, static_cast<int64_t>(s));
            }
        };
        if (allow) {
            allow->for_each(consider);
        } else {
            for (size_t s = 0; s < n; ++s) consider(s);
        }
        int64_t* L = labels + qi * k;
        float* D = scores + qi * k;
        const size_t found = heap.size();
        for (size_t j = found; j < k; ++j) { L[j] = -1; D[j] = std::nanf(""); }
        for (size_t j = found; j-- > 0;) {
            L[j] = heap.top().second;
            D[j] = higher ? -heap.top().first : heap.top().first;
            heap.pop();
        }
    }
}

bool scan_beats_index(size_t allowed, double visits, size_t n) {
    const double a = static_cast<double>(allowed);
    return a * a <= visits * static_cast<double>(n);
}

std::unique_ptr<IndexBackend> make_index_backend(const VectorData& vectors, const IndexSpec& spec) {
    switch (spec.type) {
        case IndexSpec::Type::Flat:
            return make_flat_backend(vectors, spec);
        case IndexSpec::Type::HNSW:
            return make_hnsw_backend(vectors, spec);
        case IndexSpec::Type::IVF:
            return make_ivf_backend(vectors, spec);
    }
    throw std::logic_error("unknown index type");
}

}  // namespace sage
