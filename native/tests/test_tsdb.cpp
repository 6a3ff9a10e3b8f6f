// The time-series core: chunked series with late points, tag filters, window aggregates,
// the out-of-order join and the database's durability (log replay, snapshot, torn tail).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "errors.h"
#include "tsdb_db.h"
#include "tsdb_filter.h"
#include "tsdb_join.h"
#include "tsdb_series.h"
#include "tsdb_window.h"

using namespace sage;
using namespace sage::tsdb;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
    fs::path p = fs::temp_directory_path() / ("sage_tsdb_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(p);
    return p;
}

std::vector<int64_t> all_ts(const Series& s) {
    std::vector<int64_t> out;
    s.scan(kMinTs, kMaxTs, [&](const Span& sp) { out.insert(out.end(), sp.ts, sp.ts + sp.n); });
    return out;
}

}  // namespace

TEST(TsdbFilter, ParsesAndMatches) {
    const Tags t = canonical_tags({{"region", "eu"}, {"host", "a"}}, "tags");
    EXPECT_TRUE(TagFilter::parse("").matches(t));
    EXPECT_TRUE(TagFilter::parse("host=a AND region=eu").matches(t));
    EXPECT_FALSE(TagFilter::parse("host=a and region=us").matches(t));
    EXPECT_TRUE(TagFilter::parse("host=b OR region=eu").matches(t));
    EXPECT_TRUE(TagFilter::parse("host!=b AND (region=us OR region='eu')").matches(t));
    EXPECT_TRUE(TagFilter::parse("missing=\"\"").matches(t));
}

TEST(TsdbFilter, BadSyntaxNamesTheField) {
    for (const char* bad : {"host", "host=", "host=a AND", "(host=a", "host=a extra", "=a", "host='a"}) {
        try {
            TagFilter::parse(bad);
            FAIL() << "parsed: " << bad;
        } catch (const InvalidArgument& e) {
            EXPECT_EQ(std::string(e.what()).rfind("tag_filter:", 0), 0u) << e.what();
        }
    }
}

TEST(TsdbSeries, LatePointsLandInOrderAcrossChunks) {
    Series s("m", {}, 0, 16);
    std::vector<int64_t> ts;
    for (int64_t i = 0; i < 500; ++i) ts.push_back(i * 10);
    std::mt19937 rng(7);
    std::shuffle(ts.begin(), ts.end(), rng);
    for (size_t i = 0; i < ts.size(); i += 7) {
        const size_t n = std::min<size_t>(7, ts.size() - i);
        std::vector<double> v(n, 1.0);
        s.add(ts.data() + i, v.data(), nullptr, nullptr, n);
    }
    const auto got = all_ts(s);
    ASSERT_EQ(got.size(), 500u);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
    EXPECT_GT(s.late_points(), 0u);
    s.compact();
    EXPECT_EQ(all_ts(s), got);
    EXPECT_LE(s.chunks(), 500u / 16 + 1);
}

TEST(TsdbSeries, RetentionAndErase) {
    Series s("m", {}, 0, 16);
    std::vector<int64_t> ts{0, 100, 200, 300, 400};
    std::vector<double> v{1, 2, 3, 4, 5};
    s.add(ts.data(), v.data(), nullptr, nullptr, 5);
    s.set_retention(250);
    EXPECT_EQ(s.apply_retention(), 2u);  // 0 and 100 are older than 400 - 250
    EXPECT_EQ(all_ts(s), (std::vector<int64_t>{200, 300, 400}));
    EXPECT_EQ(s.erase(300, 301), 1u);
    EXPECT_EQ(all_ts(s), (std::vector<int64_t>{200, 400}));
}

