#include "vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/HNSW.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>

#include <algorithm>
#include <cmath>
#include <queue>

#include "distances.h"
#include "errors.h"
#include "flat_storage.h"
#include "hnsw_search.h"

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

namespace {

bool higher_is_better(Metric m) { return m != Metric::L2; }

faiss::MetricType faiss_metric(Metric m) {
    return m == Metric::L2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

}  // namespace

VectorIndex::VectorIndex(size_t dim, Metric metric, IndexSpec spec)
    : dim_(dim), metric_(metric), spec_(spec), codes_(dim) {
    spec_.validate_for_dim(dim);
    make_index();
}

VectorIndex::~VectorIndex() {
    for (auto& lock : insert_locks_) omp_destroy_lock(&lock);
}

void VectorIndex::make_index() {
    const auto d = static_cast<int>(dim_);
    switch (spec_.type) {
        case IndexSpec::Type::Flat:
            index_ = std::make_unique<faiss::IndexFlat>(d, faiss_metric(metric_));
            break;
        case IndexSpec::Type::HNSW: {
            auto h = std::make_unique<faiss::IndexHNSWFlat>(d, spec_.M, faiss_metric(metric_));
            delete h->storage;  // swap in storage whose distances use the SIMD kernels
            h->storage = new FastFlatStorage(d, faiss_metric(metric_));
            h->hnsw.efConstruction = spec_.ef_construction;
            h->hnsw.efSearch = spec_.ef_search;
            index_ = std::move(h);
            break;
        }
        case IndexSpec::Type::IVF: {
            quantizer_ = std::make_unique<faiss::IndexFlat>(d, faiss_metric(metric_));
            auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer_.get(), dim_, spec_.nlist,
                                                             faiss_metric(metric_));
            ivf->nprobe = static_cast<size_t>(spec_.nprobe);
            index_ = std::move(ivf);
            break;
        }
    }
}

bool VectorIndex::trained() const { return index_->is_trained; }

std::unique_ptr<float[]> VectorIndex::prepare_queries(const float* q, size_t nq) const {
    if (metric_ != Metric::Cosine) return nullptr;
    std::unique_ptr<float[]> copy(new float[nq * dim_]);
    std::copy(q, q + nq * dim_, copy.get());
    faiss::fvec_renorm_L2(dim_, nq, copy.get());
    return copy;
}

void VectorIndex::append(const float* x, size_t n) {
    const size_t first = slots();
    data_.insert(data_.end(), x, x + n * dim_);
    float* added = data_.data() + first * dim_;
    if (metric_ == Metric::Cosine) faiss::fvec_renorm_L2(dim_, n, added);
    update_codes(first);
    const auto fn = static_cast<faiss::Index::idx_t>(n);
    if (spec_.type == IndexSpec::Type::IVF) {
        if (!index_->is_trained) return;  // indexed in bulk when trained
        std::vector<faiss::Index::idx_t> ids(n);
        for (size_t i = 0; i < n; ++i) ids[i] = static_cast<faiss::Index::idx_t>(first + i);
        index_->add_with_ids(fn, added, ids.data());
    } else if (spec_.type == IndexSpec::Type::Flat) {
        index_->add(fn, added);  // labels are positions == slots
    }
}

namespace {

// From this many rows on, FAISS's own batch insertion (OpenMP across vertices) is used; its
// per-call setup is O(nodes), which only a batch amortises.
constexpr size_t kBatchInsertFrom = 64;

}  // namespace

