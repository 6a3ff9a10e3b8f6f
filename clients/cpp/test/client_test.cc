// The C++ client against live services. Each suite reads its address from
// SAGE_<SERVICE>_ADDR (the Python test driver starts a mesh and sets them) and is
// SKIPPED when that is unset. ctest runs one suite per test (see CMakeLists.txt).
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "sage/client.h"

namespace {

std::string Address(const char* variable) {
  const char* value = std::getenv(variable);
  if (value == nullptr) return "";
  std::string all(value);
  return all.substr(0, all.find(','));
}

std::string UniqueName(const std::string& prefix) {
  return prefix + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

#define REQUIRE_ADDRESS(variable, address)                          \
  const std::string address = Address(variable);                    \
  if (address.empty()) GTEST_SKIP() << variable << " is not set";

TEST(helpers, PackFloat32IsLittleEndianRowMajor) {
  const std::string bytes = sage::PackFloat32({{1.0f, 0.5f}, {-2.0f, 3.0f}});
  ASSERT_EQ(bytes.size(), 16u);
  float second;
  std::memcpy(&second, bytes.data() + 4, 4);
  EXPECT_EQ(second, 0.5f);
  EXPECT_THROW(sage::PackFloat32({{1.0f, 2.0f}, {3.0f}}), std::invalid_argument);
}

TEST(kv, PutGetScan) {
  REQUIRE_ADDRESS("SAGE_KV_ADDR", address);
  sage::KvClient kv(sage::Connect(address));
  const std::string ns = UniqueName("cpp-");

  EXPECT_EQ(kv.Put(ns, "greeting", "hello"), 1);
  EXPECT_EQ(kv.Put(ns, "greeting", "hi"), 2);
  auto entry = kv.Get(ns, "greeting");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->value(), "hi");
  EXPECT_EQ(entry->version(), 2);
  EXPECT_FALSE(kv.Get(ns, "missing").has_value());

  for (const char* key : {"doc/3", "doc/1", "doc/2"}) kv.Put(ns, key, key);
  auto first = kv.Scan(ns, "doc/", 2);
  ASSERT_EQ(first.entries_size(), 2);
  EXPECT_EQ(first.entries(0).key(), "doc/1");
  EXPECT_EQ(first.entries(0).value(), "doc/1");
  EXPECT_EQ(first.entries(1).key(), "doc/2");
  ASSERT_FALSE(first.next_page_token().empty());
  auto second = kv.Scan(ns, "doc/", 2, first.next_page_token());
  ASSERT_EQ(second.entries_size(), 1);
  EXPECT_EQ(second.entries(0).key(), "doc/3");
  EXPECT_TRUE(second.next_page_token().empty());
}

TEST(kv, ErrorsCarryTheStatusCode) {
  REQUIRE_ADDRESS("SAGE_KV_ADDR", address);
  sage::KvClient kv(sage::Connect(address));
  try {
    kv.Put("", "key", "value");  // an empty namespace is invalid
    FAIL() << "an empty namespace was accepted";
  } catch (const sage::RpcError& error) {
    EXPECT_EQ(error.code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(std::string(error.what()).find("namespace"), std::string::npos) << error.what();
  }
}

TEST(auth, TokenIsSentAndRequired) {
  REQUIRE_ADDRESS("SAGE_KV_ADDR", address);
  const char* token = std::getenv("SAGE_TOKEN");
  if (token == nullptr || *token == 0) GTEST_SKIP() << "SAGE_TOKEN is not set";
  auto channel = sage::Connect(address);
  sage::ConnectOptions with_token;
  with_token.token = token;
  EXPECT_GE(sage::KvClient(channel, with_token).Put("auth", "k", "v"), 1);
  sage::ConnectOptions without_token;
  without_token.token_from_env = false;
  try {
    sage::KvClient(channel, without_token).Put("auth", "k", "v");
    FAIL() << "a call without the token was accepted";
  } catch (const sage::RpcError& error) {
    EXPECT_EQ(error.code(), grpc::StatusCode::UNAUTHENTICATED);
  }
}

TEST(vdb, CreateUpsertSearchWithFilter) {
  REQUIRE_ADDRESS("SAGE_VDB_ADDR", address);
  sage::VdbClient vdb(sage::Connect(address));
  sage::vdb::v1::Collection spec;
  spec.set_name(UniqueName("cpp_"));
  spec.set_dimension(2);
  spec.set_metric(sage::vdb::v1::METRIC_L2);
  spec.mutable_index()->mutable_flat();
  auto created = vdb.CreateCollection(spec);
  EXPECT_EQ(created.dimension(), 2);

  sage::vdb::v1::Points points;
  const std::vector<std::vector<float>> rows = {{0.0f, 0.0f}, {0.1f, 0.0f}, {5.0f, 5.0f}};
  const int64_t years[] = {2019, 2023, 2024};
  for (int i = 0; i < 3; ++i) {
    points.add_ids("p" + std::to_string(i));
    (*points.add_metadatas()->mutable_fields())["year"].set_int_value(years[i]);
    points.add_documents("document " + std::to_string(i));
  }
  points.set_vectors(sage::PackFloat32(rows));
  EXPECT_EQ(vdb.Upsert(spec.name(), points, sage::vdb::v1::DURABILITY_SYNC), 3);

  auto unfiltered = vdb.Search(spec.name(), {{0.0f, 0.0f}}, 2);
  ASSERT_EQ(unfiltered.results_size(), 1);
  ASSERT_EQ(unfiltered.results(0).ids_size(), 2);
  EXPECT_EQ(unfiltered.results(0).ids(0), "p0");
  EXPECT_EQ(unfiltered.results(0).ids(1), "p1");

  // The filter removes the nearest point (2019), so p1 then the far p2 are returned.
  auto filtered = vdb.Search(spec.name(), {{0.0f, 0.0f}}, 2, R"({"year": {"$gte": 2020}})",
                             {sage::vdb::v1::FIELD_METADATA});
  ASSERT_EQ(filtered.results(0).ids_size(), 2);
  EXPECT_EQ(filtered.results(0).ids(0), "p1");
  EXPECT_EQ(filtered.results(0).ids(1), "p2");
  ASSERT_EQ(filtered.results(0).metadatas_size(), 2);
  EXPECT_EQ(filtered.results(0).metadatas(0).fields().at("year").int_value(), 2023);
  vdb.DeleteCollection(spec.name());
}

TEST(llm, StreamDeltasAddUpToTheCompletion) {
  REQUIRE_ADDRESS("SAGE_LLM_ADDR", address);
  sage::LlmClient llm(sage::Connect(address));
  sage::llm::v1::GenerateStreamRequest request;
  request.set_prompt("The mesh streams tokens");
  request.mutable_sampling()->set_temperature(0.0f);
  request.mutable_sampling()->set_max_tokens(12);
  request.mutable_sampling()->set_seed(7);

  std::string streamed;
  int deltas = 0;
  auto last = llm.GenerateStream(request, [&](const std::string& delta) {
    streamed += delta;
    ++deltas;
  });
  EXPECT_GT(deltas, 1);
  EXPECT_NE(last.finish_reason(), sage::llm::v1::FINISH_REASON_UNSPECIFIED);
  EXPECT_GT(last.usage().completion_tokens(), 0);

  sage::llm::v1::GenerateRequest whole;
  whole.set_prompt(request.prompt());
  *whole.mutable_sampling() = request.sampling();
  EXPECT_EQ(llm.Generate(whole).text(), streamed);
}

}  // namespace
