#include "collection_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "errors.h"

namespace sage::collection_files {

namespace fs = std::filesystem;

void fsync_path(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw IoError("cannot open " + p.string() + ": " + std::strerror(errno));
    ::fsync(fd);
    ::close(fd);
}

void write_file_durably(const fs::path& p, const std::string& content) {
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(content.data(), static_cast<std::streamsize>(content.size()));
        if (!out) throw IoError("cannot write " + p.string());
    }
    fsync_path(p);
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw IoError("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string encode_config(const CollectionOptions& o) {
    std::ostringstream s;
    s << "version=1\n"
      << "dim=" << o.dim << "\n"
      << "metric=" << metric_name(o.metric) << "\n"
      << "index=" << index_type_name(o.index.type) << "\n"
      << "M=" << o.index.M << "\n"
      << "ef_construction=" << o.index.ef_construction << "\n"
      << "ef_search=" << o.index.ef_search << "\n"
      << "nlist=" << o.index.nlist << "\n"
      << "nprobe=" << o.index.nprobe << "\n"
      << "train_min=" << o.index.train_min << "\n"
      << "fsync=" << fsync_name(o.fsync) << "\n"
      << "snapshot_wal_bytes=" << o.snapshot_wal_bytes << "\n";
    return s.str();
}

CollectionOptions decode_config(const std::string& text, const std::string& path) {
    std::unordered_map<std::string, std::string> kv;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    auto need = [&](const char* key) -> const std::string& {
        auto it = kv.find(key);
        if (it == kv.end()) throw IoError("collection config " + path + " lacks '" + key + "'");
        return it->second;
    };
    CollectionOptions o;
    o.dim = std::stoul(need("dim"));
    o.metric = parse_metric(need("metric"));
    const std::string& type = need("index");
    o.index.type = type == "flat" ? IndexSpec::Type::Flat : type == "hnsw" ? IndexSpec::Type::HNSW : IndexSpec::Type::IVF;
    o.index.M = std::stoi(need("M"));
    o.index.ef_construction = std::stoi(need("ef_construction"));
    o.index.ef_search = std::stoi(need("ef_search"));
    o.index.nlist = std::stoi(need("nlist"));
    o.index.nprobe = std::stoi(need("nprobe"));
    o.index.train_min = std::stoll(need("train_min"));
    o.fsync = parse_fsync(need("fsync"));
    o.snapshot_wal_bytes = std::stoull(need("snapshot_wal_bytes"));
    return o;
}

}  // namespace sage::collection_files
