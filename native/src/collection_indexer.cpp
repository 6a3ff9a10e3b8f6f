// The background indexer of an HNSW collection: small writes leave their rows pending (searches
// scan them exactly) and this thread inserts them into the graph, a few per hold of the state
// lock, so a search waits for at most that much work.
#include <limits>

#include "collection.h"

namespace sage {

namespace {

// Rows the indexer inserts per hold of the state lock.
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

}  // namespace sage
