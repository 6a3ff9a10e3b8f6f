// Collection writes: input checks, the log record of each write (encoded before it is applied,
// decoded on replay), and applying upserts and removals to the in-memory state.
#include <cmath>
#include <optional>
#include <unordered_set>

#include "codec.h"
#include "collection.h"
#include "errors.h"

namespace sage {

namespace {

constexpr uint8_t kOpUpsert = 1;
constexpr uint8_t kOpRemove = 2;

}  // namespace

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

}  // namespace sage
