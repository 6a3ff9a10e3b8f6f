// Splits text into BM25 terms: lower-cased words for alphabetic scripts and overlapping
// character bigrams for CJK runs (Chinese has no spaces; bigrams need no dictionary).
#pragma once
#include <string>
#include <vector>

namespace sage {

std::vector<std::string> tokenize(const std::string& text);

}  // namespace sage
