#include "tsdb_series.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace sage::tsdb {

Series::Series(std::string metric, Tags tags, uint32_t dim, size_t chunk_points)
    : metric_(std::move(metric)), tags_(std::move(tags)), dim_(dim), chunk_points_(std::max<size_t>(chunk_points, 16)) {}

namespace {

// The optional columns exist for a whole chunk or not at all.
void ensure_vec(Chunk& c, uint32_t dim) {
    if (!c.has_vec && dim > 0) {
        c.vec.assign(c.ts.size() * dim, 0.0f);
        c.has_vec = true;
    }
}
void ensure_fields(Chunk& c) {
    if (!c.has_fields) {
        c.fields.assign(c.ts.size(), std::string());
        c.has_fields = true;
    }
}

}  // namespace

void Series::append_one(Chunk& c, int64_t ts, double v, const float* vec, const std::string* fields) {
    if (vec != nullptr) ensure_vec(c, dim_);
    if (fields != nullptr && !fields->empty()) ensure_fields(c);
    c.ts.push_back(ts);
    c.val.push_back(v);
    if (c.has_vec) {
        if (vec) c.vec.insert(c.vec.end(), vec, vec + dim_);
        else c.vec.resize(c.vec.size() + dim_, 0.0f);
    }
    if (c.has_fields) c.fields.push_back(fields ? *fields : std::string());
}

size_t Series::add(const int64_t* ts, const double* val, const float* vec, const std::string* fields, size_t n) {
    if (n == 0) return 0;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    if (!std::is_sorted(ts, ts + n)) {
        std::stable_sort(order.begin(), order.end(), [ts](size_t a, size_t b) { return ts[a] < ts[b]; });
    }
    auto vec_of = [&](size_t i) -> const float* { return vec ? vec + i * dim_ : nullptr; };
    auto fields_of = [&](size_t i) -> const std::string* { return fields ? fields + i : nullptr; };

    // Late points (older than the newest stored) are merged into the chunk they belong to, one
    // merge per chunk; chunks are processed from the back so splitting keeps earlier indices.
    size_t late_end = 0;
    if (!chunks_.empty()) {
        const int64_t newest = last_ts();
        while (late_end < n && ts[order[late_end]] < newest) ++late_end;
    }
    if (late_end > 0) {
        late_ += late_end;
        struct Group { size_t chunk, begin, end; };
        std::vector<Group> groups;
        for (size_t k = 0; k < late_end;) {
            const int64_t t = ts[order[k]];
            auto it = std::upper_bound(chunks_.begin(), chunks_.end(), t,
                                       [](int64_t v, const Chunk& c) { return v < c.first(); });
            size_t ci = it == chunks_.begin() ? 0 : static_cast<size_t>(it - chunks_.begin()) - 1;
            // Points up to the next chunk's first timestamp (exclusive: ties go after it) go here.
            const bool has_next = ci + 1 < chunks_.size();
            const int64_t next_first = has_next ? chunks_[ci + 1].first() : 0;
            size_t e = k + 1;
            while (e < late_end && (!has_next || ts[order[e]] < next_first)) ++e;
            groups.push_back({ci, k, e});
            k = e;
        }
        for (auto g = groups.rbegin(); g != groups.rend(); ++g) {
            Chunk& old = chunks_[g->chunk];
            bool any_vec = old.has_vec, any_fields = old.has_fields;
            for (size_t k = g->begin; k < g->end; ++k) {
                any_vec = any_vec || (vec != nullptr && dim_ > 0);
                any_fields = any_fields || (fields && !fields[order[k]].empty());
            }
            Chunk merged;
            merged.has_vec = any_vec && dim_ > 0;
            merged.has_fields = any_fields;
            const size_t total = old.ts.size() + (g->end - g->begin);
            merged.ts.reserve(total);
            merged.val.reserve(total);
            if (any_vec) {
                ensure_vec(old, dim_);
                merged.vec.reserve(total * dim_);
            }
            if (any_fields) {
                ensure_fields(old);
                merged.fields.reserve(total);
            }
            size_t i = 0, k = g->begin;
            const std::string empty;
            while (i < old.ts.size() || k < g->end) {
                const bool take_old = k >= g->end || (i < old.ts.size() && old.ts[i] <= ts[order[k]]);
                if (take_old) {
                    merged.ts.push_back(old.ts[i]);
                    merged.val.push_back(old.val[i]);
                    if (any_vec) merged.vec.insert(merged.vec.end(), old.vec.begin() + i * dim_, old.vec.begin() + (i + 1) * dim_);
                    if (any_fields) merged.fields.push_back(std::move(old.fields[i]));
                    ++i;
                } else {
                    const size_t p = order[k++];
                    merged.ts.push_back(ts[p]);
                    merged.val.push_back(val[p]);
                    if (any_vec) {
                        const float* row = vec_of(p);
                        if (row) merged.vec.insert(merged.vec.end(), row, row + dim_);
                        else merged.vec.resize(merged.vec.size() + dim_, 0.0f);
                    }
                    if (any_fields) merged.fields.push_back(fields ? fields[p] : empty);
                }
            }
            old = std::move(merged);
            split_if_needed(g->chunk);
        }
        size_ += late_end;
    }
    for (size_t k = late_end; k < n; ++k) {
        if (chunks_.empty() || chunks_.back().ts.size() >= chunk_points_) {
            chunks_.emplace_back();
            chunks_.back().ts.reserve(chunk_points_);
            chunks_.back().val.reserve(chunk_points_);
        }
        const size_t p = order[k];
        append_one(chunks_.back(), ts[p], val[p], vec_of(p), fields_of(p));
    }
    size_ += n - late_end;
    return apply_retention();
}