void VectorIndex::index_pending(size_t max_rows) {
    const size_t m = std::min(max_rows, pending());
    if (m == 0) return;
    const float* rows = data_.data() + indexed_ * dim_;
    // Labels are positions in the graph's storage, so rows go in slot order.
    if (m >= kBatchInsertFrom) {
        index_->add(static_cast<faiss::Index::idx_t>(m), rows);
        indexed_ += m;
        return;
    }
    auto& h = static_cast<faiss::IndexHNSW&>(*index_);
    auto& storage = static_cast<FastFlatStorage&>(*h.storage);
    storage.add(static_cast<faiss::Index::idx_t>(m), rows);
    h.ntotal = storage.ntotal;
    h.hnsw.prepare_level_tab(m, false);
    const size_t end = indexed_ + m;
    if (insert_locks_.size() < end) {
        // Grown by doubling; moving unlocked OpenMP locks is a copy of their state word.
        const size_t old = insert_locks_.size();
        insert_locks_.resize(std::max(end, 2 * old));
        for (size_t i = old; i < insert_locks_.size(); ++i) omp_init_lock(&insert_locks_[i]);
    }
    if (!insert_visited_ || insert_visited_->visited.size() < end) {
        insert_visited_ = std::make_unique<faiss::VisitedTable>(static_cast<int>(std::max(end, 2 * indexed_)));
    }
    const auto distances = storage.insertion_distance_computer();
    for (size_t r = indexed_; r < end; ++r) {
        distances->set_query(data_.data() + r * dim_);
        h.hnsw.add_with_locks(*distances, h.hnsw.levels[r] - 1, static_cast<int>(r), insert_locks_, *insert_visited_);
    }
    indexed_ = end;
}

namespace {

// Below this many vectors the float walk is cheap enough and the ranges too uncertain.
constexpr size_t kCodesFrom = 1024;
// Components out of the learned ranges in a batch, as a fraction, that call for learning them
// again; and the growth since the last learning that allows it (so that repeated outliers cannot
// re-encode the whole base on every write).
constexpr double kClampedToRetrain = 0.001;
constexpr double kGrowthToRetrain = 0.05;

}  // namespace

bool VectorIndex::append_is_light(size_t n, size_t live_count) const {
    switch (spec_.type) {
        case IndexSpec::Type::Flat:
            return true;
        case IndexSpec::Type::IVF:
            return index_->is_trained || static_cast<int64_t>(live_count + n) < spec_.train_threshold();
        case IndexSpec::Type::HNSW: {
            const size_t after = slots() + n;
            return codes_.trained() ? after < 2 * codes_trained_rows_ : after < kCodesFrom;
        }
    }
    return false;
}

void VectorIndex::update_codes(size_t first) {
    if (spec_.type != IndexSpec::Type::HNSW) return;
    const size_t n = slots();
    if (!codes_.trained()) {
        if (n >= kCodesFrom) {
            codes_.train(data_.data(), n);
            codes_trained_rows_ = n;
            rows_since_retrain_ = 0;
        }
        return;
    }
    const size_t added = n - first;
    const size_t clamped = codes_.append(vector(first), added);
    rows_since_retrain_ += added;
    const bool drifted = static_cast<double>(clamped) > kClampedToRetrain * static_cast<double>(added * dim_);
    // Doubling also re-learns: the first ranges came from the first kCodesFrom rows only.
    const bool grown = n >= 2 * codes_trained_rows_;
    if (grown || (drifted && static_cast<double>(rows_since_retrain_) >=
                                 kGrowthToRetrain * static_cast<double>(codes_trained_rows_))) {
        codes_.train(data_.data(), n);
        codes_trained_rows_ = n;
        rows_since_retrain_ = 0;
    }
}

void VectorIndex::train_if_ready(const Bitmap& live, size_t live_count) {
    if (spec_.type != IndexSpec::Type::IVF || index_->is_trained) return;
    if (static_cast<int64_t>(live_count) < spec_.train_threshold()) return;
    std::vector<float> xs;
    std::vector<faiss::Index::idx_t> ids;
    xs.reserve(live_count * dim_);
    live.for_each([&](size_t s) {
        xs.insert(xs.end(), vector(s), vector(s) + dim_);
        ids.push_back(static_cast<faiss::Index::idx_t>(s));
    });
    const auto n = static_cast<faiss::Index::idx_t>(ids.size());
    index_->train(n, xs.data());
    index_->add_with_ids(n, xs.data(), ids.data());
}

