#include "tsdb_db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "codec.h"
#include "errors.h"

namespace fs = std::filesystem;

namespace sage::tsdb {

namespace {

constexpr const char* kLogFile = "tsdb.wal";
constexpr const char* kSnapshotFile = "snapshot.bin";
constexpr const char* kSnapshotTmp = "snapshot.tmp";
constexpr const char* kLockFile = "LOCK";
constexpr uint32_t kSnapMagic = 0x54534442;  // "TSDB"
constexpr uint32_t kSnapVersion = 1;
constexpr size_t kMaxName = 256, kMaxTagValue = 1024, kMaxTags = 64, kMaxDim = 4096;
constexpr size_t kMaxFields = 64 * 1024;

enum Record : uint8_t { kWrite = 1, kDelete = 2, kRetention = 3 };

void fsync_path(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

// The identity of a series: NUL-separated, so no name or tag can make two series collide.
std::string identity(const std::string& metric, const Tags& tags) {
    std::string k = metric;
    k += '\0';
    for (const auto& [key, v] : tags) {
        k += key;
        k += '\0';
        k += v;
        k += '\0';
    }
    return k;
}

void check_name(const std::string& s, const std::string& where, size_t max, bool allow_empty) {
    if (s.empty() && !allow_empty) throw InvalidArgument(where + ": must not be empty");
    if (s.size() > max) throw InvalidArgument(where + ": longer than " + std::to_string(max) + " bytes");
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) throw InvalidArgument(where + ": control characters are not allowed");
    }
}

void encode_tags(Encoder& e, const Tags& tags) {
    e.u32(static_cast<uint32_t>(tags.size()));
    for (const auto& [k, v] : tags) {
        e.str(k);
        e.str(v);
    }
}

Tags decode_tags(Decoder& d) {
    Tags t(d.u32());
    for (auto& [k, v] : t) {
        k = d.str();
        v = d.str();
    }
    return t;
}

void encode_batch(Encoder& e, const SeriesWrite& b) {
    e.str(b.metric);
    encode_tags(e, b.tags);
    e.u64(b.ts.size());
    e.raw(b.ts.data(), b.ts.size() * 8);
    e.raw(b.val.data(), b.val.size() * 8);
    e.u32(b.dim);
    e.u8(b.vec.empty() ? 0 : 1);
    e.raw(b.vec.data(), b.vec.size() * 4);
    e.u8(b.fields.empty() ? 0 : 1);
    for (const auto& f : b.fields) e.str(f);
}

SeriesWrite decode_batch(Decoder& d) {
    SeriesWrite b;
    b.metric = d.str();
    b.tags = decode_tags(d);
    const uint64_t n = d.u64();
    if (n > (1ull << 32)) throw IoError("corrupt record: implausible point count");
    b.ts.resize(n);
    b.val.resize(n);
    d.raw(b.ts.data(), n * 8);
    d.raw(b.val.data(), n * 8);
    b.dim = d.u32();
    if (d.u8()) {
        b.vec.resize(n * b.dim);
        d.raw(b.vec.data(), b.vec.size() * 4);
    }
    if (d.u8()) {
        b.fields.resize(n);
        for (auto& f : b.fields) f = d.str();
    }
    return b;
}

std::string range_text(const std::string& metric) { return metric.empty() ? "any metric" : "metric '" + metric + "'"; }

}  // namespace

Database::Database(std::string path, DBOptions options) : path_(std::move(path)), options_(options) {}

