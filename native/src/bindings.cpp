// pybind11 surface of the core: converts Python values to the core's types (filters stay
// dicts until the core parses them), releases the GIL around work, and maps error kinds
// to distinct Python exceptions. No behaviour lives here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <faiss/Index.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "collection.h"
#include "distances.h"
#include "errors.h"
#include "flow_bindings.h"
#include "tsdb_bindings.h"
#include "search_executor.h"

namespace py = pybind11;
using namespace sage;

namespace {

// Filters and metadata nest at most this many dicts and lists (the VDB service documents the
// same bound for where / where_document): deeper input is refused, never recursed into.
constexpr int kMaxValueDepth = 32;

Value to_value(const py::handle& obj, const std::string& where, int depth = 0) {
    if (obj.is_none()) return Value{};
    const bool nested = py::isinstance<py::dict>(obj) || py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj);
    if (nested && ++depth > kMaxValueDepth) {
        throw InvalidArgument(where + ": nested more than " + std::to_string(kMaxValueDepth) + " levels deep");
    }
    if (py::isinstance<py::bool_>(obj)) return Value::of_bool(obj.cast<bool>());
    if (py::isinstance<py::int_>(obj)) {
        try {
            return Value::of_int(obj.cast<int64_t>());
        } catch (const py::cast_error&) {
            throw InvalidArgument(where + ": integer does not fit in 64 bits");
        }
    }
    if (py::isinstance<py::float_>(obj)) return Value::of_double(obj.cast<double>());
    if (py::isinstance<py::str>(obj)) return Value::of_string(obj.cast<std::string>());
    if (py::isinstance<py::dict>(obj)) {
        std::vector<std::pair<std::string, Value>> items;
        for (auto item : obj.cast<py::dict>()) {
            if (!py::isinstance<py::str>(item.first)) throw InvalidArgument(where + ": dict keys must be strings");
            const auto key = item.first.cast<std::string>();
            items.emplace_back(key, to_value(item.second, where + "." + key, depth));
        }
        return Value::of_map(std::move(items));
    }
    if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj)) {
        std::vector<Value> items;
        for (auto e : obj) items.push_back(to_value(e, where, depth));
        return Value::of_list(std::move(items));
    }
    // numpy scalars and other numbers
    if (py::hasattr(obj, "dtype") && py::hasattr(obj, "item")) return to_value(obj.attr("item")(), where, depth);
    throw InvalidArgument(where + ": unsupported value of type " + std::string(Py_TYPE(obj.ptr())->tp_name));
}

py::object to_python(const Value& v) {
    switch (v.kind) {
        case Value::Kind::Null: return py::none();
        case Value::Kind::Bool: return py::bool_(v.b);
        case Value::Kind::Int: return py::int_(v.i);
        case Value::Kind::Double: return py::float_(v.d);
        case Value::Kind::String: return py::str(v.s);
        case Value::Kind::List: {
            py::list l;
            for (const Value& e : v.list) l.append(to_python(e));
            return l;
        }
        case Value::Kind::Map: {
            py::dict d;
            for (const auto& [k, e] : v.map) d[py::str(k)] = to_python(e);
            return d;
        }
    }
    return py::none();
}

py::dict metadata_to_python(const Metadata& m) {
    py::dict d;
    for (const auto& [k, v] : m) d[py::str(k)] = to_python(v);
    return d;
}

std::vector<std::string> to_strings(const py::handle& obj, const char* what) {
    if (py::isinstance<py::str>(obj)) {
        throw InvalidArgument(std::string(what) + " must be a list of strings, not a single string");
    }
    std::vector<std::string> out;
    for (auto e : obj) {
        if (!py::isinstance<py::str>(e)) {
            throw InvalidArgument(std::string(what) + " must hold strings, found " +
                                  std::string(Py_TYPE(e.ptr())->tp_name));
        }
        out.push_back(e.cast<std::string>());
    }
    return out;
}

// A (n, dim) float32 view: zero-copy for C-contiguous float32 input, otherwise converted once.
struct Matrix {
    py::array_t<float, py::array::c_style> array;
    const float* data = nullptr;
    size_t rows = 0;
};

