// pybind11 surface of the time-series core (tsdb_*.h), registered into sage_native by
// bindings.cpp: converts numpy arrays and dicts to the core's types, releases the GIL around
// the work and hands results back as numpy arrays. No behaviour lives here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "errors.h"
#include "tsdb_db.h"
#include "tsdb_join.h"
#include "tsdb_window.h"

namespace py = pybind11;
using namespace sage;
using namespace sage::tsdb;

namespace {

template <typename T>
py::array_t<T> to_array(std::vector<T>&& v) {
    auto* heap = new std::vector<T>(std::move(v));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {static_cast<py::ssize_t>(sizeof(T))},
                          heap->data(), owner);
}

// Timestamps as int64 milliseconds: integer arrays as they are; floats must be finite
// (a NaN is refused, naming the element) and are floored.
std::vector<int64_t> to_timestamps(const py::handle& obj, const std::string& where) {
    py::array arr = py::array::ensure(obj);
    if (!arr) throw InvalidArgument(where + ": must be a sequence of int64 milliseconds");
    if (arr.ndim() != 1) throw InvalidArgument(where + ": must be one-dimensional");
    const char kind = arr.dtype().kind();
    std::vector<int64_t> out(static_cast<size_t>(arr.size()));
    if (kind == 'f') {
        auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(arr);
        const double* p = a.data();
        for (size_t i = 0; i < out.size(); ++i) {
            if (!std::isfinite(p[i])) {
                throw InvalidArgument(where + "[" + std::to_string(i) + "]: " + (std::isnan(p[i]) ? "NaN" : "infinity") +
                                      " is not a timestamp; send int64 milliseconds since the Unix epoch");
            }
            if (std::fabs(p[i]) >= 4.6e18) throw InvalidArgument(where + "[" + std::to_string(i) + "]: out of range");
            out[i] = static_cast<int64_t>(std::floor(p[i]));
        }
    } else if (kind == 'i' || kind == 'u' || kind == 'b' || (kind == 'O' && arr.size() == 0)) {
        auto a = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(arr);
        if (!a) throw InvalidArgument(where + ": must hold integers");
        std::copy(a.data(), a.data() + out.size(), out.begin());
    } else {
        throw InvalidArgument(where + ": must hold int64 milliseconds, not " + std::string(py::str(arr.dtype())));
    }
    return out;
}

std::vector<double> to_doubles(const py::handle& obj, const std::string& where) {
    py::array_t<double, py::array::c_style | py::array::forcecast> a;
    try {
        a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
    } catch (const py::error_already_set&) {
    }
    if (!a || a.ndim() != 1) throw InvalidArgument(where + ": must be a one-dimensional sequence of numbers");
    return std::vector<double>(a.data(), a.data() + a.size());
}

Tags to_tags(const py::handle& obj, const std::string& where) {
    Tags tags;
    if (obj.is_none()) return tags;
    if (!py::isinstance<py::dict>(obj)) throw InvalidArgument(where + ": must be a dict of strings");
    for (auto item : obj.cast<py::dict>()) {
        if (!py::isinstance<py::str>(item.first) || !py::isinstance<py::str>(item.second)) {
            throw InvalidArgument(where + ": tag keys and values must be strings");
        }
        tags.emplace_back(item.first.cast<std::string>(), item.second.cast<std::string>());
    }
    return tags;
}

py::dict tags_to_python(const Tags& tags) {
    py::dict d;
    for (const auto& [k, v] : tags) d[py::str(k)] = py::str(v);
    return d;
}

SeriesWrite to_write(const py::handle& obj, size_t i) {
    const std::string where = "series[" + std::to_string(i) + "]";
    if (!py::isinstance<py::dict>(obj)) throw InvalidArgument(where + ": must be a dict");
    auto d = obj.cast<py::dict>();
    SeriesWrite b;
    if (!d.contains("metric") || !py::isinstance<py::str>(d["metric"])) {
        throw InvalidArgument(where + ".metric: a metric name (string) is required");
    }
    b.metric = d["metric"].cast<std::string>();
    if (d.contains("tags")) b.tags = to_tags(d["tags"], where + ".tags");
    b.ts = to_timestamps(d.contains("timestamps") ? py::object(d["timestamps"]) : py::object(py::list()), where + ".timestamps");
    b.val = to_doubles(d.contains("values") ? py::object(d["values"]) : py::object(py::list()), where + ".values");
    if (d.contains("vectors") && !d["vectors"].is_none()) {
        auto v = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(d["vectors"]);
        if (!v || v.ndim() != 2) throw InvalidArgument(where + ".vectors: must be a 2-D array (points, dimension)");
        if (static_cast<size_t>(v.shape(0)) != b.ts.size()) {
            throw InvalidArgument(where + ".vectors: " + std::to_string(v.shape(0)) + " rows for " +
                                  std::to_string(b.ts.size()) + " points");
        }
        b.dim = static_cast<uint32_t>(v.shape(1));
        b.vec.assign(v.data(), v.data() + v.size());
    }
    if (d.contains("fields") && !d["fields"].is_none()) {
        for (auto f : d["fields"]) {
            if (!py::isinstance<py::str>(f)) throw InvalidArgument(where + ".fields: must hold strings");
            b.fields.push_back(f.cast<std::string>());
        }
    }
    return b;
}

