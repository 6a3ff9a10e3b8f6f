"""Text normalisation and tokenisation shared by chunkers, BM25-free scoring and the metrics.

One definition serves all of them so that "a token" means the same thing when a chunk is cut
and when an answer is scored.
"""

from __future__ import annotations

import re
import string

_WORD = re.compile(r"\w+(?:[.'\-]\w+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`\"'(\[])|\n\s*\n")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of ``text`` (letters, digits, and inner ``.'-``)."""
    return [m.span() for m in _WORD.finditer(text)]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences: split after ``.!?`` before a capital/digit, and at blank lines."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        if text[start : m.start()].strip():
            spans.append(_strip_span(text, start, m.start()))
        start = m.end()
    if text[start:].strip():
        spans.append(_strip_span(text, start, len(text)))
    return spans


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str) -> list[str]:
    return normalize_answer(text).split()
