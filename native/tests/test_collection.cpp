#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <filesystem>
#include <random>

#include "collection.h"
#include "errors.h"

namespace fs = std::filesystem;
using namespace sage;

namespace {

struct TempDir {
    fs::path path;
    explicit TempDir(const char* name) {
        path = fs::temp_directory_path() / (std::string("sage_col_") + std::to_string(::getpid()) + "_" + name);
        fs::remove_all(path);
    }
    ~TempDir() { fs::remove_all(path); }
};

std::vector<float> random_vectors(size_t n, size_t d, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    std::vector<float> v(n * d);
    for (float& x : v) x = g(rng);
    return v;
}

std::vector<std::string> make_ids(size_t n) {
    std::vector<std::string> ids;
    for (size_t i = 0; i < n; ++i) ids.push_back("id" + std::to_string(i));
    return ids;
}

CollectionOptions options(IndexSpec::Type type, size_t dim = 16) {
    CollectionOptions o;
    o.dim = dim;
    o.metric = Metric::L2;
    o.index.type = type;
    o.fsync = FsyncPolicy::None;
    return o;
}

}  // namespace

TEST(Collection, FlatSearchEqualsBruteForce) {
    TempDir dir("flat");
    auto c = Collection::create(dir.path.string(), options(IndexSpec::Type::Flat));
    const size_t n = 500, d = 16;
    const auto x = random_vectors(n, d, 1);
    c->upsert(make_ids(n), x.data(), n, nullptr, nullptr);
    const auto q = random_vectors(1, d, 2);
    const Hits h = c->search(q.data(), 1, 5, {}, {});
    std::vector<std::pair<float, size_t>> ref;
    for (size_t i = 0; i < n; ++i) {
        float s = 0;
        for (size_t j = 0; j < d; ++j) s += (q[j] - x[i * d + j]) * (q[j] - x[i * d + j]);
        ref.emplace_back(s, i);
    }
    std::sort(ref.begin(), ref.end());
    for (size_t j = 0; j < 5; ++j) EXPECT_EQ(h.ids[j], "id" + std::to_string(ref[j].second));
}

TEST(Collection, ReplacedAndDeletedVectorsNeverReturn) {
    TempDir dir("replace");
    auto c = Collection::create(dir.path.string(), options(IndexSpec::Type::HNSW));
    const auto x = random_vectors(50, 16, 3);
    c->upsert(make_ids(50), x.data(), 50, nullptr, nullptr);
    // Move id0 far away, delete id1; querying at their old places must not find them.
    std::vector<float> far(16, 100.0f);
    c->upsert({"id0"}, far.data(), 1, nullptr, nullptr);
    std::vector<std::string> doomed{"id1"};
    EXPECT_EQ(c->remove(&doomed, {}), 1u);
    const Hits h = c->search(x.data(), 2, 50, {}, {});
    for (const auto& id : std::vector<std::string>(h.ids.begin(), h.ids.begin() + 50)) {
        EXPECT_NE(id, "id1");
    }
    EXPECT_NE(h.ids[0], "id0");  // id0 moved far away
}

TEST(Collection, ReopenReplaysLogAndSnapshot) {
    TempDir dir("reopen");
    const auto x = random_vectors(40, 16, 4);
    {
        auto c = Collection::create(dir.path.string(), options(IndexSpec::Type::HNSW));
        c->upsert(make_ids(20), x.data(), 20, nullptr, nullptr);
        c->snapshot();
        auto ids = make_ids(40);
        std::vector<std::string> tail(ids.begin() + 20, ids.end());
        c->upsert(tail, x.data() + 20 * 16, 20, nullptr, nullptr);
        std::vector<std::string> doomed{"id3"};
        c->remove(&doomed, {});
    }
    auto c = Collection::open(dir.path.string());
    EXPECT_EQ(c->count(), 39u);
    const Hits h = c->search(x.data() + 30 * 16, 1, 1, {}, {});
    EXPECT_EQ(h.ids[0], "id30");
}

