// 8-bit scalar codes of the vectors, for walking the HNSW graph. Each dimension's range
// [lo, hi] maps onto 0..255, so a graph walk reads one byte per component instead of four and
// most of the base stays in cache; the walk's candidates are then re-scored from the float
// vectors, so the scores returned are exact. The codes live in memory only: they are derived
// from the vectors (rebuilt on load), never logged or snapshotted.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "huge_pages.h"

namespace sage {

class Sq8Codes {
   public:
    explicit Sq8Codes(size_t dim) : dim_(dim) {}

    bool trained() const { return !lo_.empty(); }
    size_t rows() const { return trained() ? codes_.size() / dim_ : 0; }
    const uint8_t* code(size_t row) const { return codes_.data() + row * dim_; }

    // Learns each dimension's range from all n rows of x (with a margin for later rows) and
    // encodes them, replacing whatever was there.
    void train(const float* x, size_t n);
    // Encodes n rows appended after training; returns how many components were out of range
    // (clamped to it: their traversal distance is approximate, their final score still exact).
    size_t append(const float* x, size_t n);
    void clear();

    // Per-query tables: a query's distance to a code is then one multiply-add per component.
    struct Query {
        std::vector<float> weight;  // inner product: q * step; L2: step
        std::vector<float> offset;  // L2: q - lo (unused for inner product)
        float bias = 0;             // inner product: q . lo
        bool l2 = false;
    };
    Query prepare(const float* q, bool l2) const;

    // "Lower is better" distance of the query to one code / to four codes: squared L2, or the
    // negated inner product.
    float distance(const Query& query, const uint8_t* code) const;
    void distance4(const Query& query, const uint8_t* c0, const uint8_t* c1, const uint8_t* c2, const uint8_t* c3,
                   float* out) const;

   private:
    size_t dim_;
    std::vector<float> lo_, step_, inv_step_;
    std::vector<uint8_t, HugePageAllocator<uint8_t>> codes_;
};

}  // namespace sage