Matrix as_matrix(const py::handle& obj, size_t dim, const char* what) {
    Matrix m;
    py::array arr;
    try {
        arr = py::array::ensure(obj);
    } catch (...) {
    }
    if (!arr) throw InvalidArgument(std::string(what) + " must be a 2-D float32 array of shape (n, " + std::to_string(dim) + ")");
    const bool zero_copy = arr.dtype().is(py::dtype::of<float>()) &&
                           (arr.flags() & py::array::c_style) == py::array::c_style;
    if (!zero_copy) {
        if (arr.dtype().kind() != 'f' && arr.dtype().kind() != 'i' && arr.dtype().kind() != 'u') {
            throw InvalidArgument(std::string(what) + " must hold numbers; got dtype " + std::string(py::str(arr.dtype())));
        }
    }
    m.array = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(arr);
    if (m.array.ndim() == 1) {
        if (static_cast<size_t>(m.array.shape(0)) != dim) {
            throw InvalidArgument(std::string(what) + " has dimension " + std::to_string(m.array.shape(0)) +
                                  " but the collection's dim is " + std::to_string(dim));
        }
        m.rows = 1;
    } else if (m.array.ndim() == 2) {
        if (static_cast<size_t>(m.array.shape(1)) != dim) {
            throw InvalidArgument(std::string(what) + " have dimension " + std::to_string(m.array.shape(1)) +
                                  " but the collection's dim is " + std::to_string(dim));
        }
        m.rows = static_cast<size_t>(m.array.shape(0));
    } else {
        throw InvalidArgument(std::string(what) + " must be 1-D or 2-D, got " + std::to_string(m.array.ndim()) + "-D");
    }
    m.data = m.array.data();
    return m;
}

Include parse_include(const py::handle& obj, bool allow_vectors) {
    Include inc;
    for (const auto& name : to_strings(obj, "include")) {
        if (name == "metadatas") inc.metadatas = true;
        else if (name == "documents") inc.documents = true;
        else if (name == "vectors" && allow_vectors) inc.vectors = true;
        else {
            throw InvalidArgument("include: unknown field '" + name + "'; use " +
                                  (allow_vectors ? "'metadatas', 'documents', 'vectors'" : "'metadatas', 'documents'"));
        }
    }
    return inc;
}

// Holds converted filters for the duration of a call.
struct FilterArgs {
    std::optional<Value> where, where_document;
    FilterArgs(const py::object& w, const py::object& wd) {
        if (!w.is_none()) {
            if (!py::isinstance<py::dict>(w)) throw InvalidArgument("where must be a dict");
            where = to_value(w, "where");
        }
        if (!wd.is_none()) {
            if (!py::isinstance<py::dict>(wd)) throw InvalidArgument("where_document must be a dict");
            where_document = to_value(wd, "where_document");
        }
    }
    Filters get() const { return {where ? &*where : nullptr, where_document ? &*where_document : nullptr}; }
};

IndexSpec parse_index(const py::object& obj) {
    IndexSpec spec;
    Value v = py::isinstance<py::str>(obj) ? Value::of_map({{"type", Value::of_string(obj.cast<std::string>())}})
                                            : to_value(obj, "index");
    if (v.kind != Value::Kind::Map) throw InvalidArgument("index must be a dict like {'type': 'hnsw', 'M': 16}");
    std::string type;
    for (const auto& [k, e] : v.map) {
        if (k == "type") {
            if (e.kind != Value::Kind::String) throw InvalidArgument("index type must be a string");
            type = e.s;
        }
    }
    if (type == "flat") spec.type = IndexSpec::Type::Flat;
    else if (type == "hnsw") spec.type = IndexSpec::Type::HNSW;
    else if (type == "ivf") spec.type = IndexSpec::Type::IVF;
    else throw InvalidArgument("unknown index type '" + type + "'; use 'flat', 'hnsw' or 'ivf'");
    bool nprobe_given = false;
    for (const auto& [k, e] : v.map) {
        if (k == "type") continue;
        auto as_int = [&, key = k, val = e]() -> int64_t {
            if (val.kind != Value::Kind::Int) throw InvalidArgument("index " + key + " must be an integer");
            return val.i;
        };
        // Checked before narrowing: 2^32 + 16 must not become 16.
        auto as_int32 = [&, key = k]() -> int {
            const int64_t v = as_int();
            if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
                throw InvalidArgument("index " + key + " is out of range, got " + std::to_string(v));
            }
            return static_cast<int>(v);
        };
        if (spec.type == IndexSpec::Type::HNSW && k == "M") spec.M = as_int32();
        else if (spec.type == IndexSpec::Type::HNSW && k == "ef_construction") spec.ef_construction = as_int32();
        else if (spec.type == IndexSpec::Type::HNSW && k == "ef_search") spec.ef_search = as_int32();
        else if (spec.type == IndexSpec::Type::IVF && k == "nlist") spec.nlist = as_int32();
        else if (spec.type == IndexSpec::Type::IVF && k == "nprobe") {
            spec.nprobe = as_int32();
            nprobe_given = true;
        } else if (spec.type == IndexSpec::Type::IVF && k == "train_min") {
            spec.train_min = as_int();
        } else {
            throw InvalidArgument("index option '" + k + "' is not valid for type '" + type +
                                  "' (hnsw: M, ef_construction, ef_search; ivf: nlist, nprobe, train_min)");
        }
    }
    if (spec.type == IndexSpec::Type::IVF && !nprobe_given) spec.nprobe = default_nprobe(spec.nlist);
    spec.validate();
    return spec;
}

