// Little-endian binary encoding shared by the write-ahead log and the snapshot, so both
// persist records the same way.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "value.h"

namespace sage {

class Encoder {
   public:
    void u8(uint8_t v) { buf_.push_back(static_cast<char>(v)); }
    void u32(uint32_t v) { raw(&v, sizeof v); }
    void u64(uint64_t v) { raw(&v, sizeof v); }
    void i64(int64_t v) { raw(&v, sizeof v); }
    void f64(double v) { raw(&v, sizeof v); }
    void str(const std::string& s) { u32(static_cast<uint32_t>(s.size())); raw(s.data(), s.size()); }
    void raw(const void* p, size_t n) {
        if (n > 0) buf_.append(static_cast<const char*>(p), n);  // empty vectors may give null
    }
    void value(const Value& v);
    const std::string& data() const { return buf_; }
    std::string& data() { return buf_; }

   private:
    std::string buf_;
};

class Decoder {
   public:
    Decoder(const char* p, size_t n) : p_(p), end_(p + n) {}
    uint8_t u8() { uint8_t v; raw(&v, 1); return v; }
    uint32_t u32() { uint32_t v; raw(&v, sizeof v); return v; }
    uint64_t u64() { uint64_t v; raw(&v, sizeof v); return v; }
    int64_t i64() { int64_t v; raw(&v, sizeof v); return v; }
    double f64() { double v; raw(&v, sizeof v); return v; }
    std::string str() {
        const uint32_t n = u32();
        need(n);
        std::string s(p_, n);
        p_ += n;
        return s;
    }
    void raw(void* out, size_t n) {
        if (n == 0) return;  // empty vectors may give null, which memcpy must not see
        need(n);
        std::memcpy(out, p_, n);
        p_ += n;
    }
    Value value();
    bool done() const { return p_ == end_; }

   private:
    void need(size_t n) const {
        if (static_cast<size_t>(end_ - p_) < n) throw IoError("corrupt record: truncated field");
    }
    const char* p_;
    const char* end_;
};

}  // namespace sage
