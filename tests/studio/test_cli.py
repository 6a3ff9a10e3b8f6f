"""`sage studio start|status|open|stop`: Studio alone (with etcd) serves its page and refuses its
API to a caller without a credential; `open` prints the page's address (the mesh's Envoy when
it runs, else the instance's own); stop deregisters it and stops the etcd it started."""

from __future__ import annotations

import json

import httpx

from tests.cli.conftest import Sage, sage  # noqa: F401 - the fixture
from tests.studio.conftest import ensure_bundle


def test_studio_alone_start_status_open_stop(sage: Sage) -> None:  # noqa: F811
    ensure_bundle()
    run = ("--run-dir", str(sage.run_dir))
    assert sage("studio", "open", "--print-only", *run).returncode == 1  # nothing runs yet
    started = sage.ok("studio", "start", *run, "--ephemeral-ports", "--port", "0")
    address = sage.ready("studio-0")["address"]
    assert f"page: http://{address}/studio/" in started
    status = json.loads(sage.ok("studio", "status", *run, "--json"))
    assert status["health"] == "SERVING" and status["registered"] is True
    page = httpx.get(f"http://{address}/studio/", timeout=10)
    assert page.status_code == 200 and '<div id="root">' in page.text
    assert httpx.get(f"http://{address}/studio/api/me", timeout=10).status_code == 401
    # a credential, but no gateway to check it with: 503 that says what is missing
    alone = httpx.get(
        f"http://{address}/studio/api/me", headers={"authorization": "Bearer sk-sage-x"}, timeout=30
    )
    assert alone.status_code == 503 and "gateway" in alone.json()["error"]["message"]
    assert sage.ok("studio", "open", "--print-only", *run).strip() == f"http://{address}/studio/"
    assert sage.ok("studio", "stop", *run).strip() == "stopped: studio-0, etcd"
    assert sage("studio", "status", *run).returncode == 1