py::dict index_to_python(const IndexSpec& s) {
    py::dict d;
    d["type"] = index_type_name(s.type);
    if (s.type == IndexSpec::Type::HNSW) {
        d["M"] = s.M;
        d["ef_construction"] = s.ef_construction;
        d["ef_search"] = s.ef_search;
    } else if (s.type == IndexSpec::Type::IVF) {
        d["nlist"] = s.nlist;
        d["nprobe"] = s.nprobe;
        d["train_min"] = s.train_threshold();
    }
    return d;
}

py::dict hits_to_python(const Hits& h, Include inc) {
    py::list ids, metas, docs;
    for (size_t q = 0; q < h.nq; ++q) {
        py::list row_ids, row_metas, row_docs;
        for (size_t j = 0; j < h.k; ++j) {
            const size_t i = q * h.k + j;
            if (h.slots[i] < 0) break;
            row_ids.append(py::str(h.ids[i]));
            if (inc.metadatas) row_metas.append(metadata_to_python(h.metadatas[i]));
            if (inc.documents) row_docs.append(h.documents[i] ? py::object(py::str(*h.documents[i])) : py::none());
        }
        ids.append(row_ids);
        if (inc.metadatas) metas.append(row_metas);
        if (inc.documents) docs.append(row_docs);
    }
    py::array_t<float> scores({h.nq, h.k});
    std::copy(h.scores.begin(), h.scores.end(), scores.mutable_data());
    py::dict out;
    out["ids"] = ids;
    out["scores"] = scores;
    if (inc.metadatas) out["metadatas"] = metas;
    if (inc.documents) out["documents"] = docs;
    return out;
}

class PyCollection {
   public:
    explicit PyCollection(std::unique_ptr<Collection> c) : c_(std::move(c)) {}

    static PyCollection create(const std::string& path, int64_t dim, const std::string& metric,
                               const py::object& index, const std::string& fsync) {
        if (dim <= 0) throw InvalidArgument("dim must be a positive integer, got " + std::to_string(dim));
        CollectionOptions o;
        o.dim = static_cast<size_t>(dim);
        o.metric = parse_metric(metric);
        o.index = parse_index(index);
        o.fsync = parse_fsync(fsync);
        py::gil_scoped_release release;
        return PyCollection(Collection::create(path, o));
    }

    static PyCollection open(const std::string& path) {
        py::gil_scoped_release release;
        return PyCollection(Collection::open(path));
    }

    // `wait`: apply now, waiting for other writers; otherwise only if that needs no waiting and
    // nothing long (see Collection::try_upsert), keeping the GIL: returns whether it was applied.
    bool upsert(const py::object& ids_obj, const py::object& vectors, const py::object& metadatas,
                const py::object& documents, bool wait) {
        const auto ids = to_strings(ids_obj, "ids");
        const Matrix m = as_matrix(vectors, c_->dim(), "vectors");
        std::optional<std::vector<Metadata>> metas;
        if (!metadatas.is_none()) {
            metas.emplace();
            size_t i = 0;
            for (auto md : metadatas) {
                const std::string rid = i < ids.size() ? ids[i] : std::to_string(i);
                if (md.is_none()) {
                    metas->emplace_back();
                } else if (!py::isinstance<py::dict>(md)) {
                    throw InvalidArgument("metadata of record '" + rid + "' must be a dict or None");
                } else {
                    Value v = to_value(md, "metadatas[" + std::to_string(i) + "]");
                    metas->push_back(std::move(v.map));
                }
                ++i;
            }
        }
        std::optional<std::vector<std::optional<std::string>>> docs;
        if (!documents.is_none()) {
            if (py::isinstance<py::str>(documents)) throw InvalidArgument("documents must be a list of strings, not one string");
            docs.emplace();
            for (auto d : documents) {
                if (d.is_none()) docs->emplace_back();
                else if (py::isinstance<py::str>(d)) docs->emplace_back(d.cast<std::string>());
                else throw InvalidArgument("documents must hold strings or None");
            }
        }
        const auto* metas_p = metas ? &*metas : nullptr;
        const auto* docs_p = docs ? &*docs : nullptr;
        if (!wait) return c_->try_upsert(ids, m.data, m.rows, metas_p, docs_p);
        py::gil_scoped_release release;
        c_->upsert(ids, m.data, m.rows, metas_p, docs_p);
        return true;
    }

