// Collection: opening and creating the directory, closing it, and its stats. The rest of the
// class lives by job in collection_write.cpp (writes and their log records),
// collection_indexer.cpp (the background HNSW indexer), collection_search.cpp (reads, search
// and fusion), collection_snapshot.cpp (snapshot, replay, compaction); the directory's files
// and config codec in collection_config.cpp.
#include "collection.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <limits>

#include "collection_config.h"
#include "errors.h"

namespace sage {

namespace fs = std::filesystem;
using namespace collection_files;

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
    if (c->vectors_.defers_insertion()) {
        c->indexer_running_ = true;
        c->indexer_ = std::thread([p = c.get()] { p->index_in_background(); });
    }
    return c;
}

void Collection::check_open() const {
    if (closed_) throw InvalidArgument("the collection at " + path_ + " is closed; open it again");
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
