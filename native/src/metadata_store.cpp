#include "metadata_store.h"

#include "errors.h"

namespace sage {

const char* field_type_name(FieldType t) {
    switch (t) {
        case FieldType::String: return "string";
        case FieldType::Int: return "int";
        case FieldType::Double: return "float";
        case FieldType::Bool: return "bool";
        case FieldType::StringList: return "list of strings";
    }
    return "?";
}

void Column::append_missing() {
    present.resize(present.size() + 1);
    switch (type) {
        case FieldType::Int:
        case FieldType::Bool: ints.push_back(0); break;
        case FieldType::Double: doubles.push_back(0); break;
        case FieldType::String: codes.push_back(0); break;
        case FieldType::StringList: lists.emplace_back(); break;
    }
}

namespace {

FieldType type_of(const Value& v, const std::string& record_id, const std::string& field) {
    switch (v.kind) {
        case Value::Kind::String: return FieldType::String;
        case Value::Kind::Int: return FieldType::Int;
        case Value::Kind::Double: return FieldType::Double;
        case Value::Kind::Bool: return FieldType::Bool;
        case Value::Kind::List:
            for (const Value& e : v.list) {
                if (e.kind != Value::Kind::String) {
                    throw InvalidArgument("metadata field '" + field + "' of record '" + record_id +
                                          "': lists may only hold strings, found a " + kind_name(e.kind));
                }
            }
            return FieldType::StringList;
        default:
            throw InvalidArgument("metadata field '" + field + "' of record '" + record_id +
                                  "' has a " + kind_name(v.kind) +
                                  " value; use a string, int, float, bool or list of strings");
    }
}

// An int may go into a float field (widened); every other mix is a type change.
bool compatible(FieldType column, FieldType value) {
    return column == value || (column == FieldType::Double && value == FieldType::Int);
}

}  // namespace

void MetadataStore::validate(const Metadata& m, const std::string& record_id,
                             std::unordered_map<std::string, FieldType>& batch) const {
    for (const auto& [field, v] : m) {
        if (field.empty() || field[0] == '$') {
            throw InvalidArgument("metadata field name '" + field + "' of record '" + record_id +
                                  "' is not allowed: names must be non-empty and not start with '$'");
        }
        const FieldType t = type_of(v, record_id, field);
        auto col = columns_.find(field);
        FieldType expected;
        if (col != columns_.end()) {
            expected = col->second.type;
        } else if (auto b = batch.find(field); b != batch.end()) {
            expected = b->second;
        } else {
            batch.emplace(field, t);
            continue;
        }
        if (!compatible(expected, t)) {
            throw InvalidArgument("metadata field '" + field + "' holds " + field_type_name(expected) +
                                  " values but record '" + record_id + "' gives a " +
                                  field_type_name(t) + "; a field keeps one type per collection");
        }
    }
}

uint32_t MetadataStore::intern(const std::string& s) {
    auto it = dict_index_.find(s);
    if (it != dict_index_.end()) return it->second;
    const auto code = static_cast<uint32_t>(dict_.size());
    dict_.push_back(s);
    dict_index_.emplace(s, code);
    return code;
}

int64_t MetadataStore::code_of(const std::string& s) const {
    auto it = dict_index_.find(s);
    return it == dict_index_.end() ? -1 : static_cast<int64_t>(it->second);
}

void MetadataStore::append(const Metadata& m) {
    const size_t slot = slots_++;
    for (auto& [name, col] : columns_) col.append_missing();
    for (const auto& [field, v] : m) {
        auto it = columns_.find(field);
        if (it == columns_.end()) {
            Column col;
            col.type = v.kind == Value::Kind::String ? FieldType::String
                       : v.kind == Value::Kind::Int  ? FieldType::Int
                       : v.kind == Value::Kind::Double ? FieldType::Double
                       : v.kind == Value::Kind::Bool   ? FieldType::Bool
                                                       : FieldType::StringList;
            for (size_t i = 0; i < slots_; ++i) col.append_missing();
            it = columns_.emplace(field, std::move(col)).first;
        }
        Column& col = it->second;
        col.present.set(slot);
        switch (col.type) {
            case FieldType::Int: col.ints[slot] = v.i; break;
            case FieldType::Bool: col.ints[slot] = v.b ? 1 : 0; break;
            case FieldType::Double: col.doubles[slot] = v.as_double(); break;
            case FieldType::String: col.codes[slot] = intern(v.s); break;
            case FieldType::StringList: {
                std::vector<uint32_t> codes;
                codes.reserve(v.list.size());
                for (const Value& e : v.list) codes.push_back(intern(e.s));
                col.lists[slot] = std::move(codes);
                break;
            }
        }
    }
}

Metadata MetadataStore::get(size_t slot) const {
    Metadata m;
    for (const auto& [field, col] : columns_) {
        if (!col.present.test(slot)) continue;
        switch (col.type) {
            case FieldType::Int: m.emplace_back(field, Value::of_int(col.ints[slot])); break;
            case FieldType::Bool: m.emplace_back(field, Value::of_bool(col.ints[slot] != 0)); break;
            case FieldType::Double: m.emplace_back(field, Value::of_double(col.doubles[slot])); break;
            case FieldType::String: m.emplace_back(field, Value::of_string(dict_[col.codes[slot]])); break;
            case FieldType::StringList: {
                std::vector<Value> items;
                for (uint32_t c : col.lists[slot]) items.push_back(Value::of_string(dict_[c]));
                m.emplace_back(field, Value::of_list(std::move(items)));
                break;
            }
        }
    }
    return m;
}

const Column* MetadataStore::column(const std::string& field) const {
    auto it = columns_.find(field);
    return it == columns_.end() ? nullptr : &it->second;
}

void MetadataStore::compact(const Bitmap& keep) {
    MetadataStore fresh;
    for (size_t slot = 0; slot < slots_; ++slot) {
        if (keep.test(slot)) fresh.append(get(slot));
    }
    *this = std::move(fresh);
}

void MetadataStore::encode(Encoder& e) const {
    e.u64(slots_);
    for (size_t slot = 0; slot < slots_; ++slot) {
        const Metadata m = get(slot);
        e.u32(static_cast<uint32_t>(m.size()));
        for (const auto& [k, v] : m) { e.str(k); e.value(v); }
    }
}

void MetadataStore::decode(Decoder& d) {
    *this = MetadataStore();
    const uint64_t n = d.u64();
    for (uint64_t slot = 0; slot < n; ++slot) {
        Metadata m(d.u32());
        for (auto& [k, v] : m) { k = d.str(); v = d.value(); }
        append(m);
    }
}

}  // namespace sage
