import pytest

from sage_client.rag.chunkers import (
    SentenceChunker,
    TokenChunker,
    chunk_by_sentences,
    chunk_by_tokens,
)

DOC = {"text": "one two three four five six seven", "source": "doc.txt", "metadata": {"title": "T"}}


def test_token_chunks_overlap_and_keep_source_and_position() -> None:
    chunks = chunk_by_tokens(DOC, chunk_size=3, chunk_overlap=1)
    assert [c["text"] for c in chunks] == ["one two three", "three four five", "five six seven"]
    assert [c["position"] for c in chunks] == [0, 1, 2]
    assert {c["source"] for c in chunks} == {"doc.txt"}
    assert chunks[1]["id"] == "doc.txt#1"
    assert chunks[0]["metadata"] == {"title": "T"}


def test_chunk_offsets_point_back_into_the_document() -> None:
    for c in chunk_by_tokens(DOC, chunk_size=2, chunk_overlap=0):
        assert DOC["text"][c["start"] : c["end"]] == c["text"]


def test_last_token_chunk_is_not_repeated_when_text_ends_on_a_boundary() -> None:
    chunks = chunk_by_tokens({"text": "a1 b2 c3 d4", "source": "s"}, chunk_size=2, chunk_overlap=0)
    assert [c["text"] for c in chunks] == ["a1 b2", "c3 d4"]


def test_sentence_chunks_group_sentences_with_overlap() -> None:
    doc = {"text": "First one. Second one! Third one? Fourth one.", "source": "s.md"}
    chunks = chunk_by_sentences(doc, chunk_size=2, chunk_overlap=1)
    assert [c["text"] for c in chunks] == [
        "First one. Second one!",
        "Second one! Third one?",
        "Third one? Fourth one.",
    ]


def test_blank_lines_end_a_sentence() -> None:
    doc = {"text": "# Title\n\nBody text here", "source": "s.md"}
    assert [c["text"] for c in chunk_by_sentences(doc, chunk_size=1, chunk_overlap=0)] == [
        "# Title",
        "Body text here",
    ]


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (3, 3), (3, -1)])
def test_bad_sizes_are_rejected_with_the_rule(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="chunk_"):
        TokenChunker({"chunk_size": size, "chunk_overlap": overlap})


def test_unknown_chunker_option_is_named() -> None:
    with pytest.raises(ValueError, match="chunk_sise"):
        SentenceChunker({"chunk_sise": 3})


def test_empty_document_gives_no_chunks() -> None:
    assert TokenChunker().execute({"text": "", "source": "e"}) == []