TEST(Collection, BadInputLeavesCollectionUnchanged) {
    TempDir dir("bad");
    auto c = Collection::create(dir.path.string(), options(IndexSpec::Type::Flat, 4));
    std::vector<float> v{1, 2, 3, std::nanf("")};
    EXPECT_THROW(c->upsert({"a"}, v.data(), 1, nullptr, nullptr), InvalidArgument);
    EXPECT_EQ(c->count(), 0u);
    EXPECT_THROW(Collection::create(dir.path.string(), options(IndexSpec::Type::Flat, 4)), AlreadyExists);
    EXPECT_THROW(Collection::open((dir.path / "missing").string()), NotFound);
}

TEST(Collection, FilteredHnswReturnsKWhenKMatch) {
    TempDir dir("filtered");
    auto c = Collection::create(dir.path.string(), options(IndexSpec::Type::HNSW));
    const size_t n = 2000;
    const auto x = random_vectors(n, 16, 5);
    std::vector<Metadata> metas;
    for (size_t i = 0; i < n; ++i) metas.push_back({{"rare", Value::of_bool(i % 400 == 0)}});
    c->upsert(make_ids(n), x.data(), n, &metas, nullptr);
    const Value where = Value::of_map({{"rare", Value::of_bool(true)}});
    const Hits h = c->search(x.data(), 1, 5, {&where, nullptr}, {});
    for (size_t j = 0; j < 5; ++j) EXPECT_GE(h.slots[j], 0);
}

TEST(Collection, HnswFindsStoredVectorsAsTheirOwnNearestNeighbour) {
    TempDir dir("hnsw_self");
    auto c = Collection::create(dir.path.string(), options(IndexSpec::Type::HNSW, 32));
    const size_t n = 3000, d = 32;
    const auto x = random_vectors(n, d, 8);
    c->upsert(make_ids(n), x.data(), n, nullptr, nullptr);
    const size_t nq = 100;
    const Hits h = c->search(x.data(), nq, 1, {}, {});  // a batch: the OpenMP path
    size_t self = 0;
    for (size_t q = 0; q < nq; ++q) self += h.ids[q] == "id" + std::to_string(q);
    EXPECT_GE(self, 98u);
    EXPECT_FLOAT_EQ(h.scores[0], 0.0f);
}

// Writers trickling single vectors (left to the indexer), a writer that does not wait, readers
// searching and a snapshot, all at once: every vector is found by its own query at the end, and
// under the sanitizers nothing races or leaks.
TEST(Collection, DeferredIndexingUnderConcurrentWritesSearchesAndSnapshots) {
    TempDir dir("deferred");
    const size_t d = 24, base_n = 1500, trickle = 300;
    auto c = Collection::create(dir.path.string(), options(IndexSpec::Type::HNSW, d));
    const auto base = random_vectors(base_n, d, 11);
    c->upsert(make_ids(base_n), base.data(), base_n, nullptr, nullptr);
    const auto fresh = random_vectors(trickle, d, 12);
    std::atomic<bool> done{false};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; ++r) {
        readers.emplace_back([&, r] {
            size_t i = static_cast<size_t>(r);
            while (!done.load()) {
                const Hits h = c->search(base.data() + (i % base_n) * d, 1, 3, {}, {});
                EXPECT_EQ(h.ids.size(), 3u);
                i += 7;
            }
        });
    }
    std::thread snapshots([&] {
        while (!done.load()) {
            c->snapshot();
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    size_t quick = 0;
    for (size_t i = 0; i < trickle; ++i) {
        const std::vector<std::string> id{"t" + std::to_string(i)};
        if (i % 2 == 0 || !c->try_upsert(id, fresh.data() + i * d, 1, nullptr, nullptr)) {
            c->upsert(id, fresh.data() + i * d, 1, nullptr, nullptr);
        } else {
            ++quick;
        }
    }
    done = true;
    for (auto& t : readers) t.join();
    snapshots.join();
    EXPECT_EQ(c->count(), base_n + trickle);
    for (size_t i = 0; i < trickle; ++i) {
        const Hits h = c->search(fresh.data() + i * d, 1, 1, {}, {});
        ASSERT_EQ(h.ids.size(), 1u);
        EXPECT_EQ(h.ids[0], "t" + std::to_string(i));
    }
    c->close();
    auto reopened = Collection::open(dir.path.string());
    EXPECT_EQ(reopened->count(), base_n + trickle);
    (void)quick;  // how many went the non-waiting way depends on timing; both ways are exercised
}
