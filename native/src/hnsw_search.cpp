#include "hnsw_search.h"

#include <xmmintrin.h>

#include <algorithm>
#include <cmath>
#include <queue>
#include <utility>
#include <vector>

namespace sage {

namespace {

// Generation-stamped visited marks, kept per thread so a query needs no allocation or memset.
class VisitedMarks {
   public:
    void begin(size_t n) {
        if (marks_.size() < n) marks_.resize(n, 0);
        if (++generation_ == 0) {
            std::fill(marks_.begin(), marks_.end(), 0);
            generation_ = 1;
        }
    }
    uint8_t* data() { return marks_.data(); }
    uint8_t generation() const { return generation_; }

   private:
    // One byte per node keeps the table cache-resident; wrapping costs one memset per 255 queries.
    std::vector<uint8_t> marks_;
    uint8_t generation_ = 0;
};

thread_local VisitedMarks tl_visited;

using Node = std::pair<float, int32_t>;

void prefetch_lines(const void* p, size_t bytes) {
    const char* c = static_cast<const char*>(p);
    for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T0);
}

// The float vectors: distances as the metric defines them ("lower is better").
struct FloatSpace {
    const float* base;
    size_t dim;
    DistanceFn one;
    DistanceBatch4Fn four;
    bool negate;
    const float* q;

    const float* row(int32_t v) const { return base + static_cast<size_t>(v) * dim; }
    float distance(int32_t v) const {
        const float d = one(q, row(v), dim);
        return negate ? -d : d;
    }
    void distance4(const int32_t* v, float* out) const {
        four(q, row(v[0]), row(v[1]), row(v[2]), row(v[3]), dim, out);
        if (negate) {
            for (int i = 0; i < 4; ++i) out[i] = -out[i];
        }
    }
    void prefetch(int32_t v) const { prefetch_lines(row(v), dim * sizeof(float)); }
};

// The 8-bit codes: approximate distances, a quarter of the memory traffic.
struct CodeSpace {
    const Sq8Codes& codes;
    const Sq8Codes::Query query;
    size_t dim;

