#include "vector_index.h"

#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>

#include "errors.h"
#include "vector_index_backend.h"

namespace sage {

Metric parse_metric(const std::string& name) {
    if (name == "l2") return Metric::L2;
    if (name == "ip") return Metric::IP;
    if (name == "cosine") return Metric::Cosine;
    throw InvalidArgument("unknown metric '" + name + "'; use 'l2', 'ip' or 'cosine'");
}

const char* metric_name(Metric m) {
    return m == Metric::L2 ? "l2" : m == Metric::IP ? "ip" : "cosine";
}

const char* index_type_name(IndexSpec::Type t) {
    return t == IndexSpec::Type::Flat ? "flat" : t == IndexSpec::Type::HNSW ? "hnsw" : "ivf";
}

void IndexSpec::validate() const {
    auto within = [](int v, int lo, int hi, const char* name) {
        if (v < lo || v > hi) {
            throw InvalidArgument(std::string("index ") + name + " must be " + std::to_string(lo) + ".." +
                                  std::to_string(hi) + ", got " + std::to_string(v));
        }
    };
    if (type == Type::HNSW) {
        within(M, kMinM, kMaxM, "M");
        within(ef_construction, kMinEfConstruction, kMaxEfConstruction, "ef_construction");
        within(ef_search, kMinEfSearch, kMaxEfSearch, "ef_search");
    } else if (type == Type::IVF) {
        within(nlist, kMinNlist, kMaxNlist, "nlist");
        within(nprobe, kMinNprobe, kMaxNprobe, "nprobe");
        if (train_min < 0) throw InvalidArgument("index train_min must be >= 0");
        if (train_min > 0 && train_min < nlist) {
            throw InvalidArgument("index train_min must be >= nlist (k-means needs one point per list)");
        }
    }
}

void IndexSpec::validate_for_dim(size_t dim) const {
    if (dim == 0 || dim > kMaxDim) {
        throw InvalidArgument("dim must be 1.." + std::to_string(kMaxDim) + ", got " + std::to_string(dim));
    }
    validate();
    if (type == Type::IVF && static_cast<int64_t>(nlist) * static_cast<int64_t>(dim) > kMaxNlistTimesDim) {
        throw InvalidArgument("index nlist * dim must be <= " + std::to_string(kMaxNlistTimesDim) +
                              " (the IVF centroids), got " + std::to_string(nlist) + " * " + std::to_string(dim));
    }
}

VectorIndex::VectorIndex(size_t dim, Metric metric, IndexSpec spec)
    : vectors_{dim, metric, {}}, spec_(spec) {
    spec_.validate_for_dim(dim);
    backend_ = make_index_backend(vectors_, spec_);
}

VectorIndex::~VectorIndex() = default;

bool VectorIndex::trained() const { return backend_->trained(); }
bool VectorIndex::walks_on_codes() const { return backend_->walks_on_codes(); }
bool VectorIndex::defers_insertion() const { return backend_->defers_insertion(); }
size_t VectorIndex::pending() const { return backend_->pending(); }

std::unique_ptr<float[]> VectorIndex::prepare_queries(const float* q, size_t nq) const {
    if (vectors_.metric != Metric::Cosine) return nullptr;
    const size_t dim = vectors_.dim;
    std::unique_ptr<float[]> copy(new float[nq * dim]);
    std::copy(q, q + nq * dim, copy.get());
    faiss::fvec_renorm_L2(dim, nq, copy.get());
    return copy;
}

void VectorIndex::append(const float* x, size_t n) {
    const size_t first = slots();
    const size_t dim = vectors_.dim;
    vectors_.data.insert(vectors_.data.end(), x, x + n * dim);
    float* added = vectors_.data.data() + first * dim;
    if (vectors_.metric == Metric::Cosine) faiss::fvec_renorm_L2(dim, n, added);
    backend_->appended(first);
}

bool VectorIndex::append_is_light(size_t n, size_t live_count) const {
    return backend_->append_is_light(n, live_count);
}

void VectorIndex::index_pending(size_t max_rows) { backend_->index_pending(max_rows); }

void VectorIndex::train_if_ready(const Bitmap& live, size_t live_count) {
    backend_->train_if_ready(live, live_count);
}

void VectorIndex::exact_search(const float* queries, size_t nq, size_t k, const Bitmap* allow,
                               int64_t* labels, float* scores) const {
    sage::exact_search(vectors_, queries, nq, k, allow, labels, scores);
}

void VectorIndex::search(const float* queries, size_t nq, size_t k, const Bitmap* allow, size_t allowed,
                         int64_t* labels, float* scores) const {
    if (nq == 0 || k == 0) return;
    if (allowed == 0 || slots() == 0) {
        std::fill(labels, labels + nq * k, -1);
        std::fill(scores, scores + nq * k, std::nanf(""));
        return;
    }
    if (backend_->prefer_exact(allow ? allowed : slots())) {
        exact_search(queries, nq, k, allow, labels, scores);
        return;
    }
    backend_->search(queries, nq, k, allow, labels, scores);
    // A graph walk or a probe can run out of allowed candidates; rescan exactly so a filtered
    // top-k still returns k hits whenever k vectors match.
    const size_t dim = vectors_.dim;
    const size_t want = std::min(k, allowed);
    for (size_t qi = 0; qi < nq; ++qi) {
        size_t got = 0;
        for (size_t j = 0; j < k; ++j) got += labels[qi * k + j] >= 0;
        if (got < want) exact_search(queries + qi * dim, 1, k, allow, labels + qi * k, scores + qi * k);
        for (size_t j = 0; j < k; ++j) {
            if (labels[qi * k + j] < 0) scores[qi * k + j] = std::nanf("");
        }
    }
}

void VectorIndex::compact(const Bitmap& keep, size_t live_count) {
    const size_t dim = vectors_.dim;
    std::vector<float> kept;
    kept.reserve(live_count * dim);
    keep.for_each([&](size_t s) { kept.insert(kept.end(), vector(s), vector(s) + dim); });
    backend_->clear();
    vectors_.data.clear();
    const size_t n = kept.size() / dim;
    // Vectors are stored normalised already; re-normalising a unit vector is harmless.
    append(kept.data(), n);
    backend_->index_pending(n);
}

void VectorIndex::save(const std::string& index_path) const { backend_->save(index_path); }

void VectorIndex::load(std::vector<float> data, const std::string& index_path) {
    vectors_.data = std::move(data);
    backend_->load(index_path);
}

}  // namespace sage
