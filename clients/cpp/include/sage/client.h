// The SAGE Mesh C++ client: thin typed wrappers over the generated gRPC stubs for the
// calls most programs need. Every failed call throws sage::RpcError carrying the status;
// the full generated stubs stay available (`sage::kv::v1::KVService::NewStub(channel)`).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "sage/kv/v1/kv.grpc.pb.h"
#include "sage/llm/v1/llm.grpc.pb.h"
#include "sage/vdb/v1/vdb.grpc.pb.h"

namespace sage {

// A gRPC call that ended with a non-OK status.
class RpcError : public std::runtime_error {
 public:
  explicit RpcError(const grpc::Status& status);
  grpc::StatusCode code() const { return code_; }

 private:
  grpc::StatusCode code_;
};

struct ConnectOptions {
  std::string token;        // sent as "authorization: Bearer <token>"; empty: SAGE_TOKEN's
  bool token_from_env = true;  // false: an empty token sends no credential at all
  int64_t deadline_ms = 30000;  // per call
};

// A plaintext channel to "host:port" (an instance or Envoy).
std::shared_ptr<grpc::Channel> Connect(const std::string& address);

// Packs equal-length rows as little-endian float32, row-major (the wire format of vectors).
std::string PackFloat32(const std::vector<std::vector<float>>& rows);

class KvClient {
 public:
  KvClient(std::shared_ptr<grpc::Channel> channel, ConnectOptions options = {});
  // Writes value under (ns, key) and returns the key's new version.
  int64_t Put(const std::string& ns, const std::string& key, const std::string& value, int64_t ttl_ms = 0);
  // Reads (ns, key); std::nullopt when it does not exist.
  std::optional<kv::v1::Entry> Get(const std::string& ns, const std::string& key);
  // One page of the keys under prefix, in key order.
  kv::v1::ScanResponse Scan(const std::string& ns, const std::string& prefix, int32_t page_size,
                            const std::string& page_token = "", bool include_values = true);

 private:
  std::unique_ptr<kv::v1::KVService::Stub> stub_;
  ConnectOptions options_;
};

class VdbClient {
 public:
  VdbClient(std::shared_ptr<grpc::Channel> channel, ConnectOptions options = {});
  vdb::v1::Collection CreateCollection(const vdb::v1::Collection& collection);
  void DeleteCollection(const std::string& name);
  int64_t Upsert(const std::string& collection, const vdb::v1::Points& points,
                 vdb::v1::Durability durability = vdb::v1::DURABILITY_UNSPECIFIED);
  // Nearest neighbours of each query row. where_json is a Chroma-style metadata filter
  // such as {"year": {"$gte": 2021}}; empty for none.
  vdb::v1::SearchResponse Search(const std::string& collection, const std::vector<std::vector<float>>& queries,
                                 int32_t top_k, const std::string& where_json = "",
                                 const std::vector<vdb::v1::Field>& include = {});

 private:
  std::unique_ptr<vdb::v1::VDBService::Stub> stub_;
  ConnectOptions options_;
};

class LlmClient {
 public:
  LlmClient(std::shared_ptr<grpc::Channel> channel, ConnectOptions options = {});
  llm::v1::GenerateResponse Generate(const llm::v1::GenerateRequest& request);
  // Streams the completion: on_delta gets each text delta as it arrives; returns the last
  // message (finish_reason, usage).
  llm::v1::GenerateStreamResponse GenerateStream(const llm::v1::GenerateStreamRequest& request,
                                                 const std::function<void(const std::string&)>& on_delta);

 private:
  std::unique_ptr<llm::v1::LLMService::Stub> stub_;
  ConnectOptions options_;
};

}  // namespace sage