std::unique_ptr<Database> Database::open(const std::string& path, const DBOptions& options) {
    const fs::path dir(path);
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw IoError("cannot create directory " + path + ": " + ec.message());
    std::unique_ptr<Database> db(new Database(path, options));
    db->lock_fd_ = ::open((dir / kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lock_fd_ < 0 || ::flock(db->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        throw IoError("time-series database " + path + " is already open in another process or object");
    }
    db->load_snapshot();
    db->dropped_log_bytes_ = WriteAheadLog::replay((dir / kLogFile).string(), [&](uint64_t seq, const std::string& p) {
        if (seq <= db->snapshot_seq_) return;  // already in the snapshot
        db->apply_record(p);
        db->seq_ = seq;
    });
    db->wal_ = std::make_unique<WriteAheadLog>((dir / kLogFile).string(), options.fsync);
    return db;
}

Database::~Database() {
    try {
        close();
    } catch (...) {
    }
}

void Database::check_open() const {
    if (closed_) throw InvalidArgument("the time-series database " + path_ + " is closed");
}

// ---- writes ---------------------------------------------------------------------------------

void Database::validate(std::vector<SeriesWrite>& batches) const {
    std::map<std::string, uint32_t> dims;  // series written with vectors in this call
    for (size_t i = 0; i < batches.size(); ++i) {
        SeriesWrite& b = batches[i];
        const std::string where = "series[" + std::to_string(i) + "]";
        check_name(b.metric, where + ".metric", kMaxName, false);
        if (b.tags.size() > kMaxTags) throw InvalidArgument(where + ".tags: more than " + std::to_string(kMaxTags) + " tags");
        for (const auto& [k, v] : b.tags) {
            check_name(k, where + ".tags", kMaxName, false);
            check_name(v, where + ".tags." + k, kMaxTagValue, true);
        }
        b.tags = canonical_tags(std::move(b.tags), where + ".tags");
        const size_t n = b.ts.size();
        if (b.val.size() != n) {
            throw InvalidArgument(where + ".values: " + std::to_string(b.val.size()) + " values for " + std::to_string(n) +
                                  " timestamps; send one value per timestamp");
        }
        for (size_t j = 0; j < n; ++j) {
            if (b.ts[j] <= -kTsLimit || b.ts[j] >= kTsLimit) {
                throw InvalidArgument(where + ".timestamps[" + std::to_string(j) + "]: " + std::to_string(b.ts[j]) +
                                      " is out of range (int64 milliseconds since the Unix epoch, |t| < 2^62)");
            }
            if (!std::isfinite(b.val[j])) {
                throw InvalidArgument(where + ".values[" + std::to_string(j) + "]: NaN and infinities are not values");
            }
        }
        if (!b.vec.empty()) {
            if (b.dim == 0 || b.dim > kMaxDim) {
                throw InvalidArgument(where + ".vectors: the dimension must be 1.." + std::to_string(kMaxDim));
            }
            if (b.vec.size() != n * b.dim) {
                throw InvalidArgument(where + ".vectors: " + std::to_string(b.vec.size()) + " floats for " +
                                      std::to_string(n) + " points of dimension " + std::to_string(b.dim));
            }
            for (size_t j = 0; j < b.vec.size(); ++j) {
                if (!std::isfinite(b.vec[j])) {
                    throw InvalidArgument(where + ".vectors[" + std::to_string(j / b.dim) + "]: NaN and infinities are not allowed");
                }
            }
            const std::string id = identity(b.metric, b.tags);
            uint32_t have = 0;
            auto it = series_.find(id);
            if (it != series_.end()) have = it->second->dim();
            auto d = dims.find(id);
            if (d != dims.end()) have = d->second;
            if (have != 0 && have != b.dim) {
                throw InvalidArgument(where + ".vectors: series " + series_key(b.metric, b.tags) + " has dimension " +
                                      std::to_string(have) + ", got " + std::to_string(b.dim));
            }
            dims[id] = b.dim;
        } else {
            b.dim = 0;
        }
        if (!b.fields.empty()) {
            if (b.fields.size() != n) {
                throw InvalidArgument(where + ".fields: " + std::to_string(b.fields.size()) + " entries for " +
                                      std::to_string(n) + " points; send one per point or none");
            }
            for (size_t j = 0; j < n; ++j) {
                if (b.fields[j].size() > kMaxFields) {
                    throw InvalidArgument(where + ".fields[" + std::to_string(j) + "]: longer than 64 KiB");
                }
            }
        }
    }
}

void Database::apply_write(std::vector<SeriesWrite>& batches) {
    for (auto& b : batches) {
        if (b.ts.empty()) continue;
        const std::string id = identity(b.metric, b.tags);
        auto it = series_.find(id);
        if (it == series_.end()) {
            it = series_.emplace(id, std::make_unique<Series>(b.metric, b.tags, b.dim, options_.chunk_points)).first;
        }
        Series& s = *it->second;
        if (b.dim) s.set_dim(b.dim);
        if (b.dim && s.dim() != b.dim) b.vec.clear();  // never: validate() refuses it
        dropped_retention_ += s.add(b.ts.data(), b.val.data(), b.vec.empty() ? nullptr : b.vec.data(),
                                    b.fields.empty() ? nullptr : b.fields.data(), b.ts.size());
    }
}

void Database::apply_record(const std::string& payload) {
    Decoder d(payload.data(), payload.size());
    const uint8_t type = d.u8();
    if (type == kWrite) {
        std::vector<SeriesWrite> batches(d.u32());
        for (auto& b : batches) b = decode_batch(d);
        apply_write(batches);
    } else if (type == kDelete) {
        std::vector<std::string> keys(d.u32());
        for (auto& k : keys) k = d.str();
        const int64_t start = d.i64(), end = d.i64();
        for (const auto& k : keys) {
            auto it = series_.find(k);
            if (it == series_.end()) continue;
            it->second->erase(start, end);
            if (it->second->size() == 0) series_.erase(it);
        }
    } else if (type == kRetention) {
        std::vector<std::string> keys(d.u32());
        for (auto& k : keys) k = d.str();
        const int64_t ms = d.i64();
        for (const auto& k : keys) {
            auto it = series_.find(k);
            if (it == series_.end()) continue;
            it->second->set_retention(ms);
            dropped_retention_ += it->second->apply_retention();
        }
    } else {
        throw IoError("corrupt write-ahead log record type " + std::to_string(type) + " in " + path_);
    }
}

void Database::sync_to(uint64_t offset) {
    std::lock_guard<std::mutex> lock(sync_mu_);
    if (synced_ >= offset) return;  // another durable write's fsync covered this record
    const uint64_t target = appended_.load();
    wal_->sync();
    synced_ = target;
}

// Caller holds write_mu_. Returns the log offset to sync to for a durable write.
uint64_t Database::log_and_apply(const std::string& record, std::vector<SeriesWrite>* batches,
                                 const std::function<void()>& apply, WriteResult& r) {
    wal_->append(seq_ + 1, record);
    const uint64_t end_offset = appended_.fetch_add(record.size() + 20) + record.size() + 20;
    {
        std::unique_lock<std::shared_mutex> state(state_mu_);
        ++seq_;
        const uint64_t before = dropped_retention_;
        if (batches) apply_write(*batches);
        if (apply) apply();
        r.dropped = dropped_retention_ - before;
    }
    r.seq = seq_;
    if (wal_->bytes() > options_.snapshot_wal_bytes) write_snapshot_locked();
    return end_offset;
}

void Database::finish(uint64_t end_offset, bool sync) {
    if (sync && options_.fsync != FsyncPolicy::Always) sync_to(end_offset);
}

WriteResult Database::write(std::vector<SeriesWrite> batches, bool sync) {
    WriteResult r;
    uint64_t end_offset;
    {
        std::lock_guard<std::mutex> writer(write_mu_);  // validation sees the state it applies to
        check_open();
        validate(batches);
        size_t n = 0;
        for (const auto& b : batches) n += b.ts.size();
        if (n == 0) {
            r.seq = seq_;
            return r;
        }
        Encoder e;
        e.u8(kWrite);
        e.u32(static_cast<uint32_t>(batches.size()));
        for (const auto& b : batches) encode_batch(e, b);
        end_offset = log_and_apply(e.data(), &batches, nullptr, r);
        r.written = n - r.dropped;
    }
    finish(end_offset, sync);
    return r;
}

// ---- reads ----------------------------------------------------------------------------------

std::vector<const Series*> Database::match(const std::string& metric, const TagFilter& f) const {
    std::vector<const Series*> out;
    auto it = metric.empty() ? series_.begin() : series_.lower_bound(metric + std::string(1, '\0'));
    for (; it != series_.end(); ++it) {
        if (!metric.empty() && it->second->metric() != metric) break;
        if (f.matches(it->second->tags())) out.push_back(it->second.get());
    }
    return out;
}

std::vector<std::string> Database::match_keys(const std::string& metric, const std::string& tag_filter) const {
    const TagFilter f = TagFilter::parse(tag_filter);
    std::vector<std::string> keys;
    std::shared_lock<std::shared_mutex> state(state_mu_);
    for (const Series* s : match(metric, f)) keys.push_back(identity(s->metric(), s->tags()));
    return keys;
}

std::vector<SeriesPoints> Database::query(const QuerySpec& q, bool* truncated) const {
    const TagFilter f = TagFilter::parse(q.tag_filter);
    if (q.start >= q.end && !(q.start == kMinTs && q.end == kMaxTs)) {
        throw InvalidArgument("time_range: start (" + std::to_string(q.start) + ") must be before end (" +
                              std::to_string(q.end) + ")");
    }
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    std::vector<SeriesPoints> out;
    size_t total = 0;
    if (truncated) *truncated = false;
    for (const Series* s : match(q.metric, f)) {
        SeriesPoints p;
        p.metric = s->metric();
        p.tags = s->tags();
        p.dim = s->dim();
        bool has_vec = false;
        s->scan(q.start, q.end, [&](const Span& sp) {
            size_t take = sp.n;
            if (q.limit > 0) {
                if (total >= q.limit) {
                    if (truncated) *truncated = true;
                    return;
                }
                take = std::min(take, q.limit - total);
                if (take < sp.n && truncated) *truncated = true;
            }
            p.ts.insert(p.ts.end(), sp.ts, sp.ts + take);
            p.val.insert(p.val.end(), sp.val, sp.val + take);
            if (q.vectors && p.dim > 0) {
                if (sp.vec) {
                    p.vec.insert(p.vec.end(), sp.vec, sp.vec + take * p.dim);
                    has_vec = true;
                } else {
                    p.vec.resize(p.vec.size() + take * p.dim, 0.0f);
                }
            }
            if (q.fields) {
                if (sp.fields) p.fields.insert(p.fields.end(), sp.fields, sp.fields + take);
                else p.fields.resize(p.fields.size() + take);
            }
            total += take;
        });
        if (!has_vec) {
            p.vec.clear();
        }
        if (!p.ts.empty()) out.push_back(std::move(p));
    }
    return out;
}

std::vector<GroupWindows> Database::window_aggregate(const QuerySpec& q, const WindowSpec& w,
                                                     const std::vector<std::string>& group_by) const {
    const TagFilter f = TagFilter::parse(q.tag_filter);
    w.validate();
    if (q.start >= q.end && !(q.start == kMinTs && q.end == kMaxTs)) {
        throw InvalidArgument("time_range: start must be before end");
    }
    for (size_t i = 0; i < group_by.size(); ++i) {
        if (group_by[i].empty()) throw InvalidArgument("group_by[" + std::to_string(i) + "]: must name a tag");
    }
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    std::map<Tags, std::vector<const Series*>> groups;
    for (const Series* s : match(q.metric, f)) {
        Tags g;
        for (const auto& name : group_by) {
            const std::string* v = tag_value(s->tags(), name);
            g.emplace_back(name, v ? *v : std::string());
        }
        groups[g].push_back(s);
    }
    std::vector<GroupWindows> out;
    for (const auto& [g, members] : groups) {
        std::vector<Run> runs;
        std::vector<int64_t> mts;
        std::vector<double> mval;
        if (members.size() == 1) {
            members[0]->scan(q.start, q.end, [&](const Span& sp) { runs.push_back(Run{sp.ts, sp.val, sp.n}); });
        } else {
            // Merge the members' points into one time-ordered run (pairwise merges of sorted runs).
            std::vector<size_t> bounds{0};
            for (const Series* s : members) {
                s->scan(q.start, q.end, [&](const Span& sp) {
                    mts.insert(mts.end(), sp.ts, sp.ts + sp.n);
                    mval.insert(mval.end(), sp.val, sp.val + sp.n);
                });
                bounds.push_back(mts.size());
            }
            std::vector<int64_t> tts(mts.size());
            std::vector<double> tval(mval.size());
            while (bounds.size() > 2) {
                std::vector<size_t> next{0};
                for (size_t b = 0; b + 1 < bounds.size(); b += 2) {
                    const size_t lo = bounds[b], mid = bounds[b + 1];
                    const size_t hi = b + 2 < bounds.size() ? bounds[b + 2] : mid;
                    size_t i = lo, j = mid, o = lo;
                    while (i < mid || j < hi) {
                        if (j >= hi || (i < mid && mts[i] <= mts[j])) {
                            tts[o] = mts[i];
                            tval[o++] = mval[i++];
                        } else {
                            tts[o] = mts[j];
                            tval[o++] = mval[j++];
                        }
                    }
                    next.push_back(hi);
                }
                if (next.back() != mts.size()) next.push_back(mts.size());
                mts.swap(tts);
                mval.swap(tval);
                bounds.swap(next);
            }
            if (!mts.empty()) runs.push_back(Run{mts.data(), mval.data(), mts.size()});
        }
        GroupWindows gw;
        gw.group = g;
        gw.series = members.size();
        gw.windows = aggregate(runs, w, q.start, q.end, q.limit);
        if (gw.windows.size() > 0) out.push_back(std::move(gw));
    }
    return out;
}

std::vector<SeriesInfo> Database::list_series(const std::string& metric, const std::string& tag_filter) const {
    const TagFilter f = TagFilter::parse(tag_filter);
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    std::vector<SeriesInfo> out;
    for (const Series* s : match(metric, f)) {
        out.push_back(SeriesInfo{s->metric(), s->tags(), s->size(), s->first_ts(), s->last_ts(), s->retention_ms(), s->dim()});
    }
    return out;
}

// ---- deletes, retention, downsampling ---------------------------------------------------------

size_t Database::delete_points(const std::string& metric, const std::string& tag_filter, int64_t start, int64_t end,
                               bool sync) {
    if (start >= end) throw InvalidArgument("time_range: start must be before end");
    const auto keys = match_keys(metric, tag_filter);
    if (keys.empty()) return 0;
    Encoder e;
    e.u8(kDelete);
    e.u32(static_cast<uint32_t>(keys.size()));
    for (const auto& k : keys) e.str(k);
    e.i64(start);
    e.i64(end);
    size_t removed = 0;
    WriteResult r;
    uint64_t end_offset;
    {
        std::lock_guard<std::mutex> writer(write_mu_);
        check_open();
        end_offset = log_and_apply(e.data(), nullptr, [&] {
            for (const auto& k : keys) {
                auto it = series_.find(k);
                if (it == series_.end()) continue;
                removed += it->second->erase(start, end);
                if (it->second->size() == 0) series_.erase(it);
            }
        }, r);
    }
    finish(end_offset, sync);
    return removed;
}

size_t Database::set_retention(const std::string& metric, const std::string& tag_filter, int64_t retention_ms,
                               bool sync) {
    if (retention_ms < 0) throw InvalidArgument("retention_ms: must be >= 0 (0 keeps everything)");
    const auto keys = match_keys(metric, tag_filter);
    if (keys.empty()) return 0;
    Encoder e;
    e.u8(kRetention);
    e.u32(static_cast<uint32_t>(keys.size()));
    for (const auto& k : keys) e.str(k);
    e.i64(retention_ms);
    WriteResult r;
    uint64_t end_offset;
    {
        std::lock_guard<std::mutex> writer(write_mu_);
        check_open();
        end_offset = log_and_apply(e.data(), nullptr, [&] {
            for (const auto& k : keys) {
                auto it = series_.find(k);
                if (it == series_.end()) continue;
                it->second->set_retention(retention_ms);
                dropped_retention_ += it->second->apply_retention();
            }
        }, r);
    }
    finish(end_offset, sync);
    return keys.size();
}

WriteResult Database::downsample(const QuerySpec& q, const WindowSpec& w, const std::string& dest_metric, bool sync) {
    check_name(dest_metric, "dest_metric", kMaxName, false);
    if (w.kind != WindowKind::Tumbling) throw InvalidArgument("window_type: downsampling uses tumbling windows");
    if (dest_metric == q.metric) throw InvalidArgument("dest_metric: must differ from the source metric");
    std::vector<SeriesWrite> batches;
    {
        const TagFilter f = TagFilter::parse(q.tag_filter);
        w.validate();
        std::shared_lock<std::shared_mutex> state(state_mu_);
        check_open();
        for (const Series* s : match(q.metric, f)) {
            std::vector<Run> runs;
            s->scan(q.start, q.end, [&](const Span& sp) { runs.push_back(Run{sp.ts, sp.val, sp.n}); });
            Windows win = aggregate(runs, w, q.start, q.end, 0);
            if (win.size() == 0) continue;
            SeriesWrite b;
            b.metric = dest_metric;
            b.tags = s->tags();
            b.ts = std::move(win.start);
            b.val = std::move(win.value);
            batches.push_back(std::move(b));
        }
    }
    return write(std::move(batches), sync);
}

// ---- durability -----------------------------------------------------------------------------

void Database::write_snapshot_locked() {
    std::shared_lock<std::shared_mutex> state(state_mu_);
    Encoder e;
    e.u32(kSnapMagic);
    e.u32(kSnapVersion);
    e.u64(seq_);
    e.u64(dropped_retention_);
    e.u64(series_.size());
    for (const auto& [id, s] : series_) {
        e.str(s->metric());
        encode_tags(e, s->tags());
        e.u32(s->dim());
        e.i64(s->retention_ms());
        e.u64(s->size());
        bool has_vec = false, has_fields = false;
        for (const auto& c : s->chunk_list()) {
            has_vec = has_vec || c.has_vec;
            has_fields = has_fields || c.has_fields;
        }
        for (const auto& c : s->chunk_list()) e.raw(c.ts.data(), c.ts.size() * 8);
        for (const auto& c : s->chunk_list()) e.raw(c.val.data(), c.val.size() * 8);
        e.u8(has_vec ? 1 : 0);
        if (has_vec) {
            const std::vector<float> zeros(s->dim(), 0.0f);
            for (const auto& c : s->chunk_list()) {
                if (c.has_vec) e.raw(c.vec.data(), c.vec.size() * 4);
                else for (size_t i = 0; i < c.ts.size(); ++i) e.raw(zeros.data(), zeros.size() * 4);
            }
        }
        e.u8(has_fields ? 1 : 0);
        if (has_fields) {
            for (const auto& c : s->chunk_list()) {
                for (size_t i = 0; i < c.ts.size(); ++i) e.str(c.has_fields ? c.fields[i] : std::string());
            }
        }
    }
    e.u32(crc32(e.data().data(), e.data().size()));
    const fs::path dir(path_);
    const fs::path tmp = dir / kSnapshotTmp;
    {
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) throw IoError("cannot write " + tmp.string());
        const char* p = e.data().data();
        size_t n = e.data().size();
        while (n > 0) {
            const ssize_t w = ::write(fd, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                ::close(fd);
                throw IoError("cannot write " + tmp.string());
            }
            p += w;
            n -= static_cast<size_t>(w);
        }
        ::fsync(fd);
        ::close(fd);
    }
    fs::rename(tmp, dir / kSnapshotFile);
    fsync_path(dir);
    snapshot_seq_ = seq_;
    wal_->truncate();
    std::lock_guard<std::mutex> lock(sync_mu_);
    synced_ = appended_.load();  // everything appended so far is in the (synced) snapshot
}

void Database::load_snapshot() {
    const fs::path dir(path_);
    std::error_code ec;
    fs::remove(dir / kSnapshotTmp, ec);  // an unfinished snapshot is never used
    const fs::path snap = dir / kSnapshotFile;
    if (!fs::exists(snap)) return;
    std::ifstream in(snap, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string content = ss.str();
    if (content.size() < 8) throw IoError("snapshot " + snap.string() + " is truncated");
    uint32_t crc;
    std::memcpy(&crc, content.data() + content.size() - 4, 4);
    if (crc32(content.data(), content.size() - 4) != crc) throw IoError("snapshot " + snap.string() + " fails its checksum");
    Decoder d(content.data(), content.size() - 4);
    if (d.u32() != kSnapMagic || d.u32() != kSnapVersion) throw IoError("snapshot " + snap.string() + ": unknown format");
    seq_ = snapshot_seq_ = d.u64();
    dropped_retention_ = d.u64();
    const uint64_t count = d.u64();
    for (uint64_t i = 0; i < count; ++i) {
        SeriesWrite b;
        b.metric = d.str();
        b.tags = decode_tags(d);
        b.dim = d.u32();
        const int64_t retention = d.i64();
        const uint64_t n = d.u64();
        b.ts.resize(n);
        b.val.resize(n);
        d.raw(b.ts.data(), n * 8);
        d.raw(b.val.data(), n * 8);
        if (d.u8()) {
            b.vec.resize(n * b.dim);
            d.raw(b.vec.data(), b.vec.size() * 4);
        }
        if (d.u8()) {
            b.fields.resize(n);
            for (auto& f : b.fields) f = d.str();
        }
        auto s = std::make_unique<Series>(b.metric, b.tags, b.dim, options_.chunk_points);
        s->add(b.ts.data(), b.val.data(), b.vec.empty() ? nullptr : b.vec.data(), b.fields.empty() ? nullptr : b.fields.data(), n);
        s->set_retention(retention);
        series_.emplace(identity(b.metric, b.tags), std::move(s));
    }
}

void Database::flush() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    wal_->sync();
}

void Database::snapshot() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    write_snapshot_locked();
}

