// An IndexFlat whose distance computer uses the collection's SIMD kernels. It is the vector
// storage under the HNSW graph, so graph construction gets fast distances: from the vector being
// inserted to the others on their 8-bit walk codes when the collection has them (the candidates
// of an insertion are scattered like a search's), between two stored vectors exactly (the
// neighbour-selection heuristic). It serialises as a plain IndexFlat (write_index sees an
// IndexFlat), and adopt() turns a loaded plain IndexFlat back into one.
#pragma once
#include <faiss/IndexFlat.h>

#include <memory>

#include "sq8.h"

namespace sage {

struct FastFlatStorage : faiss::IndexFlat {
    FastFlatStorage(faiss::Index::idx_t d, faiss::MetricType metric) : faiss::IndexFlat(d, metric) {}
    faiss::DistanceComputer* get_distance_computer() const override;
    // The same distances with lower always better (inner products negated), as the graph's own
    // insertion (HNSW::add_with_locks) expects them.
    std::unique_ptr<faiss::DistanceComputer> insertion_distance_computer() const;
    // Codes of every stored vector, kept by the owner; used while trained.
    const Sq8Codes* walk_codes = nullptr;
    // Takes over the vectors of a plain IndexFlat (which is left empty).
    static FastFlatStorage* adopt(faiss::IndexFlat& plain);
};

}  // namespace sage
