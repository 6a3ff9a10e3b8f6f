#include <gtest/gtest.h>

#include "errors.h"
#include "filter.h"

using namespace sage;

namespace {

Value map(std::vector<std::pair<std::string, Value>> items) { return Value::of_map(std::move(items)); }
Value str(const char* s) { return Value::of_string(s); }

struct Fixture : ::testing::Test {
    MetadataStore meta;
    std::vector<std::string> docs;
    void SetUp() override {
        // slot 0: a=1 tag=x      doc "hello world"
        // slot 1: a=5 tag=y      doc "goodbye"
        // slot 2: (no a) tags=[x,z]
        meta.append({{"a", Value::of_int(1)}, {"tag", str("x")}});
        meta.append({{"a", Value::of_int(5)}, {"tag", str("y")}});
        meta.append({{"tags", Value::of_list({str("x"), str("z")})}});
        docs = {"hello world", "goodbye", ""};
    }
    std::vector<size_t> run(const Value& where) {
        std::vector<size_t> out;
        evaluate(parse_where(where), meta, docs).for_each([&](size_t s) { out.push_back(s); });
        return out;
    }
};

}  // namespace

TEST_F(Fixture, ShorthandIsEquality) { EXPECT_EQ(run(map({{"a", Value::of_int(5)}})), (std::vector<size_t>{1})); }

TEST_F(Fixture, NotEqualMatchesRecordsWithoutTheField) {
    EXPECT_EQ(run(map({{"a", map({{"$ne", Value::of_int(5)}})}})), (std::vector<size_t>{0, 2}));
}

TEST_F(Fixture, RangeComparesIntsWithFloats) {
    EXPECT_EQ(run(map({{"a", map({{"$gt", Value::of_double(1.5)}})}})), (std::vector<size_t>{1}));
}

TEST_F(Fixture, InOnListFieldMeansContainsAny) {
    EXPECT_EQ(run(map({{"tags", map({{"$in", Value::of_list({str("z")})}})}})), (std::vector<size_t>{2}));
}

TEST_F(Fixture, OrCombinesChildren) {
    const Value w = map({{"$or", Value::of_list({map({{"tag", str("x")}}), map({{"a", Value::of_int(5)}})})}});
    EXPECT_EQ(run(w), (std::vector<size_t>{0, 1}));
}

TEST_F(Fixture, DocumentContains) {
    std::vector<size_t> out;
    evaluate(parse_where_document(map({{"$contains", str("world")}})), meta, docs).for_each([&](size_t s) {
        out.push_back(s);
    });
    EXPECT_EQ(out, (std::vector<size_t>{0}));
}

TEST(FilterParse, RejectsMalformedFilters) {
    EXPECT_THROW(parse_where(map({{"a", map({{"$bogus", Value::of_int(1)}})}})), InvalidArgument);
    EXPECT_THROW(parse_where(map({{"a", map({{"$gt", str("x")}})}})), InvalidArgument);
    EXPECT_THROW(parse_where(map({{"$and", Value::of_list({})}})), InvalidArgument);
    EXPECT_THROW(parse_where(map({{"a", map({{"$in", Value::of_int(1)}})}})), InvalidArgument);
    EXPECT_THROW(parse_where_document(map({{"$has", str("x")}})), InvalidArgument);
    EXPECT_THROW(parse_where(Value::of_int(3)), InvalidArgument);
}

TEST(FilterParse, ErrorNamesTheOperator) {
    try {
        parse_where(map({{"price", map({{"$bogus", Value::of_int(1)}})}}));
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("$bogus"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("price"), std::string::npos);
    }
}

TEST(MetadataTypes, FieldCannotChangeType) {
    MetadataStore meta;
    meta.append({{"a", Value::of_int(1)}});
    std::unordered_map<std::string, FieldType> batch;
    EXPECT_THROW(meta.validate({{"a", Value::of_string("x")}}, "r1", batch), InvalidArgument);
    EXPECT_NO_THROW(meta.validate({{"a", Value::of_int(2)}}, "r2", batch));
}
