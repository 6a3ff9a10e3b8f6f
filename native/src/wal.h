// Write-ahead log: length-prefixed, CRC32-checked records with a sequence number. Reading
// stops at the first torn or corrupt record, which is cut off so later appends stay readable.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace sage {

enum class FsyncPolicy { Always, Group, None };
FsyncPolicy parse_fsync(const std::string& name);
const char* fsync_name(FsyncPolicy p);

uint32_t crc32(const void* data, size_t n, uint32_t crc = 0);

class WriteAheadLog {
   public:
    // Opens (creating if needed) the log at `path` for appending.
    WriteAheadLog(std::string path, FsyncPolicy policy, int group_interval_ms = 10);
    ~WriteAheadLog();
    WriteAheadLog(const WriteAheadLog&) = delete;
    WriteAheadLog& operator=(const WriteAheadLog&) = delete;

    // Appends one record; returns once it is as durable as the policy promises.
    void append(uint64_t seq, const std::string& payload);
    // Forces everything appended so far to stable storage.
    void sync();
    // Empties the log (after a snapshot covering every record in it).
    void truncate();
    uint64_t bytes() const { return bytes_; }

    // Calls fn(seq, payload) for every intact record in order; truncates a torn tail.
    // Returns the number of bytes dropped.
    static uint64_t replay(const std::string& path,
                           const std::function<void(uint64_t, const std::string&)>& fn);

   private:
    void group_loop();
    std::string path_;
    FsyncPolicy policy_;
    int fd_ = -1;
    uint64_t bytes_ = 0;
    int group_interval_ms_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool dirty_ = false;
    bool stopping_ = false;
    std::thread flusher_;
};

}  // namespace sage
