#include <gtest/gtest.h>

#include "bitmap.h"

using sage::Bitmap;

TEST(Bitmap, SetTestCount) {
    Bitmap b(130);
    b.set(0);
    b.set(64);
    b.set(129);
    EXPECT_TRUE(b.test(64));
    EXPECT_FALSE(b.test(65));
    EXPECT_FALSE(b.test(500));
    EXPECT_EQ(b.count(), 3u);
}

TEST(Bitmap, FlipLeavesBitsPastSizeClear) {
    Bitmap b(70);
    b.set(3);
    b.flip();
    EXPECT_EQ(b.count(), 69u);
    EXPECT_FALSE(b.test(3));
}

TEST(Bitmap, GrowingWithTrueSetsOnlyNewBits) {
    Bitmap b(10);
    b.resize(100, true);
    EXPECT_EQ(b.count(), 90u);
    EXPECT_FALSE(b.test(9));
    EXPECT_TRUE(b.test(10));
}

TEST(Bitmap, ForEachVisitsInOrder) {
    Bitmap b(200);
    for (size_t i : {5u, 63u, 64u, 199u}) b.set(i);
    std::vector<size_t> seen;
    b.for_each([&](size_t i) { seen.push_back(i); });
    EXPECT_EQ(seen, (std::vector<size_t>{5, 63, 64, 199}));
}
