#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "distances.h"

TEST(Distances, KernelsMatchScalarReferenceForOddDimensions) {
    std::mt19937 rng(3);
    std::normal_distribution<float> g;
    for (size_t d : {1u, 7u, 8u, 15u, 16u, 33u, 128u}) {
        std::vector<float> x(d), y(d);
        for (size_t i = 0; i < d; ++i) { x[i] = g(rng); y[i] = g(rng); }
        double l2 = 0, ip = 0;
        for (size_t i = 0; i < d; ++i) { l2 += (x[i] - y[i]) * (x[i] - y[i]); ip += x[i] * y[i]; }
        EXPECT_NEAR(sage::l2sqr_kernel()(x.data(), y.data(), d), l2, 1e-4 * (1 + l2)) << "d=" << d;
        EXPECT_NEAR(sage::inner_product_kernel()(x.data(), y.data(), d), ip, 1e-4 * (1 + std::fabs(ip))) << "d=" << d;
    }
}
