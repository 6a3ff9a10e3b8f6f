"""APISource against a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from sage_client.dataflow import LocalEnvironment
from sage_client.dataflow.connectors.api_source import APISource
from sage_client.dataflow.connectors.errors import ConnectorError, ConnectorUnavailable
from tests.connectors.conftest import Collect, closed_port, wait_for

ITEMS = [{"id": i} for i in range(7)]


class Api:
    """/pages?page=N (3 a page), /cursor?after=ID, /feed (grows), /flaky (500 once), /missing."""

    def __init__(self) -> None:
        self.feed: list[dict] = [{"id": 0}]
        self.flaky_left = 1
        self.requests: list[str] = []


@pytest.fixture
def api() -> Iterator[tuple[str, Api]]:
    state = Api()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _json(self, body, status: int = 200) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:  # noqa: N802
            state.requests.append(self.path)
            url = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/pages":
                page = int(q["page"])
                self._json({"data": {"items": ITEMS[(page - 1) * 3 : page * 3]}})
            elif url.path == "/cursor":
                after = int(q.get("after", -1))
                rest = [i for i in ITEMS if i["id"] > after][:2]
                nxt = rest[-1]["id"] if rest and rest[-1]["id"] < ITEMS[-1]["id"] else None
                self._json({"results": rest, "next": nxt})
            elif url.path == "/links":
                start = int(q.get("start", 0))
                nxt = f"/links?start={start + 4}" if start + 4 < len(ITEMS) else None
                self._json({"results": ITEMS[start : start + 4], "next": nxt})
            elif url.path == "/feed":
                self._json(list(state.feed))
            elif url.path == "/flaky":
                if state.flaky_left:
                    state.flaky_left -= 1
                    self._json({"error": "try later"}, 503)
                else:
                    self._json([{"id": "ok"}])
            elif url.path == "/text":
                raw = b"<html>not json</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            else:
                self._json({"error": f"no route {url.path}"}, 404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def _collect(**settings) -> list:
    out = Collect()
    env = LocalEnvironment("api")
    env.from_source(APISource, **settings).sink(out)
    env.submit(autostop=True)
    return out.items


def test_page_numbers_until_an_empty_page(api):
    base, state = api
    got = _collect(url=f"{base}/pages", records_path="data.items", page_param="page")
    assert got == ITEMS
    assert [p for p in state.requests] == [f"/pages?page={n}" for n in (1, 2, 3, 4)]


def test_cursor_paging(api):
    base, _ = api
    got = _collect(
        url=f"{base}/cursor", records_path="results", next_path="next", cursor_param="after"
    )
    assert got == ITEMS


def test_next_links_relative_to_the_page(api):
    base, _ = api
    got = _collect(url=f"{base}/links", records_path="results", next_path="next")
    assert got == ITEMS


def test_sage_config_dict_and_a_retried_5xx(api):
    base, state = api
    got = _collect(config={"url": f"{base}/flaky", "method": "GET", "timeout": 5})
    assert got == [{"id": "ok"}]
    assert state.requests == ["/flaky", "/flaky"]


def test_polling_emits_only_new_records(api):
    base, state = api
    out = Collect()
    env = LocalEnvironment("api-poll")
    env.from_source(APISource, url=f"{base}/feed", poll_interval_s=0.05).sink(out)
    env.submit()
    try:
        wait_for(lambda: len(out) == 1)
        state.feed.extend([{"id": 1}, {"id": 2}])
        wait_for(lambda: len(out) == 3)
        wait_for(lambda: len(state.requests) >= 4)  # polled again with nothing new
    finally:
        env.stop(timeout=20)
    assert out.items == [{"id": 0}, {"id": 1}, {"id": 2}]


def test_a_4xx_fails_with_url_and_status(api):
    base, _ = api
    with pytest.raises(ConnectorError, match=r"GET .*/missing answered HTTP 404: .*no route"):
        _collect(url=f"{base}/missing")


def test_a_body_that_is_not_json_is_named(api):
    base, _ = api
    with pytest.raises(ConnectorError, match="did not answer JSON"):
        _collect(url=f"{base}/text")


def test_an_unreachable_api_names_the_url():
    port = closed_port()
    source = APISource(url=f"http://127.0.0.1:{port}/x", max_retries=1, timeout=2)
    with pytest.raises(ConnectorUnavailable, match=f"127.0.0.1:{port}/x unreachable after 2 tries"):
        source.execute()


def test_bad_settings_are_refused_when_built():
    with pytest.raises(ValueError, match="http"):
        APISource(url="ftp://x")
    with pytest.raises(ValueError, match="not both"):
        APISource(url="http://x", next_path="n", page_param="p")