int64_t bound(const std::optional<int64_t>& v, int64_t dflt) { return v ? *v : dflt; }

WindowSpec to_spec(const std::string& window_type, int64_t size, int64_t slide, int64_t gap, const std::string& agg,
                   double percentile, const std::string& interp) {
    WindowSpec w;
    w.kind = parse_window(window_type);
    w.size = size;
    w.slide = slide;
    w.gap = gap;
    w.agg = parse_agg(agg);
    if (agg == "median") percentile = 50.0;
    w.percentile = percentile;
    w.interp = parse_interp(interp);
    w.validate();
    return w;
}

py::dict windows_to_python(Windows&& w) {
    py::dict d;
    d["start"] = to_array(std::move(w.start));
    d["end"] = to_array(std::move(w.end));
    d["value"] = to_array(std::move(w.value));
    d["count"] = to_array(std::move(w.count));
    return d;
}

py::dict pairs_to_python(std::vector<JoinPair>&& pairs) {
    std::vector<int64_t> lts, rts, lid, rid;
    std::vector<double> lv, rv;
    py::list keys;
    for (const auto& p : pairs) {
        lts.push_back(p.left_ts);
        rts.push_back(p.right_ts);
        lv.push_back(p.left_value);
        rv.push_back(p.right_value);
        lid.push_back(p.left_id);
        rid.push_back(p.right_id);
        keys.append(py::str(p.key));
    }
    py::dict d;
    d["left_ts"] = to_array(std::move(lts));
    d["right_ts"] = to_array(std::move(rts));
    d["left_value"] = to_array(std::move(lv));
    d["right_value"] = to_array(std::move(rv));
    d["left_id"] = to_array(std::move(lid));
    d["right_id"] = to_array(std::move(rid));
    d["key"] = keys;
    return d;
}

class PyTSDB {
   public:
    PyTSDB(const std::string& path, const std::string& fsync, uint64_t snapshot_wal_bytes, size_t chunk_points) {
        DBOptions o;
        o.fsync = parse_fsync(fsync);
        o.snapshot_wal_bytes = snapshot_wal_bytes;
        o.chunk_points = chunk_points;
        py::gil_scoped_release r;
        db_ = Database::open(path, o);
    }
    Database& db() { return *db_; }

    py::dict write(const py::handle& batches, bool sync) {
        std::vector<SeriesWrite> ws;
        size_t i = 0;
        for (auto b : batches) ws.push_back(to_write(b, i++));
        WriteResult r;
        {
            py::gil_scoped_release rel;
            r = db_->write(std::move(ws), sync);
        }
        py::dict d;
        d["written"] = r.written;
        d["dropped"] = r.dropped;
        d["seq"] = r.seq;
        return d;
    }

    py::dict query(const std::string& metric, const std::string& filter, std::optional<int64_t> start,
                   std::optional<int64_t> end, size_t limit, bool vectors, bool fields) {
        QuerySpec q{metric, filter, bound(start, kMinTs), bound(end, kMaxTs), limit, vectors, fields};
        std::vector<SeriesPoints> res;
        bool truncated = false;
        {
            py::gil_scoped_release rel;
            res = db_->query(q, &truncated);
        }
        py::list out;
        for (auto& s : res) {
            py::dict d;
            d["metric"] = s.metric;
            d["tags"] = tags_to_python(s.tags);
            const size_t n = s.ts.size();
            d["timestamps"] = to_array(std::move(s.ts));
            d["values"] = to_array(std::move(s.val));
            if (vectors && !s.vec.empty()) {
                d["vectors"] = to_array(std::move(s.vec)).reshape({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(s.dim)});
            }
            if (fields) d["fields"] = s.fields;
            out.append(d);
        }
        py::dict r;
        r["series"] = out;
        r["truncated"] = truncated;
        return r;
    }

