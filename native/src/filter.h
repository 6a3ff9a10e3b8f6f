// Chroma-shaped filters (`where` over metadata, `where_document` over document text),
// parsed once into a tree and evaluated to a slot bitmap that the index search uses.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "bitmap.h"
#include "metadata_store.h"
#include "value.h"

namespace sage {

struct Filter {
    enum class Op { And, Or, Eq, Ne, Gt, Gte, Lt, Lte, In, Nin, Contains, NotContains };
    Op op = Op::And;
    std::string field;            // metadata field (comparison ops)
    std::vector<Value> operands;  // one value, or the list for $in/$nin
    std::string text;             // $contains / $not_contains
    std::vector<Filter> children; // $and / $or
};

// Throws InvalidArgument with the path of the offending part when the filter is malformed.
Filter parse_where(const Value& where);
Filter parse_where_document(const Value& where_document);

// Slots (out of `slots`) matching the filter. Missing fields never equal anything, so
// $ne and $nin match records that lack the field.
Bitmap evaluate(const Filter& f, const MetadataStore& meta, const std::vector<std::string>& documents);

}  // namespace sage
