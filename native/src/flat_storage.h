// An IndexFlat whose distance computer uses the collection's SIMD kernels. It is the vector
// storage under the HNSW graph, so graph construction and search both get fast distances.
// It serialises as a plain IndexFlat (write_index sees an IndexFlat), and adopt() turns a
// loaded plain IndexFlat back into one.
#pragma once
#include <faiss/IndexFlat.h>

#include <memory>

namespace sage {

struct FastFlatStorage : faiss::IndexFlat {
    FastFlatStorage(faiss::Index::idx_t d, faiss::MetricType metric) : faiss::IndexFlat(d, metric) {}
    faiss::DistanceComputer* get_distance_computer() const override;
    // Takes over the vectors of a plain IndexFlat (which is left empty).
    static FastFlatStorage* adopt(faiss::IndexFlat& plain);
};

}  // namespace sage
