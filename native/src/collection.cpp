#include "collection.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include "codec.h"
#include "errors.h"

namespace sage {

namespace fs = std::filesystem;

namespace {

constexpr const char* kConfigFile = "collection.cfg";
constexpr const char* kLogFile = "wal.log";
constexpr const char* kLockFile = "LOCK";
constexpr const char* kSnapshotDir = "snapshot";
constexpr const char* kSnapshotTmp = "snapshot.tmp";
constexpr const char* kSnapshotOld = "snapshot.old";
constexpr const char* kStateFile = "state.bin";
constexpr const char* kIndexFile = "index.faiss";
constexpr uint8_t kOpUpsert = 1;
constexpr uint8_t kOpRemove = 2;
constexpr uint32_t kStateVersion = 1;
constexpr int kRrfK = 60;

void fsync_path(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError("cannot open " + p.string() + ": " + std::strerror(errno));
    ::fsync(fd);
    ::close(fd);
}

void write_file_durably(const fs::path& p, const std::string& content) {
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!out) throw IoError("cannot write " + p.string());
    }
    fsync_path(p);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw IoError("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string encode_config(const CollectionOptions& o) {
    std::ostringstream s;
    s << "version=1\n"
      << "dim=" << o.dim << "\n"
      << "metric=" << metric_name(o.metric) << "\n"
      << "index=" << index_type_name(o.index.type) << "\n"
      << "M=" << o.index.M << "\n"
      << "ef_construction=" << o.index.ef_construction << "\n"
      << "ef_search=" << o.index.ef_search << "\n"
      << "nlist=" << o.index.nlist << "\n"
      << "nprobe=" << o.index.nprobe << "\n"
      << "train_min=" << o.index.train_min << "\n"
      << "fsync=" << fsync_name(o.fsync) << "\n"
      << "snapshot_wal_bytes=" << o.snapshot_wal_bytes << "\n";
    return s.str();
}

CollectionOptions decode_config(const std::string& text, const std::string& path) {
    std::unordered_map<std::string, std::string> kv;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    auto need = [&](const char* key) -> const std::string& {
        auto it = kv.find(key);
        if (it == kv.end()) throw IoError("collection config " + path + " lacks '" + key + "'");
        return it->second;
    };
    CollectionOptions o;
    o.dim = std::stoul(need("dim"));
    o.metric = parse_metric(need("metric"));
    const std::string& type = need("index");
    o.index.type = type == "flat" ? IndexSpec::Type::Flat : type == "hnsw" ? IndexSpec::Type::HNSW : IndexSpec::Type::IVF;
    o.index.M = std::stoi(need("M"));
    o.index.ef_construction = std::stoi(need("ef_construction"));
    o.index.ef_search = std::stoi(need("ef_search"));
    o.index.nlist = std::stoi(need("nlist"));
    o.index.nprobe = std::stoi(need("nprobe"));
    o.index.train_min = std::stoll(need("train_min"));
    o.fsync = parse_fsync(need("fsync"));
    o.snapshot_wal_bytes = std::stoull(need("snapshot_wal_bytes"));
    return o;
}

void encode_bitmap(Encoder& e, const Bitmap& b) {
    e.u64(b.size());
    e.raw(b.words().data(), b.words().size() * sizeof(uint64_t));
}

Bitmap decode_bitmap(Decoder& d) {
    Bitmap b(d.u64());
    d.raw(b.words().data(), b.words().size() * sizeof(uint64_t));
    return b;
}

}  // namespace

Fusion parse_fusion(const std::string& name) {
    if (name == "rrf") return Fusion::RRF;
    if (name == "weighted") return Fusion::Weighted;
    throw InvalidArgument("unknown fusion '" + name + "'; use 'rrf' or 'weighted'");
}

Collection::Collection(std::string path, CollectionOptions options)
    : path_(std::move(path)), options_(options), vectors_(options.dim, options.metric, options.index) {}

Collection::~Collection() {
    try {
        close();
    } catch (...) {
        // Destructors must not throw; close() already made the log durable where it could.
    }
}

