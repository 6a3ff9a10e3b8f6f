// The HNSW backend: FAISS's HNSW graph over storage that computes distances with our kernels,
// walked by our own search (hnsw_search.h) on 8-bit codes once there are enough rows (sq8.h).
// Appended rows wait for the graph (pending, searched exactly meanwhile) until index_pending
// inserts them: a write need not wait for the costly insertion.
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/HNSW.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "distances.h"
#include "errors.h"
#include "flat_storage.h"
#include "hnsw_search.h"
#include "sq8.h"
#include "vector_index_backend.h"

namespace sage {

namespace {

// From this many rows on, FAISS's own batch insertion (OpenMP across vertices) is used; its
// per-call setup is O(nodes), which only a batch amortises.
constexpr size_t kBatchInsertFrom = 64;

// Below this many vectors the float walk is cheap enough and the ranges too uncertain.
constexpr size_t kCodesFrom = 1024;
// Components out of the learned ranges in a batch, as a fraction, that call for learning them
// again; and the growth since the last learning that allows it (so that repeated outliers cannot
// re-encode the whole base on every write).
constexpr double kClampedToRetrain = 0.001;
constexpr double kGrowthToRetrain = 0.05;

class HnswBackend final : public IndexBackend {
   public:
    HnswBackend(const VectorData& vectors, const IndexSpec& spec)
        : vectors_(vectors), spec_(spec), codes_(vectors.dim) {
        make_index();
    }
    ~HnswBackend() override {
        for (auto& lock : insert_locks_) omp_destroy_lock(&lock);
    }

    bool trained() const override { return index_->is_trained; }
    size_t pending() const override { return vectors_.slots() - indexed_; }
    bool defers_insertion() const override { return true; }
    bool walks_on_codes() const override { return codes_.trained(); }

    void appended(size_t first) override { update_codes(first); }

    bool append_is_light(size_t n, size_t) const override {
        const size_t after = vectors_.slots() + n;
        return codes_.trained() ? after < 2 * codes_trained_rows_ : after < kCodesFrom;
    }

    void index_pending(size_t max_rows) override;

    bool prefer_exact(size_t allowed) const override {
        if (!index_->is_trained) return true;
        const double visits = static_cast<double>(spec_.ef_search) * spec_.M * 2;
        return scan_beats_index(allowed, visits, vectors_.slots());
    }

    void search(const float* queries, size_t nq, size_t k, const Bitmap* allow, int64_t* labels,
                float* scores) const override;

    void clear() override {
        make_index();
        codes_.clear();
        indexed_ = 0;
    }

    void save(const std::string& index_path) const override {
        faiss::write_index(index_.get(), index_path.c_str());
    }

    void load(const std::string& index_path) override {
        std::unique_ptr<faiss::Index> loaded(faiss::read_index(index_path.c_str()));
        auto* h = dynamic_cast<faiss::IndexHNSW*>(loaded.get());
        if (!h) throw IoError("snapshot index is not an HNSW index: " + index_path);
        auto* plain = dynamic_cast<faiss::IndexFlat*>(h->storage);
        if (!plain) throw IoError("snapshot HNSW storage is not flat: " + index_path);
        FastFlatStorage* fast = FastFlatStorage::adopt(*plain);
        if (h->own_fields) delete h->storage;
        h->storage = fast;
        h->own_fields = true;
        h->hnsw.efSearch = spec_.ef_search;
        if (static_cast<size_t>(loaded->d) != vectors_.dim) {
            throw IoError("snapshot index dimension mismatch: " + index_path);
        }
        index_ = std::move(loaded);
        // A snapshot taken while writes waited for the graph holds fewer graph nodes than
        // vectors; the rest stay pending until the owner indexes them.
        indexed_ = static_cast<size_t>(index_->ntotal);
        codes_.clear();
        update_codes(0);
    }

   private:
    void make_index() {
        const auto d = static_cast<int>(vectors_.dim);
        const faiss::MetricType metric = faiss_metric(vectors_.metric);
        auto h = std::make_unique<faiss::IndexHNSWFlat>(d, spec_.M, metric);
        delete h->storage;  // swap in storage whose distances use the SIMD kernels
        h->storage = new FastFlatStorage(d, metric);
        h->hnsw.efConstruction = spec_.ef_construction;
        h->hnsw.efSearch = spec_.ef_search;
        index_ = std::move(h);
    }
    // Keeps the 8-bit walk codes in step with the vectors (see sq8.h).
    void update_codes(size_t first);
    // Folds the pending slots' exact top-k into each query's hits.
    void merge_pending(const float* queries, size_t nq, size_t k, const Bitmap* allow,
                       int64_t* labels, float* scores) const;