void Database::compact() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    {
        std::unique_lock<std::shared_mutex> state(state_mu_);
        for (auto it = series_.begin(); it != series_.end();) {
            dropped_retention_ += it->second->apply_retention();
            it->second->compact();
            it = it->second->size() == 0 ? series_.erase(it) : std::next(it);
        }
    }
    write_snapshot_locked();
}

void Database::reset() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    {
        std::unique_lock<std::shared_mutex> state(state_mu_);
        series_.clear();
        dropped_retention_ = 0;
        ++seq_;
    }
    write_snapshot_locked();  // the empty state, durably; the log is emptied
}

void Database::close() {
    std::lock_guard<std::mutex> writer(write_mu_);
    if (closed_) return;
    closed_ = true;
    if (wal_) {
        if (options_.fsync != FsyncPolicy::None) wal_->sync();
        wal_.reset();
    }
    if (lock_fd_ >= 0) {
        ::flock(lock_fd_, LOCK_UN);
        ::close(lock_fd_);
        lock_fd_ = -1;
    }
}

DBStats Database::stats() const {
    std::shared_lock<std::shared_mutex> state(state_mu_);
    DBStats s;
    std::string last_metric;
    for (const auto& [id, series] : series_) {
        ++s.series;
        s.points += series->size();
        s.chunks += series->chunks();
        s.bytes += series->bytes();
        s.late_points += series->late_points();
        if (series->metric() != last_metric) {
            ++s.metrics;
            last_metric = series->metric();
        }
    }
    s.wal_bytes = wal_ ? wal_->bytes() : 0;
    s.seq = seq_;
    s.snapshot_seq = snapshot_seq_;
    s.dropped_retention = dropped_retention_;
    s.dropped_log_bytes = dropped_log_bytes_;
    s.fsync = fsync_name(options_.fsync);
    return s;
}

}  // namespace sage::tsdb