std::unique_ptr<Collection> Collection::create(const std::string& path, const CollectionOptions& options) {
    if (options.dim == 0) throw InvalidArgument("dim must be a positive integer");
    options.index.validate_for_dim(options.dim);
    const fs::path dir(path);
    std::error_code ec;
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
        throw AlreadyExists("cannot create collection: " + path +
                            " already exists; open it with Collection.open or pick another path");
    }
    fs::create_directories(dir, ec);
    if (ec) throw IoError("cannot create directory " + path + ": " + ec.message());
    write_file_durably(dir / kConfigFile, encode_config(options));
    fsync_path(dir);
    return open(path);
}

std::unique_ptr<Collection> Collection::open(const std::string& path) {
    const fs::path dir(path);
    std::error_code ec;
    if (!fs::exists(dir / kConfigFile, ec)) {
        throw NotFound("no collection at " + path + " (missing " + kConfigFile +
                       "); create one with Collection.create");
    }
    const CollectionOptions options = decode_config(read_file(dir / kConfigFile), path);
    std::unique_ptr<Collection> c(new Collection(path, options));
    c->lock_fd_ = ::open((dir / kLockFile).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->lock_fd_ < 0 || ::flock(c->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
        throw IoError("collection " + path + " is already open in another Collection or process");
    }
    c->load_snapshot();
    c->replay_log();
    c->vectors_.index_pending(std::numeric_limits<size_t>::max());  // open means fully indexed
    c->wal_ = std::make_unique<WriteAheadLog>((dir / kLogFile).string(), options.fsync);
    if (options.index.type == IndexSpec::Type::HNSW) {
        c->indexer_running_ = true;
        c->indexer_ = std::thread([p = c.get()] { p->index_in_background(); });
    }
    return c;
}

namespace {

// Writes of up to this many vectors return before their HNSW insertion (searches scan them
// exactly meanwhile); a larger backlog is inserted by the write itself. The indexer inserts
// this many per hold of the state lock, so a search waits for at most that much work.
constexpr size_t kDeferRows = 256;
constexpr size_t kIndexerChunk = 4;

}  // namespace

bool Collection::indexer_running() {
    std::lock_guard<std::mutex> lock(indexer_mu_);
    return indexer_running_;
}

void Collection::index_or_defer() {
    if (vectors_.pending() == 0) return;
    {
        std::lock_guard<std::mutex> lock(indexer_mu_);
        if (indexer_running_ && vectors_.pending() <= kDeferRows) {
            indexer_wanted_ = true;
            indexer_wake_.notify_one();
            return;
        }
    }
    vectors_.index_pending(std::numeric_limits<size_t>::max());
}

void Collection::index_in_background() {
    std::unique_lock<std::mutex> lock(indexer_mu_);
    for (;;) {
        indexer_wake_.wait(lock, [this] { return indexer_stop_ || indexer_wanted_; });
        if (indexer_stop_) return;
        indexer_wanted_ = false;
        lock.unlock();
        for (;;) {
            std::unique_lock<std::shared_mutex> state(state_mu_);
            if (closed_ || vectors_.pending() == 0) break;
            vectors_.index_pending(kIndexerChunk);
        }
        lock.lock();
    }
}

void Collection::stop_indexer() {
    {
        std::lock_guard<std::mutex> lock(indexer_mu_);
        indexer_stop_ = true;
        indexer_running_ = false;
    }
    indexer_wake_.notify_all();
    if (indexer_.joinable()) indexer_.join();
}

void Collection::check_open() const {
    if (closed_) throw InvalidArgument("the collection at " + path_ + " is closed; open it again");
}

// ---- writes -------------------------------------------------------------------------------

void Collection::check_upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                              const std::vector<Metadata>* metadatas,
                              const std::vector<std::optional<std::string>>* documents) const {
    if (ids.size() != n) {
        throw InvalidArgument("upsert got " + std::to_string(ids.size()) + " ids but " + std::to_string(n) +
                              " vectors; pass one vector per id");
    }
    if (metadatas && metadatas->size() != n) {
        throw InvalidArgument("upsert got " + std::to_string(metadatas->size()) + " metadatas for " +
                              std::to_string(n) + " ids");
    }
    if (documents && documents->size() != n) {
        throw InvalidArgument("upsert got " + std::to_string(documents->size()) + " documents for " +
                              std::to_string(n) + " ids");
    }
    const size_t d = options_.dim;
    for (size_t i = 0; i < n; ++i) {
        if (ids[i].empty()) throw InvalidArgument("upsert: id at position " + std::to_string(i) + " is empty");
        for (size_t j = 0; j < d; ++j) {
            if (!std::isfinite(vectors[i * d + j])) {
                throw InvalidArgument("upsert: vector for id '" + ids[i] + "' has a NaN or infinite value at index " +
                                      std::to_string(j));
            }
        }
        if (options_.metric == Metric::Cosine) {
            float norm = 0;
            for (size_t j = 0; j < d; ++j) norm += vectors[i * d + j] * vectors[i * d + j];
            if (norm == 0) {
                throw InvalidArgument("upsert: vector for id '" + ids[i] + "' is all zeros; cosine needs a direction");
            }
        }
    }
}