    py::dict get(const py::object& ids_obj, const py::object& where, const py::object& where_document,
                 const py::object& include_obj) {
        std::optional<std::vector<std::string>> ids;
        if (!ids_obj.is_none()) ids = to_strings(ids_obj, "ids");
        const FilterArgs f(where, where_document);
        const Include inc = parse_include(include_obj, true);
        Records r;
        {
            py::gil_scoped_release release;
            r = c_->get(ids ? &*ids : nullptr, f.get(), inc);
        }
        py::dict out;
        py::list out_ids;
        for (const auto& id : r.ids) out_ids.append(py::str(id));
        out["ids"] = out_ids;
        if (inc.vectors) {
            py::array_t<float> v({r.ids.size(), c_->dim()});
            std::copy(r.vectors.begin(), r.vectors.end(), v.mutable_data());
            out["vectors"] = v;
        }
        if (inc.metadatas) {
            py::list l;
            for (const auto& m : r.metadatas) l.append(metadata_to_python(m));
            out["metadatas"] = l;
        }
        if (inc.documents) {
            py::list l;
            for (const auto& d : r.documents) l.append(d ? py::object(py::str(*d)) : py::none());
            out["documents"] = l;
        }
        return out;
    }

    size_t remove(const py::object& ids_obj, const py::object& where, const py::object& where_document) {
        std::optional<std::vector<std::string>> ids;
        if (!ids_obj.is_none()) ids = to_strings(ids_obj, "ids");
        const FilterArgs f(where, where_document);
        py::gil_scoped_release release;
        return c_->remove(ids ? &*ids : nullptr, f.get());
    }

    py::dict search(const py::object& queries, int64_t k, const py::object& where, const py::object& where_document,
                    const py::object& include_obj) {
        const Matrix m = as_matrix(queries, c_->dim(), "queries");
        const FilterArgs f(where, where_document);
        const Include inc = parse_include(include_obj, false);
        if (k <= 0) throw InvalidArgument("k must be >= 1, got " + std::to_string(k));
        Hits h;
        {
            py::gil_scoped_release release;
            h = c_->search(m.data, m.rows, static_cast<size_t>(k), f.get(), inc);
        }
        return hits_to_python(h, inc);
    }

    py::dict search_text(const py::object& texts, int64_t k, const py::object& where, const py::object& where_document,
                         const py::object& include_obj) {
        const auto qs = py::isinstance<py::str>(texts) ? std::vector<std::string>{texts.cast<std::string>()}
                                                        : to_strings(texts, "query_texts");
        const FilterArgs f(where, where_document);
        const Include inc = parse_include(include_obj, false);
        if (k <= 0) throw InvalidArgument("k must be >= 1, got " + std::to_string(k));
        Hits h;
        {
            py::gil_scoped_release release;
            h = c_->search_text(qs, static_cast<size_t>(k), f.get(), inc);
        }
        return hits_to_python(h, inc);
    }

    py::dict hybrid_search(const py::object& queries, const py::object& texts, int64_t k, const std::string& fusion,
                           double alpha, const py::object& where, const py::object& where_document,
                           const py::object& include_obj) {
        const Matrix m = as_matrix(queries, c_->dim(), "queries");
        const auto qs = py::isinstance<py::str>(texts) ? std::vector<std::string>{texts.cast<std::string>()}
                                                        : to_strings(texts, "query_texts");
        const FilterArgs f(where, where_document);
        const Include inc = parse_include(include_obj, false);
        const Fusion fu = parse_fusion(fusion);
        if (k <= 0) throw InvalidArgument("k must be >= 1, got " + std::to_string(k));
        Hits h;
        {
            py::gil_scoped_release release;
            h = c_->hybrid_search(m.data, m.rows, qs, static_cast<size_t>(k), fu, static_cast<float>(alpha), f.get(), inc);
        }
        return hits_to_python(h, inc);
    }

