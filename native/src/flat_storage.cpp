#include "flat_storage.h"

#include <faiss/impl/DistanceComputer.h>

#include "distances.h"

namespace sage {

namespace {

struct KernelDistanceComputer final : faiss::DistanceComputer {
    KernelDistanceComputer(const float* base, size_t d, DistanceFn fn) : base_(base), d_(d), fn_(fn) {}
    void set_query(const float* x) override { q_ = x; }
    float operator()(idx_t i) override { return fn_(q_, base_ + static_cast<size_t>(i) * d_, d_); }
    float symmetric_dis(idx_t i, idx_t j) override {
        return fn_(base_ + static_cast<size_t>(i) * d_, base_ + static_cast<size_t>(j) * d_, d_);
    }

   private:
    const float* base_;
    size_t d_;
    DistanceFn fn_;
    const float* q_ = nullptr;
};

struct NegatedDistanceComputer final : faiss::DistanceComputer {
    explicit NegatedDistanceComputer(faiss::DistanceComputer* inner) : inner_(inner) {}
    void set_query(const float* x) override { inner_->set_query(x); }
    float operator()(idx_t i) override { return -(*inner_)(i); }
    float symmetric_dis(idx_t i, idx_t j) override { return -inner_->symmetric_dis(i, j); }

   private:
    std::unique_ptr<faiss::DistanceComputer> inner_;
};

}  // namespace

std::unique_ptr<faiss::DistanceComputer> FastFlatStorage::insertion_distance_computer() const {
    std::unique_ptr<faiss::DistanceComputer> plain(get_distance_computer());
    if (metric_type == faiss::METRIC_L2) return plain;
    return std::make_unique<NegatedDistanceComputer>(plain.release());
}

faiss::DistanceComputer* FastFlatStorage::get_distance_computer() const {
    const bool l2 = metric_type == faiss::METRIC_L2;
    return new KernelDistanceComputer(get_xb(), static_cast<size_t>(d), l2 ? l2sqr_kernel() : inner_product_kernel());
}

FastFlatStorage* FastFlatStorage::adopt(faiss::IndexFlat& plain) {
    auto* fast = new FastFlatStorage(plain.d, plain.metric_type);
    fast->codes.swap(plain.codes);
    fast->ntotal = plain.ntotal;
    plain.ntotal = 0;
    return fast;
}

}  // namespace sage
