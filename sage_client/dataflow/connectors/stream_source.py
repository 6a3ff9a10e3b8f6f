"""StreamSource: one record per line of a file being appended to, a TCP socket, or stdin.

Nothing blocks the source's thread for long: each call reads what is there (a short select on
a socket or stdin) and returns None when no whole line is in yet, so a stop is honoured
promptly and a slow pipeline reads less (the kernel's socket buffer, then the peer, wait).
A file's byte offset is its checkpoint state; a truncated file is read again from its start.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
from collections import deque
from collections.abc import Mapping
from typing import IO, Any

from sage_client.dataflow.api.functions import SourceFunction, StopSignal
from sage_client.dataflow.connectors.errors import ConnectorError, ConnectorUnavailable, RecordError
from sage_client.dataflow.connectors.settings import merged, positive

_CHUNK = 65536


class LineSplitter:
    """Bytes in, whole lines out; a line longer than ``max_line_bytes`` is an error."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self._partial = b""

    def feed(self, data: bytes) -> list[bytes]:
        parts = (self._partial + data).split(b"\n")
        self._partial = parts.pop()
        if len(self._partial) > self.max_line_bytes:
            raise RecordError(
                f"StreamSource: a line is longer than max_line_bytes={self.max_line_bytes}"
            )
        return parts

    def rest(self) -> list[bytes]:
        rest, self._partial = self._partial, b""
        return [rest] if rest else []

    def pending(self) -> int:
        return len(self._partial)


