#!/usr/bin/env python3
"""SAGE Studio in headless Chromium (Selenium, the system chromium) against a loopback mesh:
etcd, Redis, KV, a mock LLM, the gateway, Studio and Envoy, started here by the launcher.

- bundle_kb_gzip: studio/dist (html, js, css), each file gzipped (level 9), summed, in KiB.
- first_contentful_paint_ms: Chromium's ``first-contentful-paint`` of the chat page (signed
  in: the credential is in sessionStorage), loaded from Envoy at /studio/; p50 over n loads.
- interactive_ms: from navigation start to the app's ``studio-interactive`` mark (the chat page
  with its sessions list and the model picker filled from /v1/models); p50 over n loads.
- floor_first_contentful_paint_ms: the peer, measured in the same run and browser: FCP of a
  one-line HTML page from a plain Python HTTP server on loopback (the browser's own floor).
- chunk_to_paint_p50_ms / _p99_ms: for each streamed token, from its SSE chunk reaching the
  page (the fetch reader) to the end of the frame that paints it (a task queued from the
  ``requestAnimationFrame`` callback after React's commit), over n_tokens tokens. The issue's token_to_paint_p50_ms (from the
  token leaving the LLM service) is not measured: that needs a clock shared with the service.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_auth  # noqa: E402
from measure import percentile  # noqa: E402

from sage_client import KVClient  # noqa: E402
from sage_client.api_keys import NAMESPACE, KeyStore  # noqa: E402
from sage_deploy.launcher import Mesh  # noqa: E402
from sage_deploy.topology import ServiceDef, Topology  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "studio" / "dist"


def topology(tokens_per_s: int) -> Topology:
    return Topology(
        etcd_port=0,
        etcd_peer_port=0,
        redis_port=0,
        envoy_port=0,
        envoy_admin_port=0,
        services=(
            ServiceDef(
                "kv", "sage_kv", "sage.kv.v1.KVService", 0, 0, env={"SAGE_BACKEND": "redis"}
            ),
            ServiceDef(
                "llm",
                "sage_llm",
                "sage.llm.v1.LLMService",
                0,
                0,
                env={
                    "SAGE_BACKEND": "mock",
                    "SAGE_EMBEDDINGS": "false",
                    "SAGE_MOCK_TOKENS_PER_S": str(tokens_per_s),
                },
            ),
            ServiceDef(
                "gateway", "sage_gateway", "", 0, 0, http=True, env={"SAGE_MEMORY_ENABLED": "false"}
            ),
            ServiceDef("studio", "sage_studio", "", 0, 0, http=True, route="/studio/"),
        ),
    )


def bundle_kb_gzip() -> float:
    total = 0
    for path in DIST.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".css"):
            total += len(gzip.compress(path.read_bytes(), compresslevel=9))
    return total / 1024


def browser():  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def wait_js(driver, script: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value is not None:
            return value
        time.sleep(0.02)
    raise TimeoutError(f"the page never answered: {script}")


FCP = "const e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null;"
INTERACTIVE = "const e = performance.getEntriesByName('studio-interactive')[0]; return e ? e.startTime : null;"


class _Floor(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = b"<!doctype html><title>floor</title><h1>SAGE</h1>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


def main() -> int:
    bench_auth.ensure_secrets()  # auth on, as deployed
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about a minute")
    args = parser.parse_args()
    if not (DIST / "index.html").is_file():
        print("bench/studio.py needs the bundle: bash scripts/build-studio.sh", file=sys.stderr)
        return 2
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        print("bench/studio.py needs chromium and chromium-driver (apt)", file=sys.stderr)
        return 2
    n = 8 if args.quick else 30
    n_tokens = 100 if args.quick else 400
    workdir = Path(tempfile.mkdtemp(prefix="sage-bench-studio-"))
    mesh = Mesh(
        workdir / "run",
        topology(tokens_per_s=50),
        ephemeral=True,
        log=lambda *a: None,
        secrets_file=os.environ["SAGE_SECRETS_FILE"],
    )
    floor = ThreadingHTTPServer(("127.0.0.1", 0), _Floor)
    threading.Thread(target=floor.serve_forever, daemon=True).start()
    driver = None
    try:
        endpoints = mesh.up(timeout=90)
        key = KeyStore(KVClient(NAMESPACE, address=endpoints.instances["kv-0"])).create(
            "bench", "bench", admin=True
        )[0]
        url = f"http://{endpoints.envoy}/studio/"
        driver = browser()
        driver.get(url)
        driver.execute_script(
            f"sessionStorage.setItem('sage-studio-credential', {json.dumps(key)})"
        )
        fcp, interactive, floor_fcp = [], [], []
        for _ in range(n):
            driver.get(url + "?fresh=" + str(time.monotonic_ns()))
            fcp.append(float(wait_js(driver, FCP)))
            interactive.append(float(wait_js(driver, INTERACTIVE)))
            driver.get(f"http://127.0.0.1:{floor.server_port}/?{time.monotonic_ns()}")
            floor_fcp.append(float(wait_js(driver, FCP)))
        # streaming: one reply of n_tokens tokens at the mock's 50 tokens/s
        driver.get(url)
        wait_js(driver, INTERACTIVE)
        driver.execute_script(
            "const box = document.querySelector('[data-testid=max-tokens]');"
            "Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(box, arguments[0]);"
            "box.dispatchEvent(new Event('input', {bubbles: true}));"
            "const draft = document.querySelector('[data-testid=draft]');"
            "Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(draft, 'stream please');"
            "draft.dispatchEvent(new Event('input', {bubbles: true}));",
            str(n_tokens),
        )
        time.sleep(0.2)
        driver.execute_script("document.querySelector('[data-testid=send]').click()")
        wait_js(
            driver,
            "return document.querySelector('[data-testid=reply]') && "
            f"(window.__studioPaints || []).some(p => p.n >= {n_tokens}) ? true : null;",
            timeout=n_tokens / 50 * 3 + 30,
        )
        arrivals = driver.execute_script("return window.__studioArrivals")
        paints = driver.execute_script("return window.__studioPaints")
        lags = []
        for i, arrived in enumerate(arrivals, start=1):
            painted = next((p["t"] for p in paints if p["n"] >= i), None)
            if painted is not None:
                lags.append(max(0.0, painted - arrived))
        figures = {
            "bench": "studio",
            "quick": args.quick,
            "n": n,
            "n_tokens": len(lags),
            "bundle_kb_gzip": round(bundle_kb_gzip(), 1),
            "first_contentful_paint_ms": round(statistics.median(fcp), 1),
            "interactive_ms": round(statistics.median(interactive), 1),
            "floor_first_contentful_paint_ms": round(statistics.median(floor_fcp), 1),
            "chunk_to_paint_p50_ms": round(percentile(lags, 0.5), 2),
            "chunk_to_paint_p99_ms": round(percentile(lags, 0.99), 2),
            "token_to_paint_p50_ms": None,
            "targets": {"bundle_kb_gzip": 400, "interactive_ms": 1500, "token_to_paint_p50_ms": 50},
        }
    finally:
        if driver is not None:
            driver.quit()
        floor.shutdown()
        mesh.down(grace=3)
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
