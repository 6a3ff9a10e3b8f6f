// An IndexFlat whose distance computer uses the collection's SIMD kernels. It is the vector
// storage under the HNSW graph, so graph construction gets fast distances (exact ones: a graph
// built on the 8-bit codes measured lower recall for no faster insertion). It serialises as a
// plain IndexFlat (write_index sees an IndexFlat), and adopt() turns a loaded plain IndexFlat
// back into one.
#pragma once
#include <faiss/IndexFlat.h>

#include <memory>

namespace sage {

struct FastFlatStorage : faiss::IndexFlat {
    FastFlatStorage(faiss::Index::idx_t d, faiss::MetricType metric) : faiss::IndexFlat(d, metric) {}
    faiss::DistanceComputer* get_distance_computer() const override;
    // The same distances with lower always better (inner products negated), as the graph's own
    // insertion (HNSW::add_with_locks) expects them.
    std::unique_ptr<faiss::DistanceComputer> insertion_distance_computer() const;
    // Takes over the vectors of a plain IndexFlat (which is left empty).
    static FastFlatStorage* adopt(faiss::IndexFlat& plain);
};

}  // namespace sage
