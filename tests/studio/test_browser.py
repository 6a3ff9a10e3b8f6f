"""Studio in a real browser (headless Chromium, Selenium) against a real mesh: sign in with an
API key, stream a chat and see its tokens arrive before the reply ends, stop a generation, see
the mesh page. Screenshots of each page go under the test's tmp_path."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from sage_client import JobClient, KVClient, LocalEnvironment, TSDBClient, VDBClient
from tests.gateway.conftest import LiveMesh
from tests.kernel import pipelines

cloudpickle.register_pickle_by_value(pipelines)  # as the job tests send them: by value
WAIT_S = 20


def _tokens(driver: Any) -> int:
    text = driver.find_element(By.CSS_SELECTOR, "[data-testid=token-count]").text
    found = re.search(r"(\d+) tokens", text)
    return int(found.group(1)) if found else 0


def _sign_in(driver: Any, mesh: LiveMesh, key: str, shots: Path) -> None:
    driver.get(f"http://{mesh.endpoints.envoy}/studio/")
    wait = WebDriverWait(driver, WAIT_S)
    field = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=credential]"))
    driver.save_screenshot(str(shots / "signin.png"))
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=sign-in]").click()


def _set_max_tokens(driver: Any, n: int) -> None:
    box = driver.find_element(By.CSS_SELECTOR, "[data-testid=max-tokens]")
    driver.execute_script(
        "const s = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;"
        "s.call(arguments[0], arguments[1]);"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));",
        box,
        str(n),
    )


def _send(driver: Any, text: str) -> None:
    driver.find_element(By.CSS_SELECTOR, "[data-testid=draft]").send_keys(text)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=send]").click()


def test_a_wrong_key_is_refused_with_a_message(
    browser: Any, studio_mesh: LiveMesh, tmp_path: Path
) -> None:
    _sign_in(browser, studio_mesh, "sk-sage-wrong", tmp_path)
    error = WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=signin-error]")
    )
    assert "invalid API key" in error.text
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid=nav-chat]")


def _cancel_quietly(mesh: LiveMesh, job_id: str) -> None:
    try:
        with JobClient(address=mesh.endpoints.instances["kernel-0"]) as jobs:
            if not jobs.get(job_id).done:
                jobs.cancel(job_id)
    except Exception:  # noqa: BLE001 - best effort at teardown
        pass


def test_sign_in_chat_stream_stop_and_mesh(
    browser: Any,
    studio_mesh: LiveMesh,
    make_key: Callable[..., str],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    driver = browser
    wait = WebDriverWait(driver, WAIT_S)
    _sign_in(driver, studio_mesh, make_key("erin", admin=True), tmp_path)
    who = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=who]"))
    assert who.text == "erin (admin)"
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=no-sessions]"))
    # the model picker lists the gateway's /v1/models
    models = wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=model] option") or None
    )
    assert "sage-default" in [m.get_attribute("value") for m in models]

    # a 40-token reply at 25 tokens/s: tokens are painted while the reply is still streaming
    _set_max_tokens(driver, 40)
    _send(driver, "tell me about the mesh")
    streaming = wait.until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "[data-testid=reply-streaming]")
            if _tokens(d) >= 3
            else None
        )
    )
    partial = streaming.text
    seen_mid_stream = _tokens(driver)
    assert driver.find_elements(By.CSS_SELECTOR, "[data-testid=stop]")  # still generating
    driver.save_screenshot(str(tmp_path / "chat-streaming.png"))
    reply = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=reply]"))
    assert 3 <= seen_mid_stream < 40
    assert _tokens(driver) == 40
    assert reply.text.startswith(partial.rstrip("…").strip()) and len(reply.text) > len(partial)
    sessions = wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=session]") or None
    )
    assert len(sessions) == 1
    driver.save_screenshot(str(tmp_path / "chat-done.png"))

    # stop: a 2000-token generation ends as soon as the button is pressed
    _set_max_tokens(driver, 2000)
    _send(driver, "now talk for a long time")
    wait.until(
        lambda d: (
            _tokens(d) >= 3 and d.find_elements(By.CSS_SELECTOR, "[data-testid=reply-streaming]")
        )
    )
    driver.find_element(By.CSS_SELECTOR, "[data-testid=stop]").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=send]"))
    stopped_at = _tokens(driver)
    assert 3 <= stopped_at < 200
    driver.save_screenshot(str(tmp_path / "chat-stopped.png"))
    replies = driver.find_elements(By.CSS_SELECTOR, "[data-testid=reply]")
    assert len(replies) == 2 and replies[1].text
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=chat-error]")

    # the mesh page: every instance from etcd, SERVING
    driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-mesh]").click()
    rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=instance]") or None)
    services = {r.find_elements(By.TAG_NAME, "td")[0].text for r in rows}
    assert services == {"kv", "llm", "gateway", "kernel", "vdb", "tsdb", "studio"}
    healths = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "[data-testid=health]")]
    assert healths == ["SERVING"] * len(rows)
    summary = driver.find_element(By.CSS_SELECTOR, "[data-testid=mesh-summary]").text
    assert summary == f"{len(rows)} of {len(rows)} instances serving"

    # each instance's uptime, and the calls/s and p50/p99 of the calls between two reads, from
    # the metrics port it registered: traffic to the KV shows on the KV's row
    def kv_row(d: Any) -> Any:
        return next(
            r
            for r in d.find_elements(By.CSS_SELECTOR, "[data-testid=instance]")
            if r.find_elements(By.TAG_NAME, "td")[0].text == "kv"
        )

    assert kv_row(driver).find_element(By.CSS_SELECTOR, "[data-testid=uptime]").text != "—"
    with KVClient("studio-mesh-page", address=studio_mesh.endpoints.instances["kv-0"]) as kv:
        stop_traffic = time.monotonic() + 30

        def busy_kv(d: Any) -> bool:
            for i in range(50):
                kv.put(f"k{i}", b"v")
            row = kv_row(d)
            rate = row.find_element(By.CSS_SELECTOR, "[data-testid=calls-per-s]").text
            p99 = row.find_element(By.CSS_SELECTOR, "[data-testid=p99]").text
            return time.monotonic() > stop_traffic or (
                rate not in ("—", "0.0") and p99.endswith(" ms")
            )

        wait.until(busy_kv)
        row = kv_row(driver)
        assert float(row.find_element(By.CSS_SELECTOR, "[data-testid=calls-per-s]").text) > 0
        assert row.find_element(By.CSS_SELECTOR, "[data-testid=p50]").text.endswith(" ms")
    driver.save_screenshot(str(tmp_path / "mesh.png"))

    # an instance whose process is stopped (SIGSTOP: it answers nothing, its lease not yet
    # expired) turns unhealthy on the page; resumed, it serves again
    llm = studio_mesh.pid("llm-0")
    os.kill(llm, signal.SIGSTOP)
    try:
        wait.until(
            lambda d: any(
                r.find_elements(By.TAG_NAME, "td")[0].text == "llm"
                and r.find_element(By.CSS_SELECTOR, "[data-testid=health]").text.startswith(
                    "UNREACHABLE"
                )
                for r in d.find_elements(By.CSS_SELECTOR, "[data-testid=instance]")
            )
        )
        summary = driver.find_element(By.CSS_SELECTOR, "[data-testid=mesh-summary]").text
        assert summary == f"{len(rows) - 1} of {len(rows)} instances serving"
        driver.save_screenshot(str(tmp_path / "mesh-unhealthy.png"))
    finally:
        os.kill(llm, signal.SIGCONT)
    wait.until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "[data-testid=mesh-summary]").text
            == f"{len(rows)} of {len(rows)} instances serving"
        )
    )
    # the jobs page: the job manager's (empty) list, as an empty state that says what to do
    driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-jobs]").click()
    empty = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=no-jobs]"))
    assert "sage job submit" in empty.text
    # a running job appears; its page shows its state, and Cancel cancels it on the job manager
    env = LocalEnvironment("studio-forever")
    env.from_source(pipelines.Forever).sink(pipelines.announce)
    with JobClient(address=studio_mesh.endpoints.instances["kernel-0"]) as jobs:
        handle = jobs.submit(env.graph)
        # an unbounded job's worker outlives the mesh by design (re-attach): never leave it
        request.addfinalizer(lambda: _cancel_quietly(studio_mesh, handle.id))
        row = wait.until(
            lambda d: next(
                (
                    r
                    for r in d.find_elements(By.CSS_SELECTOR, "[data-testid=job]")
                    if "studio-forever" in r.text
                ),
                None,
            )
        )
        row.click()
        wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=job-state]").text == "running"
        )
        # its DAG: both operators, the sink's counters moving between reads, the log following
        nodes = wait.until(
            lambda d: (
                len(found := d.find_elements(By.CSS_SELECTOR, "[data-testid=dag-node]")) == 2
                and found
            )
        )
        assert "sink" in nodes[1].text and "in " in nodes[1].text

        def sink_in(d: Any) -> int:
            text = d.find_element(By.CSS_SELECTOR, "[data-testid=dag-counts-1]").text
            return int(text.split("in ")[1].split(" ")[0])

        first = wait.until(lambda d: sink_in(d) or None)
        wait.until(lambda d: sink_in(d) > first)  # live: read again a second later
        wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=dag-rate-1]").text[0] != "0"
        )
        wait.until(
            lambda d: "record 1" in d.find_element(By.CSS_SELECTOR, "[data-testid=job-log]").text
        )
        driver.save_screenshot(str(tmp_path / "jobs.png"))
        driver.find_element(By.CSS_SELECTOR, "[data-testid=job-cancel]").click()
        wait.until(
            lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=job-state]").text == "cancelled"
        )
        assert jobs.get(handle.id).state == "cancelled"
        assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=job-cancel]")

    # the data page: a collection and a text search with its hits
    with VDBClient(address=studio_mesh.endpoints.instances["vdb-0"]) as vdb:
        vdb.create_collection("browser-docs", 2, metric="l2", index="flat")
        vdb.upsert(
            "browser-docs",
            ["p1", "p2"],
            [[1.0, 0.0], [0.0, 1.0]],
            metadatas=[{"lang": "en"}, {"lang": "fr"}],
            documents=["streams of tokens", "bonjour le monde"],
        )
    # and a time series: 1000 points of a ramp, drawn as window averages
    with TSDBClient(address=studio_mesh.endpoints.instances["tsdb-0"]) as tsdb:
        t0 = 1_700_000_000_000
        tsdb.write_points(
            "browser.temp",
            [t0 + i * 1000 for i in range(1000)],
            [float(i) for i in range(1000)],
            tags={"room": "lab"},
        )
    driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-data]").click()
    wait.until(
        lambda d: any(
            "browser-docs" in c.text
            for c in d.find_elements(By.CSS_SELECTOR, "[data-testid=collection]")
        )
    )
    Select(driver.find_element(By.CSS_SELECTOR, "[data-testid=collection-pick]")).select_by_value(
        "browser-docs"
    )
    driver.find_element(By.CSS_SELECTOR, "[data-testid=search-text]").send_keys("tokens")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=search]").click()
    hits = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=hits]"))
    assert hits.text.startswith("p1") and "streams of tokens" in hits.text
    # the KV browser: a namespace's entries under a prefix, text values shown, binary by size;
    # the gateway's own namespace is refused by the KV, and the page says so
    with KVClient("studio-browse", address=studio_mesh.endpoints.instances["kv-0"]) as kv:
        kv.put("user:1", b"ada")
        kv.put("user:2", bytes([0xFF, 0x00, 0x81]))
        kv.put("other", b"not listed")
    namespace = driver.find_element(By.CSS_SELECTOR, "[data-testid=kv-namespace]")
    namespace.clear()
    namespace.send_keys("studio-browse")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=kv-prefix]").send_keys("user:")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=kv-scan]").click()
    entries = wait.until(
        lambda d: len(e := d.find_elements(By.CSS_SELECTOR, "[data-testid=kv-entry]")) == 2 and e
    )
    assert entries[0].text.startswith("user:1 ada") and "3 bytes (binary)" in entries[1].text
    series = wait.until(  # other tests of the session write series too
        lambda d: next(
            (
                r
                for r in d.find_elements(By.CSS_SELECTOR, "[data-testid=series]")
                if "browser.temp" in r.text
            ),
            None,
        )
    )
    assert "browser.temp" in series.text and "room=lab" in series.text and "1000" in series.text
    series.click()
    chart = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=series-chart]"))
    # a 999 s span in at most ~200 windows (epoch-aligned: one more where the edges fall)
    windows = int(re.search(r"(\d+) windows of 4996 ms \(average\)", chart.text)[1])
    assert 200 <= windows <= 201, chart.text
    line = chart.find_element(By.CSS_SELECTOR, "[data-testid=series-line]")
    coords = [tuple(map(float, p.split(","))) for p in line.get_attribute("points").split()]
    assert len(coords) == windows and coords[0][1] > coords[-1][1]  # a ramp rises (y grows down)
    driver.save_screenshot(str(tmp_path / "data.png"))
    namespace.clear()
    namespace.send_keys("gateway-keys")
    driver.find_element(By.CSS_SELECTOR, "[data-testid=kv-scan]").click()
    refused = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=kv-error]"))
    assert "PERMISSION_DENIED" in refused.text and "gateway-keys" in refused.text
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-testid=kv-entry]")
    for name in (
        "signin",
        "chat-streaming",
        "chat-done",
        "chat-stopped",
        "mesh",
        "mesh-unhealthy",
        "jobs",
        "data",
    ):
        assert (tmp_path / f"{name}.png").stat().st_size > 5000, name


def _drop(driver: Any, op: str, x: int, y: int) -> None:
    """Drag a palette operator onto the canvas at (x, y) from its top-left (pointer events)."""
    from selenium.webdriver.common.action_chains import ActionChains

    item = driver.find_element(By.CSS_SELECTOR, f"[data-testid='palette-{op}']")
    canvas = driver.find_element(By.CSS_SELECTOR, "[data-testid=canvas]")
    size = canvas.size
    (
        ActionChains(driver)
        .click_and_hold(item)
        .move_to_element_with_offset(canvas, x - size["width"] // 2, y - size["height"] // 2)
        .move_by_offset(2, 2)
        .release()
        .perform()
    )


def _set_field(driver: Any, testid: str, value: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, f"[data-testid={testid}]")
    box.clear()
    box.send_keys(value)


def test_build_a_pipeline_on_the_canvas_run_it_and_watch_it_finish(
    browser: Any, studio_mesh: LiveMesh, make_key: Callable[..., str], tmp_path: Path
) -> None:
    driver = browser
    wait = WebDriverWait(driver, WAIT_S)
    _sign_in(driver, studio_mesh, make_key("bea", admin=True), tmp_path)
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=who]"))
    driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-builder]").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid='palette-source.numbers']"))
    # three operators dragged from the palette, each given its parameters in the form
    _drop(driver, "source.numbers", 100, 80)
    _set_field(driver, "param-stop", "5")
    _drop(driver, "map.multiply", 320, 160)
    _set_field(driver, "param-factor", "3")
    _drop(driver, "sink.collect", 540, 240)
    nodes = driver.find_elements(By.CSS_SELECTOR, "[data-testid=canvas-node]")
    ids = [n.get_attribute("data-node") for n in nodes]
    assert [i.split("-")[0] for i in ids] == ["numbers", "multiply", "collect"]
    # wired output to input
    for src, dst in ((ids[0], ids[1]), (ids[1], ids[2])):
        driver.find_element(By.CSS_SELECTOR, f"[data-testid=out-{src}]").click()
        driver.find_element(By.CSS_SELECTOR, f"[data-testid=in-{dst}]").click()
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=wire]")) == 2
    # the spec it saves is the one `sage pipeline run` reads
    driver.find_element(By.CSS_SELECTOR, "[data-testid=show-spec]").click()
    import json

    spec = json.loads(
        driver.find_element(By.CSS_SELECTOR, "[data-testid=spec]").get_attribute("value")
    )
    assert [o["op"] for o in spec["operators"]] == [
        "source.numbers",
        "map.multiply",
        "sink.collect",
    ]
    assert spec["operators"][0]["params"] == {"start": 0, "stop": 5}
    assert spec["edges"] == [{"from": ids[0], "to": ids[1]}, {"from": ids[1], "to": ids[2]}]
    driver.save_screenshot(str(tmp_path / "builder.png"))
    # run on the job manager: the job's DAG, state and result on the page
    driver.find_element(By.CSS_SELECTOR, "[data-testid=run-pipeline]").click()
    wait.until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "[data-testid=builder-job-state]").text == "succeeded"
        )
    )
    result = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=job-result]"))
    assert result.text.split("\n")[1:] == ["0.0", "3.0", "6.0", "9.0", "12.0"]
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=dag-node]")) == 3
    driver.save_screenshot(str(tmp_path / "builder-ran.png"))
    # the same canvas opens any submitted job's graph: from the job's page
    job_id = driver.find_element(By.CSS_SELECTOR, "[data-testid=builder-job] h3").text.split()[1]
    driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-jobs]").click()
    row = wait.until(
        lambda d: next(
            (
                r
                for r in d.find_elements(By.CSS_SELECTOR, "[data-testid=job]")
                if "my-pipeline" in r.text
            ),
            None,
        )
    )
    row.click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=open-in-builder]")).click()
    opened = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=builder-opened]"))
    assert job_id in opened.text
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-testid=canvas-node]")) == 3)
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-testid=wire]")) == 2
    driver.find_element(By.CSS_SELECTOR, "[data-testid=nav-builder]").click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid='palette-sink.print']"))
    for op, x, y in (("source.numbers", 100, 80), ("map.multiply", 320, 160)):
        _drop(driver, op, x, y)
    # a spec that cannot run says why: a sink with no input
    _drop(driver, "sink.print", 540, 360)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=run-pipeline]").click()
    error = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=run-error]"))
    assert "needs exactly one input, has 0" in error.text


def test_a_chat_with_sources_shows_the_documents_it_drew_on(
    browser: Any, studio_mesh: LiveMesh, make_key: Callable[..., str], tmp_path: Path
) -> None:
    with VDBClient(address=studio_mesh.endpoints.instances["vdb-0"]) as vdb:
        vdb.create_collection("chat-docs", 2, metric="l2", index="flat")
        vdb.upsert(
            "chat-docs",
            ["lease", "front"],
            [[1.0, 0.0], [0.0, 1.0]],
            documents=["instances register in etcd under a lease", "Envoy is the front door"],
        )
    driver = browser
    wait = WebDriverWait(driver, WAIT_S)
    _sign_in(driver, studio_mesh, make_key("cy"), tmp_path)  # sources need no admin
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=model] option") or None)
    _set_max_tokens(driver, 3)
    driver.find_element(By.CSS_SELECTOR, "[data-testid=rag-collection]").send_keys("chat-docs")
    _send(driver, "where do instances register under a lease")
    sources = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=sources]"))
    first = sources.find_elements(By.TAG_NAME, "li")[0].text
    assert first == "lease instances register in etcd under a lease"
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=reply]"))
    driver.save_screenshot(str(tmp_path / "chat-sources.png"))
    # a collection the gateway does not offer: the page shows the gateway's reason
    box = driver.find_element(By.CSS_SELECTOR, "[data-testid=rag-collection]")
    box.clear()
    box.send_keys("secret-docs")
    _send(driver, "anything")
    error = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=chat-error]"))
    assert "not offered for RAG" in error.text and "chat-docs" in error.text