TEST(TsdbWindow, TumblingSlidingSessionAndPercentile) {
    std::vector<int64_t> ts{0, 10, 20, 65, 70, 200};
    std::vector<double> v{1, 2, 3, 4, 5, 6};
    std::vector<tsdb::Run> runs{tsdb::Run{ts.data(), v.data(), ts.size()}};
    WindowSpec w;
    w.size = 50;
    w.agg = Agg::Sum;
    Windows t = aggregate(runs, w, kMinTs, kMaxTs, 0);
    EXPECT_EQ(t.start, (std::vector<int64_t>{0, 50, 200}));
    EXPECT_EQ(t.value, (std::vector<double>{6, 9, 6}));

    w.interp = Interp::Linear;
    Windows lin = aggregate(runs, w, kMinTs, kMaxTs, 0);
    ASSERT_EQ(lin.size(), 5u);  // 0, 50, [100, 150 filled], 200
    EXPECT_DOUBLE_EQ(lin.value[2], 9 + (6 - 9) * (50.0 / 150.0));
    EXPECT_EQ(lin.count[2], 0);
    w.interp = Interp::Forward;
    EXPECT_EQ(aggregate(runs, w, kMinTs, kMaxTs, 0).value[3], 9);
    w.interp = Interp::None;

    w.kind = WindowKind::Sliding;
    w.slide = 25;
    w.agg = Agg::Count;
    Windows sl = aggregate(runs, w, kMinTs, kMaxTs, 0);
    EXPECT_EQ(sl.start.front(), -25);
    EXPECT_EQ(sl.value.front(), 3);

    w.kind = WindowKind::Session;
    w.gap = 50;
    w.agg = Agg::Max;
    Windows se = aggregate(runs, w, kMinTs, kMaxTs, 0);
    EXPECT_EQ(se.start, (std::vector<int64_t>{0, 200}));
    EXPECT_EQ(se.end, (std::vector<int64_t>{120, 250}));
    EXPECT_EQ(se.value, (std::vector<double>{5, 6}));

    std::vector<double> p{5, 1, 4, 2, 3};
    EXPECT_DOUBLE_EQ(aggregate_values(p.data(), 5, Agg::Percentile, 50), 3);
    EXPECT_DOUBLE_EQ(aggregate_values(p.data(), 5, Agg::Percentile, 90), 4.6);
    EXPECT_DOUBLE_EQ(aggregate_values(p.data(), 5, Agg::Stddev, 0), std::sqrt(2.0));
}

TEST(TsdbWindow, BadParametersNameTheField) {
    WindowSpec w;
    w.size = 0;
    EXPECT_THROW(w.validate(), InvalidArgument);
    EXPECT_THROW(parse_agg("median-ish"), InvalidArgument);
    w.size = 1;
    std::vector<tsdb::Run> runs;
    w.interp = Interp::Zero;
    try {
        aggregate(runs, w, 0, int64_t{1} << 40, 0);
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_EQ(std::string(e.what()).rfind("window_size:", 0), 0u);
    }
}

TEST(TsdbJoin, JoinsWithinWindowAndDropsLate) {
    StreamJoin j(10, 5);
    std::vector<JoinPair> out;
    j.push(0, 100, "a", 1, 1, out);
    j.push(1, 105, "a", 2, 2, out);   // joins with left@100
    j.push(1, 103, "b", 3, 3, out);   // other key
    j.push(0, 102, "b", 4, 4, out);   // joins right@103 (late by 3 < 5: still on time)
    j.push(0, 200, "a", 5, 5, out);   // watermark 195: releases everything before
    EXPECT_EQ(out.size(), 2u);
    EXPECT_FALSE(j.push(1, 150, "a", 6, 6, out));  // older than the watermark
    EXPECT_EQ(j.late(), 1u);
    j.flush(out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].key, "b");  // released at max(102,103) = 103 before max(100,105) = 105
    EXPECT_EQ(out[1].left_ts, 100);
    EXPECT_EQ(out[1].right_ts, 105);
}