    Collection& core() { return *c_; }
    // Shared with searches in flight on a SearchExecutor, which may outlive this object.
    std::shared_ptr<const Collection> shared() const { return c_; }

   private:
    std::shared_ptr<Collection> c_;
};

}  // namespace

py::object exception_object(const std::exception_ptr& error) {
    const auto make = [](PyObject* type, const char* what) {
        return py::reinterpret_borrow<py::object>(type)(what);
    };
    try {
        std::rethrow_exception(error);
    } catch (const InvalidArgument& e) {
        return make(PyExc_ValueError, e.what());
    } catch (const NotFound& e) {
        return make(PyExc_FileNotFoundError, e.what());
    } catch (const IoError& e) {
        return make(PyExc_OSError, e.what());
    } catch (const std::exception& e) {
        return make(PyExc_RuntimeError, e.what());
    } catch (...) {
        return make(PyExc_RuntimeError, "unknown error in a native search");
    }
}

class PySearchExecutor {
   public:
    explicit PySearchExecutor(int64_t threads) {
        if (threads <= 0) throw InvalidArgument("threads must be >= 1, got " + std::to_string(threads));
        ex_ = std::make_unique<SearchExecutor>(static_cast<size_t>(threads));
    }

    uint64_t submit(const PyCollection& col, const py::object& queries, int64_t k, const py::object& where,
                    const py::object& where_document, const py::object& include_obj) {
        const auto core = col.shared();
        const Matrix m = as_matrix(queries, core->dim(), "queries");
        FilterArgs f(where, where_document);
        if (k <= 0) throw InvalidArgument("k must be >= 1, got " + std::to_string(k));
        SearchExecutor::Task task;
        task.collection = core;
        task.queries.assign(m.data, m.data + m.rows * core->dim());
        task.nq = m.rows;
        task.k = static_cast<size_t>(k);
        task.where = std::move(f.where);
        task.where_document = std::move(f.where_document);
        task.include = parse_include(include_obj, false);
        return executor().submit(std::move(task));
    }

    // [(ticket, hits dict | exception), ...] of the searches finished since the last call.
    py::list collect() {
        std::vector<SearchExecutor::Done> done;
        {
            py::gil_scoped_release release;
            done = executor().collect();
        }
        py::list out;
        for (const auto& d : done) {
            out.append(py::make_tuple(d.ticket, d.error ? exception_object(d.error) : py::object(hits_to_python(d.hits, d.include))));
        }
        return out;
    }

    int fd() { return executor().fd(); }
    size_t threads() { return executor().threads(); }

    void shutdown() {
        py::gil_scoped_release release;  // the workers finish what is queued; none needs the GIL
        ex_.reset();
    }

   private:
    SearchExecutor& executor() {
        if (!ex_) throw InvalidArgument("the search executor is shut down");
        return *ex_;
    }
    std::unique_ptr<SearchExecutor> ex_;
};