    float distance(int32_t v) const { return codes.distance(query, codes.code(static_cast<size_t>(v))); }
    void distance4(const int32_t* v, float* out) const {
        codes.distance4(query, codes.code(static_cast<size_t>(v[0])), codes.code(static_cast<size_t>(v[1])),
                        codes.code(static_cast<size_t>(v[2])), codes.code(static_cast<size_t>(v[3])), out);
    }
    void prefetch(int32_t v) const { prefetch_lines(codes.code(static_cast<size_t>(v)), dim); }
};

// The HNSW walk: greedy descent through the upper layers, then a best-first search of layer 0
// keeping the `ef` best allowed nodes. Returns them (unordered) with their space's distances.
template <class Space>
std::vector<Node> walk(const faiss::HNSW& graph, const Space& space, size_t ef, const Bitmap* allow) {
    auto allowed = [&](int32_t i) { return !allow || allow->test(static_cast<size_t>(i)); };
    int32_t nearest = graph.entry_point;
    float d_nearest = space.distance(nearest);
    for (int level = graph.max_level; level >= 1; --level) {
        for (bool moved = true; moved;) {
            moved = false;
            size_t b, e;
            graph.neighbor_range(nearest, level, &b, &e);
            for (size_t j = b; j < e; ++j) {
                const int32_t v = graph.neighbors[j];
                if (v < 0) break;
                const float dv = space.distance(v);
                if (dv < d_nearest) {
                    nearest = v;
                    d_nearest = dv;
                    moved = true;
                }
            }
        }
    }

    VisitedMarks& visited = tl_visited;
    visited.begin(graph.levels.size());
    uint8_t* const marks = visited.data();  // plain pointers: no TLS lookups inside the loop
    const uint8_t generation = visited.generation();
    const int32_t* const neighbors = graph.neighbors.data();
    const size_t* const offsets = graph.offsets.data();
    // Level-0 neighbours of node i live at [offsets[i], offsets[i] + cum_nneighbor_per_level[1]).
    const size_t level0_width = static_cast<size_t>(graph.cum_nneighbor_per_level[1]);

    std::priority_queue<Node, std::vector<Node>, std::greater<Node>> candidates;
    std::priority_queue<Node> results;  // worst kept hit on top
    marks[nearest] = generation;
    candidates.emplace(d_nearest, nearest);
    if (allowed(nearest)) results.emplace(d_nearest, nearest);

    std::vector<int32_t> fresh(level0_width + 4);
    std::vector<float> fresh_dist(level0_width + 4);
    while (!candidates.empty()) {
        const Node c = candidates.top();
        if (results.size() >= ef && c.first > results.top().first) break;
        candidates.pop();
        if (!candidates.empty()) {
            // The next node to expand is most likely the next candidate: fetch its neighbour
            // list now, so that it is in cache once this node's neighbours are scored.
            prefetch_lines(neighbors + offsets[candidates.top().second], level0_width * sizeof(int32_t));
        }
        const size_t b = offsets[c.second];
        size_t e = b + level0_width;
        // First pass only touches the neighbour list and prefetches the visited marks, so the
        // cache misses of the second pass overlap instead of queueing.
        for (size_t j = b; j < e; ++j) {
            const int32_t v = neighbors[j];
            if (v < 0) {
                e = j;
                break;
            }
            _mm_prefetch(reinterpret_cast<const char*>(marks + v), _MM_HINT_T0);
        }
        size_t nf = 0;
        for (size_t j = b; j < e; ++j) {
            const int32_t v = neighbors[j];
            if (marks[v] == generation) continue;
            marks[v] = generation;
            fresh[nf++] = v;
        }
        // The fresh vectors lie all over the base: the next group's lines are requested while
        // this group's distances are computed, so the misses overlap the arithmetic.
        for (size_t i = 0; i < std::min<size_t>(nf, 4); ++i) space.prefetch(fresh[i]);
        size_t f = 0;
        // The last group is padded with repeats of its first node: four lanes cost little more
        // than one, and the padding is never read back.
        for (size_t i = nf; i < (nf + 3) / 4 * 4; ++i) fresh[i] = fresh[nf - 1];
        for (; f < nf; f += 4) {
            for (size_t i = f + 4; i < std::min(nf, f + 8); ++i) space.prefetch(fresh[i]);
            space.distance4(&fresh[f], &fresh_dist[f]);
        }
        for (size_t i = 0; i < nf; ++i) {
            const int32_t v = fresh[i];
            const float dv = fresh_dist[i];
            if (results.size() < ef || dv < results.top().first) {
                _mm_prefetch(reinterpret_cast<const char*>(offsets + v), _MM_HINT_T0);
                candidates.emplace(dv, v);
                if (allowed(v)) {
                    results.emplace(dv, v);
                    if (results.size() > ef) results.pop();
                }
            }
        }
    }
    std::vector<Node> out;
    out.reserve(results.size());
    for (; !results.empty(); results.pop()) out.push_back(results.top());
    return out;
}

}  // namespace

void hnsw_search(const faiss::HNSW& graph, const float* base, size_t dim, DistanceFn distance,
                 DistanceBatch4Fn distance4, bool negate, const HnswQuery& query, int64_t* labels,
                 float* distances) {
    const size_t k = query.k;
    std::fill(labels, labels + k, -1);
    std::fill(distances, distances + k, std::nanf(""));
    if (graph.entry_point < 0) return;
    const FloatSpace exact{base, dim, distance, distance4, negate, query.vector};
    const size_t ef = std::max(static_cast<size_t>(query.ef), k);
    std::vector<Node> found;
    if (query.codes && query.codes->rows() >= graph.levels.size()) {
        // Walk on the codes, then re-score what the walk kept with the float vectors.
        const CodeSpace approx{*query.codes, query.codes->prepare(query.vector, !negate), dim};
        found = walk(graph, approx, ef, query.allow);
        // Re-scored a group of four at a time, the next group's vectors requested meanwhile.
        for (size_t i = 0; i < std::min<size_t>(found.size(), 4); ++i) exact.prefetch(found[i].second);
        size_t f = 0;
        for (; f + 4 <= found.size(); f += 4) {
            for (size_t i = f + 4; i < std::min(found.size(), f + 8); ++i) exact.prefetch(found[i].second);
            const int32_t v[4] = {found[f].second, found[f + 1].second, found[f + 2].second, found[f + 3].second};
            float d[4];
            exact.distance4(v, d);
            for (int i = 0; i < 4; ++i) found[f + i].first = d[i];
        }
        for (; f < found.size(); ++f) found[f].first = exact.distance(found[f].second);
    } else {
        found = walk(graph, exact, ef, query.allow);
    }
    const size_t n = std::min(k, found.size());
    std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(n), found.end());
    for (size_t j = 0; j < n; ++j) {
        labels[j] = found[j].second;
        distances[j] = negate ? -found[j].first : found[j].first;
    }
}

}  // namespace sage
