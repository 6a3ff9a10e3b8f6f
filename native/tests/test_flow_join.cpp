// sage_flow's window joins against a double-precision brute force, on both scoring paths
// (AMX bf16 with exact re-scoring where the CPU has it, and the float32 kernels).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "errors.h"
#include "flow_join.h"

namespace {

using sage::Metric;

std::vector<float> gaussian(size_t n, size_t dim, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    std::vector<float> v(n * dim);
    for (auto& x : v) x = g(rng);
    return v;
}

double score(const float* x, const float* y, size_t dim, Metric m) {
    double ip = 0, xx = 0, yy = 0, l2 = 0;
    for (size_t d = 0; d < dim; ++d) {
        ip += double(x[d]) * y[d];
        xx += double(x[d]) * x[d];
        yy += double(y[d]) * y[d];
        l2 += (double(x[d]) - y[d]) * (double(x[d]) - y[d]);
    }
    if (m == Metric::L2) return l2;
    if (m == Metric::Cosine) return ip / std::sqrt(xx * yy);
    return ip;
}

class FlowJoin : public ::testing::TestWithParam<bool> {
   protected:
    void SetUp() override { sage::flow::set_amx_enabled(GetParam()); }
    void TearDown() override { sage::flow::set_amx_enabled(true); }
};

TEST_P(FlowJoin, KnnJoinReturnsTheExactTopK) {
    const size_t na = 45, nb = 700, dim = 100, k = 7;
    const auto a = gaussian(na, dim, 1), b = gaussian(nb, dim, 2);
    for (Metric m : {Metric::IP, Metric::Cosine, Metric::L2}) {
        std::vector<int64_t> labels(na * k);
        std::vector<float> scores(na * k);
        sage::flow::knn_join(a.data(), na, b.data(), nb, dim, m, k, 1, labels.data(), scores.data());
        const bool lower = m == Metric::L2;
        for (size_t i = 0; i < na; ++i) {
            std::vector<double> ref(nb);
            for (size_t j = 0; j < nb; ++j) ref[j] = score(&a[i * dim], &b[j * dim], dim, m);
            std::vector<size_t> order(nb);
            std::iota(order.begin(), order.end(), 0);
            std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return lower ? ref[x] < ref[y] : ref[x] > ref[y]; });
            for (size_t t = 0; t < k; ++t) {
                const double want = ref[order[t]];
                EXPECT_NEAR(ref[labels[i * k + t]], want, 1e-4 * (1 + std::fabs(want))) << "row " << i << " rank " << t;
                EXPECT_NEAR(scores[i * k + t], want, 1e-4 * (1 + std::fabs(want)));
            }
        }
    }
}

TEST_P(FlowJoin, RangeJoinFindsEveryPairWithinTheThreshold) {
    const size_t na = 30, nb = 300, dim = 48;
    const auto a = gaussian(na, dim, 3), b = gaussian(nb, dim, 4);
    const float t = 0.35f;
    const auto pairs = sage::flow::range_join(a.data(), na, b.data(), nb, dim, Metric::Cosine, t, 1);
    size_t want = 0;
    for (size_t i = 0; i < na; ++i) {
        for (size_t j = 0; j < nb; ++j) want += score(&a[i * dim], &b[j * dim], dim, Metric::Cosine) >= t;
    }
    EXPECT_GT(want, 10u);
    EXPECT_EQ(pairs.left.size(), want);
    for (size_t p = 0; p < pairs.left.size(); ++p) {
        EXPECT_GE(score(&a[pairs.left[p] * dim], &b[pairs.right[p] * dim], dim, Metric::Cosine), t - 1e-5);
    }
}

INSTANTIATE_TEST_SUITE_P(Paths, FlowJoin, ::testing::Values(true, false));

TEST(FlowJoinInput, FewerRightRowsThanKPadsWithMinusOne) {
    const auto a = gaussian(2, 8, 5), b = gaussian(3, 8, 6);
    std::vector<int64_t> labels(2 * 5);
    std::vector<float> scores(2 * 5);
    sage::flow::knn_join(a.data(), 2, b.data(), 3, 8, Metric::IP, 5, 0, labels.data(), scores.data());
    EXPECT_EQ(labels[3], -1);
    EXPECT_TRUE(std::isnan(scores[4]));
    EXPECT_THROW(sage::flow::knn_join(a.data(), 2, b.data(), 3, 8, Metric::IP, 0, 0, labels.data(), scores.data()),
                 sage::InvalidArgument);
}

TEST(FlowJoinInput, CentroidIsTheMean) {
    const std::vector<float> x = {1, 2, 3, 5, 6, 7};
    std::vector<float> c(3);
    sage::flow::centroid(x.data(), 2, 3, c.data());
    EXPECT_FLOAT_EQ(c[0], 3);
    EXPECT_FLOAT_EQ(c[2], 5);
}

}  // namespace