    py::list window_aggregate(const std::string& metric, const std::string& filter, std::optional<int64_t> start,
                              std::optional<int64_t> end, const std::string& window_type, int64_t size, int64_t slide,
                              int64_t gap, const std::string& agg, double percentile, const std::string& interp,
                              const std::vector<std::string>& group_by, size_t limit) {
        const WindowSpec w = to_spec(window_type, size, slide, gap, agg, percentile, interp);
        QuerySpec q{metric, filter, bound(start, kMinTs), bound(end, kMaxTs), limit, false, false};
        std::vector<GroupWindows> res;
        {
            py::gil_scoped_release rel;
            res = db_->window_aggregate(q, w, group_by);
        }
        py::list out;
        for (auto& g : res) {
            py::dict d = windows_to_python(std::move(g.windows));
            d["group"] = tags_to_python(g.group);
            d["series"] = g.series;
            out.append(d);
        }
        return out;
    }

    py::list list_series(const std::string& metric, const std::string& filter) {
        std::vector<SeriesInfo> res;
        {
            py::gil_scoped_release rel;
            res = db_->list_series(metric, filter);
        }
        py::list out;
        for (const auto& s : res) {
            py::dict d;
            d["metric"] = s.metric;
            d["tags"] = tags_to_python(s.tags);
            d["points"] = s.points;
            d["first_ts"] = s.first_ts;
            d["last_ts"] = s.last_ts;
            d["retention_ms"] = s.retention_ms;
            d["dim"] = s.dim;
            out.append(d);
        }
        return out;
    }

    py::dict stats() {
        const DBStats s = db_->stats();
        py::dict d;
        d["series"] = s.series;
        d["metrics"] = s.metrics;
        d["points"] = s.points;
        d["chunks"] = s.chunks;
        d["bytes"] = s.bytes;
        d["wal_bytes"] = s.wal_bytes;
        d["seq"] = s.seq;
        d["snapshot_seq"] = s.snapshot_seq;
        d["late_points"] = s.late_points;
        d["dropped_retention"] = s.dropped_retention;
        d["dropped_log_bytes"] = s.dropped_log_bytes;
        d["fsync"] = s.fsync;
        return d;
    }

   private:
    std::unique_ptr<Database> db_;
};

class PyJoin {
   public:
    PyJoin(int64_t window, int64_t delay) : join_(window, delay) {}

    static int side_of(const std::string& side) {
        if (side == "left") return 0;
        if (side == "right") return 1;
        throw InvalidArgument("side: must be 'left' or 'right', not '" + side + "'");
    }

    py::dict push_batch(const std::string& side, const py::handle& ts_obj, const std::vector<std::string>& keys,
                        const py::handle& values_obj, const py::handle& ids_obj) {
        const int s = side_of(side);
        const auto ts = to_timestamps(ts_obj, "timestamps");
        const auto values = to_doubles(values_obj, "values");
        std::vector<int64_t> ids;
        if (!ids_obj.is_none()) ids = to_timestamps(ids_obj, "ids");
        if (keys.size() != ts.size() || values.size() != ts.size() || (!ids.empty() && ids.size() != ts.size())) {
            throw InvalidArgument("keys: timestamps, keys, values (and ids) must have the same length");
        }
        std::vector<JoinPair> out;
        size_t late = 0;
        {
            py::gil_scoped_release rel;
            for (size_t i = 0; i < ts.size(); ++i) {
                if (!join_.push(s, ts[i], keys[i], values[i], ids.empty() ? static_cast<int64_t>(i) : ids[i], out)) ++late;
            }
        }
        py::dict d = pairs_to_python(std::move(out));
        d["late"] = late;
        return d;
    }