bool VectorIndex::prefer_exact(size_t allowed) const {
    if (spec_.type == IndexSpec::Type::Flat) return true;
    if (!index_->is_trained) return true;
    const double n = static_cast<double>(slots());
    // The index visits roughly `visits` vectors unfiltered and visits/f when a filter keeps a
    // fraction f of them; an exact scan costs `allowed`. Scan when allowed^2 <= visits * n.
    double visits;
    if (spec_.type == IndexSpec::Type::HNSW) {
        visits = static_cast<double>(spec_.ef_search) * spec_.M * 2;
    } else {
        visits = n * spec_.nprobe / std::max(1, spec_.nlist);
    }
    const double a = static_cast<double>(allowed);
    return a * a <= visits * n;
}

void VectorIndex::exact_search(const float* queries, size_t nq, size_t k, const Bitmap* allow,
                               int64_t* labels, float* scores) const {
    const bool higher = higher_is_better(metric_);
    const DistanceFn distance = higher ? inner_product_kernel() : l2sqr_kernel();
    const size_t n = slots();
#pragma omp parallel for if (nq > 1) schedule(dynamic)
    for (size_t qi = 0; qi < nq; ++qi) {
        const float* q = queries + qi * dim_;
        // Heap whose top is the worst kept hit, compared in "lower is better" terms.
        using Hit = std::pair<float, int64_t>;
        std::priority_queue<Hit> heap;
        auto consider = [&](size_t s) {
            const float* v = data_.data() + s * dim_;
            const float raw = distance(q, v, dim_);
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

void VectorIndex::search(const float* queries, size_t nq, size_t k, const Bitmap* allow, size_t allowed,
                         int64_t* labels, float* scores) const {
    if (nq == 0 || k == 0) return;
    if (allowed == 0 || slots() == 0) {
        std::fill(labels, labels + nq * k, -1);
        std::fill(scores, scores + nq * k, std::nanf(""));
        return;
    }
    if (prefer_exact(allow ? allowed : slots())) {
        exact_search(queries, nq, k, allow, labels, scores);
        return;
    }
    if (spec_.type == IndexSpec::Type::HNSW) {
        const auto& graph = static_cast<const faiss::IndexHNSW&>(*index_).hnsw;
        const bool higher = higher_is_better(metric_);
        const DistanceFn distance = higher ? inner_product_kernel() : l2sqr_kernel();
        const DistanceBatch4Fn distance4 = higher ? inner_product_batch4_kernel() : l2sqr_batch4_kernel();
#pragma omp parallel for if (nq > 1) schedule(dynamic)
        for (size_t qi = 0; qi < nq; ++qi) {
            const HnswQuery hq{queries + qi * dim_, k, spec_.ef_search, allow, codes_.trained() ? &codes_ : nullptr};
            hnsw_search(graph, data_.data(), dim_, distance, distance4, higher, hq, labels + qi * k, scores + qi * k);
        }
        if (pending() > 0) merge_pending(queries, nq, k, allow, labels, scores);
    } else {
        std::unique_ptr<BitmapSelector> selector;
        if (allow) selector = std::make_unique<BitmapSelector>(*allow);
        faiss::SearchParametersIVF p;
        p.nprobe = static_cast<size_t>(spec_.nprobe);
        p.sel = selector.get();
        static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "FAISS labels are 64-bit");
        index_->search(static_cast<faiss::Index::idx_t>(nq), queries, static_cast<faiss::Index::idx_t>(k), scores,
                       reinterpret_cast<faiss::Index::idx_t*>(labels), &p);
    }
    // A graph walk or a probe can run out of allowed candidates; rescan exactly so a filtered
    // top-k still returns k hits whenever k vectors match.
    const size_t want = std::min(k, allowed);
    for (size_t qi = 0; qi < nq; ++qi) {
        size_t got = 0;
        for (size_t j = 0; j < k; ++j) got += labels[qi * k + j] >= 0;
        if (got < want) exact_search(queries + qi * dim_, 1, k, allow, labels + qi * k, scores + qi * k);
        for (size_t j = 0; j < k; ++j) {
            if (labels[qi * k + j] < 0) scores[qi * k + j] = std::nanf("");
        }
    }
}

void VectorIndex::merge_pending(const float* queries, size_t nq, size_t k, const Bitmap* allow, int64_t* labels,
                                float* scores) const {
    Bitmap tail(slots());
    for (size_t s = indexed_; s < slots(); ++s) {
        if (!allow || allow->test(s)) tail.set(s);
    }
    std::vector<int64_t> tail_labels(nq * k);
    std::vector<float> tail_scores(nq * k);
    exact_search(queries, nq, k, &tail, tail_labels.data(), tail_scores.data());
    const bool higher = higher_is_better(metric_);
    auto better = [higher](float a, float b) { return higher ? a > b : a < b; };
    std::vector<int64_t> L(k);
    std::vector<float> D(k);
    for (size_t qi = 0; qi < nq; ++qi) {
        int64_t* gl = labels + qi * k;
        float* gd = scores + qi * k;
        const int64_t* tl = tail_labels.data() + qi * k;
        const float* td = tail_scores.data() + qi * k;
        size_t a = 0, b = 0;
        for (size_t j = 0; j < k; ++j) {  // both lists are best first; -1 labels end a list
            const bool take_graph = a < k && gl[a] >= 0 && (b >= k || tl[b] < 0 || !better(td[b], gd[a]));
            if (take_graph) {
                L[j] = gl[a];
                D[j] = gd[a++];
            } else if (b < k && tl[b] >= 0) {
                L[j] = tl[b];
                D[j] = td[b++];
            } else {
                L[j] = -1;
                D[j] = std::nanf("");
            }
        }
        std::copy(L.begin(), L.end(), gl);
        std::copy(D.begin(), D.end(), gd);
    }
}

void VectorIndex::compact(const Bitmap& keep, size_t live_count) {
    std::vector<float> kept;
    kept.reserve(live_count * dim_);
    keep.for_each([&](size_t s) { kept.insert(kept.end(), vector(s), vector(s) + dim_); });
    const bool was_trained = index_->is_trained;
    if (spec_.type == IndexSpec::Type::IVF && was_trained) {
        index_->reset();  // keeps the trained centroids
    } else {
        make_index();
    }
    data_.clear();
    codes_.clear();
    const size_t n = kept.size() / dim_;
    // Vectors are stored normalised already; re-normalising a unit vector is harmless.
    indexed_ = 0;
    append(kept.data(), n);
    index_pending(n);
}

void VectorIndex::save(const std::string& index_path) const {
    faiss::write_index(index_.get(), index_path.c_str());
}

void VectorIndex::load(std::vector<float> data, const std::string& index_path) {
    data_ = std::move(data);
    std::unique_ptr<faiss::Index> loaded(faiss::read_index(index_path.c_str()));
    if (spec_.type == IndexSpec::Type::IVF) {
        auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(loaded.get());
        if (!ivf) throw IoError("snapshot index is not an IVF index: " + index_path);
        ivf->own_fields = true;  // read_index allocated the quantizer for this index
        ivf->nprobe = static_cast<size_t>(spec_.nprobe);
        quantizer_.reset();
    } else if (spec_.type == IndexSpec::Type::HNSW) {
        auto* h = dynamic_cast<faiss::IndexHNSW*>(loaded.get());
        if (!h) throw IoError("snapshot index is not an HNSW index: " + index_path);
        auto* plain = dynamic_cast<faiss::IndexFlat*>(h->storage);
        if (!plain) throw IoError("snapshot HNSW storage is not flat: " + index_path);
        FastFlatStorage* fast = FastFlatStorage::adopt(*plain);
        if (h->own_fields) delete h->storage;
        h->storage = fast;
        h->own_fields = true;
        h->hnsw.efSearch = spec_.ef_search;
    }
    if (static_cast<size_t>(loaded->d) != dim_) throw IoError("snapshot index dimension mismatch: " + index_path);
    index_ = std::move(loaded);
    // A snapshot taken while writes waited for the graph holds fewer graph nodes than vectors;
    // the rest stay pending until the owner indexes them.
    indexed_ = spec_.type == IndexSpec::Type::HNSW ? static_cast<size_t>(index_->ntotal) : 0;
    codes_.clear();
    update_codes(0);
}

}  // namespace sage