void Series::split_if_needed(size_t ci) {
    if (chunks_[ci].ts.size() <= 2 * chunk_points_) return;
    Chunk big = std::move(chunks_[ci]);
    std::vector<Chunk> parts;
    for (size_t b = 0; b < big.ts.size(); b += chunk_points_) {
        const size_t e = std::min(big.ts.size(), b + chunk_points_);
        Chunk c;
        c.ts.assign(big.ts.begin() + b, big.ts.begin() + e);
        c.val.assign(big.val.begin() + b, big.val.begin() + e);
        c.has_vec = big.has_vec;
        c.has_fields = big.has_fields;
        if (big.has_vec) c.vec.assign(big.vec.begin() + b * dim_, big.vec.begin() + e * dim_);
        if (big.has_fields) c.fields.assign(big.fields.begin() + b, big.fields.begin() + e);
        parts.push_back(std::move(c));
    }
    chunks_.erase(chunks_.begin() + ci);
    chunks_.insert(chunks_.begin() + ci, std::make_move_iterator(parts.begin()), std::make_move_iterator(parts.end()));
}

void Series::scan(int64_t start, int64_t end, const std::function<void(const Span&)>& fn) const {
    if (start >= end) return;
    auto it = std::lower_bound(chunks_.begin(), chunks_.end(), start,
                               [](const Chunk& c, int64_t v) { return c.last() < v; });
    for (; it != chunks_.end() && it->first() < end; ++it) {
        const auto lo = static_cast<size_t>(std::lower_bound(it->ts.begin(), it->ts.end(), start) - it->ts.begin());
        const auto hi = static_cast<size_t>(std::lower_bound(it->ts.begin(), it->ts.end(), end) - it->ts.begin());
        if (hi <= lo) continue;
        Span s{it->ts.data() + lo, it->val.data() + lo, it->has_vec ? it->vec.data() + lo * dim_ : nullptr,
               it->has_fields ? it->fields.data() + lo : nullptr, hi - lo};
        fn(s);
    }
}

size_t Series::erase(int64_t start, int64_t end) {
    size_t removed = 0;
    for (auto& c : chunks_) {
        if (c.last() < start || c.first() >= end) continue;
        const auto lo = static_cast<size_t>(std::lower_bound(c.ts.begin(), c.ts.end(), start) - c.ts.begin());
        const auto hi = static_cast<size_t>(std::lower_bound(c.ts.begin(), c.ts.end(), end) - c.ts.begin());
        if (hi <= lo) continue;
        c.ts.erase(c.ts.begin() + lo, c.ts.begin() + hi);
        c.val.erase(c.val.begin() + lo, c.val.begin() + hi);
        if (c.has_vec) c.vec.erase(c.vec.begin() + lo * dim_, c.vec.begin() + hi * dim_);
        if (c.has_fields) c.fields.erase(c.fields.begin() + lo, c.fields.begin() + hi);
        removed += hi - lo;
    }
    chunks_.erase(std::remove_if(chunks_.begin(), chunks_.end(), [](const Chunk& c) { return c.ts.empty(); }),
                  chunks_.end());
    size_ -= removed;
    return removed;
}

void Series::set_retention(int64_t retention_ms) { retention_ms_ = std::max<int64_t>(0, retention_ms); }

size_t Series::apply_retention() {
    if (retention_ms_ <= 0 || chunks_.empty()) return 0;
    const int64_t newest = last_ts();
    if (newest < std::numeric_limits<int64_t>::min() + retention_ms_) return 0;
    return erase(std::numeric_limits<int64_t>::min(), newest - retention_ms_);
}

void Series::compact() {
    std::vector<Chunk> packed;
    for (auto& c : chunks_) {
        size_t i = 0;
        while (i < c.ts.size()) {
            if (packed.empty() || packed.back().ts.size() >= chunk_points_) packed.emplace_back();
            Chunk& d = packed.back();
            const size_t take = std::min(chunk_points_ - d.ts.size(), c.ts.size() - i);
            if (c.has_vec) ensure_vec(d, dim_);
            if (c.has_fields) ensure_fields(d);
            d.ts.insert(d.ts.end(), c.ts.begin() + i, c.ts.begin() + i + take);
            d.val.insert(d.val.end(), c.val.begin() + i, c.val.begin() + i + take);
            if (d.has_vec) {
                if (c.has_vec) d.vec.insert(d.vec.end(), c.vec.begin() + i * dim_, c.vec.begin() + (i + take) * dim_);
                else d.vec.resize(d.vec.size() + take * dim_, 0.0f);
            }
            if (d.has_fields) {
                if (c.has_fields) d.fields.insert(d.fields.end(), c.fields.begin() + i, c.fields.begin() + i + take);
                else d.fields.resize(d.fields.size() + take);
            }
            i += take;
        }
    }
    for (auto& c : packed) {
        c.ts.shrink_to_fit();
        c.val.shrink_to_fit();
    }
    chunks_ = std::move(packed);
}

size_t Series::bytes() const {
    size_t b = 0;
    for (const auto& c : chunks_) {
        b += c.ts.capacity() * 8 + c.val.capacity() * 8 + c.vec.capacity() * 4;
        for (const auto& f : c.fields) b += f.size() + sizeof(std::string);
    }
    return b;
}

}  // namespace sage::tsdb
