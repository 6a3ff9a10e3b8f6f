#include "tsdb_filter.h"

#include <algorithm>
#include <cctype>

#include "errors.h"

namespace sage::tsdb {

struct TagFilter::Node {
    enum class Kind { Eq, Ne, And, Or } kind;
    std::string key, value;
    std::shared_ptr<const Node> left, right;
};

Tags canonical_tags(Tags tags, const std::string& where) {
    std::sort(tags.begin(), tags.end());
    for (size_t i = 0; i < tags.size(); ++i) {
        if (tags[i].first.empty()) throw InvalidArgument(where + ": a tag key must not be empty");
        if (i > 0 && tags[i].first == tags[i - 1].first) {
            throw InvalidArgument(where + ": tag '" + tags[i].first + "' is given twice");
        }
    }
    return tags;
}

std::string series_key(const std::string& metric, const Tags& tags) {
    std::string k = metric;
    k += '{';
    for (size_t i = 0; i < tags.size(); ++i) {
        if (i) k += ',';
        k += tags[i].first;
        k += '=';
        k += tags[i].second;
    }
    k += '}';
    return k;
}

const std::string* tag_value(const Tags& tags, const std::string& key) {
    auto it = std::lower_bound(tags.begin(), tags.end(), key,
                               [](const auto& p, const std::string& k) { return p.first < k; });
    return it != tags.end() && it->first == key ? &it->second : nullptr;
}

namespace {

using NodePtr = std::shared_ptr<const TagFilter::Node>;

bool bare(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' || c == '/' ||
           c == '@' || c == '+' || c == '-';
}

class Parser {
   public:
    explicit Parser(const std::string& s) : s_(s) {}

    NodePtr parse() {
        skip();
        if (pos_ == s_.size()) return nullptr;
        NodePtr n = parse_or();
        skip();
        if (pos_ != s_.size()) fail("unexpected '" + s_.substr(pos_, 16) + "'");
        return n;
    }

   private:
    [[noreturn]] void fail(const std::string& what) const {
        throw InvalidArgument("tag_filter: " + what + " at position " + std::to_string(pos_) +
                              " of '" + s_ + "'; the syntax is key=value [AND|OR key!=value ...]");
    }
    void skip() {
        while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
    }
    bool keyword(const char* kw) {
        skip();
        const size_t n = std::char_traits<char>::length(kw);
        if (pos_ + n > s_.size()) return false;
        for (size_t i = 0; i < n; ++i) {
            if (std::toupper(static_cast<unsigned char>(s_[pos_ + i])) != kw[i]) return false;
        }
        if (pos_ + n < s_.size() && bare(s_[pos_ + n])) return false;
        pos_ += n;
        return true;
    }
    NodePtr join(TagFilter::Node::Kind kind, NodePtr l, NodePtr r) {
        auto n = std::make_shared<TagFilter::Node>();
        n->kind = kind;
        n->left = std::move(l);
        n->right = std::move(r);
        return n;
    }
    NodePtr parse_or() {
        NodePtr n = parse_and();
        while (keyword("OR")) n = join(TagFilter::Node::Kind::Or, n, parse_and());
        return n;
    }
    NodePtr parse_and() {
        NodePtr n = parse_term();
        while (keyword("AND")) n = join(TagFilter::Node::Kind::And, n, parse_term());
        return n;
    }
    std::string word(const char* what) {
        skip();
        if (pos_ < s_.size() && (s_[pos_] == '"' || s_[pos_] == '\'')) {
            const char q = s_[pos_++];
            const size_t end = s_.find(q, pos_);
            if (end == std::string::npos) fail(std::string("unterminated quoted ") + what);
            std::string w = s_.substr(pos_, end - pos_);
            pos_ = end + 1;
            return w;
        }
        const size_t start = pos_;
        while (pos_ < s_.size() && bare(s_[pos_])) ++pos_;
        if (pos_ == start) fail(std::string("expected a ") + what);
        return s_.substr(start, pos_ - start);
    }
    NodePtr parse_term() {
        skip();
        if (pos_ < s_.size() && s_[pos_] == '(') {
            if (++depth_ > 64) fail("parentheses nested more than 64 deep");
            ++pos_;
            NodePtr n = parse_or();
            --depth_;
            skip();
            if (pos_ >= s_.size() || s_[pos_] != ')') fail("expected ')'");
            ++pos_;
            return n;
        }
        auto n = std::make_shared<TagFilter::Node>();
        n->key = word("tag key");
        skip();
        if (s_.compare(pos_, 2, "!=") == 0) {
            n->kind = TagFilter::Node::Kind::Ne;
            pos_ += 2;
        } else if (pos_ < s_.size() && s_[pos_] == '=') {
            n->kind = TagFilter::Node::Kind::Eq;
            pos_ += (s_.compare(pos_, 2, "==") == 0) ? 2 : 1;
        } else {
            fail("expected '=' or '!=' after tag key '" + n->key + "'");
        }
        n->value = word("tag value");
        return n;
    }

    const std::string& s_;
    size_t pos_ = 0;
    int depth_ = 0;
};

bool eval(const TagFilter::Node& n, const Tags& tags) {
    switch (n.kind) {
        case TagFilter::Node::Kind::And: return eval(*n.left, tags) && eval(*n.right, tags);
        case TagFilter::Node::Kind::Or: return eval(*n.left, tags) || eval(*n.right, tags);
        default: {
            const std::string* v = tag_value(tags, n.key);
            const bool eq = (v ? *v : std::string()) == n.value;
            return n.kind == TagFilter::Node::Kind::Eq ? eq : !eq;
        }
    }
}

}  // namespace

TagFilter TagFilter::parse(const std::string& text) {
    if (text.size() > 4096) throw InvalidArgument("tag_filter: longer than 4096 characters");
    TagFilter f;
    f.root_ = Parser(text).parse();
    return f;
}

bool TagFilter::matches(const Tags& tags) const { return root_ == nullptr || eval(*root_, tags); }

}  // namespace sage::tsdb
