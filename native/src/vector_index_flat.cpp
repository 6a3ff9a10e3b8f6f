// The flat backend: a FAISS IndexFlat, though every search scans the vectors exactly (with our
// kernels and the allow-bitmap); the FAISS index is what a snapshot stores.
#include <faiss/IndexFlat.h>
#include <faiss/index_io.h>

#include "errors.h"
#include "vector_index_backend.h"

namespace sage {

namespace {

class FlatBackend final : public IndexBackend {
   public:
    FlatBackend(const VectorData& vectors, const IndexSpec&) : vectors_(vectors) { clear(); }

    bool trained() const override { return index_->is_trained; }

    void appended(size_t first) override {
        const size_t n = vectors_.slots() - first;
        index_->add(static_cast<faiss::Index::idx_t>(n), vectors_.vector(first));  // labels == slots
    }
    bool append_is_light(size_t, size_t) const override { return true; }

    bool prefer_exact(size_t) const override { return true; }
    void search(const float* queries, size_t nq, size_t k, const Bitmap* allow, int64_t* labels,
                float* scores) const override {
        exact_search(vectors_, queries, nq, k, allow, labels, scores);
    }

    void clear() override {
        index_ = std::make_unique<faiss::IndexFlat>(static_cast<int>(vectors_.dim),
                                                    faiss_metric(vectors_.metric));
    }
    void save(const std::string& index_path) const override {
        faiss::write_index(index_.get(), index_path.c_str());
    }
    void load(const std::string& index_path) override {
        std::unique_ptr<faiss::Index> loaded(faiss::read_index(index_path.c_str()));
        if (static_cast<size_t>(loaded->d) != vectors_.dim) {
            throw IoError("snapshot index dimension mismatch: " + index_path);
        }
        index_ = std::move(loaded);
    }

   private:
    const VectorData& vectors_;
    std::unique_ptr<faiss::Index> index_;
};

}  // namespace

std::unique_ptr<IndexBackend> make_flat_backend(const VectorData& vectors, const IndexSpec& spec) {
    return std::make_unique<FlatBackend>(vectors, spec);
}

}  // namespace sage
