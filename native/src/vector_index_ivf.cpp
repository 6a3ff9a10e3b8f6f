// The IVF backend: FAISS's IndexIVFFlat over a flat coarse quantizer. Until enough live vectors
// exist to train it (IndexSpec::train_threshold), every search scans exactly and appends only
// store their vectors; training indexes every live one at once.
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/index_io.h>

#include <algorithm>

#include "errors.h"
#include "vector_index_backend.h"

namespace sage {

namespace {

class IvfBackend final : public IndexBackend {
   public:
    IvfBackend(const VectorData& vectors, const IndexSpec& spec) : vectors_(vectors), spec_(spec) {
        make_index();
    }

    bool trained() const override { return index_->is_trained; }

    void appended(size_t first) override {
        if (!index_->is_trained) return;  // indexed in bulk when trained
        const size_t n = vectors_.slots() - first;
        std::vector<faiss::Index::idx_t> ids(n);
        for (size_t i = 0; i < n; ++i) ids[i] = static_cast<faiss::Index::idx_t>(first + i);
        index_->add_with_ids(static_cast<faiss::Index::idx_t>(n), vectors_.vector(first), ids.data());
    }

    bool append_is_light(size_t n, size_t live_count) const override {
        return index_->is_trained || static_cast<int64_t>(live_count + n) < spec_.train_threshold();
    }

    void train_if_ready(const Bitmap& live, size_t live_count) override {
        if (index_->is_trained) return;
        if (static_cast<int64_t>(live_count) < spec_.train_threshold()) return;
        const size_t dim = vectors_.dim;
        std::vector<float> xs;
        std::vector<faiss::Index::idx_t> ids;
        xs.reserve(live_count * dim);
        live.for_each([&](size_t s) {
            xs.insert(xs.end(), vectors_.vector(s), vectors_.vector(s) + dim);
            ids.push_back(static_cast<faiss::Index::idx_t>(s));
        });
        const auto n = static_cast<faiss::Index::idx_t>(ids.size());
        index_->train(n, xs.data());
        index_->add_with_ids(n, xs.data(), ids.data());
    }

    bool prefer_exact(size_t allowed) const override {
        if (!index_->is_trained) return true;
        const size_t n = vectors_.slots();
        const double visits = static_cast<double>(n) * spec_.nprobe / std::max(1, spec_.nlist);
        return scan_beats_index(allowed, visits, n);
    }

    void search(const float* queries, size_t nq, size_t k, const Bitmap* allow, int64_t* labels,
                float* scores) const override {
        std::unique_ptr<BitmapSelector> selector;
        if (allow) selector = std::make_unique<BitmapSelector>(*allow);
        faiss::SearchParametersIVF p;
        p.nprobe = static_cast<size_t>(spec_.nprobe);
        p.sel = selector.get();
        static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "FAISS labels are 64-bit");
        index_->search(static_cast<faiss::Index::idx_t>(nq), queries,
                       static_cast<faiss::Index::idx_t>(k), scores,
                       reinterpret_cast<faiss::Index::idx_t*>(labels), &p);
    }

    void clear() override {
        if (index_->is_trained) {
            index_->reset();  // keeps the trained centroids
        } else {
            make_index();
        }
    }

    void save(const std::string& index_path) const override {
        faiss::write_index(index_.get(), index_path.c_str());
    }

    void load(const std::string& index_path) override {
        std::unique_ptr<faiss::Index> loaded(faiss::read_index(index_path.c_str()));
        auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(loaded.get());
        if (!ivf) throw IoError("snapshot index is not an IVF index: " + index_path);
        ivf->own_fields = true;  // read_index allocated the quantizer for this index
        ivf->nprobe = static_cast<size_t>(spec_.nprobe);
        quantizer_.reset();
        if (static_cast<size_t>(loaded->d) != vectors_.dim) {
            throw IoError("snapshot index dimension mismatch: " + index_path);
        }
        index_ = std::move(loaded);
    }

   private:
    void make_index() {
        const faiss::MetricType metric = faiss_metric(vectors_.metric);
        quantizer_ = std::make_unique<faiss::IndexFlat>(static_cast<int>(vectors_.dim), metric);
        auto ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer_.get(), vectors_.dim,
                                                         spec_.nlist, metric);
        ivf->nprobe = static_cast<size_t>(spec_.nprobe);
        index_ = std::move(ivf);
    }

    const VectorData& vectors_;
    IndexSpec spec_;
    // Declared before index_: destroyed after it (the index points at it).
    std::unique_ptr<faiss::Index> quantizer_;  // the coarse quantizer, owned here
    std::unique_ptr<faiss::Index> index_;
};

}  // namespace

std::unique_ptr<IndexBackend> make_ivf_backend(const VectorData& vectors, const IndexSpec& spec) {
    return std::make_unique<IvfBackend>(vectors, spec);
}

}  // namespace sage
