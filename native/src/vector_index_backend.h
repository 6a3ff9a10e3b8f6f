// The index behind a VectorIndex, one implementation per IndexSpec::Type (as FAISS's Index has
// one subclass per structure): flat (vector_index_flat.cpp), HNSW (vector_index_hnsw.cpp) and
// IVF (vector_index_ivf.cpp). A VectorIndex picks its backend once, through
// make_index_backend(), and from then on only talks to this interface.
//
// A backend reads the vectors (by slot) from the VectorData its VectorIndex owns; it never
// changes them. Labels are slots.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitmap.h"
#include "vector_index.h"

namespace sage {

inline bool higher_is_better(Metric m) { return m != Metric::L2; }

inline faiss::MetricType faiss_metric(Metric m) {
    return m == Metric::L2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

// Exact top-k over the allowed slots only (every slot when `allow` is null); labels -1 and
// NaN scores past the hits.
void exact_search(const VectorData& vectors, const float* queries, size_t nq, size_t k,
                  const Bitmap* allow, int64_t* labels, float* scores);

// Whether an exact scan of `allowed` vectors beats an index that visits about `visits` of the
// `n` vectors per unfiltered query (visits / f when a filter keeps a fraction f of them): scan
// when allowed^2 <= visits * n.
bool scan_beats_index(size_t allowed, double visits, size_t n);

class IndexBackend {
   public:
    virtual ~IndexBackend() = default;

    virtual bool trained() const = 0;
    // Slots appended but not searchable through the index yet (searched exactly meanwhile).
    virtual size_t pending() const { return 0; }
    // Whether appends may leave their rows pending for a background indexer.
    virtual bool defers_insertion() const { return false; }
    // Whether searches walk on 8-bit codes (and re-score exactly).
    virtual bool walks_on_codes() const { return false; }

    // Rows [first, vectors.slots()) were just appended to the VectorData.
    virtual void appended(size_t first) = 0;
    // See VectorIndex::append_is_light.
    virtual bool append_is_light(size_t n, size_t live_count) const = 0;
    // Makes up to max_rows pending rows searchable through the index, oldest first.
    virtual void index_pending(size_t max_rows) {}
    // Trains on the live vectors and indexes them once enough exist (a no-op where no
    // training is needed).
    virtual void train_if_ready(const Bitmap& live, size_t live_count) {}

    // Whether a search allowing `allowed` slots should scan them exactly instead.
    virtual bool prefer_exact(size_t allowed) const = 0;
    // Top-k per query through the index (nq * k labels and scores).
    virtual void search(const float* queries, size_t nq, size_t k, const Bitmap* allow,
                        int64_t* labels, float* scores) const = 0;

    // Forgets every row before the VectorData is refilled (compaction); what training learned
    // may stay.
    virtual void clear() = 0;
    virtual void save(const std::string& index_path) const = 0;
    // Restores the index file; the VectorData already holds the vectors.
    virtual void load(const std::string& index_path) = 0;
};

std::unique_ptr<IndexBackend> make_flat_backend(const VectorData& vectors, const IndexSpec& spec);
std::unique_ptr<IndexBackend> make_hnsw_backend(const VectorData& vectors, const IndexSpec& spec);
std::unique_ptr<IndexBackend> make_ivf_backend(const VectorData& vectors, const IndexSpec& spec);

// The one place an IndexSpec::Type picks its implementation.
std::unique_ptr<IndexBackend> make_index_backend(const VectorData& vectors, const IndexSpec& spec);

}  // namespace sage
