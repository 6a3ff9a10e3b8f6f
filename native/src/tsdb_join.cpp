#include "tsdb_join.h"

#include <algorithm>
#include <limits>

#include "errors.h"

namespace sage::tsdb {

namespace {
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
}  // namespace

StreamJoin::StreamJoin(int64_t window_ms, int64_t max_delay_ms)
    : window_(window_ms), delay_(max_delay_ms), max_ts_(kMin), watermark_(kMin) {
    if (window_ms <= 0) throw InvalidArgument("window_size: the join window must be > 0 ms; got " + std::to_string(window_ms));
    if (max_delay_ms < 0) throw InvalidArgument("max_delay: must be >= 0 ms; got " + std::to_string(max_delay_ms));
}

void StreamJoin::evict(Buffer& b) {
    if (watermark_ == kMin || b.empty()) return;
    const int64_t horizon = watermark_ - window_;
    auto it = std::lower_bound(b.begin(), b.end(), horizon, [](const Event& e, int64_t t) { return e.ts < t; });
    const auto n = static_cast<size_t>(it - b.begin());
    if (n) {
        b.erase(b.begin(), it);
        buffered_ -= n;
    }
}

void StreamJoin::release(std::vector<JoinPair>& out, int64_t upto) {
    while (!pending_.empty() && pending_.top().at <= upto) {
        out.push_back(pending_.top().pair);
        pending_.pop();
        ++emitted_;
    }
}

bool StreamJoin::late(int side, int64_t ts) {
    if (side != 0 && side != 1) throw InvalidArgument("side: must be left (0) or right (1)");
    if (watermark_ != kMin && ts < watermark_) {
        ++late_;
        return true;
    }
    return false;
}

void StreamJoin::insert(int side, int64_t ts, const std::string& key, double value, int64_t id) {
    // Probe the other side.
    auto& other = side_[1 - side];
    auto found = other.find(key);
    if (found != other.end()) {
        Buffer& b = found->second;
        evict(b);
        const int64_t lo = ts < kMin + window_ ? kMin : ts - window_;
        const int64_t hi = ts > kMax - window_ ? kMax : ts + window_;
        auto it = std::lower_bound(b.begin(), b.end(), lo, [](const Event& e, int64_t t) { return e.ts < t; });
        for (; it != b.end() && it->ts <= hi; ++it) {
            Pending p;
            p.at = std::max(ts, it->ts);
            if (side == 0) p.pair = JoinPair{ts, it->ts, key, value, it->value, id, it->id};
            else p.pair = JoinPair{it->ts, ts, key, it->value, value, it->id, id};
            pending_.push(std::move(p));
        }
    }
    // Buffer this event (in timestamp order; late-ish arrivals are within max_delay of the end).
    Buffer& mine = side_[side][key];
    evict(mine);
    auto pos = std::upper_bound(mine.begin(), mine.end(), ts, [](int64_t t, const Event& e) { return t < e.ts; });
    mine.insert(pos, Event{ts, value, id});
    ++buffered_;
}

void StreamJoin::advance(int64_t watermark, std::vector<JoinPair>& out) {
    if (watermark > watermark_) watermark_ = watermark;
    // Every future pair involves an on-time event (ts >= watermark), so pairs before it are final.
    if (watermark_ != kMin) release(out, watermark_ - 1);
    // Keys that stop receiving events are swept now and then.
    if (++pushes_ % 4096 == 0) {
        for (auto& s : side_) {
            for (auto it = s.begin(); it != s.end();) {
                evict(it->second);
                it = it->second.empty() ? s.erase(it) : std::next(it);
            }
        }
    }
}

bool StreamJoin::push(int side, int64_t ts, const std::string& key, double value, int64_t id,
                      std::vector<JoinPair>& out) {
    if (late(side, ts)) return false;
    insert(side, ts, key, value, id);
    if (ts > max_ts_) max_ts_ = ts;
    advance(max_ts_ < kMin + delay_ ? kMin : max_ts_ - delay_, out);
    return true;
}

bool StreamJoin::push_at(int side, int64_t ts, const std::string& key, double value, int64_t id,
                         int64_t watermark_after, std::vector<JoinPair>& out) {
    const bool on_time = !late(side, ts);
    if (on_time) insert(side, ts, key, value, id);
    advance(watermark_after, out);
    return on_time;
}

void StreamJoin::flush(std::vector<JoinPair>& out) { release(out, kMax); }

}  // namespace sage::tsdb