TEST(TsdbJoin, FollowsTheCallersWatermark) {
    StreamJoin j(10, 0);
    std::vector<JoinPair> out;
    const int64_t none = std::numeric_limits<int64_t>::min();
    EXPECT_TRUE(j.push_at(0, 100, "a", 0, 1, none, out));
    EXPECT_TRUE(j.push_at(1, 500, "a", 0, 2, none, out));  // the timestamps do not move it
    EXPECT_TRUE(j.push_at(1, 95, "a", 0, 3, 90, out));     // joins left@100; watermark 90
    EXPECT_TRUE(out.empty());                              // held until the watermark passes 100
    EXPECT_FALSE(j.push_at(0, 80, "a", 0, 4, 90, out));    // older than 90: late
    EXPECT_EQ(j.late(), 1u);
    EXPECT_TRUE(j.push_at(0, 120, "a", 0, 5, 101, out));   // watermark 101 releases (100, 95)
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].left_id, 1);
    EXPECT_EQ(out[0].right_id, 3);
    EXPECT_TRUE(j.push_at(0, 200, "a", 0, 6, 50, out));    // a smaller watermark never moves it back
    EXPECT_EQ(j.watermark(), 101);
    j.flush(out);
    EXPECT_EQ(out.size(), 1u);  // 500 has no partner within 10 ms
}

TEST(TsdbDatabase, ReplaysTheLogAndTheSnapshot) {
    const fs::path dir = temp_dir("replay");
    DBOptions o;
    o.fsync = FsyncPolicy::Always;
    {
        auto db = Database::open(dir.string(), o);
        SeriesWrite w;
        w.metric = "cpu";
        w.tags = {{"host", "a"}};
        w.ts = {30, 10, 20};
        w.val = {3, 1, 2};
        db->write({w}, true);
        db->snapshot();
        w.ts = {5};
        w.val = {0.5};
        db->write({w}, true);
        db->set_retention("cpu", "", 1000, true);
    }
    {
        auto db = Database::open(dir.string(), o);
        QuerySpec q;
        q.metric = "cpu";
        auto res = db->query(q);
        ASSERT_EQ(res.size(), 1u);
        EXPECT_EQ(res[0].ts, (std::vector<int64_t>{5, 10, 20, 30}));
        EXPECT_EQ(db->list_series("", "host=a").at(0).retention_ms, 1000);
    }
    // A torn tail is cut off; the intact records before it survive.
    {
        std::ofstream f(dir / "tsdb.wal", std::ios::app | std::ios::binary);
        f << "garbage-torn-record";
    }
    auto db = Database::open(dir.string(), o);
    EXPECT_EQ(db->stats().points, 4u);
    EXPECT_GT(db->stats().dropped_log_bytes, 0u);
    db->close();
    fs::remove_all(dir);
}

TEST(TsdbDatabase, BadWriteChangesNothing) {
    const fs::path dir = temp_dir("bad");
    auto db = Database::open(dir.string(), DBOptions{});
    SeriesWrite good;
    good.metric = "m";
    good.ts = {1};
    good.val = {1};
    SeriesWrite bad = good;
    bad.val = {std::numeric_limits<double>::quiet_NaN()};
    try {
        db->write({good, bad}, true);
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_EQ(std::string(e.what()).rfind("series[1].values[0]:", 0), 0u) << e.what();
    }
    EXPECT_EQ(db->stats().points, 0u);
    EXPECT_EQ(db->stats().seq, 0u);
    db->close();
    fs::remove_all(dir);
}

TEST(TsdbDatabase, GroupByMergesSeries) {
    const fs::path dir = temp_dir("group");
    auto db = Database::open(dir.string(), DBOptions{});
    std::vector<SeriesWrite> ws;
    for (const char* host : {"a", "b", "c"}) {
        SeriesWrite w;
        w.metric = "cpu";
        w.tags = {{"host", host}, {"region", std::string(host) == "c" ? "us" : "eu"}};
        w.ts = {0, 60000, 120000};
        w.val = {1, 2, 3};
        ws.push_back(w);
    }
    db->write(ws, false);
    QuerySpec q;
    q.metric = "cpu";
    WindowSpec w;
    w.size = 60000;
    w.agg = Agg::Sum;
    auto groups = db->window_aggregate(q, w, {"region"});
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].group[0].second, "eu");
    EXPECT_EQ(groups[0].series, 2u);
    EXPECT_EQ(groups[0].windows.value, (std::vector<double>{2, 4, 6}));
    EXPECT_EQ(groups[1].windows.value, (std::vector<double>{1, 2, 3}));
    db->close();
    fs::remove_all(dir);
}
