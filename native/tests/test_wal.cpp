#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "wal.h"

namespace fs = std::filesystem;

namespace {
fs::path temp_file(const char* name) {
    fs::path p = fs::temp_directory_path() / (std::string("sage_wal_") + std::to_string(::getpid()) + "_" + name);
    fs::remove(p);
    return p;
}

std::vector<std::pair<uint64_t, std::string>> read_all(const fs::path& p, uint64_t* dropped = nullptr) {
    std::vector<std::pair<uint64_t, std::string>> out;
    const uint64_t d = sage::WriteAheadLog::replay(p.string(), [&](uint64_t s, const std::string& x) {
        out.emplace_back(s, x);
    });
    if (dropped) *dropped = d;
    return out;
}
}  // namespace

TEST(WriteAheadLog, ReplaysRecordsInOrder) {
    const fs::path p = temp_file("order");
    {
        sage::WriteAheadLog log(p.string(), sage::FsyncPolicy::Always);
        log.append(1, "one");
        log.append(2, std::string("t\0o", 3));
    }
    const auto recs = read_all(p);
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[1].first, 2u);
    EXPECT_EQ(recs[1].second, std::string("t\0o", 3));
    fs::remove(p);
}

TEST(WriteAheadLog, TornTailIsDroppedAndLaterAppendsSurvive) {
    const fs::path p = temp_file("torn");
    {
        sage::WriteAheadLog log(p.string(), sage::FsyncPolicy::None);
        log.append(1, "complete");
        log.append(2, "this one gets cut");
    }
    fs::resize_file(p, fs::file_size(p) - 5);
    uint64_t dropped = 0;
    auto recs = read_all(p, &dropped);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_GT(dropped, 0u);
    {
        sage::WriteAheadLog log(p.string(), sage::FsyncPolicy::Group);
        log.append(3, "after");
    }
    recs = read_all(p);
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[1].second, "after");
    fs::remove(p);
}

TEST(WriteAheadLog, CorruptedPayloadFailsChecksum) {
    const fs::path p = temp_file("crc");
    {
        sage::WriteAheadLog log(p.string(), sage::FsyncPolicy::None);
        log.append(1, "good");
        log.append(2, "flipped");
    }
    {
        std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(static_cast<std::streamoff>(fs::file_size(p) - 1));
        f.put('X');
    }
    EXPECT_EQ(read_all(p).size(), 1u);
    fs::remove(p);
}