    // Events of both sides in arrival order under the caller's watermarks (one per event: the
    // watermark after it); returns the released pairs and the positions of the late events.
    py::dict push_events(const py::handle& sides_obj, const py::handle& ts_obj, const std::vector<std::string>& keys,
                         const py::handle& watermarks_obj, const py::handle& ids_obj) {
        const auto sides = to_timestamps(sides_obj, "sides");
        const auto ts = to_timestamps(ts_obj, "timestamps");
        const auto marks = to_timestamps(watermarks_obj, "watermarks");
        std::vector<int64_t> ids;
        if (!ids_obj.is_none()) ids = to_timestamps(ids_obj, "ids");
        if (sides.size() != ts.size() || keys.size() != ts.size() || marks.size() != ts.size() ||
            (!ids.empty() && ids.size() != ts.size())) {
            throw InvalidArgument("keys: sides, timestamps, keys, watermarks (and ids) must have the same length");
        }
        for (size_t i = 0; i < sides.size(); ++i) {
            if (sides[i] != 0 && sides[i] != 1) {
                throw InvalidArgument("sides[" + std::to_string(i) + "]: must be 0 (left) or 1 (right)");
            }
        }
        std::vector<JoinPair> out;
        std::vector<int64_t> late;
        {
            py::gil_scoped_release rel;
            for (size_t i = 0; i < ts.size(); ++i) {
                const int64_t id = ids.empty() ? static_cast<int64_t>(i) : ids[i];
                if (!join_.push_at(static_cast<int>(sides[i]), ts[i], keys[i], 0.0, id, marks[i], out)) {
                    late.push_back(static_cast<int64_t>(i));
                }
            }
        }
        py::dict d = pairs_to_python(std::move(out));
        d["late"] = late.size();
        d["late_index"] = to_array(std::move(late));
        return d;
    }

    py::dict flush() {
        std::vector<JoinPair> out;
        join_.flush(out);
        py::dict d = pairs_to_python(std::move(out));
        d["late"] = 0;
        return d;
    }

    StreamJoin& core() { return join_; }

   private:
    StreamJoin join_;
};

}  // namespace

