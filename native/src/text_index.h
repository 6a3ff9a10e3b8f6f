// BM25 inverted index over document text. Slots are never reused, so postings of removed
// documents are skipped through the caller's allow-bitmap instead of being rewritten.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bitmap.h"
#include "codec.h"

namespace sage {

struct ScoredSlot {
    int64_t slot;
    float score;
};

class TextIndex {
   public:
    void add(size_t slot, const std::string& text);
    void remove(size_t slot, const std::string& text);
    // Top-k slots by BM25 among `allow`, best first; slots with no query term are omitted.
    std::vector<ScoredSlot> search(const std::string& query, size_t k, const Bitmap& allow) const;
    size_t documents() const { return ndocs_; }
    size_t terms() const { return postings_.size(); }
    void clear() { *this = TextIndex(); }
    // Snapshot form: terms, postings, document frequencies and lengths, as held in memory.
    void encode(Encoder& e) const;
    void decode(Decoder& d);

   private:
    struct Posting {
        uint32_t slot;
        uint32_t tf;
    };
    std::unordered_map<std::string, uint32_t> term_ids_;
    std::vector<std::vector<Posting>> postings_;
    std::vector<uint32_t> df_;
    std::vector<uint32_t> doc_len_;
    size_t ndocs_ = 0;
    uint64_t total_len_ = 0;
};

}  // namespace sage
