// A dense bit set over slots, and the adapter that lets FAISS use it as an ID selector so
// filters are applied inside the index search (pre-filtering), not after it.
#pragma once
#include <faiss/impl/IDSelector.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sage {

class Bitmap {
   public:
    Bitmap() = default;
    explicit Bitmap(size_t n, bool value = false) { resize(n, value); }

    size_t size() const { return n_; }
    void resize(size_t n, bool value = false);
    void set(size_t i) { words_[i >> 6] |= (uint64_t{1} << (i & 63)); }
    void reset(size_t i) { words_[i >> 6] &= ~(uint64_t{1} << (i & 63)); }
    bool test(size_t i) const { return i < n_ && ((words_[i >> 6] >> (i & 63)) & 1); }
    size_t count() const;
    void and_with(const Bitmap& other);
    void or_with(const Bitmap& other);
    void flip();

    // Calls fn(i) for every set bit, in increasing order.
    template <class Fn>
    void for_each(Fn&& fn) const {
        for (size_t w = 0; w < words_.size(); ++w) {
            uint64_t bits = words_[w];
            while (bits) {
                const int b = __builtin_ctzll(bits);
                fn((w << 6) + static_cast<size_t>(b));
                bits &= bits - 1;
            }
        }
    }

    const std::vector<uint64_t>& words() const { return words_; }
    std::vector<uint64_t>& words() { return words_; }

   private:
    void clear_tail();
    std::vector<uint64_t> words_;
    size_t n_ = 0;
};

struct BitmapSelector final : faiss::IDSelector {
    explicit BitmapSelector(const Bitmap& bitmap) : bitmap_(bitmap) {}
    bool is_member(faiss::Index::idx_t id) const override {
        return bitmap_.test(static_cast<size_t>(id));
    }

   private:
    const Bitmap& bitmap_;
};

}  // namespace sage
