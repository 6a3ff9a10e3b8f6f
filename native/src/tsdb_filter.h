// Time-series model basics: tags and the tag filter. A series is a metric name plus a sorted
// set of tags (string -> string). The filter syntax selects series by tag:
//     host=a AND region=eu            host!=b OR (region="eu west" AND tier=1)
// Terms are `key=value` or `key!=value` (a missing tag equals ""); AND binds tighter than OR;
// parentheses group; values are bare words ([A-Za-z0-9_.:/@+-]) or quoted with ' or ".
// A filter that does not parse throws InvalidArgument starting with "tag_filter:".
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sage::tsdb {

using Tags = std::vector<std::pair<std::string, std::string>>;  // sorted by key, unique keys

// Sorts by key; InvalidArgument (naming `where`) on an empty or duplicated key.
Tags canonical_tags(Tags tags, const std::string& where);
// "metric{k=v,k2=v2}": the identity of a series.
std::string series_key(const std::string& metric, const Tags& tags);
const std::string* tag_value(const Tags& tags, const std::string& key);

class TagFilter {
   public:
    // Parses `text`; the empty filter matches every series.
    static TagFilter parse(const std::string& text);
    bool matches(const Tags& tags) const;
    bool empty() const { return root_ == nullptr; }

    struct Node;

   private:
    std::shared_ptr<const Node> root_;
};

}  // namespace sage::tsdb