// Caller holds write_mu_ and has checked the input.
std::string Collection::encode_upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                                      const std::vector<Metadata>* metadatas,
                                      const std::vector<std::optional<std::string>>* documents) const {
    if (metadatas) {
        std::unordered_map<std::string, FieldType> batch_types;
        for (size_t i = 0; i < n; ++i) meta_.validate((*metadatas)[i], ids[i], batch_types);
    }
    Encoder e;
    e.u8(kOpUpsert);
    e.u64(n);
    for (const auto& id : ids) e.str(id);
    e.raw(vectors, n * options_.dim * sizeof(float));
    e.u8(metadatas ? 1 : 0);
    if (metadatas) {
        for (const Metadata& m : *metadatas) {
            e.u32(static_cast<uint32_t>(m.size()));
            for (const auto& [k, v] : m) { e.str(k); e.value(v); }
        }
    }
    e.u8(documents ? 1 : 0);
    if (documents) {
        for (const auto& doc : *documents) {
            e.u8(doc ? 1 : 0);
            if (doc) e.str(*doc);
        }
    }
    return e.data();
}

void Collection::upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                        const std::vector<Metadata>* metadatas,
                        const std::vector<std::optional<std::string>>* documents) {
    check_upsert(ids, vectors, n, metadatas, documents);
    if (n == 0) return;
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    const std::string record = encode_upsert(ids, vectors, n, metadatas, documents);
    wal_->append(seq_ + 1, record);
    {
        std::unique_lock<std::shared_mutex> state(state_mu_);
        apply_upsert(ids, vectors, n, metadatas, documents);
        ++seq_;
        index_or_defer();
    }
    if (wal_->bytes() > options_.snapshot_wal_bytes) write_snapshot_locked();
}

bool Collection::try_upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                            const std::vector<Metadata>* metadatas,
                            const std::vector<std::optional<std::string>>* documents) {
    check_upsert(ids, vectors, n, metadatas, documents);
    if (n == 0) return true;
    std::unique_lock<std::mutex> writer(write_mu_, std::try_to_lock);
    if (!writer.owns_lock()) return false;
    check_open();
    std::unique_lock<std::shared_mutex> state(state_mu_, std::try_to_lock);
    if (!state.owns_lock()) return false;
    // Nothing that takes long: the graph insertion left to the indexer, no training, no snapshot.
    const bool deferred = vectors_.pending() + n <= kDeferRows && indexer_running();
    if (!deferred || !vectors_.append_is_light(n, live_count_)) return false;
    const std::string record = encode_upsert(ids, vectors, n, metadatas, documents);
    if (wal_->bytes() + record.size() > options_.snapshot_wal_bytes) return false;
    wal_->append(seq_ + 1, record);
    apply_upsert(ids, vectors, n, metadatas, documents);
    ++seq_;
    index_or_defer();
    return true;
}

