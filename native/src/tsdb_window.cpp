#include "tsdb_window.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "errors.h"

namespace sage::tsdb {

namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// Streaming accumulator; keeps the values only for percentiles.
struct Acc {
    Acc(Agg a, double p) : agg(a), percentile(p) {}
    Agg agg;
    double percentile;
    int64_t n = 0;
    double sum = 0, mean = 0, m2 = 0, mn = 0, mx = 0, first = 0, last = 0;
    std::vector<double> values;

    void add(double v) {
        if (n == 0) {
            mn = mx = first = v;
        } else {
            mn = std::min(mn, v);
            mx = std::max(mx, v);
        }
        last = v;
        ++n;
        sum += v;
        if (agg == Agg::Stddev) {
            const double d = v - mean;
            mean += d / static_cast<double>(n);
            m2 += d * (v - mean);
        }
        if (agg == Agg::Percentile) values.push_back(v);
    }
    double result() {
        switch (agg) {
            case Agg::Sum: return sum;
            case Agg::Avg: return sum / static_cast<double>(n);
            case Agg::Min: return mn;
            case Agg::Max: return mx;
            case Agg::Count: return static_cast<double>(n);
            case Agg::First: return first;
            case Agg::Last: return last;
            case Agg::Stddev: return n > 0 ? std::sqrt(m2 / static_cast<double>(n)) : 0.0;
            case Agg::Percentile: return aggregate_values(values.data(), values.size(), agg, percentile);
        }
        return 0;
    }
    void reset() {
        n = 0;
        sum = mean = m2 = 0;
        values.clear();
    }
};

void push(Windows& w, int64_t s, int64_t e, double v, int64_t c) {
    w.start.push_back(s);
    w.end.push_back(e);
    w.value.push_back(v);
    w.count.push_back(c);
}

// Fills the empty windows of the grid [grid_lo, grid_hi] (window starts, step `step`).
Windows fill(const Windows& dense, const WindowSpec& spec, int64_t step, int64_t grid_lo, int64_t grid_hi,
             size_t max_windows) {
    if (spec.interp == Interp::None || (dense.size() == 0 && spec.interp != Interp::Zero)) return dense;
    if (grid_hi < grid_lo) return dense;
    const uint64_t slots = static_cast<uint64_t>((grid_hi - grid_lo) / step) + 1;
    if (slots > max_windows) {
        throw InvalidArgument("window_size: the range holds " + std::to_string(slots) + " windows of " +
                              std::to_string(spec.size) + " ms (more than " + std::to_string(max_windows) +
                              "); narrow the time range or widen the window");
    }
    Windows out;
    const int64_t len = spec.size;
    size_t j = 0;
    for (int64_t s = grid_lo;; s += step) {
        while (j < dense.size() && dense.start[j] < s) ++j;
        if (j < dense.size() && dense.start[j] == s) {
            push(out, s, dense.end[j], dense.value[j], dense.count[j]);
        } else {
            const bool has_prev = j > 0, has_next = j < dense.size();
            switch (spec.interp) {
                case Interp::Zero: push(out, s, s + len, 0.0, 0); break;
                case Interp::Forward:
                    if (has_prev) push(out, s, s + len, dense.value[j - 1], 0);
                    break;
                case Interp::Backward:
                    if (has_next) push(out, s, s + len, dense.value[j], 0);
                    break;
                case Interp::Linear:
                    if (has_prev && has_next) {
                        const double x0 = static_cast<double>(dense.start[j - 1]), x1 = static_cast<double>(dense.start[j]);
                        const double f = (static_cast<double>(s) - x0) / (x1 - x0);
                        push(out, s, s + len, dense.value[j - 1] + f * (dense.value[j] - dense.value[j - 1]), 0);
                    }
                    break;
                case Interp::None: break;
            }
        }
        if (s > grid_hi - step) break;
    }
    return out;
}

}  // namespace

Agg parse_agg(const std::string& n) {
    if (n == "sum") return Agg::Sum;
    if (n == "avg" || n == "mean") return Agg::Avg;
    if (n == "min") return Agg::Min;
    if (n == "max") return Agg::Max;
    if (n == "count") return Agg::Count;
    if (n == "first") return Agg::First;
    if (n == "last") return Agg::Last;
    if (n == "stddev" || n == "std") return Agg::Stddev;
    if (n == "percentile" || n == "median") return Agg::Percentile;
    throw InvalidArgument("aggregation: unknown aggregation '" + n +
                          "'; use sum, avg, min, max, count, first, last, stddev or percentile");
}

WindowKind parse_window(const std::string& n) {
    if (n == "tumbling") return WindowKind::Tumbling;
    if (n == "sliding") return WindowKind::Sliding;
    if (n == "session") return WindowKind::Session;
    throw InvalidArgument("window_type: unknown window type '" + n + "'; use tumbling, sliding or session");
}

Interp parse_interp(const std::string& n) {
    if (n == "none" || n.empty()) return Interp::None;
    if (n == "linear") return Interp::Linear;
    if (n == "forward" || n == "forward_fill") return Interp::Forward;
    if (n == "backward" || n == "backward_fill") return Interp::Backward;
    if (n == "zero") return Interp::Zero;
    throw InvalidArgument("interpolation: unknown interpolation '" + n +
                          "'; use none, linear, forward, backward or zero");
}

