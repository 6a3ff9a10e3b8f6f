import json
from pathlib import Path

import pytest

from sage_client.rag.loaders import (
    DocumentLoader,
    JSONLLoader,
    MarkdownLoader,
    PDFLoader,
    TextLoader,
    find_files,
    load_document,
)


def _tiny_pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica, xref offsets computed here."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_text_loader_keeps_text_and_source(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("hello world", encoding="utf-8")
    doc = TextLoader().execute(str(p))
    assert doc["text"] == "hello world" and doc["source"] == str(p)


def test_markdown_loader_takes_first_heading_as_title(tmp_path: Path) -> None:
    p = tmp_path / "guide.md"
    p.write_text("intro\n\n## Getting started\n\ntext\n", encoding="utf-8")
    assert MarkdownLoader().execute(str(p))["metadata"]["title"] == "Getting started"


def test_pdf_loader_extracts_page_text(tmp_path: Path) -> None:
    p = tmp_path / "paper.pdf"
    p.write_bytes(_tiny_pdf("Envoy fronts the mesh"))
    doc = PDFLoader().execute(str(p))
    assert "Envoy fronts the mesh" in doc["text"]
    assert doc["metadata"]["pages"] == 1


def test_jsonl_loader_makes_one_document_per_line(tmp_path: Path) -> None:
    p = tmp_path / "rows.jsonl"
    p.write_text(
        json.dumps({"body": "x", "lang": "en"}) + "\n\n" + json.dumps({"body": "y"}) + "\n",
        encoding="utf-8",
    )
    docs = JSONLLoader({"text_field": "body"}).execute(str(p))
    assert [d["text"] for d in docs] == ["x", "y"]
    assert docs[0]["metadata"] == {"lang": "en"}
    assert docs[1]["source"] == f"{p}:3"


def test_jsonl_loader_names_the_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "ok"}\n{oops\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load_document(p)


def test_missing_file_error_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.md"):
        DocumentLoader().execute(str(tmp_path / "nope.md"))


def test_document_loader_dispatches_on_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("b", encoding="utf-8")
    (tmp_path / "skip.bin").write_bytes(b"\0")
    files = find_files(tmp_path)
    assert [Path(f).name for f in files] == ["a.md", "b.txt"]
    formats = [DocumentLoader().execute(f)[0]["metadata"]["format"] for f in files]
    assert formats == ["markdown", "text"]
