#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "sq8.h"

namespace {

std::vector<float> normal_rows(size_t n, size_t d, unsigned seed, float shift = 0) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g;
    std::vector<float> x(n * d);
    for (auto& v : x) v = g(rng) + shift;
    return x;
}

double exact(const float* q, const float* x, size_t d, bool l2) {
    double s = 0;
    for (size_t i = 0; i < d; ++i) s += l2 ? (q[i] - x[i]) * (q[i] - x[i]) : q[i] * x[i];
    return l2 ? s : -s;
}

}  // namespace

TEST(Sq8Codes, DistancesApproximateTheFloatOnesForBothMetrics) {
    const size_t d = 37, n = 500;  // odd width: the SIMD body and its scalar tail
    const auto x = normal_rows(n, d, 1);
    const auto q = normal_rows(1, d, 2);
    sage::Sq8Codes codes(d);
    codes.train(x.data(), n);
    ASSERT_EQ(codes.rows(), n);
    for (bool l2 : {true, false}) {
        const auto query = codes.prepare(q.data(), l2);
        for (size_t r = 0; r + 4 <= 40; r += 4) {
            float four[4];
            codes.distance4(query, codes.code(r), codes.code(r + 1), codes.code(r + 2), codes.code(r + 3), four);
            for (size_t j = 0; j < 4; ++j) {
                const double want = exact(q.data(), &x[(r + j) * d], d, l2);
                // Rounding error per component ~ step / sqrt(12) = 0.0075 (a ~6.6 sigma range over
                // 255 levels); over 37 components against |q| ~ 6 that is ~0.05: allow 5 sigma.
                EXPECT_NEAR(four[j], want, 0.25 + 0.01 * std::fabs(want)) << "l2=" << l2 << " row=" << r + j;
                EXPECT_FLOAT_EQ(codes.distance(query, codes.code(r + j)), four[j]);
            }
        }
    }
}

TEST(Sq8Codes, RowsOutsideTheLearnedRangeAreClampedAndCounted) {
    const size_t d = 16;
    const auto x = normal_rows(200, d, 3);
    sage::Sq8Codes codes(d);
    codes.train(x.data(), 200);
    EXPECT_EQ(codes.append(x.data(), 10), 0u);  // rows it learned from fit
    const auto far = normal_rows(10, d, 4, /*shift=*/100);
    EXPECT_EQ(codes.append(far.data(), 10), 10 * d);
    EXPECT_EQ(codes.rows(), 220u);
}

TEST(Sq8Codes, ConstantDimensionsEncodeWithoutDividingByZero) {
    const size_t d = 8;
    std::vector<float> x(50 * d, 0.5f);
    sage::Sq8Codes codes(d);
    codes.train(x.data(), 50);
    const auto query = codes.prepare(x.data(), true);
    EXPECT_NEAR(codes.distance(query, codes.code(7)), 0.0, 1e-6);
}