void WindowSpec::validate() const {
    if (kind == WindowKind::Session) {
        if (gap <= 0) throw InvalidArgument("session_gap: a session window needs a gap > 0 ms; got " + std::to_string(gap));
    } else {
        if (size <= 0) throw InvalidArgument("window_size: must be > 0 ms; got " + std::to_string(size));
        if (kind == WindowKind::Sliding && slide < 0) {
            throw InvalidArgument("slide: must be > 0 ms (0 = the window size); got " + std::to_string(slide));
        }
    }
    if (agg == Agg::Percentile && !(percentile >= 0.0 && percentile <= 100.0)) {
        throw InvalidArgument("percentile: must be 0..100; got " + std::to_string(percentile));
    }
}

double aggregate_values(const double* v, size_t n, Agg agg, double percentile) {
    if (n == 0) return std::numeric_limits<double>::quiet_NaN();
    if (agg == Agg::Percentile) {
        std::vector<double> s(v, v + n);
        const double rank = percentile / 100.0 * static_cast<double>(n - 1);
        const auto lo = static_cast<size_t>(std::floor(rank));
        const size_t hi = std::min(lo + 1, n - 1);
        std::nth_element(s.begin(), s.begin() + lo, s.end());
        const double a = s[lo];
        double b = a;
        if (hi != lo) b = *std::min_element(s.begin() + lo + 1, s.end());
        return a + (rank - static_cast<double>(lo)) * (b - a);
    }
    Acc acc(agg, percentile);
    for (size_t i = 0; i < n; ++i) acc.add(v[i]);
    return acc.result();
}

Windows aggregate(const std::vector<Run>& runs, const WindowSpec& spec, int64_t start, int64_t end, size_t limit,
                  size_t max_windows) {
    spec.validate();
    Windows dense;
    Acc acc(spec.agg, spec.percentile);
    size_t total = 0;
    for (const auto& r : runs) total += r.n;

    if (spec.kind == WindowKind::Tumbling) {
        const int64_t w = spec.size;
        bool open = false;
        int64_t bucket = 0;
        for (const auto& r : runs) {
            for (size_t i = 0; i < r.n; ++i) {
                const int64_t b = floor_div(r.ts[i], w);
                if (!open || b != bucket) {
                    if (open) push(dense, bucket * w, bucket * w + w, acc.result(), acc.n);
                    acc.reset();
                    bucket = b;
                    open = true;
                }
                acc.add(r.val[i]);
            }
        }
        if (open) push(dense, bucket * w, bucket * w + w, acc.result(), acc.n);
        if (spec.interp != Interp::None) {
            const int64_t lo = start == kMin ? (dense.size() ? dense.start.front() : 0) : floor_div(start, w) * w;
            const int64_t hi = end == kMax ? (dense.size() ? dense.start.back() : -1) : floor_div(end - 1, w) * w;
            if (start != kMin || dense.size()) dense = fill(dense, spec, w, lo, hi, max_windows);
        }
    } else if (spec.kind == WindowKind::Sliding) {
        // Flatten, then slide two pointers over the points for each window start.
        std::vector<int64_t> ts;
        std::vector<double> val;
        ts.reserve(total);
        val.reserve(total);
        for (const auto& r : runs) {
            ts.insert(ts.end(), r.ts, r.ts + r.n);
            val.insert(val.end(), r.val, r.val + r.n);
        }
        const int64_t w = spec.size, s = spec.slide > 0 ? spec.slide : spec.size;
        if (!ts.empty()) {
            // Windows containing a point: starts from floor((t0 - w)/s)+1 .. floor(tn/s) (times s).
            int64_t k = floor_div(ts.front() - w, s) + 1;
            const int64_t k_last = floor_div(ts.back(), s);
            const uint64_t count = static_cast<uint64_t>(k_last - k) + 1;
            if (count > max_windows) {
                throw InvalidArgument("slide: the data spans " + std::to_string(count) + " sliding windows (more than " +
                                      std::to_string(max_windows) + "); use a larger slide or a narrower range");
            }
            size_t lo = 0, hi = 0;
            for (; k <= k_last; ++k) {
                const int64_t ws = k * s, we = ws + w;
                while (lo < ts.size() && ts[lo] < ws) ++lo;
                if (hi < lo) hi = lo;
                while (hi < ts.size() && ts[hi] < we) ++hi;
                if (hi > lo) {
                    acc.reset();
                    for (size_t i = lo; i < hi; ++i) acc.add(val[i]);
                    push(dense, ws, we, acc.result(), acc.n);
                }
                if (limit > 0 && spec.interp == Interp::None && dense.size() >= limit) break;
            }
        }
        if (spec.interp != Interp::None) {
            const int64_t lo = start == kMin ? (dense.size() ? dense.start.front() : 0) : floor_div(start, s) * s;
            const int64_t hi = end == kMax ? (dense.size() ? dense.start.back() : -1) : floor_div(end - 1, s) * s;
            if (start != kMin || dense.size()) dense = fill(dense, spec, s, lo, hi, max_windows);
        }
    } else {
        const int64_t g = spec.gap;
        bool open = false;
        int64_t first = 0, prev = 0;
        for (const auto& r : runs) {
            for (size_t i = 0; i < r.n; ++i) {
                const int64_t t = r.ts[i];
                if (open && t - prev > g) {
                    push(dense, first, prev + g, acc.result(), acc.n);
                    open = false;
                }
                if (!open) {
                    acc.reset();
                    first = t;
                    open = true;
                }
                acc.add(r.val[i]);
                prev = t;
            }
        }
        if (open) push(dense, first, prev + g, acc.result(), acc.n);
    }
    if (limit > 0 && dense.size() > limit) {
        dense.start.resize(limit);
        dense.end.resize(limit);
        dense.value.resize(limit);
        dense.count.resize(limit);
    }
    return dense;
}

}  // namespace sage::tsdb
