#include <gtest/gtest.h>

#include "text_index.h"
#include "tokenizer.h"

using sage::tokenize;

TEST(Tokenizer, LowercasesEnglishWords) {
    EXPECT_EQ(tokenize("Hello, World! 42x"), (std::vector<std::string>{"hello", "world", "42x"}));
}

TEST(Tokenizer, ChineseBecomesCharacterBigrams) {
    EXPECT_EQ(tokenize("向量数据库"), (std::vector<std::string>{"向量", "量数", "数据", "据库"}));
}

TEST(Tokenizer, MixedScriptSplitsAtScriptBoundaries) {
    EXPECT_EQ(tokenize("SAGE系统"), (std::vector<std::string>{"sage", "系统"}));
    EXPECT_EQ(tokenize("一"), (std::vector<std::string>{"一"}));
}

TEST(BM25, RanksRareTermMatchesFirstAndSkipsDisallowed) {
    sage::TextIndex idx;
    idx.add(0, "the cat sat on the mat");
    idx.add(1, "the dog barked");
    idx.add(2, "a cat and a dog");
    sage::Bitmap all(3, true);
    auto hits = idx.search("cat", 10, all);
    ASSERT_EQ(hits.size(), 2u);
    EXPECT_TRUE((hits[0].slot == 0 || hits[0].slot == 2));
    sage::Bitmap some(3, true);
    some.reset(0);
    some.reset(2);
    EXPECT_TRUE(idx.search("cat", 10, some).empty());
}

TEST(BM25, RemovedDocumentsNoLongerCountTowardsDocumentFrequency) {
    sage::TextIndex idx;
    idx.add(0, "alpha beta");
    idx.add(1, "alpha gamma");
    EXPECT_EQ(idx.documents(), 2u);
    idx.remove(0, "alpha beta");
    EXPECT_EQ(idx.documents(), 1u);
}
