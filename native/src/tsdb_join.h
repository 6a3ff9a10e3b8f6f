// Out-of-order stream join (SAGE's OutOfOrderStreamJoin): two streams of (timestamp, key,
// value, id) events; a left and a right event join when their keys are equal and their
// timestamps differ by at most window_ms. Events may arrive out of order by up to max_delay_ms:
// the watermark is the largest timestamp seen on either side minus max_delay_ms, an event older
// than the watermark on arrival is late and dropped (counted), and buffered events older than
// watermark - window_ms are evicted (no future on-time event can join them). Joined pairs are
// held until the watermark passes the later of their two timestamps and are then released in
// that order (ties by left, then right timestamp), so the output is in event-time order;
// flush() releases the rest at end of stream.
//
// push_at() is the same join under a watermark the caller owns (a dataflow operator that
// follows its runtime's event-time watermarks): the event is late if it is older than the
// current watermark, and the watermark then moves to max(watermark, watermark_after); the
// timestamps themselves never move it.
#pragma once
#include <cstdint>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace sage::tsdb {

struct JoinPair {
    int64_t left_ts, right_ts;
    std::string key;
    double left_value, right_value;
    int64_t left_id, right_id;
};

class StreamJoin {
   public:
    StreamJoin(int64_t window_ms, int64_t max_delay_ms);
    // side 0 = left, 1 = right. Appends released pairs to out; returns false if the event was late.
    bool push(int side, int64_t ts, const std::string& key, double value, int64_t id, std::vector<JoinPair>& out);
    // The caller's watermark after this event (kMin: none yet); returns false if the event was late.
    bool push_at(int side, int64_t ts, const std::string& key, double value, int64_t id, int64_t watermark_after,
                 std::vector<JoinPair>& out);
    void flush(std::vector<JoinPair>& out);

    int64_t watermark() const { return watermark_; }
    uint64_t late() const { return late_; }
    uint64_t emitted() const { return emitted_; }
    size_t buffered() const { return buffered_; }
    size_t pending() const { return pending_.size(); }

   private:
    struct Event {
        int64_t ts;
        double value;
        int64_t id;
    };
    struct Pending {
        int64_t at;
        JoinPair pair;
    };
    struct Later {
        bool operator()(const Pending& a, const Pending& b) const {
            if (a.at != b.at) return a.at > b.at;
            if (a.pair.left_ts != b.pair.left_ts) return a.pair.left_ts > b.pair.left_ts;
            return a.pair.right_ts > b.pair.right_ts;
        }
    };
    using Buffer = std::vector<Event>;  // sorted by ts
    void evict(Buffer& b);
    bool late(int side, int64_t ts);
    void insert(int side, int64_t ts, const std::string& key, double value, int64_t id);
    void advance(int64_t watermark, std::vector<JoinPair>& out);
    void release(std::vector<JoinPair>& out, int64_t upto);

    int64_t window_, delay_;
    int64_t max_ts_;
    int64_t watermark_;
    std::unordered_map<std::string, Buffer> side_[2];
    std::priority_queue<Pending, std::vector<Pending>, Later> pending_;
    uint64_t late_ = 0, emitted_ = 0, pushes_ = 0;
    size_t buffered_ = 0;
};

}  // namespace sage::tsdb