class StreamSource(SourceFunction):
    """``StreamSource(path="app.log")`` (``follow=True``: keep reading what is appended;
    ``from_end=True``: only lines written after the start), ``StreamSource(host=..., port=...)``
    (``reconnect=True`` to wait for the peer again when it closes) or ``StreamSource(stdin=True)``.
    Lines are decoded (``encoding``), stripped of their line end, optionally ``json``-parsed;
    empty lines are skipped unless ``keep_empty``."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        v = merged(
            "StreamSource",
            config,
            kwargs,
            (
                "path",
                "host",
                "port",
                "stdin",
                "follow",
                "from_end",
                "reconnect",
                "encoding",
                "json",
                "keep_empty",
                "max_line_bytes",
                "connect_timeout_s",
                "poll_s",
            ),
        )
        kinds = [k for k in ("path", "host", "stdin") if v.get(k)]
        if len(kinds) != 1:
            raise TypeError(
                "StreamSource: give exactly one of path=..., host=...+port=..., stdin=True"
            )
        self.kind = {"path": "file", "host": "socket", "stdin": "stdin"}[kinds[0]]
        self.path: str = str(v.get("path") or "")
        self.host = v.get("host")
        self.port = v.get("port")
        if self.kind == "socket":
            self.port = positive("StreamSource", "port", self.port, integer=True)
        self.follow = bool(v.get("follow", True))
        self.from_end = bool(v.get("from_end", False))
        self.reconnect = bool(v.get("reconnect", False))
        self.encoding = str(v.get("encoding", "utf-8"))
        self.json = bool(v.get("json", False))
        self.keep_empty = bool(v.get("keep_empty", False))
        self.max_line_bytes = positive(
            "StreamSource", "max_line_bytes", v.get("max_line_bytes", 1 << 20), integer=True
        )
        self.connect_timeout_s = positive(
            "StreamSource", "connect_timeout_s", v.get("connect_timeout_s", 5.0)
        )
        self.poll_s = positive("StreamSource", "poll_s", v.get("poll_s", 0.05))
        self._splitter = LineSplitter(self.max_line_bytes)
        self._lines: deque[bytes] = deque()
        self._file: IO[bytes] | None = None
        self._sock: socket.socket | None = None
        self._offset = 0  # file: bytes of whole lines handed out
        self._eof = False

    def describe(self) -> str:
        if self.kind == "file":
            return f"file {self.path!r}"
        if self.kind == "socket":
            return f"socket {self.host}:{self.port}"
        return "stdin"

    # -- lifecycle ------------------------------------------------------------------------
    def open(self) -> None:
        if self.kind == "file" and self._file is None:
            self._open_file()
        elif self.kind == "socket" and self._sock is None:
            self._connect()

    def _open_file(self) -> None:
        try:
            file = open(self.path, "rb")  # noqa: SIM115 - kept open while the job runs
        except OSError as exc:
            raise ConnectorError(f"StreamSource: cannot read {self.describe()}: {exc}") from exc
        if self.from_end and self._offset == 0:
            self._offset = file.seek(0, os.SEEK_END)
        file.seek(self._offset)
        self._file = file

    def _connect(self) -> None:
        try:
            self._sock = socket.create_connection(
                (self.host, self.port), timeout=self.connect_timeout_s
            )
        except OSError as exc:
            raise ConnectorUnavailable(
                f"StreamSource: cannot connect to {self.describe()}: {exc}"
            ) from exc
        self._sock.setblocking(False)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- reading ------------------------------------------------------------------------------
    def execute(self, data: Any = None) -> Any:
        while True:
            if self._lines:
                raw = self._lines.popleft()
                if self.kind == "file":
                    self._offset += len(raw) + 1
                record = self._decode(raw.rstrip(b"\r"))
                if record is None:
                    continue
                return record
            if self._eof:
                return StopSignal(f"StreamSource: end of {self.describe()}")
            if not self._fill():
                return None

    def _fill(self) -> bool:
        """Read what is available; False when there is nothing yet."""
        data = self._read()
        if data is None:
            return False
        if data == b"":
            self._lines.extend(self._at_end())
            return bool(self._lines) or self._eof
        self._lines.extend(self._splitter.feed(data))
        return bool(self._lines)

    def _read(self) -> bytes | None:
        """Bytes, b"" at the end of the input, None for "nothing yet"."""
        if self.kind == "file":
            assert self._file is not None
            data = self._file.read(_CHUNK)
            if data:
                return data
            if self._truncated():
                return None
            return None if self.follow else b""
        if self.kind == "socket":
            if self._sock is None:  # waiting to reconnect
                try:
                    self._connect()
                except ConnectorUnavailable:
                    return None
            sock = self._sock
            assert sock is not None
            ready, _, _ = select.select([sock], [], [], self.poll_s)
            if not ready:
                return None
            try:
                return sock.recv(_CHUNK)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError:
                return b""
        fd = sys.stdin.fileno()
        readable, _, _ = select.select([fd], [], [], self.poll_s)
        return os.read(fd, _CHUNK) if readable else None

    def _at_end(self) -> list[bytes]:
        """The input ended: its last line without a newline, then the end of the stream
        (or, for a socket with ``reconnect``, a new connection later)."""
        rest = self._splitter.rest()
        if self.kind == "socket" and self.reconnect:
            assert self._sock is not None
            self._sock.close()
            self._sock = None
        else:
            self._eof = True
        return rest

    def _truncated(self) -> bool:
        assert self._file is not None
        try:
            size = os.stat(self.path).st_size
        except OSError:
            return False
        if size < self._offset + self._splitter.pending():
            self.logger.warning("StreamSource: %s was truncated; reading it again", self.path)
            self._file.seek(0)
            self._offset = 0
            self._splitter = LineSplitter(self.max_line_bytes)
            self._lines.clear()
            return True
        return False

    def _decode(self, raw: bytes) -> Any:
        if not raw and not self.keep_empty:
            return None
        try:
            text = raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            raise RecordError(
                f"StreamSource: a line of {self.describe()} is not {self.encoding}: {exc}"
            ) from exc
        if not self.json:
            return text
        try:
            return json.loads(text)
        except ValueError as exc:
            raise RecordError(
                f"StreamSource: a line of {self.describe()} is not JSON ({exc}): {text[:80]!r}"
            ) from exc

    # -- checkpoints -----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any] | None:
        """A file's byte offset after the last line handed out (sockets and stdin: none)."""
        return {"offset": self._offset} if self.kind == "file" else None

    def restore_state(self, state: Mapping[str, Any]) -> None:
        if self.kind != "file":
            return
        self._offset = int(state["offset"])
        self._lines.clear()
        self._splitter = LineSplitter(self.max_line_bytes)
        self._eof = False
        if self._file is not None:
            self._file.seek(self._offset)
