// A persistent collection: string ids -> vector + metadata + document, stored in one
// directory (config, snapshot, write-ahead log). Many concurrent readers, one writer.
// Implemented by job: collection.cpp (open/create/close), collection_config.cpp (the directory's
// files, config codec), collection_write.cpp, collection_indexer.cpp, collection_search.cpp
// (reads, search, fusion), collection_snapshot.cpp (snapshot, replay, compaction).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bitmap.h"
#include "filter.h"
#include "metadata_store.h"
#include "text_index.h"
#include "value.h"
#include "vector_index.h"
#include "wal.h"

namespace sage {

struct CollectionOptions {
    size_t dim = 0;
    Metric metric = Metric::Cosine;
    IndexSpec index;
    FsyncPolicy fsync = FsyncPolicy::Always;
    uint64_t snapshot_wal_bytes = 64ull << 20;  // snapshot automatically past this log size
};

struct Include {
    bool metadatas = false;
    bool documents = false;
    bool vectors = false;
};

// Optional filters, already in value-tree form (null kind = absent).
struct Filters {
    const Value* where = nullptr;
    const Value* where_document = nullptr;
    bool any() const { return where || where_document; }
};

// Per-query top-k, flattened: entry q*k+j; ids[...] is empty and slot -1 past the hits.
struct Hits {
    size_t nq = 0;
    size_t k = 0;
    std::vector<int64_t> slots;
    std::vector<float> scores;
    std::vector<std::string> ids;
    std::vector<Metadata> metadatas;
    std::vector<std::optional<std::string>> documents;
};

struct Records {
    std::vector<std::string> ids;
    std::vector<float> vectors;  // ids.size() * dim when requested
    std::vector<Metadata> metadatas;
    std::vector<std::optional<std::string>> documents;
};

enum class Fusion { RRF, Weighted };
Fusion parse_fusion(const std::string& name);

class Collection {
   public:
    static std::unique_ptr<Collection> create(const std::string& path, const CollectionOptions& options);
    static std::unique_ptr<Collection> open(const std::string& path);
    ~Collection();

    void upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                const std::vector<Metadata>* metadatas,
                const std::vector<std::optional<std::string>>* documents);
    // The same write if it can be applied at once without waiting (for an event loop): the
    // locks are free and nothing long follows (graph insertion deferred, no training, no
    // snapshot). Returns false, having changed nothing, otherwise; bad input still throws.
    bool try_upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                    const std::vector<Metadata>* metadatas,
                    const std::vector<std::optional<std::string>>* documents);
    Records get(const std::vector<std::string>* ids, Filters filters, Include include) const;
    size_t remove(const std::vector<std::string>* ids, Filters filters);
    size_t count() const;

    Hits search(const float* queries, size_t nq, size_t k, Filters filters, Include include) const;
    Hits search_text(const std::vector<std::string>& queries, size_t k, Filters filters, Include include) const;
    Hits hybrid_search(const float* queries, size_t nq, const std::vector<std::string>& texts, size_t k,
                       Fusion fusion, float alpha, Filters filters, Include include) const;

    void flush();
    void snapshot();
    void compact();
    void close();

    size_t dim() const { return options_.dim; }
    Metric metric() const { return options_.metric; }
    const CollectionOptions& options() const { return options_; }
    Metadata stats() const;

   private:
    Collection(std::string path, CollectionOptions options);
    void check_open() const;
    void load_snapshot();
    void replay_log();
    void write_snapshot_locked();
    void apply_upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                      const std::vector<Metadata>* metadatas,
                      const std::vector<std::optional<std::string>>* documents);
    void apply_remove(const std::vector<std::string>& ids);
    void apply_record(const std::string& payload);
    void retire(size_t slot);
    // Live slots matching the filters; also returns the count.
    Bitmap allowed_slots(Filters filters, size_t& allowed) const;
    void resolve(Hits& hits, Include include) const;
    void check_queries(const float* queries, size_t nq, size_t k) const;
    // Writes of up to this many vectors return before their HNSW insertion (searches scan them
    // exactly meanwhile); a larger backlog is inserted by the write itself.
    static constexpr size_t kDeferRows = 256;
    // After a write is applied (state lock held): a few rows are left for the indexer thread,
    // a batch is inserted into the graph at once.
    void index_or_defer();
    bool indexer_running();
    void check_upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                      const std::vector<Metadata>* metadatas,
                      const std::vector<std::optional<std::string>>* documents) const;
    std::string encode_upsert(const std::vector<std::string>& ids, const float* vectors, size_t n,
                              const std::vector<Metadata>* metadatas,
                              const std::vector<std::optional<std::string>>* documents) const;
    void index_in_background();
    void stop_indexer();

    std::string path_;
    CollectionOptions options_;
    VectorIndex vectors_;
    MetadataStore meta_;
    TextIndex text_;
    std::vector<std::string> slot_ids_;
    std::unordered_map<std::string, size_t> slot_of_;
    std::vector<std::string> documents_;
    Bitmap has_document_;
    Bitmap live_;
    size_t live_count_ = 0;
    uint64_t seq_ = 0;
    uint64_t snapshot_seq_ = 0;
    uint64_t dropped_log_bytes_ = 0;
    std::unique_ptr<WriteAheadLog> wal_;
    int lock_fd_ = -1;
    bool closed_ = false;

    mutable std::mutex write_mu_;          // one writer (and snapshot/compaction) at a time
    mutable std::shared_mutex state_mu_;   // readers share; a writer takes it only to apply

    // Inserts pending vectors into the HNSW graph, a few per hold of the state lock.
    std::thread indexer_;
    std::mutex indexer_mu_;
    std::condition_variable indexer_wake_;
    bool indexer_running_ = false;  // writes may leave rows to it
    bool indexer_wanted_ = false;
    bool indexer_stop_ = false;
};

}  // namespace sage
