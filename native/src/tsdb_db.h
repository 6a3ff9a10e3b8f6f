// A persistent time-series database in one directory: series (metric + tags) of points
// (timestamp in int64 milliseconds since the Unix epoch, a double value, an optional
// fixed-dimension float vector and an optional fields string) in columnar chunks, a
// write-ahead log (wal.h, with its fsync policies) and a snapshot. Every change is logged
// before it is applied; a write with sync=true returns once its log record is on stable storage
// (durable writes arriving together share one fsync). A snapshot replaces the log past
// snapshot_wal_bytes; compaction re-packs chunks, applies retention and snapshots.
// Many concurrent readers, one writer at a time. Bad input throws InvalidArgument naming the
// field ("series[0].values[3]: ...") and changes nothing.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "tsdb_filter.h"
#include "tsdb_series.h"
#include "tsdb_window.h"
#include "wal.h"

namespace sage::tsdb {

constexpr int64_t kMinTs = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxTs = std::numeric_limits<int64_t>::max();
// Timestamps are refused beyond +-2^62 ms so window arithmetic cannot overflow.
constexpr int64_t kTsLimit = int64_t{1} << 62;

struct DBOptions {
    FsyncPolicy fsync = FsyncPolicy::Group;
    uint64_t snapshot_wal_bytes = 256ull << 20;
    size_t chunk_points = 4096;
};

struct SeriesWrite {
    std::string metric;
    Tags tags;
    std::vector<int64_t> ts;
    std::vector<double> val;
    uint32_t dim = 0;                 // vector dimension when vec is given
    std::vector<float> vec;           // ts.size() * dim, or empty
    std::vector<std::string> fields;  // ts.size(), or empty
};

struct QuerySpec {
    std::string metric;      // empty: every metric
    std::string tag_filter;  // tsdb_filter.h syntax; empty: every series
    int64_t start = kMinTs;  // inclusive
    int64_t end = kMaxTs;    // exclusive
    size_t limit = 0;        // query: points in all; aggregate: windows per group (0 = no limit)
    bool vectors = false;
    bool fields = false;
};

struct SeriesPoints {
    std::string metric;
    Tags tags;
    std::vector<int64_t> ts;
    std::vector<double> val;
    uint32_t dim = 0;
    std::vector<float> vec;  // ts.size() * dim when requested and the series has vectors
    std::vector<std::string> fields;
};

struct SeriesInfo {
    std::string metric;
    Tags tags;
    size_t points;
    int64_t first_ts, last_ts, retention_ms;
    uint32_t dim;
};

struct GroupWindows {
    Tags group;  // the group-by tags (missing = "")
    size_t series = 0;
    Windows windows;
};

struct WriteResult {
    size_t written = 0;
    size_t dropped = 0;  // older than their series' retention
    uint64_t seq = 0;
};

struct DBStats {
    size_t series = 0, points = 0, chunks = 0, bytes = 0, metrics = 0;
    uint64_t wal_bytes = 0, seq = 0, snapshot_seq = 0, late_points = 0, dropped_retention = 0;
    uint64_t dropped_log_bytes = 0;
    std::string fsync;
};

class Database {
   public:
    // Opens the database at `path`, creating the directory when missing.
    static std::unique_ptr<Database> open(const std::string& path, const DBOptions& options);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    WriteResult write(std::vector<SeriesWrite> batches, bool sync);
    std::vector<SeriesPoints> query(const QuerySpec& q, bool* truncated = nullptr) const;
    std::vector<GroupWindows> window_aggregate(const QuerySpec& q, const WindowSpec& w,
                                               const std::vector<std::string>& group_by) const;
    std::vector<SeriesInfo> list_series(const std::string& metric, const std::string& tag_filter) const;
    // Removes the points in [start, end) of the matching series (a series left empty goes);
    // returns the number of points removed.
    size_t delete_points(const std::string& metric, const std::string& tag_filter, int64_t start, int64_t end,
                         bool sync);
    // Sets the retention of the matching series (0 = keep everything); returns how many series.
    size_t set_retention(const std::string& metric, const std::string& tag_filter, int64_t retention_ms, bool sync);
    // Writes the tumbling aggregates of each matching series into `dest_metric` (same tags).
    WriteResult downsample(const QuerySpec& q, const WindowSpec& w, const std::string& dest_metric, bool sync);
    void reset();
    void flush();
    void snapshot();
    void compact();
    void close();
    DBStats stats() const;

   private:
    explicit Database(std::string path, DBOptions options);
    void check_open() const;
    void validate(std::vector<SeriesWrite>& batches) const;
    void apply_record(const std::string& payload);
    void apply_write(std::vector<SeriesWrite>& batches);
    uint64_t log_and_apply(const std::string& record, std::vector<SeriesWrite>* batches,
                           const std::function<void()>& apply, WriteResult& r);
    void finish(uint64_t end_offset, bool sync);
    void sync_to(uint64_t offset);
    void write_snapshot_locked();
    void load_snapshot();
    std::vector<const Series*> match(const std::string& metric, const TagFilter& f) const;
    std::vector<std::string> match_keys(const std::string& metric, const std::string& tag_filter) const;

    std::string path_;
    DBOptions options_;
    std::map<std::string, std::unique_ptr<Series>> series_;  // identity key -> series
    uint64_t seq_ = 0, snapshot_seq_ = 0, dropped_retention_ = 0, dropped_log_bytes_ = 0;
    std::unique_ptr<WriteAheadLog> wal_;
    int lock_fd_ = -1;
    bool closed_ = false;
    std::atomic<uint64_t> appended_{0};  // bytes ever appended to the log (monotonic)
    uint64_t synced_ = 0;
    std::mutex sync_mu_;
    mutable std::mutex write_mu_;
    mutable std::shared_mutex state_mu_;
};

}  // namespace sage::tsdb