    const VectorData& vectors_;
    IndexSpec spec_;
    std::unique_ptr<faiss::Index> index_;
    size_t indexed_ = 0;  // slots [0, indexed_) are in the graph
    // One-vertex insertions: node locks and a visited table kept across calls (FAISS's add
    // builds both anew, O(nodes), on every call).
    std::vector<omp_lock_t> insert_locks_;
    std::unique_ptr<faiss::VisitedTable> insert_visited_;
    Sq8Codes codes_;
    size_t codes_trained_rows_ = 0;  // rows the codes' ranges were learned from
    size_t rows_since_retrain_ = 0;
};

void HnswBackend::index_pending(size_t max_rows) {
    const size_t m = std::min(max_rows, pending());
    if (m == 0) return;
    const size_t dim = vectors_.dim;
    const float* rows = vectors_.vector(indexed_);
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
        insert_visited_ =
            std::make_unique<faiss::VisitedTable>(static_cast<int>(std::max(end, 2 * indexed_)));
    }
    const auto distances = storage.insertion_distance_computer();
    for (size_t r = indexed_; r < end; ++r) {
        distances->set_query(vectors_.data.data() + r * dim);
        h.hnsw.add_with_locks(*distances, h.hnsw.levels[r] - 1, static_cast<int>(r), insert_locks_,
                              *insert_visited_);
    }
    indexed_ = end;
}

void HnswBackend::update_codes(size_t first) {
    const size_t n = vectors_.slots();
    if (!codes_.trained()) {
        if (n >= kCodesFrom) {
            codes_.train(vectors_.data.data(), n);
            codes_trained_rows_ = n;
            rows_since_retrain_ = 0;
        }
        return;
    }
    const size_t added = n - first;
    const size_t clamped = codes_.append(vectors_.vector(first), added);
    rows_since_retrain_ += added;
    const bool drifted =
        static_cast<double>(clamped) > kClampedToRetrain * static_cast<double>(added * vectors_.dim);
    // Doubling also re-learns: the first ranges came from the first kCodesFrom rows only.
    const bool grown = n >= 2 * codes_trained_rows_;
    if (grown || (drifted && static_cast<double>(rows_since_retrain_) >=
                                 kGrowthToRetrain * static_cast<double>(codes_trained_rows_))) {
        codes_.train(vectors_.data.data(), n);
        codes_trained_rows_ = n;
        rows_since_retrain_ = 0;
    }
}

void HnswBackend::search(const float* queries, size_t nq, size_t k, const Bitmap* allow,
                         int64_t* labels, float* scores) const {
    const size_t dim = vectors_.dim;
    const auto& graph = static_cast<const faiss::IndexHNSW&>(*index_).hnsw;
    const bool higher = higher_is_better(vectors_.metric);
    const DistanceFn distance = higher ? inner_product_kernel() : l2sqr_kernel();
    const DistanceBatch4Fn distance4 = higher ? inner_product_batch4_kernel() : l2sqr_batch4_kernel();
#pragma omp parallel for if (nq > 1) schedule(dynamic)
    for (size_t qi = 0; qi < nq; ++qi) {
        const HnswQuery hq{queries + qi * dim, k, spec_.ef_search, allow,
                           codes_.trained() ? &codes_ : nullptr};
        hnsw_search(graph, vectors_.data.data(), dim, distance, distance4, higher, hq,
                    labels + qi * k, scores + qi * k);
    }
    if (pending() > 0) merge_pending(queries, nq, k, allow, labels, scores);
}

void HnswBackend::merge_pending(const float* queries, size_t nq, size_t k, const Bitmap* allow,
                                int64_t* labels, float* scores) const {
    const size_t slots = vectors_.slots();
    Bitmap tail(slots);
    for (size_t s = indexed_; s < slots; ++s) {
        if (!allow || allow->test(s)) tail.set(s);
    }
    std::vector<int64_t> tail_labels(nq * k);
    std::vector<float> tail_scores(nq * k);
    exact_search(vectors_, queries, nq, k, &tail, tail_labels.data(), tail_scores.data());
    const bool higher = higher_is_better(vectors_.metric);
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
            const bool take_graph =
                a < k && gl[a] >= 0 && (b >= k || tl[b] < 0 || !better(td[b], gd[a]));
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

}  // namespace

std::unique_ptr<IndexBackend> make_hnsw_backend(const VectorData& vectors, const IndexSpec& spec) {
    return std::make_unique<HnswBackend>(vectors, spec);
}

}  // namespace sage