size_t Collection::remove(const std::vector<std::string>* ids, Filters filters) {
    if (!ids && !filters.any()) {
        throw InvalidArgument("delete needs ids, where or where_document; to delete everything use where on a field");
    }
    std::optional<Filter> where, where_doc;
    if (filters.where) where = parse_where(*filters.where);
    if (filters.where_document) where_doc = parse_where_document(*filters.where_document);
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    // Resolve to concrete ids now, so the log replays the same deletion whatever comes later.
    std::vector<std::string> doomed;
    size_t allowed = 0;
    const Bitmap match = allowed_slots(filters, allowed);
    if (ids) {
        std::unordered_set<std::string> seen;
        for (const auto& id : *ids) {
            auto it = slot_of_.find(id);
            if (it != slot_of_.end() && match.test(it->second) && seen.insert(id).second) doomed.push_back(id);
        }
    } else {
        match.for_each([&](size_t s) { doomed.push_back(slot_ids_[s]); });
    }
    if (doomed.empty()) return 0;
    Encoder e;
    e.u8(kOpRemove);
    e.u64(doomed.size());
    for (const auto& id : doomed) e.str(id);
    wal_->append(seq_ + 1, e.data());
    {
        std::unique_lock<std::shared_mutex> state(state_mu_);
        apply_remove(doomed);
        ++seq_;
    }
    if (wal_->bytes() > options_.snapshot_wal_bytes) write_snapshot_locked();
    return doomed.size();
}

void Collection::retire(size_t slot) {
    live_.reset(slot);
    --live_count_;
    if (has_document_.test(slot)) text_.remove(slot, documents_[slot]);
    slot_of_.erase(slot_ids_[slot]);
}

void Collection::apply_upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                              const std::vector<Metadata>* metadatas,
                              const std::vector<std::optional<std::string>>* documents) {
    const size_t first = slot_ids_.size();
    vectors_.append(vectors, n);
    live_.resize(first + n);
    has_document_.resize(first + n);
    static const Metadata kEmpty;
    for (size_t i = 0; i < n; ++i) {
        const size_t slot = first + i;
        auto old = slot_of_.find(ids[i]);
        if (old != slot_of_.end()) retire(old->second);
        slot_ids_.push_back(ids[i]);
        slot_of_[ids[i]] = slot;
        live_.set(slot);
        ++live_count_;
        meta_.append(metadatas ? (*metadatas)[i] : kEmpty);
        const std::optional<std::string>* doc = documents ? &(*documents)[i] : nullptr;
        if (doc && doc->has_value()) {
            documents_.push_back(**doc);
            has_document_.set(slot);
            text_.add(slot, **doc);
        } else {
            documents_.emplace_back();
        }
    }
    vectors_.train_if_ready(live_, live_count_);
}

void Collection::apply_remove(const std::vector<std::string>& ids) {
    for (const auto& id : ids) {
        auto it = slot_of_.find(id);
        if (it != slot_of_.end()) retire(it->second);
    }
}

void Collection::apply_record(const std::string& payload) {
    Decoder d(payload.data(), payload.size());
    const uint8_t op = d.u8();
    const size_t n = d.u64();
    std::vector<std::string> ids(n);
    for (auto& id : ids) id = d.str();
    if (op == kOpRemove) {
        apply_remove(ids);
        return;
    }
    if (op != kOpUpsert) throw IoError("corrupt log record: unknown operation " + std::to_string(op));
    std::vector<float> vecs(n * options_.dim);
    d.raw(vecs.data(), vecs.size() * sizeof(float));
    std::optional<std::vector<Metadata>> metas;
    if (d.u8()) {
        metas.emplace(n);
        for (Metadata& m : *metas) {
            m.resize(d.u32());
            for (auto& [k, v] : m) { k = d.str(); v = d.value(); }
        }
    }
    std::optional<std::vector<std::optional<std::string>>> docs;
    if (d.u8()) {
        docs.emplace(n);
        for (auto& doc : *docs) {
            if (d.u8()) doc = d.str();
        }
    }
    apply_upsert(ids, vecs.data(), n, metas ? &*metas : nullptr, docs ? &*docs : nullptr);
}

