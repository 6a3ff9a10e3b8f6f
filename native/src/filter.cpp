#include "filter.h"

#include <algorithm>

#include "errors.h"

namespace sage {

namespace {

const std::vector<std::pair<std::string, Filter::Op>>& comparison_ops() {
    static const std::vector<std::pair<std::string, Filter::Op>> ops = {
        {"$eq", Filter::Op::Eq}, {"$ne", Filter::Op::Ne},   {"$gt", Filter::Op::Gt},
        {"$gte", Filter::Op::Gte}, {"$lt", Filter::Op::Lt}, {"$lte", Filter::Op::Lte},
        {"$in", Filter::Op::In}, {"$nin", Filter::Op::Nin}};
    return ops;
}

bool is_scalar(const Value& v) {
    return v.kind == Value::Kind::String || v.kind == Value::Kind::Int ||
           v.kind == Value::Kind::Double || v.kind == Value::Kind::Bool;
}

Filter combine(Filter::Op op, std::vector<Filter> children) {
    if (children.size() == 1) return std::move(children[0]);
    Filter f;
    f.op = op;
    f.children = std::move(children);
    return f;
}

Filter parse_logical(const std::string& key, const Value& v, const std::string& path,
                     Filter (*parse_one)(const Value&, const std::string&)) {
    if (v.kind != Value::Kind::List || v.list.empty()) {
        throw InvalidArgument(path + ": '" + key + "' needs a non-empty list of filters");
    }
    std::vector<Filter> children;
    for (size_t i = 0; i < v.list.size(); ++i) {
        children.push_back(parse_one(v.list[i], path + "." + key + "[" + std::to_string(i) + "]"));
    }
    Filter f;
    f.op = key == "$and" ? Filter::Op::And : Filter::Op::Or;
    f.children = std::move(children);
    return f;
}

Filter parse_comparison(const std::string& field, const std::string& op_name, const Value& operand,
                        const std::string& path) {
    Filter f;
    f.field = field;
    const auto& ops = comparison_ops();
    auto it = std::find_if(ops.begin(), ops.end(), [&](const auto& p) { return p.first == op_name; });
    if (it == ops.end()) {
        throw InvalidArgument(path + ": unknown operator '" + op_name +
                              "'; use $eq $ne $gt $gte $lt $lte $in $nin");
    }
    f.op = it->second;
    switch (f.op) {
        case Filter::Op::Eq:
        case Filter::Op::Ne:
            if (!is_scalar(operand)) {
                throw InvalidArgument(path + ": '" + op_name + "' needs a string, number or bool, got a " +
                                      kind_name(operand.kind));
            }
            f.operands = {operand};
            break;
        case Filter::Op::Gt:
        case Filter::Op::Gte:
        case Filter::Op::Lt:
        case Filter::Op::Lte:
            if (!operand.is_number()) {
                throw InvalidArgument(path + ": '" + op_name + "' needs a number, got a " +
                                      kind_name(operand.kind));
            }
            f.operands = {operand};
            break;
        default:  // $in / $nin
            if (operand.kind != Value::Kind::List) {
                throw InvalidArgument(path + ": '" + op_name + "' needs a list of values, got a " +
                                      kind_name(operand.kind));
            }
            for (const Value& e : operand.list) {
                if (!is_scalar(e)) {
                    throw InvalidArgument(path + ": '" + op_name +
                                          "' list items must be strings, numbers or bools, got a " +
                                          kind_name(e.kind));
                }
            }
            f.operands = operand.list;
            break;
    }
    return f;
}

Filter parse_where_at(const Value& where, const std::string& path) {
    if (where.kind != Value::Kind::Map || where.map.empty()) {
        throw InvalidArgument(path + ": a where filter must be a non-empty dict, got a " +
                              std::string(kind_name(where.kind)));
    }
    std::vector<Filter> parts;
    for (const auto& [key, v] : where.map) {
        if (key == "$and" || key == "$or") {
            parts.push_back(parse_logical(key, v, path, &parse_where_at));
        } else if (!key.empty() && key[0] == '$') {
            throw InvalidArgument(path + ": unknown operator '" + key +
                                  "' at field level; use $and / $or, or a field name");
        } else if (v.kind == Value::Kind::Map) {
            if (v.map.empty()) throw InvalidArgument(path + "." + key + ": empty operator dict");
            for (const auto& [op, operand] : v.map) {
                parts.push_back(parse_comparison(key, op, operand, path + "." + key));
            }
        } else {
            parts.push_back(parse_comparison(key, "$eq", v, path + "." + key));
        }
    }
    return combine(Filter::Op::And, std::move(parts));
}

Filter parse_document_at(const Value& where, const std::string& path) {
    if (where.kind != Value::Kind::Map || where.map.empty()) {
        throw InvalidArgument(path + ": a where_document filter must be a non-empty dict");
    }
    std::vector<Filter> parts;
    for (const auto& [key, v] : where.map) {
        if (key == "$and" || key == "$or") {
            parts.push_back(parse_logical(key, v, path, &parse_document_at));
        } else if (key == "$contains" || key == "$not_contains") {
            if (v.kind != Value::Kind::String || v.s.empty()) {
                throw InvalidArgument(path + ": '" + key + "' needs a non-empty string");
            }
            Filter f;
            f.op = key == "$contains" ? Filter::Op::Contains : Filter::Op::NotContains;
            f.text = v.s;
            parts.push_back(std::move(f));
        } else {
            throw InvalidArgument(path + ": unknown where_document operator '" + key +
                                  "'; use $contains, $not_contains, $and, $or");
        }
    }
    return combine(Filter::Op::And, std::move(parts));
}

// Slots whose value in `col` equals `v` (type-aware; numbers compare across int/float).
template <class Fn>
void each_present(const Column& col, Fn&& fn) {
    col.present.for_each(fn);
}

void match_equal(const Column& col, const Value& v, const MetadataStore& meta, Bitmap& out) {
    switch (col.type) {
        case FieldType::Int:
            if (v.kind == Value::Kind::Int) {
                each_present(col, [&](size_t s) { if (col.ints[s] == v.i) out.set(s); });
            } else if (v.kind == Value::Kind::Double) {
                each_present(col, [&](size_t s) { if (static_cast<double>(col.ints[s]) == v.d) out.set(s); });
            }
            break;
        case FieldType::Double:
            if (v.is_number()) {
                const double x = v.as_double();
                each_present(col, [&](size_t s) { if (col.doubles[s] == x) out.set(s); });
            }
            break;
        case FieldType::Bool:
            if (v.kind == Value::Kind::Bool) {
                const int64_t x = v.b ? 1 : 0;
                each_present(col, [&](size_t s) { if (col.ints[s] == x) out.set(s); });
            }
            break;
        case FieldType::String:
        case FieldType::StringList: {
            if (v.kind != Value::Kind::String) break;
            const int64_t code = meta.code_of(v.s);
            if (code < 0) break;
            const auto c = static_cast<uint32_t>(code);
            if (col.type == FieldType::String) {
                each_present(col, [&](size_t s) { if (col.codes[s] == c) out.set(s); });
            } else {
                each_present(col, [&](size_t s) {
                    const auto& l = col.lists[s];
                    if (std::find(l.begin(), l.end(), c) != l.end()) out.set(s);
                });
            }
            break;
        }
    }
}

void match_range(const Column& col, Filter::Op op, double x, Bitmap& out) {
    auto test = [op, x](double a) {
        switch (op) {
            case Filter::Op::Gt: return a > x;
            case Filter::Op::Gte: return a >= x;
            case Filter::Op::Lt: return a < x;
            default: return a <= x;
        }
    };
    if (col.type == FieldType::Int) {
        each_present(col, [&](size_t s) { if (test(static_cast<double>(col.ints[s]))) out.set(s); });
    } else if (col.type == FieldType::Double) {
        each_present(col, [&](size_t s) { if (test(col.doubles[s])) out.set(s); });
    }
}

}  // namespace

Filter parse_where(const Value& where) { return parse_where_at(where, "where"); }
Filter parse_where_document(const Value& where_document) {
    return parse_document_at(where_document, "where_document");
}

Bitmap evaluate(const Filter& f, const MetadataStore& meta, const std::vector<std::string>& documents) {
    const size_t n = meta.slots();
    Bitmap out(n);
    switch (f.op) {
        case Filter::Op::And:
        case Filter::Op::Or: {
            out = evaluate(f.children[0], meta, documents);
            for (size_t i = 1; i < f.children.size(); ++i) {
                const Bitmap b = evaluate(f.children[i], meta, documents);
                if (f.op == Filter::Op::And) out.and_with(b); else out.or_with(b);
            }
            return out;
        }
        case Filter::Op::Contains:
        case Filter::Op::NotContains: {
            for (size_t s = 0; s < n && s < documents.size(); ++s) {
                if (documents[s].find(f.text) != std::string::npos) out.set(s);
            }
            if (f.op == Filter::Op::NotContains) out.flip();
            return out;
        }
        default: break;
    }
    const Column* col = meta.column(f.field);
    switch (f.op) {
        case Filter::Op::Eq:
        case Filter::Op::Ne:
        case Filter::Op::In:
        case Filter::Op::Nin:
            if (col) {
                for (const Value& v : f.operands) match_equal(*col, v, meta, out);
            }
            if (f.op == Filter::Op::Ne || f.op == Filter::Op::Nin) out.flip();
            return out;
        default:
            if (col) match_range(*col, f.op, f.operands[0].as_double(), out);
            return out;
    }
}

}  // namespace sage
