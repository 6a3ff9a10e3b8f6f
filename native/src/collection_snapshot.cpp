// Collection durability: flush, the snapshot (state.bin + index.faiss, written to a temporary
// directory and swapped in), loading it and replaying the log on open, and compaction.
#include <cstring>
#include <filesystem>

#include "codec.h"
#include "collection.h"
#include "collection_config.h"
#include "errors.h"

namespace sage {

namespace fs = std::filesystem;
using namespace collection_files;

namespace {

constexpr uint32_t kStateVersion = 1;

void encode_bitmap(Encoder& e, const Bitmap& b) {
    e.u64(b.size());
    e.raw(b.words().data(), b.words().size() * sizeof(uint64_t));
}

Bitmap decode_bitmap(Decoder& d) {
    Bitmap b(d.u64());
    d.raw(b.words().data(), b.words().size() * sizeof(uint64_t));
    return b;
}

}  // namespace

void Collection::flush() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    wal_->sync();
}

void Collection::snapshot() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    write_snapshot_locked();
}

// Caller holds write_mu_, so the state cannot change; readers keep running meanwhile.
void Collection::write_snapshot_locked() {
    std::shared_lock<std::shared_mutex> state(state_mu_);
    const fs::path dir(path_);
    const fs::path tmp = dir / kSnapshotTmp;
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec) throw IoError("cannot create " + tmp.string() + ": " + ec.message());
    Encoder e;
    e.u32(kStateVersion);
    e.u64(seq_);
    e.u64(slot_ids_.size());
    for (const auto& id : slot_ids_) e.str(id);
    encode_bitmap(e, live_);
    encode_bitmap(e, has_document_);
    for (size_t s = 0; s < slot_ids_.size(); ++s) {
        if (has_document_.test(s)) e.str(documents_[s]);
    }
    meta_.encode(e);
    text_.encode(e);
    e.raw(vectors_.data().data(), vectors_.data().size() * sizeof(float));
    e.u32(crc32(e.data().data(), e.data().size()));
    write_file_durably(tmp / kStateFile, e.data());
    vectors_.save((tmp / kIndexFile).string());
    fsync_path(tmp / kIndexFile);
    fsync_path(tmp);
    const fs::path current = dir / kSnapshotDir;
    const fs::path old = dir / kSnapshotOld;
    fs::remove_all(old, ec);
    if (fs::exists(current)) fs::rename(current, old);
    fs::rename(tmp, current);
    fsync_path(dir);
    fs::remove_all(old, ec);
    snapshot_seq_ = seq_;
    // Every logged record is now in the snapshot (replay skips seq <= snapshot seq anyway).
    wal_->truncate();
}

void Collection::load_snapshot() {
    const fs::path dir(path_);
    std::error_code ec;
    fs::remove_all(dir / kSnapshotTmp, ec);  // an unfinished snapshot is never used
    fs::path snap = dir / kSnapshotDir;
    if (!fs::exists(snap) && fs::exists(dir / kSnapshotOld)) fs::rename(dir / kSnapshotOld, snap);
    fs::remove_all(dir / kSnapshotOld, ec);
    if (!fs::exists(snap / kStateFile)) return;
    const std::string content = read_file(snap / kStateFile);
    if (content.size() < 4) throw IoError("snapshot " + (snap / kStateFile).string() + " is truncated");
    uint32_t stored_crc;
    std::memcpy(&stored_crc, content.data() + content.size() - 4, 4);
    if (crc32(content.data(), content.size() - 4) != stored_crc) {
        throw IoError("snapshot " + (snap / kStateFile).string() + " fails its checksum");
    }
    Decoder d(content.data(), content.size() - 4);
    if (d.u32() != kStateVersion) throw IoError("snapshot version not supported: " + snap.string());
    seq_ = snapshot_seq_ = d.u64();
    slot_ids_.resize(d.u64());
    for (auto& id : slot_ids_) id = d.str();
    live_ = decode_bitmap(d);
    has_document_ = decode_bitmap(d);
    documents_.assign(slot_ids_.size(), std::string());
    for (size_t s = 0; s < slot_ids_.size(); ++s) {
        if (has_document_.test(s)) documents_[s] = d.str();
    }
    meta_.decode(d);
    text_.decode(d);
    std::vector<float> data(slot_ids_.size() * options_.dim);
    d.raw(data.data(), data.size() * sizeof(float));
    vectors_.load(std::move(data), (snap / kIndexFile).string());
    live_count_ = 0;
    live_.for_each([&](size_t s) {
        slot_of_[slot_ids_[s]] = s;
        ++live_count_;
    });
}

void Collection::replay_log() {
    const fs::path log = fs::path(path_) / kLogFile;
    dropped_log_bytes_ = WriteAheadLog::replay(log.string(), [&](uint64_t seq, const std::string& payload) {
        if (seq <= snapshot_seq_) return;  // already in the snapshot: replay is idempotent
        apply_record(payload);
        seq_ = seq;
    });
}

void Collection::compact() {
    std::lock_guard<std::mutex> writer(write_mu_);
    check_open();
    {
        std::unique_lock<std::shared_mutex> state(state_mu_);
        const Bitmap keep = live_;
        std::vector<std::string> ids;
        std::vector<std::string> docs;
        Bitmap has_doc(live_count_);
        keep.for_each([&](size_t s) {
            if (has_document_.test(s)) has_doc.set(ids.size());
            ids.push_back(std::move(slot_ids_[s]));
            docs.push_back(std::move(documents_[s]));
        });
        meta_.compact(keep);
        vectors_.compact(keep, live_count_);
        slot_ids_ = std::move(ids);
        documents_ = std::move(docs);
        has_document_ = std::move(has_doc);
        live_ = Bitmap(slot_ids_.size(), true);
        slot_of_.clear();
        text_.clear();
        for (size_t s = 0; s < slot_ids_.size(); ++s) {
            slot_of_[slot_ids_[s]] = s;
            if (has_document_.test(s)) text_.add(s, documents_[s]);
        }
        vectors_.train_if_ready(live_, live_count_);
    }
    write_snapshot_locked();
}

}  // namespace sage