// ---- reads --------------------------------------------------------------------------------

size_t Collection::count() const {
    std::shared_lock<std::shared_mutex> state(state_mu_);
    return live_count_;
}

Bitmap Collection::allowed_slots(Filters filters, size_t& allowed) const {
    Bitmap allow = live_;
    if (filters.where) allow.and_with(evaluate(parse_where(*filters.where), meta_, documents_));
    if (filters.where_document) {
        allow.and_with(evaluate(parse_where_document(*filters.where_document), meta_, documents_));
    }
    allowed = filters.any() ? allow.count() : live_count_;
    return allow;
}

Records Collection::get(const std::vector<std::string>* ids, Filters filters, Include include) const {
    std::optional<Filter> parsed_where, parsed_doc;  // parse before locking: errors leave no trace
    if (filters.where) parsed_where = parse_where(*filters.where);
    if (filters.where_document) parsed_doc = parse_where_document(*filters.where_document);
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    size_t allowed = 0;
    const Bitmap match = allowed_slots(filters, allowed);
    std::vector<size_t> slots;
    if (ids) {
        for (const auto& id : *ids) {
            auto it = slot_of_.find(id);
            if (it != slot_of_.end() && match.test(it->second)) slots.push_back(it->second);
        }
    } else {
        match.for_each([&](size_t s) { slots.push_back(s); });
    }
    Records r;
    const size_t d = options_.dim;
    for (size_t s : slots) {
        r.ids.push_back(slot_ids_[s]);
        if (include.vectors) r.vectors.insert(r.vectors.end(), vectors_.vector(s), vectors_.vector(s) + d);
        if (include.metadatas) r.metadatas.push_back(meta_.get(s));
        if (include.documents) {
            r.documents.push_back(has_document_.test(s) ? std::optional<std::string>(documents_[s]) : std::nullopt);
        }
    }
    return r;
}

void Collection::check_queries(const float* queries, size_t nq, size_t k) const {
    if (k == 0) throw InvalidArgument("k must be >= 1");
    for (size_t i = 0; i < nq * options_.dim; ++i) {
        if (!std::isfinite(queries[i])) {
            throw InvalidArgument("query " + std::to_string(i / options_.dim) + " has a NaN or infinite value at index " +
                                  std::to_string(i % options_.dim));
        }
    }
}

void Collection::resolve(Hits& hits, Include include) const {
    const size_t total = hits.nq * hits.k;
    hits.ids.resize(total);
    if (include.metadatas) hits.metadatas.resize(total);
    if (include.documents) hits.documents.resize(total);
    for (size_t i = 0; i < total; ++i) {
        const int64_t s = hits.slots[i];
        if (s < 0) continue;
        hits.ids[i] = slot_ids_[static_cast<size_t>(s)];
        if (include.metadatas) hits.metadatas[i] = meta_.get(static_cast<size_t>(s));
        if (include.documents && has_document_.test(static_cast<size_t>(s))) hits.documents[i] = documents_[static_cast<size_t>(s)];
    }
}

Hits Collection::search(const float* queries, size_t nq, size_t k, Filters filters, Include include) const {
    check_queries(queries, nq, k);
    if (filters.where) parse_where(*filters.where);
    if (filters.where_document) parse_where_document(*filters.where_document);
    const auto normalised = vectors_.prepare_queries(queries, nq);
    const float* q = normalised ? normalised.get() : queries;
    Hits hits;
    hits.nq = nq;
    hits.k = k;
    hits.slots.resize(nq * k);
    hits.scores.resize(nq * k);
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    if (!filters.any() && live_count_ == slot_ids_.size()) {
        vectors_.search(q, nq, k, nullptr, live_count_, hits.slots.data(), hits.scores.data());
    } else {
        size_t allowed = 0;
        const Bitmap allow = allowed_slots(filters, allowed);
        vectors_.search(q, nq, k, &allow, allowed, hits.slots.data(), hits.scores.data());
    }
    resolve(hits, include);
    return hits;
}

