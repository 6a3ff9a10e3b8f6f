// Searches run on the core's own threads, for a caller that must not block (an event loop).
// A search is handed over with its own copy of the queries and filters; when it is done its
// hits (or its error) wait in a queue and an eventfd becomes readable, so the caller's loop can
// watch that descriptor and collect results without a thread of its own, and the worker threads
// never need the caller's interpreter lock.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "collection.h"
#include "value.h"

namespace sage {

class SearchExecutor {
   public:
    struct Task {
        std::shared_ptr<const Collection> collection;
        std::vector<float> queries;  // nq * dim, row-major
        size_t nq = 0;
        size_t k = 0;
        std::optional<Value> where, where_document;
        Include include;
    };
    struct Done {
        uint64_t ticket = 0;
        Include include;  // the task's, for whoever turns the hits into values
        Hits hits;
        std::exception_ptr error;  // set when the search threw; hits are then empty
    };

    explicit SearchExecutor(size_t threads);
    ~SearchExecutor();  // finishes the queued searches, then joins the threads
    SearchExecutor(const SearchExecutor&) = delete;
    SearchExecutor& operator=(const SearchExecutor&) = delete;

    uint64_t submit(Task task);
    // Readable while finished searches wait to be collected.
    int fd() const { return event_fd_; }
    // The finished searches, oldest first (none when nothing is done).
    std::vector<Done> collect();
    size_t threads() const { return workers_.size(); }

   private:
    void work();

    int event_fd_ = -1;
    std::mutex mu_;
    std::condition_variable wake_;
    std::deque<std::pair<uint64_t, Task>> queue_;
    bool stopping_ = false;
    uint64_t next_ticket_ = 1;
    std::mutex done_mu_;
    std::vector<Done> done_;
    std::vector<std::thread> workers_;
};

}  // namespace sage
