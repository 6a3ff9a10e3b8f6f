// Columnar metadata: one typed column per field, indexed by slot, with strings
// dictionary-encoded, so a filter is a tight loop over one array instead of per-record maps.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "bitmap.h"
#include "codec.h"
#include "value.h"

namespace sage {

enum class FieldType : uint8_t { String = 0, Int = 1, Double = 2, Bool = 3, StringList = 4 };
const char* field_type_name(FieldType t);

struct Column {
    FieldType type = FieldType::String;
    Bitmap present;
    std::vector<int64_t> ints;    // Int and Bool
    std::vector<double> doubles;  // Double
    std::vector<uint32_t> codes;  // String (dictionary code)
    std::vector<std::vector<uint32_t>> lists;  // StringList

    void append_missing();
};

class MetadataStore {
   public:
    // Throws InvalidArgument naming the record and field when a value has an unsupported
    // kind or a field would change type. `batch` carries types first seen earlier in the
    // same request so one request cannot introduce two types for one field either.
    void validate(const Metadata& m, const std::string& record_id,
                  std::unordered_map<std::string, FieldType>& batch) const;

    // Appends a slot holding `m` (already validated).
    void append(const Metadata& m);
    Metadata get(size_t slot) const;
    size_t slots() const { return slots_; }

    const Column* column(const std::string& field) const;
    // Dictionary code of a string, or -1 when no record ever held it.
    int64_t code_of(const std::string& s) const;

    // Keeps only slots where keep[slot], renumbered densely in order.
    void compact(const Bitmap& keep);
    void encode(Encoder& e) const;
    void decode(Decoder& d);

   private:
    uint32_t intern(const std::string& s);
    std::map<std::string, Column> columns_;
    std::vector<std::string> dict_;
    std::unordered_map<std::string, uint32_t> dict_index_;
    size_t slots_ = 0;
};

}  // namespace sage
