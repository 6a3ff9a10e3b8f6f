// A small self-describing value tree: the common language between the Python binding and the
// core for metadata and Chroma-shaped filters, so the core parses filters without Python.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace sage {

struct Value {
    enum class Kind { Null, Bool, Int, Double, String, List, Map };

    Kind kind = Kind::Null;
    bool b = false;
    int64_t i = 0;
    double d = 0.0;
    std::string s;
    std::vector<Value> list;
    std::vector<std::pair<std::string, Value>> map;

    static Value of_bool(bool v) { Value x; x.kind = Kind::Bool; x.b = v; return x; }
    static Value of_int(int64_t v) { Value x; x.kind = Kind::Int; x.i = v; return x; }
    static Value of_double(double v) { Value x; x.kind = Kind::Double; x.d = v; return x; }
    static Value of_string(std::string v) { Value x; x.kind = Kind::String; x.s = std::move(v); return x; }
    static Value of_list(std::vector<Value> v) { Value x; x.kind = Kind::List; x.list = std::move(v); return x; }
    static Value of_map(std::vector<std::pair<std::string, Value>> v) {
        Value x; x.kind = Kind::Map; x.map = std::move(v); return x;
    }

    bool is_number() const { return kind == Kind::Int || kind == Kind::Double; }
    double as_double() const { return kind == Kind::Int ? static_cast<double>(i) : d; }
};

const char* kind_name(Value::Kind kind);

// One record's metadata: field name -> value (string, int, double, bool, list of strings).
using Metadata = std::vector<std::pair<std::string, Value>>;

}  // namespace sage
