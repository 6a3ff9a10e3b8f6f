// A collection's directory on disk: the names of its files, the config codec
// (collection.cfg, key=value lines) and the durable file helpers the other parts share.
#pragma once
#include <filesystem>
#include <string>

#include "collection.h"

namespace sage::collection_files {

constexpr const char* kConfigFile = "collection.cfg";
constexpr const char* kLogFile = "wal.log";
constexpr const char* kLockFile = "LOCK";
constexpr const char* kSnapshotDir = "snapshot";
constexpr const char* kSnapshotTmp = "snapshot.tmp";
constexpr const char* kSnapshotOld = "snapshot.old";
constexpr const char* kStateFile = "state.bin";
constexpr const char* kIndexFile = "index.faiss";

void fsync_path(const std::filesystem::path& p);
void write_file_durably(const std::filesystem::path& p, const std::string& content);
std::string read_file(const std::filesystem::path& p);

std::string encode_config(const CollectionOptions& o);
CollectionOptions decode_config(const std::string& text, const std::string& path);

}  // namespace sage::collection_files
