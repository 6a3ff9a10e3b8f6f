"""Loaders: a file path in, one document record out.

A document is a dict ``{"text", "source", "metadata"}``; ``source`` is the path as given, so
answers can cite it. Loaders are MapFunctions, usable as ``env.from_batch(paths).map(...)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sage_client.dataflow.api.functions import FlatMapFunction, MapFunction

Document = dict[str, Any]

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _path_of(data: Any) -> Path:
    if isinstance(data, Mapping):
        data = data.get("path") or data.get("source")
    if not isinstance(data, (str, Path)):
        raise TypeError(
            f"a loader takes a file path (str or Path) or a dict with 'path'; got {type(data).__name__}"
        )
    path = Path(data)
    if not path.is_file():
        raise FileNotFoundError(
            f"no such file to load: {path} (check the path, relative to {Path.cwd()})"
        )
    return path


def load_text(path: str | Path) -> Document:
    p = _path_of(path)
    return {
        "text": p.read_text(encoding="utf-8"),
        "source": str(path),
        "metadata": {"format": "text"},
    }


def load_markdown(path: str | Path) -> Document:
    """Markdown kept as text (headings and code are what questions are asked about); the first
    heading becomes the title."""
    p = _path_of(path)
    text = p.read_text(encoding="utf-8")
    heading = _MD_HEADING.search(text)
    title = heading.group(1) if heading else p.stem
    return {"text": text, "source": str(path), "metadata": {"format": "markdown", "title": title}}


def load_pdf(path: str | Path) -> Document:
    try:
        from pypdf import PdfReader
    except ImportError as e:  # pragma: no cover - pypdf is in the dev extra
        raise ImportError('PDF loading needs pypdf: pip install pypdf (or "sage-mesh[dev]")') from e
    p = _path_of(path)
    reader = PdfReader(str(p))
    pages = [page.extract_text() or "" for page in reader.pages]
    return {
        "text": "\n\n".join(pages),
        "source": str(path),
        "metadata": {"format": "pdf", "pages": len(pages)},
    }


def load_jsonl(path: str | Path, text_field: str = "text") -> list[Document]:
    """One document per line; other fields of the line become metadata."""
    p = _path_of(path)
    docs: list[Document] = []
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(
                    f"{p}:{lineno}: not valid JSON ({e.msg}); each line must be one JSON object"
                ) from e
            if not isinstance(row, dict) or not isinstance(row.get(text_field), str):
                raise ValueError(f"{p}:{lineno}: each line needs a string field {text_field!r}")
            meta = {k: v for k, v in row.items() if k != text_field}
            docs.append({"text": row[text_field], "source": f"{path}:{lineno}", "metadata": meta})
    return docs


_BY_SUFFIX = {".md": load_markdown, ".markdown": load_markdown, ".pdf": load_pdf}


def load_document(path: str | Path) -> list[Document]:
    """Pick the loader by file suffix (.md, .pdf, .jsonl; anything else is plain text)."""
    p = _path_of(path)
    suffix = p.suffix.lower()
    if suffix == ".jsonl":
        return load_jsonl(path)
    return [_BY_SUFFIX.get(suffix, load_text)(path)]


class TextLoader(MapFunction):
    def execute(self, data: Any) -> Document:
        return load_text(_path_of(data))


class MarkdownLoader(MapFunction):
    def execute(self, data: Any) -> Document:
        return load_markdown(_path_of(data))


class PDFLoader(MapFunction):
    def execute(self, data: Any) -> Document:
        return load_pdf(_path_of(data))


class JSONLLoader(FlatMapFunction):
    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        self.text_field = str({**(config or {}), **kwargs}.get("text_field", "text"))

    def execute(self, data: Any) -> list[Document]:
        return load_jsonl(_path_of(data), self.text_field)


class DocumentLoader(FlatMapFunction):
    """Any supported file by suffix; a directory path is not accepted (list it with ``find_files``).

    With ``root``, paths are read relative to it and keep the relative path as their source (so
    citations read ``docs/mesh.md`` wherever the checkout lives)."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        root = {**(config or {}), **kwargs}.get("root")
        self.root = Path(root) if root else None

    def execute(self, data: Any) -> list[Document]:
        if self.root is None:
            return load_document(_path_of(data))
        relative = (
            str(data.get("path") or data.get("source")) if isinstance(data, Mapping) else str(data)
        )
        docs = load_document(self.root / relative)
        for doc in docs:
            doc["source"] = relative + doc["source"][len(str(self.root / relative)) :]
        return docs


def find_files(
    root: str | Path,
    suffixes: Iterable[str] = (".md", ".txt", ".pdf", ".jsonl"),
    relative_to: str | Path | None = None,
) -> list[str]:
    """Files under ``root`` with one of ``suffixes``, sorted, as strings (a pipeline's batch);
    relative to ``relative_to`` when given."""
    base = Path(root)
    if not base.is_dir():
        raise NotADirectoryError(f"{base} is not a directory")
    wanted = {s.lower() for s in suffixes}
    found = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix.lower() in wanted)
    if relative_to is not None:
        return [str(p.relative_to(relative_to)) for p in found]
    return [str(p) for p in found]
