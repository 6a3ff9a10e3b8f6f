// The FAISS side of a collection: raw vectors by slot plus one index (flat, HNSW or IVF, each an
// IndexBackend) whose labels are slots. Deleted slots are excluded through an allow-bitmap at
// search time.
#pragma once
#include <faiss/Index.h>
#include <omp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bitmap.h"

namespace sage {

enum class Metric { L2, IP, Cosine };
Metric parse_metric(const std::string& name);
const char* metric_name(Metric m);

// The documented ranges of the index parameters (protos/sage/vdb/v1/vdb.proto); create and open
// refuse anything outside them, so a request cannot make the core allocate without bound.
constexpr int kMinM = 4, kMaxM = 128;
constexpr int kMinEfConstruction = 8, kMaxEfConstruction = 2048;
constexpr int kMinEfSearch = 1, kMaxEfSearch = 4096;
constexpr int kMinNlist = 1, kMaxNlist = 65536;
constexpr int kMinNprobe = 1, kMaxNprobe = kMaxNlist;
constexpr size_t kMaxDim = 65536;
// IVF centroids take nlist * dim floats: at most 2^26 of them (256 MiB).
constexpr int64_t kMaxNlistTimesDim = int64_t{1} << 26;
// What a parameter left out means, the same as vdb.proto's "0 means" (sage_client/codec/vdb.py).
constexpr int kDefaultM = 16, kDefaultEfConstruction = 200, kDefaultEfSearch = 64;
constexpr int kDefaultNlist = 1024, kDefaultNprobe = 16;  // nprobe: min(kDefaultNprobe, nlist)
inline int default_nprobe(int nlist) { return nlist < kDefaultNprobe ? nlist : kDefaultNprobe; }

struct IndexSpec {
    enum class Type { Flat, HNSW, IVF };
    Type type = Type::HNSW;
    int M = kDefaultM;
    int ef_construction = kDefaultEfConstruction;
    int ef_search = kDefaultEfSearch;
    int nlist = kDefaultNlist;
    int nprobe = kDefaultNprobe;  // parse_index (bindings.cpp) makes an unset one default_nprobe(nlist)
    int64_t train_min = 0;  // IVF: live vectors needed before training; 0 means 39 * nlist

    int64_t train_threshold() const { return train_min > 0 ? train_min : int64_t{39} * nlist; }
    void validate() const;  // throws InvalidArgument
    void validate_for_dim(size_t dim) const;  // validate() plus the bounds that depend on dim
};
const char* index_type_name(IndexSpec::Type t);

// The vectors of a VectorIndex, row `slot` at data[slot * dim] (normalised for cosine).
struct VectorData {
    size_t dim;
    Metric metric;
    std::vector<float> data;

    size_t slots() const { return data.size() / dim; }
    const float* vector(size_t slot) const { return data.data() + slot * dim; }
};

class IndexBackend;

// Vectors by slot and the index over them. The index is one IndexBackend implementation per
// IndexSpec::Type (vector_index_backend.h), picked once at construction; this class keeps the
// vectors and what every type shares (normalisation, the exact scan, the filtered rescan).
class VectorIndex {
   public:
    VectorIndex(size_t dim, Metric metric, IndexSpec spec);
    ~VectorIndex();
    VectorIndex(const VectorIndex&) = delete;
    VectorIndex& operator=(const VectorIndex&) = delete;

    size_t dim() const { return vectors_.dim; }
    Metric metric() const { return vectors_.metric; }
    const IndexSpec& spec() const { return spec_; }
    size_t slots() const { return vectors_.slots(); }
    const float* vector(size_t slot) const { return vectors_.vector(slot); }
    bool trained() const;
    // Whether HNSW searches walk the graph on 8-bit codes (and re-score exactly).
    bool walks_on_codes() const;
    // Whether appends may leave rows pending for a background indexer (HNSW).
    bool defers_insertion() const;

    // Appends n vectors as slots [slots(), slots()+n); cosine vectors are normalised first.
    // HNSW adds them to the graph only through index_pending(): until then searches scan them
    // exactly, so a write need not wait for the (costly) graph insertion.
    void append(const float* x, size_t n);
    // HNSW: slots not in the graph yet; inserts up to max_rows of them, oldest first.
    size_t pending() const;
    // Whether appending n vectors (with live_count live ones now) is cheap apart from the
    // deferred graph insertion: no IVF training and no re-learning of the walk codes' ranges.
    bool append_is_light(size_t n, size_t live_count) const;
    void index_pending(size_t max_rows);
    // IVF only: trains on the live vectors and indexes them once enough exist.
    void train_if_ready(const Bitmap& live, size_t live_count);

    // Top-k per query into labels/scores (nq * k, label -1 when fewer hits). `allow` (may be
    // null: every slot) restricts the candidates; `allowed` is its population count.
    // Scores: squared L2 distance (l2, ascending) or inner product / cosine (descending).
    void search(const float* queries, size_t nq, size_t k, const Bitmap* allow, size_t allowed,
                int64_t* labels, float* scores) const;
    // Exact top-k over the allowed slots only.
    void exact_search(const float* queries, size_t nq, size_t k, const Bitmap* allow, int64_t* labels,
                      float* scores) const;

    // Keeps only slots where keep[slot], renumbered densely; rebuilds the FAISS index.
    void compact(const Bitmap& keep, size_t live_count);
    void save(const std::string& index_path) const;
    // Restores vectors (already loaded into this object) and the FAISS index file.
    void load(std::vector<float> data, const std::string& index_path);
    const std::vector<float>& data() const { return vectors_.data; }

    // Returns a normalised copy of queries for cosine; otherwise null (use queries as is).
    std::unique_ptr<float[]> prepare_queries(const float* q, size_t nq) const;

   private:
    VectorData vectors_;
    IndexSpec spec_;
    std::unique_ptr<IndexBackend> backend_;  // refers to vectors_
};

}  // namespace sage