Hits Collection::search_text(const std::vector<std::string>& queries, size_t k, Filters filters,
                             Include include) const {
    if (k == 0) throw InvalidArgument("k must be >= 1");
    if (filters.where) parse_where(*filters.where);
    if (filters.where_document) parse_where_document(*filters.where_document);
    Hits hits;
    hits.nq = queries.size();
    hits.k = k;
    hits.slots.assign(hits.nq * k, -1);
    hits.scores.assign(hits.nq * k, std::nanf(""));
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    size_t allowed = 0;
    const Bitmap allow = allowed_slots(filters, allowed);
    for (size_t qi = 0; qi < queries.size(); ++qi) {
        const auto found = text_.search(queries[qi], k, allow);
        for (size_t j = 0; j < found.size(); ++j) {
            hits.slots[qi * k + j] = found[j].slot;
            hits.scores[qi * k + j] = found[j].score;
        }
    }
    resolve(hits, include);
    return hits;
}

Hits Collection::hybrid_search(const float* queries, size_t nq, const std::vector<std::string>& texts, size_t k,
                               Fusion fusion, float alpha, Filters filters, Include include) const {
    if (texts.size() != nq) {
        throw InvalidArgument("hybrid_search got " + std::to_string(nq) + " query vectors but " +
                              std::to_string(texts.size()) + " query texts; pass one text per vector");
    }
    if (!(alpha >= 0.0f && alpha <= 1.0f)) throw InvalidArgument("alpha must be within [0, 1]");
    check_queries(queries, nq, k);
    if (filters.where) parse_where(*filters.where);
    if (filters.where_document) parse_where_document(*filters.where_document);
    const auto normalised = vectors_.prepare_queries(queries, nq);
    const float* q = normalised ? normalised.get() : queries;
    const size_t candidates = std::max<size_t>(50, 4 * k);
    Hits hits;
    hits.nq = nq;
    hits.k = k;
    hits.slots.assign(nq * k, -1);
    hits.scores.assign(nq * k, std::nanf(""));
    std::shared_lock<std::shared_mutex> state(state_mu_);
    check_open();
    size_t allowed = 0;
    const Bitmap allow = allowed_slots(filters, allowed);
    std::vector<int64_t> vslots(nq * candidates);
    std::vector<float> vscores(nq * candidates);
    vectors_.search(q, nq, candidates, &allow, allowed, vslots.data(), vscores.data());
    const bool lower_better = options_.metric == Metric::L2;
    for (size_t qi = 0; qi < nq; ++qi) {
        std::unordered_map<int64_t, float> fused;
        // Vector list.
        std::vector<std::pair<int64_t, float>> vlist;
        for (size_t j = 0; j < candidates; ++j) {
            if (vslots[qi * candidates + j] >= 0) vlist.emplace_back(vslots[qi * candidates + j], vscores[qi * candidates + j]);
        }
        std::vector<std::pair<int64_t, float>> tlist;
        for (const auto& h : text_.search(texts[qi], candidates, allow)) tlist.emplace_back(h.slot, h.score);
        auto add_list = [&](const std::vector<std::pair<int64_t, float>>& list, float weight, bool invert) {
            if (list.empty()) return;
            if (fusion == Fusion::RRF) {
                for (size_t r = 0; r < list.size(); ++r) fused[list[r].first] += 1.0f / static_cast<float>(kRrfK + r + 1);
                return;
            }
            float lo = list[0].second, hi = list[0].second;
            for (const auto& [s, v] : list) { lo = std::min(lo, v); hi = std::max(hi, v); }
            const float span = hi - lo;
            for (const auto& [s, v] : list) {
                // A one-value list (span 0) counts as fully relevant whichever way it sorts.
                float norm = span > 0 ? (v - lo) / span : 1.0f;
                if (invert && span > 0) norm = 1.0f - norm;
                fused[s] += weight * norm;
            }
        };
        add_list(vlist, alpha, lower_better);
        add_list(tlist, 1.0f - alpha, false);
        std::vector<std::pair<int64_t, float>> ranked(fused.begin(), fused.end());
        std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
            return a.second != b.second ? a.second > b.second : a.first < b.first;
        });
        for (size_t j = 0; j < k && j < ranked.size(); ++j) {
            hits.slots[qi * k + j] = ranked[j].first;
            hits.scores[qi * k + j] = ranked[j].second;
        }
    }
    resolve(hits, include);
    return hits;
}

