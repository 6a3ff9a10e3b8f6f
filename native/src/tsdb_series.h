// One series' points in columnar, append-optimised chunks: each chunk holds sorted timestamps
// (int64 milliseconds since the Unix epoch), values (double) and, only when some point of the
// chunk has them, a fixed-dimension vector and a fields string per point. In-order points
// append to the last chunk; a late point is inserted at its place (points with equal
// timestamps keep their arrival order), splitting a chunk that grows past twice its capacity.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tsdb_filter.h"

namespace sage::tsdb {

struct Chunk {
    std::vector<int64_t> ts;
    std::vector<double> val;
    std::vector<float> vec;           // ts.size() * dim, or empty
    std::vector<std::string> fields;  // ts.size(), or empty
    bool has_vec = false;
    bool has_fields = false;
    int64_t first() const { return ts.front(); }
    int64_t last() const { return ts.back(); }
};

// A contiguous run of points handed to a scan (pointers into one chunk).
struct Span {
    const int64_t* ts;
    const double* val;
    const float* vec;                // null when the chunk has no vectors
    const std::string* fields;       // null when the chunk has no fields
    size_t n;
};

class Series {
   public:
    Series(std::string metric, Tags tags, uint32_t dim, size_t chunk_points);

    // Adds points (any order); a vector row / fields entry per point when given (may be null).
    // Points older than the retention horizon are dropped; returns how many were.
    size_t add(const int64_t* ts, const double* val, const float* vec, const std::string* fields, size_t n);
    // Calls fn for each run of points with start <= ts < end, in time order.
    void scan(int64_t start, int64_t end, const std::function<void(const Span&)>& fn) const;
    // Removes points with start <= ts < end; returns how many.
    size_t erase(int64_t start, int64_t end);
    // Keeps only points newer than newest - retention_ms (0 = keep everything).
    void set_retention(int64_t retention_ms);
    // A series written without vectors takes the dimension of its first vectors.
    void set_dim(uint32_t dim) { if (dim_ == 0) dim_ = dim; }
    size_t apply_retention();
    // Re-packs the chunks full (after many late inserts or erases).
    void compact();

    const std::string& metric() const { return metric_; }
    const Tags& tags() const { return tags_; }
    uint32_t dim() const { return dim_; }
    int64_t retention_ms() const { return retention_ms_; }
    size_t size() const { return size_; }
    size_t chunks() const { return chunks_.size(); }
    int64_t first_ts() const { return chunks_.empty() ? 0 : chunks_.front().first(); }
    int64_t last_ts() const { return chunks_.empty() ? 0 : chunks_.back().last(); }
    size_t bytes() const;
    uint64_t late_points() const { return late_; }
    const std::vector<Chunk>& chunk_list() const { return chunks_; }

   private:
    void append_one(Chunk& c, int64_t ts, double v, const float* vec, const std::string* fields);
    void insert_one(int64_t ts, double v, const float* vec, const std::string* fields);
    void split_if_needed(size_t ci);

    std::string metric_;
    Tags tags_;
    uint32_t dim_;
    size_t chunk_points_;
    int64_t retention_ms_ = 0;
    size_t size_ = 0;
    uint64_t late_ = 0;
    std::vector<Chunk> chunks_;
};

}  // namespace sage::tsdb