PYBIND11_MODULE(sage_native, m) {
    m.doc() = "SAGE vector-store core: FAISS collections with filters, BM25 and a write-ahead log";
    m.attr("__version__") = "0.1.0";
    m.attr("faiss_version") = std::to_string(FAISS_VERSION_MAJOR) + "." + std::to_string(FAISS_VERSION_MINOR) +
                              "." + std::to_string(FAISS_VERSION_PATCH);

    m.attr("simd") = kernel_isa();  // distance kernels chosen for this CPU
    register_flow(m);  // sage_native.flow: vector-stream joins and aggregates (flow_bindings.cpp)
    register_tsdb(m);  // TimeSeriesDB, StreamJoin, window_aggregate_arrays (tsdb_bindings.cpp)

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const InvalidArgument& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        } catch (const NotFound& e) {
            PyErr_SetString(PyExc_FileNotFoundError, e.what());
        } catch (const AlreadyExists& e) {
            PyErr_SetString(PyExc_FileExistsError, e.what());
        } catch (const IoError& e) {
            PyErr_SetString(PyExc_OSError, e.what());
        }
    });

    const py::tuple default_include = py::make_tuple("metadatas", "documents");
    py::dict default_index;
    default_index["type"] = "hnsw";
    default_index["M"] = kDefaultM;
    default_index["ef_construction"] = kDefaultEfConstruction;
    default_index["ef_search"] = kDefaultEfSearch;

    py::class_<PySearchExecutor>(m, "SearchExecutor",
                                 "Searches on native threads; fd() turns readable when collect() has results.")
        .def(py::init<int64_t>(), py::arg("threads"))
        .def("submit", &PySearchExecutor::submit, py::arg("collection"), py::arg("queries"), py::arg("k") = 10,
             py::arg("where") = py::none(), py::arg("where_document") = py::none(),
             py::arg("include") = py::make_tuple("metadatas", "documents"),
             "Queue a search; returns its ticket. Input that cannot be read raises here, the rest on collect().")
        .def("collect", &PySearchExecutor::collect)
        .def("fd", &PySearchExecutor::fd)
        .def_property_readonly("threads", &PySearchExecutor::threads)
        .def("shutdown", &PySearchExecutor::shutdown, "Finish the queued searches and stop the threads.");

    py::class_<PyCollection>(m, "Collection")
        .def_static("create", &PyCollection::create, py::arg("path"), py::arg("dim"), py::arg("metric") = "cosine",
                    py::arg("index") = default_index, py::arg("fsync") = "always",
                    "Create a collection in a new (or empty) directory.")
        .def_static("open", &PyCollection::open, py::arg("path"), "Open an existing collection.")
        .def("upsert", &PyCollection::upsert, py::arg("ids"), py::arg("vectors"), py::arg("metadatas") = py::none(),
             py::arg("documents") = py::none(), py::kw_only(), py::arg("wait") = true,
             "Insert or replace records (vector + metadata + document). With wait=False the write is applied only "
             "if that needs no waiting and nothing long; returns whether it was applied.")
        .def("get", &PyCollection::get, py::arg("ids") = py::none(), py::arg("where") = py::none(),
             py::arg("where_document") = py::none(), py::arg("include") = default_include)
        .def("delete", &PyCollection::remove, py::arg("ids") = py::none(), py::arg("where") = py::none(),
             py::arg("where_document") = py::none(), "Delete by ids and/or filter; returns how many were deleted.")
        .def("count", [](PyCollection& c) { return c.core().count(); })
        .def("search", &PyCollection::search, py::arg("queries"), py::arg("k") = 10, py::arg("where") = py::none(),
             py::arg("where_document") = py::none(), py::arg("include") = default_include)
        .def("search_text", &PyCollection::search_text, py::arg("query_texts"), py::arg("k") = 10,
             py::arg("where") = py::none(), py::arg("where_document") = py::none(),
             py::arg("include") = default_include)
        .def("hybrid_search", &PyCollection::hybrid_search, py::arg("queries"), py::arg("query_texts"),
             py::arg("k") = 10, py::arg("fusion") = "rrf", py::arg("alpha") = 0.5, py::arg("where") = py::none(),
             py::arg("where_document") = py::none(), py::arg("include") = default_include)
        .def("flush", [](PyCollection& c) { py::gil_scoped_release r; c.core().flush(); })
        .def("snapshot", [](PyCollection& c) { py::gil_scoped_release r; c.core().snapshot(); })
        .def("compact", [](PyCollection& c) { py::gil_scoped_release r; c.core().compact(); })
        .def("close", [](PyCollection& c) { py::gil_scoped_release r; c.core().close(); })
        .def("stats", [](PyCollection& c) { return metadata_to_python(c.core().stats()); })
        .def_property_readonly("dim", [](PyCollection& c) { return c.core().dim(); })
        .def_property_readonly("metric", [](PyCollection& c) { return std::string(metric_name(c.core().metric())); })
        .def_property_readonly("index", [](PyCollection& c) { return index_to_python(c.core().options().index); })
        .def_property_readonly("fsync", [](PyCollection& c) { return std::string(fsync_name(c.core().options().fsync)); })
        .def("__len__", [](PyCollection& c) { return c.core().count(); })
        .def("__enter__", [](py::object self) { return self; })
        .def("__exit__", [](PyCollection& c, py::args) {
            py::gil_scoped_release r;
            c.core().close();
        });
}
