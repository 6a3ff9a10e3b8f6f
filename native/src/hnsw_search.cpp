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

}  // namespace

void hnsw_search(const faiss::HNSW& graph, const float* base, size_t dim, DistanceFn distance,
                 DistanceBatch4Fn distance4, bool negate, const HnswQuery& query, int64_t* labels,
                 float* distances) {
    const size_t k = query.k;
    std::fill(labels, labels + k, -1);
    std::fill(distances, distances + k, std::nanf(""));
    if (graph.entry_point < 0) return;
    const float* q = query.vector;
    auto dist = [&](int32_t i) {
        const float d = distance(q, base + static_cast<size_t>(i) * dim, dim);
        return negate ? -d : d;
    };
    auto allowed = [&](int32_t i) { return !query.allow || query.allow->test(static_cast<size_t>(i)); };

    // Greedy descent through the upper layers to the best entry point for layer 0.
    int32_t nearest = graph.entry_point;
    float d_nearest = dist(nearest);
    for (int level = graph.max_level; level >= 1; --level) {
        for (bool moved = true; moved;) {
            moved = false;
            size_t b, e;
            graph.neighbor_range(nearest, level, &b, &e);
            for (size_t j = b; j < e; ++j) {
                const int32_t v = graph.neighbors[j];
                if (v < 0) break;
                const float dv = dist(v);
                if (dv < d_nearest) {
                    nearest = v;
                    d_nearest = dv;
                    moved = true;
                }
            }
        }
    }

    const size_t ef = std::max(static_cast<size_t>(query.ef), k);
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

    std::vector<int32_t> fresh(level0_width);
    std::vector<float> fresh_dist(level0_width + 4);
    while (!candidates.empty()) {
        const Node c = candidates.top();
        if (results.size() >= ef && c.first > results.top().first) break;
        candidates.pop();
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
        size_t f = 0;
        for (; f + 4 <= nf; f += 4) {
            distance4(q, base + static_cast<size_t>(fresh[f]) * dim, base + static_cast<size_t>(fresh[f + 1]) * dim,
                      base + static_cast<size_t>(fresh[f + 2]) * dim, base + static_cast<size_t>(fresh[f + 3]) * dim,
                      dim, &fresh_dist[f]);
        }
        for (; f < nf; ++f) fresh_dist[f] = distance(q, base + static_cast<size_t>(fresh[f]) * dim, dim);
        for (size_t i = 0; i < nf; ++i) {
            const int32_t v = fresh[i];
            const float dv = negate ? -fresh_dist[i] : fresh_dist[i];
            if (results.size() < ef || dv < results.top().first) {
                candidates.emplace(dv, v);
                if (allowed(v)) {
                    results.emplace(dv, v);
                    if (results.size() > ef) results.pop();
                }
            }
        }
    }
    while (results.size() > k) results.pop();
    for (size_t j = results.size(); j-- > 0;) {
        labels[j] = results.top().second;
        distances[j] = negate ? -results.top().first : results.top().first;
        results.pop();
    }
}

}  // namespace sage
