#include "search_executor.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace sage {

SearchExecutor::SearchExecutor(size_t threads) {
    if (threads == 0) throw InvalidArgument("a search executor needs at least one thread");
    event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_fd_ < 0) throw IoError(std::string("cannot create an eventfd: ") + std::strerror(errno));
    workers_.reserve(threads);
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

SearchExecutor::~SearchExecutor() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    ::close(event_fd_);
}

uint64_t SearchExecutor::submit(Task task) {
    uint64_t ticket;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) throw InvalidArgument("the search executor is shut down");
        ticket = next_ticket_++;
        queue_.emplace_back(ticket, std::move(task));
    }
    wake_.notify_one();
    return ticket;
}

std::vector<SearchExecutor::Done> SearchExecutor::collect() {
    // Clear the signal before taking the queue: a search finishing in between signals again,
    // so none is left waiting without a wake-up.
    uint64_t count;
    while (::read(event_fd_, &count, sizeof count) < 0 && errno == EINTR) {
    }
    std::vector<Done> out;
    std::lock_guard<std::mutex> lock(done_mu_);
    out.swap(done_);
    return out;
}

void SearchExecutor::work() {
    for (;;) {
        std::pair<uint64_t, Task> item;
        {
            std::unique_lock<std::mutex> lock(mu_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and nothing left to run
            item = std::move(queue_.front());
            queue_.pop_front();
        }
        Task& t = item.second;
        Done done;
        done.ticket = item.first;
        done.include = t.include;
        try {
            const Filters filters{t.where ? &*t.where : nullptr, t.where_document ? &*t.where_document : nullptr};
            done.hits = t.collection->search(t.queries.data(), t.nq, t.k, filters, t.include);
        } catch (...) {
            done.error = std::current_exception();
        }
        bool first;
        {
            std::lock_guard<std::mutex> lock(done_mu_);
            first = done_.empty();
            done_.push_back(std::move(done));
        }
        if (first) {  // a non-empty queue has signalled already and not been collected yet
            const uint64_t one = 1;
            while (::write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
            }
        }
    }
}

}  // namespace sage
