#include "wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "errors.h"

namespace sage {

namespace {

constexpr uint32_t kMagic = 0x53414745;  // "SAGE"
constexpr size_t kHeader = 4 + 4 + 4 + 8;  // magic, payload length, crc, seq
constexpr uint32_t kMaxPayload = 1u << 30;

std::string errno_text(const std::string& what, const std::string& path) {
    return what + " " + path + ": " + std::strerror(errno);
}

void write_all(int fd, const char* p, size_t n, const std::string& path) {
    while (n > 0) {
        const ssize_t w = ::write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw IoError(errno_text("cannot write", path));
        }
        p += w;
        n -= static_cast<size_t>(w);
    }
}

const std::array<uint32_t, 256>& crc_table() {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    return table;
}

}  // namespace

FsyncPolicy parse_fsync(const std::string& name) {
    if (name == "always") return FsyncPolicy::Always;
    if (name == "group") return FsyncPolicy::Group;
    if (name == "none") return FsyncPolicy::None;
    throw InvalidArgument("unknown fsync policy '" + name + "'; use 'always', 'group' or 'none'");
}

const char* fsync_name(FsyncPolicy p) {
    return p == FsyncPolicy::Always ? "always" : p == FsyncPolicy::Group ? "group" : "none";
}

uint32_t crc32(const void* data, size_t n, uint32_t crc) {
    const auto& t = crc_table();
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (size_t i = 0; i < n; ++i) crc = t[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

WriteAheadLog::WriteAheadLog(std::string path, FsyncPolicy policy, int group_interval_ms)
    : path_(std::move(path)), policy_(policy), group_interval_ms_(group_interval_ms) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw IoError(errno_text("cannot open write-ahead log", path_));
    struct stat st {};
    if (::fstat(fd_, &st) == 0) bytes_ = static_cast<uint64_t>(st.st_size);
    if (policy_ == FsyncPolicy::Group) flusher_ = std::thread([this] { group_loop(); });
}

WriteAheadLog::~WriteAheadLog() {
    if (flusher_.joinable()) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
        flusher_.join();
    }
    if (fd_ >= 0) {
        if (policy_ != FsyncPolicy::None) ::fdatasync(fd_);
        ::close(fd_);
    }
}

void WriteAheadLog::append(uint64_t seq, const std::string& payload) {
    if (payload.size() > kMaxPayload) throw InvalidArgument("write too large for one log record; split the batch");
    std::string rec(kHeader, '\0');
    const auto len = static_cast<uint32_t>(payload.size());
    uint32_t crc = crc32(&seq, sizeof seq);
    crc = crc32(payload.data(), payload.size(), crc);
    std::memcpy(&rec[0], &kMagic, 4);
    std::memcpy(&rec[4], &len, 4);
    std::memcpy(&rec[8], &crc, 4);
    std::memcpy(&rec[12], &seq, 8);
    rec += payload;
    std::lock_guard<std::mutex> lock(mu_);
    write_all(fd_, rec.data(), rec.size(), path_);
    bytes_ += rec.size();
    if (policy_ == FsyncPolicy::Always) {
        if (::fdatasync(fd_) != 0) throw IoError(errno_text("cannot fsync", path_));
    } else if (policy_ == FsyncPolicy::Group) {
        dirty_ = true;
    }
}

void WriteAheadLog::sync() {
    std::lock_guard<std::mutex> lock(mu_);
    if (::fdatasync(fd_) != 0) throw IoError(errno_text("cannot fsync", path_));
    dirty_ = false;
}

void WriteAheadLog::truncate() {
    std::lock_guard<std::mutex> lock(mu_);
    if (::ftruncate(fd_, 0) != 0) throw IoError(errno_text("cannot truncate", path_));
    ::fdatasync(fd_);
    bytes_ = 0;
    dirty_ = false;
}

// Group commit: appends return at once and one fdatasync covers every record written in the
// last interval, bounding the loss window to about group_interval_ms.
void WriteAheadLog::group_loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
        cv_.wait_for(lock, std::chrono::milliseconds(group_interval_ms_));
        if (dirty_) {
            ::fdatasync(fd_);
            dirty_ = false;
        }
    }
}

uint64_t WriteAheadLog::replay(const std::string& path,
                               const std::function<void(uint64_t, const std::string&)>& fn) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        throw IoError(errno_text("cannot open write-ahead log", path));
    }
    std::string content;
    {
        std::vector<char> buf(1 << 20);
        ssize_t r;
        while ((r = ::read(fd, buf.data(), buf.size())) > 0) content.append(buf.data(), static_cast<size_t>(r));
        ::close(fd);
        if (r < 0) throw IoError(errno_text("cannot read", path));
    }
    size_t pos = 0;
    while (pos + kHeader <= content.size()) {
        uint32_t magic, len, crc;
        uint64_t seq;
        std::memcpy(&magic, &content[pos], 4);
        std::memcpy(&len, &content[pos + 4], 4);
        std::memcpy(&crc, &content[pos + 8], 4);
        std::memcpy(&seq, &content[pos + 12], 8);
        if (magic != kMagic || len > kMaxPayload || pos + kHeader + len > content.size()) break;
        const std::string payload = content.substr(pos + kHeader, len);
        if (crc32(payload.data(), payload.size(), crc32(&seq, sizeof seq)) != crc) break;
        fn(seq, payload);
        pos += kHeader + len;
    }
    const uint64_t dropped = content.size() - pos;
    if (dropped > 0) {
        // Cut the torn tail so records appended after this open are reachable on the next one.
        if (::truncate(path.c_str(), static_cast<off_t>(pos)) != 0) throw IoError(errno_text("cannot truncate", path));
    }
    return dropped;
}

}  // namespace sage