// ---- durability ---------------------------------------------------------------------------

void Collection::flush() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    wal_->sync();
}

void Collection::snapshot() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    write_snapshot_locked();
}

// Caller holds write_mu_, so the state cannot change; readers keep running meanwhile.
void Collection::write_snapshot_locked() {
    std::shared_lock<std::shared_mutex> state(state_mu_);
    const fs::path dir(path_);
    const fs::path tmp = dir / kSnapshotTmp;
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) throw IoError("cannot create " + tmp.string() + ": " + ec.message());
    Encoder e;
    e.u32(kStateVersion);
    e.u64(seq_);
    e.u64(slot_ids_.size());
    for (const auto& id : slot_ids_) e.str(id);
    encode_bitmap(e, live_);
    encode_bitmap(e, has_document_);
    for (size_t s = 0; s < slot_ids_.size(); ++s) {
        if (has_document_.test(s)) e.str(documents_[s]);
    }
    meta_.encode(e);
    text_.encode(e);
    e.raw(vectors_.data().data(), vectors_.data().size() * sizeof(float));
    e.u32(crc32(e.data().data(), e.data().size()));
    write_file_durably(tmp / kStateFile, e.data());
    vectors_.save((tmp / kIndexFile).string());
    fsync_path(tmp / kIndexFile);
    fsync_path(tmp);
    const fs::path current = dir / kSnapshotDir;
    const fs::path old = dir / kSnapshotOld;
    fs::remove_all(old, ec);
    if (fs::exists(current)) fs::rename(current, old);
    fs::rename(tmp, current);
    fsync_path(dir);
    fs::remove_all(old, ec);
    snapshot_seq_ = seq_;
    // Every logged record is now in the snapshot (replay skips seq <= snapshot seq anyway).
    wal_->truncate();
}

void Collection::load_snapshot() {
    const fs::path dir(path_);
    std::error_code ec;
    fs::remove_all(dir / kSnapshotTmp, ec);  // an unfinished snapshot is never used
    fs::path snap = dir / kSnapshotDir;
    if (!fs::exists(snap) && fs::exists(dir / kSnapshotOld)) fs::rename(dir / kSnapshotOld, snap);
    fs::remove_all(dir / kSnapshotOld, ec);
    if (!fs::exists(snap / kStateFile)) return;
    const std::string content = read_file(snap / kStateFile);
    if (content.size() < 4) throw IoError("snapshot " + (snap / kStateFile).string() + " is truncated");
    uint32_t stored_crc;
    std::memcpy(&stored_crc, content.data() + content.size() - 4, 4);
    if (crc32(content.data(), content.size() - 4) != stored_crc) {
        throw IoError("snapshot " + (snap / kStateFile).string() + " fails its checksum");
    }
    Decoder d(content.data(), content.size() - 4);
    if (d.u32() != kStateVersion) throw IoError("snapshot version not supported: " + snap.string());
    seq_ = snapshot_seq_ = d.u64();
    slot_ids_.resize(d.u64());
    for (auto& id : slot_ids_) id = d.str();
    live_ = decode_bitmap(d);
    has_document_ = decode_bitmap(d);
    documents_.assign(slot_ids_.size(), std::string());
    for (size_t s = 0; s < slot_ids_.size(); ++s) {
        if (has_document_.test(s)) documents_[s] = d.str();
    }
    meta_.decode(d);
    text_.decode(d);
    std::vector<float> data(slot_ids_.size() * options_.dim);
    d.raw(data.data(), data.size() * sizeof(float));
    vectors_.load(std::move(data), (snap / kIndexFile).string());
    live_count_ = 0;
    live_.for_each([&](size_t s) {
        slot_of_[slot_ids_[s]] = s;
        ++live_count_;
    });
}

