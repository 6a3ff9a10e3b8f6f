#include "sage/client.h"

#include <chrono>
#include <cstdlib>
#include <cstring>

#include <google/protobuf/util/json_util.h>

namespace sage {
namespace {

std::unique_ptr<grpc::ClientContext> NewContext(const ConnectOptions& options) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(options.deadline_ms));
  // The token given, else SAGE_TOKEN (`export SAGE_TOKEN=$(sage auth token)`), as the Python SDK does.
  std::string token = options.token;
  if (token.empty() && options.token_from_env) {
    const char* from_env = std::getenv("SAGE_TOKEN");
    if (from_env != nullptr) token = from_env;
  }
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

void Check(const grpc::Status& status) {
  if (!status.ok()) throw RpcError(status);
}

}  // namespace

RpcError::RpcError(const grpc::Status& status)
    : std::runtime_error("gRPC status " + std::to_string(status.error_code()) + ": " + status.error_message()),
      code_(status.error_code()) {}

std::shared_ptr<grpc::Channel> Connect(const std::string& address) {
  return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
}

std::string PackFloat32(const std::vector<std::vector<float>>& rows) {
  const size_t dimension = rows.empty() ? 0 : rows[0].size();
  std::string out;
  out.reserve(rows.size() * dimension * sizeof(float));
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].size() != dimension) {
      throw std::invalid_argument("row " + std::to_string(i) + " has " + std::to_string(rows[i].size()) +
                                  " values; every row must have " + std::to_string(dimension));
    }
    static_assert(sizeof(float) == 4, "the wire format is float32");
    // x86 and arm64 are little-endian, the wire order, so the bytes copy as they are.
    out.append(reinterpret_cast<const char*>(rows[i].data()), dimension * sizeof(float));
  }
  return out;
}

// -- KV ----------------------------------------------------------------------------------
KvClient::KvClient(std::shared_ptr<grpc::Channel> channel, ConnectOptions options)
    : stub_(kv::v1::KVService::NewStub(channel)), options_(std::move(options)) {}

int64_t KvClient::Put(const std::string& ns, const std::string& key, const std::string& value, int64_t ttl_ms) {
  kv::v1::PutRequest request;
  request.set_namespace_(ns);
  request.set_key(key);
  request.set_value(value);
  request.set_ttl_ms(ttl_ms);
  kv::v1::PutResponse response;
  Check(stub_->Put(NewContext(options_).get(), request, &response));
  return response.version();
}

std::optional<kv::v1::Entry> KvClient::Get(const std::string& ns, const std::string& key) {
  kv::v1::GetRequest request;
  request.set_namespace_(ns);
  request.set_key(key);
  kv::v1::GetResponse response;
  grpc::Status status = stub_->Get(NewContext(options_).get(), request, &response);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  Check(status);
  return response.entry();
}

kv::v1::ScanResponse KvClient::Scan(const std::string& ns, const std::string& prefix, int32_t page_size,
                                    const std::string& page_token, bool include_values) {
  kv::v1::ScanRequest request;
  request.set_namespace_(ns);
  request.set_prefix(prefix);
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  request.set_include_values(include_values);
  kv::v1::ScanResponse response;
  Check(stub_->Scan(NewContext(options_).get(), request, &response));
  return response;
}

// -- VDB ---------------------------------------------------------------------------------
VdbClient::VdbClient(std::shared_ptr<grpc::Channel> channel, ConnectOptions options)
    : stub_(vdb::v1::VDBService::NewStub(channel)), options_(std::move(options)) {}

vdb::v1::Collection VdbClient::CreateCollection(const vdb::v1::Collection& collection) {
  vdb::v1::CreateCollectionRequest request;
  *request.mutable_collection() = collection;
  vdb::v1::CreateCollectionResponse response;
  Check(stub_->CreateCollection(NewContext(options_).get(), request, &response));
  return response.collection();
}

void VdbClient::DeleteCollection(const std::string& name) {
  vdb::v1::DeleteCollectionRequest request;
  request.set_name(name);
  vdb::v1::DeleteCollectionResponse response;
  Check(stub_->DeleteCollection(NewContext(options_).get(), request, &response));
}

int64_t VdbClient::Upsert(const std::string& collection, const vdb::v1::Points& points,
                          vdb::v1::Durability durability) {
  vdb::v1::UpsertRequest request;
  request.set_collection(collection);
  *request.mutable_points() = points;
  request.set_durability(durability);
  vdb::v1::UpsertResponse response;
  Check(stub_->Upsert(NewContext(options_).get(), request, &response));
  return response.upserted_count();
}

vdb::v1::SearchResponse VdbClient::Search(const std::string& collection,
                                          const std::vector<std::vector<float>>& queries, int32_t top_k,
                                          const std::string& where_json,
                                          const std::vector<vdb::v1::Field>& include) {
  vdb::v1::SearchRequest request;
  request.set_collection(collection);
  request.set_queries(PackFloat32(queries));
  request.set_top_k(top_k);
  if (!where_json.empty()) {
    auto parsed = google::protobuf::util::JsonStringToMessage(where_json, request.mutable_where());
    if (!parsed.ok()) {
      throw std::invalid_argument("where_json is not a JSON object: " + std::string(parsed.message()));
    }
  }
  for (auto field : include) request.add_include(field);
  vdb::v1::SearchResponse response;
  Check(stub_->Search(NewContext(options_).get(), request, &response));
  return response;
}

// -- LLM ---------------------------------------------------------------------------------
LlmClient::LlmClient(std::shared_ptr<grpc::Channel> channel, ConnectOptions options)
    : stub_(llm::v1::LLMService::NewStub(channel)), options_(std::move(options)) {}

llm::v1::GenerateResponse LlmClient::Generate(const llm::v1::GenerateRequest& request) {
  llm::v1::GenerateResponse response;
  Check(stub_->Generate(NewContext(options_).get(), request, &response));
  return response;
}

llm::v1::GenerateStreamResponse LlmClient::GenerateStream(
    const llm::v1::GenerateStreamRequest& request, const std::function<void(const std::string&)>& on_delta) {
  auto context = NewContext(options_);
  auto reader = stub_->GenerateStream(context.get(), request);
  llm::v1::GenerateStreamResponse message, last;
  while (reader->Read(&message)) {
    if (!message.delta().empty()) on_delta(message.delta());
    last = message;
  }
  Check(reader->Finish());
  return last;
}

}  // namespace sage
