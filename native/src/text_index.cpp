#include "text_index.h"

#include <algorithm>
#include <cmath>

#include "tokenizer.h"

namespace sage {

namespace {
constexpr float kK1 = 1.2f;
constexpr float kB = 0.75f;

std::unordered_map<std::string, uint32_t> term_counts(const std::string& text, uint32_t& length) {
    std::unordered_map<std::string, uint32_t> counts;
    const auto tokens = tokenize(text);
    length = static_cast<uint32_t>(tokens.size());
    for (const auto& t : tokens) ++counts[t];
    return counts;
}
}  // namespace

void TextIndex::add(size_t slot, const std::string& text) {
    uint32_t length = 0;
    const auto counts = term_counts(text, length);
    if (length == 0) return;
    if (doc_len_.size() <= slot) doc_len_.resize(slot + 1, 0);
    doc_len_[slot] = length;
    ++ndocs_;
    total_len_ += length;
    for (const auto& [term, tf] : counts) {
        auto [it, inserted] = term_ids_.emplace(term, static_cast<uint32_t>(postings_.size()));
        if (inserted) {
            postings_.emplace_back();
            df_.push_back(0);
        }
        postings_[it->second].push_back({static_cast<uint32_t>(slot), tf});
        ++df_[it->second];
    }
}

void TextIndex::remove(size_t slot, const std::string& text) {
    if (slot >= doc_len_.size() || doc_len_[slot] == 0) return;
    uint32_t length = 0;
    const auto counts = term_counts(text, length);
    for (const auto& [term, tf] : counts) {
        auto it = term_ids_.find(term);
        if (it != term_ids_.end() && df_[it->second] > 0) --df_[it->second];
    }
    --ndocs_;
    total_len_ -= doc_len_[slot];
    doc_len_[slot] = 0;
}

std::vector<ScoredSlot> TextIndex::search(const std::string& query, size_t k, const Bitmap& allow) const {
    std::vector<ScoredSlot> hits;
    if (ndocs_ == 0 || k == 0) return hits;
    uint32_t qlen = 0;
    const auto qterms = term_counts(query, qlen);
    const float avg_len = static_cast<float>(total_len_) / static_cast<float>(ndocs_);
    std::unordered_map<uint32_t, float> scores;
    for (const auto& [term, qtf] : qterms) {
        auto it = term_ids_.find(term);
        if (it == term_ids_.end()) continue;
        const float df = static_cast<float>(df_[it->second]);
        if (df == 0) continue;
        const float idf = std::log(1.0f + (static_cast<float>(ndocs_) - df + 0.5f) / (df + 0.5f));
        for (const Posting& p : postings_[it->second]) {
            if (!allow.test(p.slot) || doc_len_[p.slot] == 0) continue;
            const float tf = static_cast<float>(p.tf);
            const float norm = kK1 * (1 - kB + kB * static_cast<float>(doc_len_[p.slot]) / avg_len);
            scores[p.slot] += static_cast<float>(qtf) * idf * tf * (kK1 + 1) / (tf + norm);
        }
    }
    hits.reserve(scores.size());
    for (const auto& [slot, score] : scores) hits.push_back({static_cast<int64_t>(slot), score});
    auto better = [](const ScoredSlot& a, const ScoredSlot& b) {
        return a.score != b.score ? a.score > b.score : a.slot < b.slot;
    };
    if (hits.size() > k) {
        std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(k), hits.end(), better);
        hits.resize(k);
    } else {
        std::sort(hits.begin(), hits.end(), better);
    }
    return hits;
}

void TextIndex::encode(Encoder& e) const {
    std::vector<const std::string*> by_id(postings_.size());
    for (const auto& [term, id] : term_ids_) by_id[id] = &term;
    e.u64(postings_.size());
    for (size_t id = 0; id < postings_.size(); ++id) {
        e.str(*by_id[id]);
        e.u32(df_[id]);
        e.u64(postings_[id].size());
        e.raw(postings_[id].data(), postings_[id].size() * sizeof(Posting));
    }
    e.u64(doc_len_.size());
    e.raw(doc_len_.data(), doc_len_.size() * sizeof(uint32_t));
    e.u64(ndocs_);
    e.u64(total_len_);
}

void TextIndex::decode(Decoder& d) {
    clear();
    const uint64_t terms = d.u64();
    postings_.resize(terms);
    df_.resize(terms);
    for (uint64_t id = 0; id < terms; ++id) {
        term_ids_.emplace(d.str(), static_cast<uint32_t>(id));
        df_[id] = d.u32();
        postings_[id].resize(d.u64());
        d.raw(postings_[id].data(), postings_[id].size() * sizeof(Posting));
    }
    doc_len_.resize(d.u64());
    d.raw(doc_len_.data(), doc_len_.size() * sizeof(uint32_t));
    ndocs_ = d.u64();
    total_len_ = d.u64();
}

}  // namespace sage