void Collection::replay_log() {
    const fs::path log = fs::path(path_) / kLogFile;
    dropped_log_bytes_ = WriteAheadLog::replay(log.string(), [&](uint64_t seq, const std::string& payload) {
        if (seq <= snapshot_seq_) return;  // already in the snapshot: replay is idempotent
        apply_record(payload);
        seq_ = seq;
    });
}

void Collection::compact() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    {
        std::unique_lock<std::shared_mutex> state(state_mu_);
        const Bitmap keep = live_;
        std::vector<std::string> ids;
        std::vector<std::string> docs;
        Bitmap has_doc(live_count_);
        keep.for_each([&](size_t s) {
            if (has_document_.test(s)) has_doc.set(ids.size());
            ids.push_back(std::move(slot_ids_[s]));
            docs.push_back(std::move(documents_[s]));
        });
        meta_.compact(keep);
        vectors_.compact(keep, live_count_);
        slot_ids_ = std::move(ids);
        documents_ = std::move(docs);
        has_document_ = std::move(has_doc);
        live_ = Bitmap(slot_ids_.size(), true);
        slot_of_.clear();
        text_.clear();
        for (size_t s = 0; s < slot_ids_.size(); ++s) {
            slot_of_[slot_ids_[s]] = s;
            if (has_document_.test(s)) text_.add(s, documents_[s]);
        }
        vectors_.train_if_ready(live_, live_count_);
    }
    write_snapshot_locked();
}

void Collection::close() {
    stop_indexer();  // before the locks: it takes the state lock itself
    std::lock_guard<std::mutex> writer(write_mu_);
    if (closed_) return;
    std::unique_lock<std::shared_mutex> state(state_mu_);
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

Metadata Collection::stats() const {
    std::shared_lock<std::shared_mutex> state(state_mu_);
    Metadata s;
    s.emplace_back("count", Value::of_int(static_cast<int64_t>(live_count_)));
    s.emplace_back("slots", Value::of_int(static_cast<int64_t>(slot_ids_.size())));
    s.emplace_back("deleted_slots", Value::of_int(static_cast<int64_t>(slot_ids_.size() - live_count_)));
    s.emplace_back("dim", Value::of_int(static_cast<int64_t>(options_.dim)));
    s.emplace_back("metric", Value::of_string(metric_name(options_.metric)));
    s.emplace_back("index", Value::of_string(index_type_name(options_.index.type)));
    s.emplace_back("index_trained", Value::of_bool(vectors_.trained()));
    s.emplace_back("index_pending", Value::of_int(static_cast<int64_t>(vectors_.pending())));
    s.emplace_back("walk_codes", Value::of_string(vectors_.walks_on_codes() ? "sq8" : "none"));
    s.emplace_back("fsync", Value::of_string(fsync_name(options_.fsync)));
    s.emplace_back("wal_bytes", Value::of_int(wal_ ? static_cast<int64_t>(wal_->bytes()) : 0));
    s.emplace_back("dropped_log_bytes", Value::of_int(static_cast<int64_t>(dropped_log_bytes_)));
    s.emplace_back("last_seq", Value::of_int(static_cast<int64_t>(seq_)));
    s.emplace_back("snapshot_seq", Value::of_int(static_cast<int64_t>(snapshot_seq_)));
    s.emplace_back("text_terms", Value::of_int(static_cast<int64_t>(text_.terms())));
    s.emplace_back("path", Value::of_string(path_));
    return s;
}

}  // namespace sage