void register_tsdb(py::module_& m) {
    py::class_<PyTSDB>(m, "TimeSeriesDB",
                       "A persistent time-series database in one directory (timestamps: int64 ms since the epoch).")
        .def(py::init<const std::string&, const std::string&, uint64_t, size_t>(), py::arg("path"),
             py::arg("fsync") = "group", py::arg("snapshot_wal_bytes") = 256ull << 20, py::arg("chunk_points") = 4096)
        .def("write", &PyTSDB::write, py::arg("series"), py::arg("sync") = true,
             "Write batches [{metric, tags, timestamps, values, vectors?, fields?}]; sync=True returns once durable.")
        .def("query", &PyTSDB::query, py::arg("metric") = "", py::arg("tag_filter") = "", py::arg("start") = py::none(),
             py::arg("end") = py::none(), py::arg("limit") = 0, py::arg("vectors") = false, py::arg("fields") = false)
        .def("window_aggregate", &PyTSDB::window_aggregate, py::arg("metric") = "", py::arg("tag_filter") = "",
             py::arg("start") = py::none(), py::arg("end") = py::none(), py::arg("window_type") = "tumbling",
             py::arg("window_size") = 0, py::arg("slide") = 0, py::arg("session_gap") = 0,
             py::arg("aggregation") = "avg", py::arg("percentile") = 50.0, py::arg("interpolation") = "none",
             py::arg("group_by") = std::vector<std::string>{}, py::arg("limit") = 0)
        .def("list_series", &PyTSDB::list_series, py::arg("metric") = "", py::arg("tag_filter") = "")
        .def("delete_points",
             [](PyTSDB& t, const std::string& metric, const std::string& filter, std::optional<int64_t> start,
                std::optional<int64_t> end, bool sync) {
                 py::gil_scoped_release r;
                 return t.db().delete_points(metric, filter, bound(start, kMinTs), bound(end, kMaxTs), sync);
             },
             py::arg("metric") = "", py::arg("tag_filter") = "", py::arg("start") = py::none(),
             py::arg("end") = py::none(), py::arg("sync") = true)
        .def("set_retention",
             [](PyTSDB& t, const std::string& metric, const std::string& filter, int64_t ms, bool sync) {
                 py::gil_scoped_release r;
                 return t.db().set_retention(metric, filter, ms, sync);
             },
             py::arg("metric") = "", py::arg("tag_filter") = "", py::arg("retention_ms") = 0, py::arg("sync") = true)
        .def("downsample",
             [](PyTSDB& t, const std::string& metric, const std::string& filter, std::optional<int64_t> start,
                std::optional<int64_t> end, int64_t size, const std::string& agg, const std::string& dest, bool sync) {
                 const WindowSpec w = to_spec("tumbling", size, 0, 0, agg, 50.0, "none");
                 QuerySpec q{metric, filter, bound(start, kMinTs), bound(end, kMaxTs), 0, false, false};
                 WriteResult r;
                 {
                     py::gil_scoped_release rel;
                     r = t.db().downsample(q, w, dest, sync);
                 }
                 return r.written;
             },
             py::arg("metric"), py::arg("tag_filter") = "", py::arg("start") = py::none(), py::arg("end") = py::none(),
             py::arg("window_size") = 60000, py::arg("aggregation") = "avg", py::arg("dest_metric") = "",
             py::arg("sync") = true)
        .def("reset", [](PyTSDB& t) { py::gil_scoped_release r; t.db().reset(); })
        .def("flush", [](PyTSDB& t) { py::gil_scoped_release r; t.db().flush(); })
        .def("snapshot", [](PyTSDB& t) { py::gil_scoped_release r; t.db().snapshot(); })
        .def("compact", [](PyTSDB& t) { py::gil_scoped_release r; t.db().compact(); })
        .def("close", [](PyTSDB& t) { py::gil_scoped_release r; t.db().close(); })
        .def("stats", &PyTSDB::stats)
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyTSDB& t, py::args) { py::gil_scoped_release r; t.db().close(); });

    m.def(
        "window_aggregate_arrays",
        [](const py::handle& ts_obj, const py::handle& values_obj, const std::string& window_type, int64_t size,
           int64_t slide, int64_t gap, const std::string& agg, double percentile, const std::string& interp,
           std::optional<int64_t> start, std::optional<int64_t> end, size_t limit) {
            const WindowSpec w = to_spec(window_type, size, slide, gap, agg, percentile, interp);
            auto ts = to_timestamps(ts_obj, "timestamps");
            auto val = to_doubles(values_obj, "values");
            if (ts.size() != val.size()) throw InvalidArgument("values: one value per timestamp");
            for (size_t i = 0; i < val.size(); ++i) {
                if (!std::isfinite(val[i])) throw InvalidArgument("values[" + std::to_string(i) + "]: NaN and infinities are not values");
            }
            Windows out;
            {
                py::gil_scoped_release rel;
                if (!std::is_sorted(ts.begin(), ts.end())) {
                    std::vector<size_t> order(ts.size());
                    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
                    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ts[a] < ts[b]; });
                    std::vector<int64_t> t2(ts.size());
                    std::vector<double> v2(ts.size());
                    for (size_t i = 0; i < order.size(); ++i) {
                        t2[i] = ts[order[i]];
                        v2[i] = val[order[i]];
                    }
                    ts.swap(t2);
                    val.swap(v2);
                }
                std::vector<Run> runs{Run{ts.data(), val.data(), ts.size()}};
                out = aggregate(runs, w, bound(start, kMinTs), bound(end, kMaxTs), limit);
            }
            return windows_to_python(std::move(out));
        },
        py::arg("timestamps"), py::arg("values"), py::arg("window_type") = "tumbling", py::arg("window_size") = 0,
        py::arg("slide") = 0, py::arg("session_gap") = 0, py::arg("aggregation") = "avg", py::arg("percentile") = 50.0,
        py::arg("interpolation") = "none", py::arg("start") = py::none(), py::arg("end") = py::none(),
        py::arg("limit") = 0, "Window aggregates over in-memory points (any order).");

    py::class_<PyJoin>(m, "StreamJoin", "Out-of-order stream join by key within a time window (watermarked).")
        .def(py::init<int64_t, int64_t>(), py::arg("window_size"), py::arg("max_delay") = 0)
        .def("push_batch", &PyJoin::push_batch, py::arg("side"), py::arg("timestamps"), py::arg("keys"),
             py::arg("values"), py::arg("ids") = py::none(),
             "Push events of one side; returns the released pairs as arrays (and how many were late).")
        .def("push_events", &PyJoin::push_events, py::arg("sides"), py::arg("timestamps"), py::arg("keys"),
             py::arg("watermarks"), py::arg("ids") = py::none(),
             "Push events of both sides (0 left, 1 right) in arrival order under the caller's watermarks "
             "(the watermark after each event; the timestamps do not move it); returns the released "
             "pairs and late_index, the positions of the late (dropped) events.")
        .def("flush", &PyJoin::flush, "Release every pending pair (end of stream).")
        .def_property_readonly("watermark", [](PyJoin& j) -> py::object {
            const int64_t w = j.core().watermark();
            if (w == kMinTs) return py::none();
            return py::int_(w);
        })
        .def_property_readonly("late", [](PyJoin& j) { return j.core().late(); })
        .def_property_readonly("emitted", [](PyJoin& j) { return j.core().emitted(); })
        .def_property_readonly("buffered", [](PyJoin& j) { return j.core().buffered(); })
        .def_property_readonly("pending", [](PyJoin& j) { return j.core().pending(); });
}
