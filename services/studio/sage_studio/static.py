"""The built bundle (``studio/dist``) under ``/studio/``: hashed assets cached for a year,
``index.html`` never cached, any other page path answered with ``index.html`` (the app routes
itself). Without a bundle, a 503 page that says how to build one."""

from __future__ import annotations

import mimetypes
from pathlib import Path

MISSING = (
    b"<!doctype html><title>SAGE Studio: not built</title><h1>SAGE Studio is not built</h1>"
    b"<p>Build the bundle with <code>bash scripts/build-studio.sh</code> (scripts/setup.sh runs it)"
    b", then reload.</p>"
)
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


class StaticFiles:
    def __init__(self, root: str | Path, prefix: str = "/studio/") -> None:
        self.root = Path(root).resolve()
        self.prefix = prefix

    def lookup(self, path: str) -> tuple[int, bytes, str, dict[str, str]]:
        """(status, body, content type, headers) for a GET of ``path`` under the prefix."""
        index = self.root / "index.html"
        if not index.is_file():
            return 503, MISSING, "text/html; charset=utf-8", {"cache-control": "no-store"}
        rel = path[len(self.prefix) :] if path.startswith(self.prefix) else ""
        target = (self.root / rel).resolve() if rel else index
        if not target.is_relative_to(self.root) or not target.is_file():
            if rel.startswith("assets/") or "." in rel.rsplit("/", 1)[-1]:
                return 404, b"not found", "text/plain", {}
            target = index  # a page of the app: it routes itself
        kind = (
            _TYPES.get(target.suffix)
            or mimetypes.guess_type(target.name)[0]
            or "application/octet-stream"
        )
        if kind.startswith("text/") or kind in ("application/json", "image/svg+xml"):
            kind += "; charset=utf-8"
        cache = (
            "public, max-age=31536000, immutable" if target.parent.name == "assets" else "no-cache"
        )
        return 200, target.read_bytes(), kind, {"cache-control": cache}
