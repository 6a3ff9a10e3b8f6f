#include "tokenizer.h"

#include <cstdint>

namespace sage {

namespace {

// Decodes one UTF-8 code point at text[i], advancing i; malformed bytes yield U+FFFD.
uint32_t next_code_point(const std::string& text, size_t& i) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > text.size()) { ++i; return 0xFFFD; }
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
        const auto cc = static_cast<unsigned char>(text[i + k]);
        if ((cc >> 6) != 0x2) { ++i; return 0xFFFD; }
        cp = (cp << 6) | (cc & 0x3F);
    }
    i += len;
    return cp;
}

bool is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0xAC00 && cp <= 0xD7AF);
}

// ASCII letters and digits, plus any non-ASCII letter outside CJK and the punctuation blocks.
bool is_word_char(uint32_t cp) {
    if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp == 0xFFFD) return false;
    if (cp >= 0x2000 && cp <= 0x2BFF) return false;  // general punctuation, symbols, arrows
    if (cp >= 0x3000 && cp <= 0x303F) return false;  // CJK punctuation
    if (cp >= 0xFF00 && cp <= 0xFF0F) return false;  // full-width punctuation
    if (cp >= 0xFF1A && cp <= 0xFF20) return false;
    if (cp >= 0x00A0 && cp <= 0x00BF) return false;  // Latin-1 punctuation
    return true;
}

void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

void flush_cjk(std::vector<uint32_t>& run, std::vector<std::string>& out) {
    if (run.size() == 1) {
        std::string t;
        append_utf8(t, run[0]);
        out.push_back(std::move(t));
    }
    for (size_t k = 0; k + 1 < run.size(); ++k) {
        std::string t;
        append_utf8(t, run[k]);
        append_utf8(t, run[k + 1]);
        out.push_back(std::move(t));
    }
    run.clear();
}

}  // namespace

std::vector<std::string> tokenize(const std::string& text) {
    std::vector<std::string> out;
    std::string word;
    std::vector<uint32_t> cjk_run;
    size_t i = 0;
    while (i < text.size()) {
        const uint32_t cp = next_code_point(text, i);
        if (is_cjk(cp)) {
            if (!word.empty()) { out.push_back(std::move(word)); word.clear(); }
            cjk_run.push_back(cp);
            continue;
        }
        if (!cjk_run.empty()) flush_cjk(cjk_run, out);
        if (is_word_char(cp)) {
            append_utf8(word, (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
        } else if (!word.empty()) {
            out.push_back(std::move(word));
            word.clear();
        }
    }
    if (!cjk_run.empty()) flush_cjk(cjk_run, out);
    if (!word.empty()) out.push_back(std::move(word));
    return out;
}

}  // namespace sage
