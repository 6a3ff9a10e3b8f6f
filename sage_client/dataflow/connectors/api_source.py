"""APISource: records from a JSON HTTP API, page by page, optionally polled for new ones.

A page's records are the list at ``records_path`` (dotted, e.g. ``"data.items"``; the body
itself when it is a list). The next page comes from ``next_path`` (a URL, absolute or
relative, or a cursor sent as ``cursor_param``) or, with ``page_param``, from the page number
counting up until a page comes back empty. At the end: the stream ends, or with
``poll_interval_s`` the last request is repeated every so often and only the records not seen
in it yet are emitted. 5xx answers and network errors are retried ``max_retries`` times with
backoff; a 4xx answer or a body that is not JSON fails the job with the URL and status.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Mapping
from typing import Any

from sage_client.dataflow.api.functions import SourceFunction, StopSignal
from sage_client.dataflow.connectors.errors import ConnectorError, ConnectorUnavailable
from sage_client.dataflow.connectors.settings import merged, positive

_BODY_SNIPPET = 200


def dig(document: Any, path: str | None) -> Any:
    """``document`` at dotted ``path`` (None when absent)."""
    if not path:
        return document
    for part in path.split("."):
        if isinstance(document, Mapping):
            document = document.get(part)
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
    return document


class APISource(SourceFunction):
    """SAGE's ``APISource({"url": ..., "method": "GET", "headers": {...}, "params": {...},
    "timeout": 30})`` plus paging (``records_path``, ``next_path``, ``cursor_param``,
    ``page_param``, ``page_start``), polling (``poll_interval_s``), ``body`` (JSON for POST) and
    ``max_retries``."""

    def __init__(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__()
        v = merged(
            "APISource",
            config,
            kwargs,
            (
                "url",
                "method",
                "headers",
                "params",
                "body",
                "timeout",
                "records_path",
                "next_path",
                "cursor_param",
                "page_param",
                "page_start",
                "poll_interval_s",
                "max_retries",
            ),
            required=("url",),
        )
        self.url = str(v["url"])
        if urllib.parse.urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError(f"APISource: url must be http(s)://..., got {self.url!r}")
        self.method = str(v.get("method", "GET")).upper()
        self.headers = dict(v.get("headers") or {})
        self.params = dict(v.get("params") or {})
        self.body = v.get("body")
        self.timeout = positive("APISource", "timeout", v.get("timeout", 30))
        self.records_path = v.get("records_path")
        self.next_path = v.get("next_path")
        self.cursor_param = v.get("cursor_param")
        self.page_param = v.get("page_param")
        if self.next_path and self.page_param:
            raise ValueError("APISource: give next_path or page_param, not both")
        self.page_start = int(v.get("page_start", 1))
        interval = v.get("poll_interval_s")
        self.poll_interval_s = (
            None if interval is None else positive("APISource", "poll_interval_s", interval)
        )
        self.max_retries = int(v.get("max_retries", 3))
        self._request = self._first_request()
        self._seen = 0  # records of the current request already emitted
        self._buffer: deque[tuple[dict[str, Any], int, Any]] = deque()
        self._position: tuple[dict[str, Any], int] = (self._request, 0)  # of the last emitted
        self._wait_until = 0.0
        self._ended = False

    def _first_request(self) -> dict[str, Any]:
        params = dict(self.params)
        if self.page_param:
            params[self.page_param] = self.page_start
        return {"url": self.url, "params": params}

    # -- reading ------------------------------------------------------------------------------
    def execute(self, data: Any = None) -> Any:
        while not self._buffer:
            if self._ended:
                return StopSignal("APISource: last page read")
            if time.monotonic() < self._wait_until:
                return None
            if not self._fetch_page():
                return None
        request, index, record = self._buffer.popleft()
        self._position = (request, index + 1)
        return record

    def _fetch_page(self) -> bool:
        """One request; True when it moved on (records buffered or a next page to ask)."""
        document = self._get(self._request)
        records = dig(document, self.records_path) if self.records_path else document
        if records is None:
            records = []
        if not isinstance(records, list):
            records = [records] if not self.records_path else None
            if records is None:
                raise ConnectorError(
                    f"APISource: {self._request['url']} has no list at {self.records_path!r}"
                )
        fresh = [(self._request, self._seen + i, r) for i, r in enumerate(records[self._seen :])]
        after = self._next_request(document, records)
        if after is not None:
            self._request, self._seen = after, 0
        else:  # the end: poll this request again later, or stop
            self._seen = len(records)
            if self.poll_interval_s is None:
                self._ended = True
            else:
                self._wait_until = time.monotonic() + self.poll_interval_s
        self._buffer.extend(fresh)
        return bool(fresh) or after is not None

    def _next_request(self, document: Any, records: list[Any]) -> dict[str, Any] | None:
        current = self._request
        if self.page_param:
            if not records:
                return None
            params = dict(current["params"])
            params[self.page_param] = int(params[self.page_param]) + 1
            return {"url": current["url"], "params": params}
        if not self.next_path:
            return None
        following = dig(document, self.next_path)
        if following in (None, "", False):
            return None
        if self.cursor_param:
            return {"url": current["url"], "params": {**self.params, self.cursor_param: following}}
        return {"url": urllib.parse.urljoin(current["url"], str(following)), "params": {}}

    def _get(self, request: Mapping[str, Any]) -> Any:
        url = request["url"]
        if request["params"]:
            joiner = "&" if urllib.parse.urlsplit(url).query else "?"
            url = url + joiner + urllib.parse.urlencode(request["params"], doseq=True)
        payload = None
        headers = {"Accept": "application/json", **self.headers}
        if self.body is not None:
            payload = json.dumps(self.body).encode()
            headers.setdefault("Content-Type", "application/json")
        delay = 0.2
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(url, data=payload, headers=headers, method=self.method)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as response:
                    raw = response.read()
                break
            except urllib.error.HTTPError as exc:
                snippet = exc.read()[:_BODY_SNIPPET].decode("utf-8", "replace")
                if exc.code < 500 or attempt == self.max_retries:
                    raise ConnectorError(
                        f"APISource: {self.method} {url} answered HTTP {exc.code}: {snippet}"
                    ) from exc
            except (urllib.error.URLError, OSError) as exc:
                if attempt == self.max_retries:
                    reason = getattr(exc, "reason", exc)
                    raise ConnectorUnavailable(
                        f"APISource: {self.method} {url} unreachable after "
                        f"{self.max_retries + 1} tries: {reason}"
                    ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ConnectorError(
                f"APISource: {url} did not answer JSON ({exc}): "
                f"{raw[:_BODY_SNIPPET].decode('utf-8', 'replace')!r}"
            ) from exc

    # -- checkpoints -----------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """The request being read and how many of its records were emitted."""
        request, seen = self._position
        return {"request": request, "seen": seen}

    def restore_state(self, state: Mapping[str, Any]) -> None:
        self._request = dict(state["request"])
        self._seen = int(state["seen"])
        self._buffer.clear()
        self._position = (self._request, self._seen)
        self._ended = False
        self._wait_until = 0.0
