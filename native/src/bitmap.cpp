#include "bitmap.h"

namespace sage {

void Bitmap::resize(size_t n, bool value) {
    const size_t old_n = n_;
    words_.resize((n + 63) / 64, value ? ~uint64_t{0} : 0);
    if (value) {
        for (size_t i = old_n; i < n && (i & 63); ++i) words_[i >> 6] |= uint64_t{1} << (i & 63);
    }
    n_ = n;
    clear_tail();
}

size_t Bitmap::count() const {
    size_t c = 0;
    for (uint64_t w : words_) c += static_cast<size_t>(__builtin_popcountll(w));
    return c;
}

void Bitmap::and_with(const Bitmap& other) {
    for (size_t w = 0; w < words_.size(); ++w) words_[w] &= w < other.words_.size() ? other.words_[w] : 0;
}

void Bitmap::or_with(const Bitmap& other) {
    for (size_t w = 0; w < words_.size() && w < other.words_.size(); ++w) words_[w] |= other.words_[w];
}

void Bitmap::flip() {
    for (uint64_t& w : words_) w = ~w;
    clear_tail();
}

void Bitmap::clear_tail() {
    if (n_ & 63) words_.back() &= (uint64_t{1} << (n_ & 63)) - 1;
}

}  // namespace sage
