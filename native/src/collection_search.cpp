// Collection reads: filters to allowed slots, get, vector and text search, and the fusion of
// both lists in hybrid search (reciprocal rank or weighted normalised scores).
#include <algorithm>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "collection.h"
#include "errors.h"

namespace sage {

namespace {

constexpr int kRrfK = 60;

}  // namespace

Fusion parse_fusion(const std::string& name) {
    if (name == "rrf") return Fusion::RRF;
    if (name == "weighted") return Fusion::Weighted;
    throw InvalidArgument("unknown fusion '" + name + "'; use 'rrf' or 'weighted'");
}

size_t Collection::count() const {
    std::shared_lock<std::shared_mutex> state(state_mu_);
    return live_count_;
}

Bitmap Collection::allowed_slots(Filters filters, size_t& allowed) const {
    Bitmap allow = live_;
    if (filters.where) allow.and_with(evaluate(parse_where(*filters.where), meta_, documents_));
    if (filters.where_document) {
        allow.and_with(evaluate(parse_where_document(*filters.where_document), meta_, documents_));
    }
    allowed = filters.any() ? allow.count() : live_count_;
    return allow;
}

Records Collection::get(const std::vector<std::string>* ids, Filters filters, Include include) const {
    std::optional<Filter> parsed_where, parsed_doc;  // parse before locking: errors leave no trace
    if (filters.where) parsed_where = parse_where(*filters.where);
    if (filters.where_document) parsed_doc = parse_where_document(*filters.where_document);
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    size_t allowed = 0;
    const Bitmap match = allowed_slots(filters, allowed);
    std::vector<size_t> slots;
    if (ids) {
        for (const auto& id : *ids) {
            auto it = slot_of_.find(id);
            if (it != slot_of_.end() && match.test(it->second)) slots.push_back(it->second);
        }
    } else {
        match.for_each([&](size_t s) { slots.push_back(s); });
    }
    Records r;
    const size_t d = options_.dim;
    for (size_t s : slots) {
        r.ids.push_back(slot_ids_[s]);
        if (include.vectors) r.vectors.insert(r.vectors.end(), vectors_.vector(s), vectors_.vector(s) + d);
        if (include.metadatas) r.metadatas.push_back(meta_.get(s));
        if (include.documents) {
            r.documents.push_back(has_document_.test(s) ? std::optional<std::string>(documents_[s]) : std::nullopt);
        }
    }
    return r;
}

void Collection::check_queries(const float* queries, size_t nq, size_t k) const {
    if (k == 0) throw InvalidArgument("k must be >= 1");
    for (size_t i = 0; i < nq * options_.dim; ++i) {
        if (!std::isfinite(queries[i])) {
            throw InvalidArgument("query " + std::to_string(i / options_.dim) + " has a NaN or infinite value at index " +
                                  std::to_string(i % options_.dim));
        }
    }
}

void Collection::resolve(Hits& hits, Include include) const {
    const size_t total = hits.nq * hits.k;
    hits.ids.resize(total);
    if (include.metadatas) hits.metadatas.resize(total);
    if (include.documents) hits.documents.resize(total);
    for (size_t i = 0; i < total; ++i) {
        const int64_t s = hits.slots[i];
        if (s < 0) continue;
        hits.ids[i] = slot_ids_[static_cast<size_t>(s)];
        if (include.metadatas) hits.metadatas[i] = meta_.get(static_cast<size_t>(s));
        if (include.documents && has_document_.test(static_cast<size_t>(s))) hits.documents[i] = documents_[static_cast<size_t>(s)];
    }
}

Hits Collection::search(const float* queries, size_t nq, size_t k, Filters filters, Include include) const {
    check_queries(queries, nq, k);
    if (filters.where) parse_where(*filters.where);
    if (filters.where_document) parse_where_document(*filters.where_document);
    const auto normalised = vectors_.prepare_queries(queries, nq);
    const float* q = normalised ? normalised.get() : queries;
    Hits hits;
    hits.nq = nq;
    hits.k = k;
    hits.slots.resize(nq * k);
    hits.scores.resize(nq * k);
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    if (!filters.any() && live_count_ == slot_ids_.size()) {
        vectors_.search(q, nq, k, nullptr, live_count_, hits.slots.data(), hits.scores.data());
    } else {
        size_t allowed = 0;
        const Bitmap allow = allowed_slots(filters, allowed);
        vectors_.search(q, nq, k, &allow, allowed, hits.slots.data(), hits.scores.data());
    }
    resolve(hits, include);
    return hits;
}

Hits Collection::search_text(const std::vector<std::string>& queries, size_t k, Filters filters,
                             Include include) const {
    if (k == 0) throw InvalidArgument("k must be >= 1");
    if (filters.where) parse_where(*filters.where);
    if (filters.where_document) parse_where_document(*filters.where_document);
    Hits hits;
    hits.nq = queries.size();
    hits.k = k;
    hits.slots.assign(hits.nq * k, -1);
    hits.scores.assign(hits.nq * k, std::nanf(""));
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    size_t allowed = 0;
    const Bitmap allow = allowed_slots(filters, allowed);
    for (size_t qi = 0; qi < queries.size(); ++qi) {
        const auto found = text_.search(queries[qi], k, allow);
        for (size_t j = 0; j < found.size(); ++j) {
            hits.slots[qi * k + j] = found[j].slot;
            hits.scores[qi * k + j] = found[j].score;
        }
    }
    resolve(hits, include);
    return hits;
}

Hits Collection::hybrid_search(const float* queries, size_t nq, const std::vector<std::string>& texts, size_t k,
                               Fusion fusion, float alpha, Filters filters, Include include) const {
    if (texts.size() != nq) {
        throw InvalidArgument("hybrid_search got " + std::to_string(nq) + " query vectors but " +
                              std::to_string(texts.size()) + " query texts; pass one text per vector");
    }
    if (!(alpha >= 0.0f && alpha <= 1.0f)) throw InvalidArgument("alpha must be within [0, 1]");
    check_queries(queries, nq, k);
    if (filters.where) parse_where(*filters.where);
    if (filters.where_document) parse_where_document(*filters.where_document);
    const auto normalised = vectors_.prepare_queries(queries, nq);
    const float* q = normalised ? normalised.get() : queries;
    const size_t candidates = std::max<size_t>(50, 4 * k);
    Hits hits;
    hits.nq = nq;
    hits.k = k;
    hits.slots.assign(nq * k, -1);
    hits.scores.assign(nq * k, std::nanf(""));
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    size_t allowed = 0;
    const Bitmap allow = allowed_slots(filters, allowed);
    std::vector<int64_t> vslots(nq * candidates);
    std::vector<float> vscores(nq * candidates);
    vectors_.search(q, nq, candidates, &allow, allowed, vslots.data(), vscores.data());
    const bool lower_better = options_.metric == Metric::L2;
    for (size_t qi = 0; qi < nq; ++qi) {
        std::unordered_map<int64_t, float> fused;
        // Vector list.
        std::vector<std::pair<int64_t, float>> vlist;
        for (size_t j = 0; j < candidates; ++j) {
            if (vslots[qi * candidates + j] >= 0) vlist.emplace_back(vslots[qi * candidates + j], vscores[qi * candidates + j]);
        }
        std::vector<std::pair<int64_t, float>> tlist;
        for (const auto& h : text_.search(texts[qi], candidates, allow)) tlist.emplace_back(h.slot, h.score);
        auto add_list = [&](const std::vector<std::pair<int64_t, float>>& list, float weight, bool invert) {
            if (list.empty()) return;
            if (fusion == Fusion::RRF) {
                for (size_t r = 0; r < list.size(); ++r) fused[list[r].first] += 1.0f / static_cast<float>(kRrfK + r + 1);
                return;
            }
            float lo = list[0].second, hi = list[0].second;
            for (const auto& [s, v] : list) { lo = std::min(lo, v); hi = std::max(hi, v); }
            const float span = hi - lo;
            for (const auto& [s, v] : list) {
                // A one-value list (span 0) counts as fully relevant whichever way it sorts.
                float norm = span > 0 ? (v - lo) / span : 1.0f;
                if (invert && span > 0) norm = 1.0f - norm;
                fused[s] += weight * norm;
            }
        };
        add_list(vlist, alpha, lower_better);
        add_list(tlist, 1.0f - alpha, false);
        std::vector<std::pair<int64_t, float>> ranked(fused.begin(), fused.end());
        std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
        });
        for (size_t j = 0; j < k && j < ranked.size(); ++j) {
            hits.slots[qi * k + j] = ranked[j].first;
            hits.scores[qi * k + j] = ranked[j].second;
        }
    }
    resolve(hits, include);
    return hits;
}

}  // namespace sage
