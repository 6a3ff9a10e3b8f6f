#include "codec.h"

namespace sage {

const char* kind_name(Value::Kind kind) {
    switch (kind) {
        case Value::Kind::Null: return "null";
        case Value::Kind::Bool: return "bool";
        case Value::Kind::Int: return "int";
        case Value::Kind::Double: return "float";
        case Value::Kind::String: return "string";
        case Value::Kind::List: return "list";
        case Value::Kind::Map: return "dict";
    }
    return "?";
}

void Encoder::value(const Value& v) {
    u8(static_cast<uint8_t>(v.kind));
    switch (v.kind) {
        case Value::Kind::Null: break;
        case Value::Kind::Bool: u8(v.b ? 1 : 0); break;
        case Value::Kind::Int: i64(v.i); break;
        case Value::Kind::Double: f64(v.d); break;
        case Value::Kind::String: str(v.s); break;
        case Value::Kind::List:
            u32(static_cast<uint32_t>(v.list.size()));
            for (const Value& e : v.list) value(e);
            break;
        case Value::Kind::Map:
            u32(static_cast<uint32_t>(v.map.size()));
            for (const auto& [k, e] : v.map) { str(k); value(e); }
            break;
    }
}

Value Decoder::value() {
    const auto kind = static_cast<Value::Kind>(u8());
    switch (kind) {
        case Value::Kind::Null: return Value{};
        case Value::Kind::Bool: return Value::of_bool(u8() != 0);
        case Value::Kind::Int: return Value::of_int(i64());
        case Value::Kind::Double: return Value::of_double(f64());
        case Value::Kind::String: return Value::of_string(str());
        case Value::Kind::List: {
            std::vector<Value> items(u32());
            for (Value& e : items) e = value();
            return Value::of_list(std::move(items));
        }
        case Value::Kind::Map: {
            std::vector<std::pair<std::string, Value>> items(u32());
            for (auto& [k, e] : items) { k = str(); e = value(); }
            return Value::of_map(std::move(items));
        }
    }
    throw IoError("corrupt record: unknown value kind");
}

}  // namespace sage
