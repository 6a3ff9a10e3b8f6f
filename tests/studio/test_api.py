"""Studio's server through Envoy (/studio/): the bundle, and JSON routes that refuse a caller
without a valid credential, admit admins only to the mesh's internals, and proxy seed 004's
/api/chat contract to the gateway with the caller's own key."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.gateway.conftest import LiveMesh

ROUTES = [
    ("GET", "/studio/api/me"),
    ("GET", "/studio/api/mesh"),
    ("GET", "/studio/api/jobs"),
    ("GET", "/studio/api/jobs/abc"),
    ("GET", "/studio/api/jobs/abc/graph"),
    ("GET", "/studio/api/jobs/abc/logs"),
    ("POST", "/studio/api/jobs/abc/cancel"),
    ("GET", "/studio/api/collections"),
    ("POST", "/studio/api/collections/docs/search"),
    ("POST", "/studio/api/kv/default/scan"),
    ("GET", "/studio/api/tsdb/series"),
    ("GET", "/studio/api/pipelines/ops"),
    ("POST", "/studio/api/pipelines/run"),
    ("POST", "/studio/api/tsdb/chart"),
    ("GET", "/studio/api/chat/sessions"),
    ("POST", "/studio/api/chat/sessions"),
    ("POST", "/studio/api/chat/message"),
    ("DELETE", "/studio/api/chat/sessions/abc"),
]


def front(mesh: LiveMesh) -> httpx.Client:
    return httpx.Client(base_url=f"http://{mesh.endpoints.envoy}", timeout=30)


@pytest.mark.parametrize(
    "authorization", [None, "Bearer sk-sage-not-a-real-key", "Basic abc", "Bearer a.b.c"]
)
def test_every_api_route_refuses_a_caller_without_a_valid_credential(
    studio_mesh: LiveMesh, authorization: str | None
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    with front(studio_mesh) as http:
        for method, path in ROUTES:
            reply = http.request(method, path, headers=headers, json={})
            assert reply.status_code == 401, (method, path, reply.text)
            message = reply.json()["error"]["message"]
            assert message, (method, path)
        if authorization is None:
            assert "sign in" in message or "Authorization" in message


def test_the_mesh_internals_need_an_admin(
    studio_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    user = {"authorization": f"Bearer {make_key('bob')}"}
    with front(studio_mesh) as http:
        me = http.get("/studio/api/me", headers=user)
        assert me.status_code == 200 and me.json() == {
            "object": "principal",
            "user": "bob",
            "admin": False,
        }
        for path in (
            "/studio/api/mesh",
            "/studio/api/jobs",
            "/studio/api/jobs/abc/graph",
            "/studio/api/jobs/abc/logs",
            "/studio/api/pipelines/ops",
            "/studio/api/collections",
        ):
            refused = http.get(path, headers=user)
            assert refused.status_code == 403, path
            assert "admin" in refused.json()["error"]["message"]
        refused = http.post("/studio/api/jobs/abc/cancel", headers=user)
        assert refused.status_code == 403 and "admin" in refused.json()["error"]["message"]
        refused = http.post("/studio/api/kv/default/scan", headers=user, json={})
        assert refused.status_code == 403 and "admin" in refused.json()["error"]["message"]


def test_an_admin_sees_every_instance_with_its_health(
    studio_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    admin = {"authorization": f"Bearer {make_key('root', admin=True)}"}
    with front(studio_mesh) as http:
        reply = http.get("/studio/api/mesh", headers=admin)
    assert reply.status_code == 200, reply.text
    rows = reply.json()["data"]
    assert {r["service"] for r in rows} == {
        "kv",
        "llm",
        "gateway",
        "kernel",
        "vdb",
        "tsdb",
        "studio",
    }
    assert all(r["health"] == "SERVING" for r in rows), rows
    assert {r["address"] for r in rows} == set(studio_mesh.endpoints.instances.values())


def test_seed004_chat_routes_go_to_the_gateway_as_the_caller(
    studio_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    carol = {"authorization": f"Bearer {make_key('carol')}"}
    dave = {"authorization": f"Bearer {make_key('dave')}"}
    with front(studio_mesh) as http:
        made = http.post("/studio/api/chat/sessions", headers=carol, json={"title": "plans"})
        assert made.status_code == 200, made.text
        session_id = made.json()["id"]
        turn = http.post(
            "/studio/api/chat/message",
            headers=carol,
            json={"message": "hello mesh", "session_id": session_id, "max_tokens": 8},
        )
        assert turn.status_code == 200, turn.text
        assert turn.json()["session_id"] == session_id and turn.json()["content"]
        listed = http.get("/studio/api/chat/sessions", headers=carol).json()["sessions"]
        assert [s["id"] for s in listed] == [session_id] and listed[0]["message_count"] == 2
        # another user's key sees none of carol's sessions and cannot delete them
        assert http.get("/studio/api/chat/sessions", headers=dave).json()["sessions"] == []
        assert (
            http.delete(f"/studio/api/chat/sessions/{session_id}", headers=dave).status_code == 404
        )
        bad = http.post("/studio/api/chat/message", headers=carol, json={"message": "  "})
        assert bad.status_code == 400 and "message" in bad.json()["error"]["message"]
        too_few = http.post(
            "/studio/api/chat/message", headers=carol, json={"message": "x", "max_tokens": 0}
        )
        assert too_few.status_code == 400 and "max_tokens" in too_few.text  # the gateway's check
        not_json = http.post("/studio/api/chat/message", headers=carol, content=b"{oops")
        assert not_json.status_code == 400
        gone = http.delete(f"/studio/api/chat/sessions/{session_id}", headers=carol)
        assert gone.status_code == 200, gone.text
        assert http.get("/studio/api/chat/sessions", headers=carol).json()["sessions"] == []


def test_the_bundle_is_served_behind_envoy(studio_mesh: LiveMesh) -> None:
    with front(studio_mesh) as http:
        page = http.get("/studio/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<div id="root">' in page.text
        script = page.text.split('src="', 1)[1].split('"', 1)[0]
        assert script.startswith("/studio/assets/")
        asset = http.get(script)
        assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
        assert "immutable" in asset.headers["cache-control"]
        assert http.get("/studio/assets/nope.js").status_code == 404
        assert http.get("/studio/../v1/models").status_code in (401, 404)  # never a file
        assert http.get("/studio/chat").text == page.text  # a page path: the app routes itself


def test_jobs_and_collections_through_the_sdk(
    studio_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    from sage_client import VDBClient

    admin = {"authorization": f"Bearer {make_key('root', admin=True)}"}
    with VDBClient(address=studio_mesh.endpoints.instances["vdb-0"]) as vdb:
        vdb.create_collection("studio-docs", 2, metric="l2", index="flat")
        vdb.upsert(
            "studio-docs",
            ["a", "b"],
            [[1.0, 0.0], [0.0, 1.0]],
            metadatas=[{"topic": "mesh"}, {"topic": "flow"}],
            documents=["hello from the mesh", "goodbye stream"],
        )
    with front(studio_mesh) as http:
        jobs = http.get("/studio/api/jobs", headers=admin)
        assert jobs.status_code == 200, jobs.text
        assert jobs.json() == {"object": "list", "data": []}
        missing = http.get("/studio/api/jobs/no-such-job", headers=admin)
        assert missing.status_code == 404 and "no-such-job" in missing.json()["error"]["message"]
        for part in ("graph", "logs"):
            missing = http.get(f"/studio/api/jobs/no-such-job/{part}", headers=admin)
            assert missing.status_code == 404, (part, missing.text)
            bad = http.get(f"/studio/api/jobs/not%20an%20id/{part}", headers=admin)
            assert bad.status_code == 400, (part, bad.text)
        listed = http.get("/studio/api/collections", headers=admin)
        assert listed.status_code == 200, listed.text
        row = next(c for c in listed.json()["data"] if c["name"] == "studio-docs")
        assert (row["dimension"], row["count"], row["metric"]) == (2, 2, "l2")
        # a text search: the VDB's text index over the documents, hits with their metadata
        found = http.post(
            "/studio/api/collections/studio-docs/search",
            headers=admin,
            json={"text": "hello mesh", "top_k": 2},
        )
        assert found.status_code == 200, found.text
        hits = found.json()["data"]
        assert hits[0]["id"] == "a" and hits[0]["document"] == "hello from the mesh"
        assert hits[0]["metadata"] == {"topic": "mesh"}
        # a metadata filter narrows the hits; one the VDB cannot parse is its 400
        filtered = http.post(
            "/studio/api/collections/studio-docs/search",
            headers=admin,
            json={"text": "hello goodbye", "top_k": 2, "where": {"topic": "flow"}},
        )
        assert filtered.status_code == 200, filtered.text
        assert [h["id"] for h in filtered.json()["data"]] == ["b"]
        broken = http.post(
            "/studio/api/collections/studio-docs/search",
            headers=admin,
            json={"text": "x", "where": {"topic": {"$nope": 1}}},
        )
        assert broken.status_code == 400, broken.text
        for bad in (
            {},
            {"text": ""},
            {"text": "x", "top_k": 0},
            {"text": "x", "top_k": "3"},
            {"text": "x", "where": [1]},
        ):
            answer = http.post(
                "/studio/api/collections/studio-docs/search", headers=admin, json=bad
            )
            assert answer.status_code == 400, (bad, answer.text)
        unknown = http.post(
            "/studio/api/collections/nope/search", headers=admin, json={"text": "hello"}
        )
        assert unknown.status_code in (400, 404, 409), unknown.text


def test_kv_pages_and_the_namespaces_services_own_are_refused(
    studio_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    from sage_client import KVClient

    admin = {"authorization": f"Bearer {make_key('root', admin=True)}"}
    with KVClient("studio-kv", address=studio_mesh.endpoints.instances["kv-0"]) as kv:
        for i in range(5):
            kv.put(f"k{i}", f"value {i}".encode())
        kv.put("long", ("x" * 500).encode())
    with front(studio_mesh) as http:
        first = http.post(
            "/studio/api/kv/studio-kv/scan", headers=admin, json={"prefix": "k", "page_size": 3}
        )
        assert first.status_code == 200, first.text
        page = first.json()
        assert [e["key"] for e in page["data"]] == ["k0", "k1", "k2"] and page["next_page_token"]
        assert page["data"][0]["text"] == "value 0" and page["data"][0]["version"] >= 1
        rest = http.post(
            "/studio/api/kv/studio-kv/scan",
            headers=admin,
            json={"prefix": "k", "page_size": 3, "page_token": page["next_page_token"]},
        ).json()
        assert [e["key"] for e in rest["data"]] == ["k3", "k4"] and not rest["next_page_token"]
        long = http.post("/studio/api/kv/studio-kv/scan", headers=admin, json={"prefix": "long"})
        entry = long.json()["data"][0]
        assert (len(entry["text"]), entry["truncated"], entry["size"]) == (200, True, 500)
        for bad in (
            {"page_size": 0},
            {"page_size": 501},
            {"page_size": "3"},
            {"prefix": 3},
            {"prefix": "x" * 1025},
        ):
            answer = http.post("/studio/api/kv/studio-kv/scan", headers=admin, json=bad)
            assert answer.status_code == 400, (bad, answer.text)
        bad_token = http.post(
            "/studio/api/kv/studio-kv/scan", headers=admin, json={"page_token": "forged"}
        )
        assert bad_token.status_code == 400, bad_token.text
        owned = http.post("/studio/api/kv/gateway-keys/scan", headers=admin, json={})
        assert owned.status_code == 403, owned.text
        assert "gateway-keys" in owned.json()["error"]["message"]


def test_tsdb_series_and_a_chart_with_its_inputs_bounded(
    studio_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    from sage_client import TSDBClient

    admin = {"authorization": f"Bearer {make_key('root', admin=True)}"}
    with TSDBClient(address=studio_mesh.endpoints.instances["tsdb-0"]) as tsdb:
        tsdb.write_points("api.load", [0, 1000, 2000, 3000], [1.0, 3.0, 5.0, 7.0], tags={"h": "a"})
        tsdb.write_points("api.load", [0, 1000], [100.0, 100.0], tags={"h": "b"})
    with front(studio_mesh) as http:
        listed = http.get("/studio/api/tsdb/series", headers=admin)
        assert listed.status_code == 200, listed.text
        mine = [s for s in listed.json()["data"] if s["metric"] == "api.load"]
        assert sorted((s["tags"]["h"], s["points"]) for s in mine) == [("a", 4), ("b", 2)]
        chart = http.post(
            "/studio/api/tsdb/chart", headers=admin, json={"metric": "api.load", "tags": {"h": "a"}}
        )
        assert chart.status_code == 200, chart.text
        body = chart.json()
        assert body["window_ms"] == 16  # ceil(3001 ms / 200 windows)
        assert [v for _, v in body["points"]] == [1.0, 3.0, 5.0, 7.0]  # series b left out
        missing = http.post(
            "/studio/api/tsdb/chart", headers=admin, json={"metric": "api.load", "tags": {"h": "z"}}
        )
        assert missing.status_code == 404, missing.text
        for bad in (
            {},
            {"metric": "bad metric"},
            {"metric": "api.load", "tags": {"h": 'a" OR h="b'}},
            {"metric": "api.load", "tags": ["h"]},
            {"metric": "api.load", "tags": {f"k{i}": "v" for i in range(17)}},
        ):
            answer = http.post("/studio/api/tsdb/chart", headers=admin, json=bad)
            assert answer.status_code == 400, (bad, answer.text)


def test_a_finished_jobs_graph_and_result_and_a_job_without_one(
    studio_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    import cloudpickle

    from sage_client import JobClient, LocalEnvironment
    from tests.kernel import pipelines

    cloudpickle.register_pickle_by_value(pipelines)
    admin = {"authorization": f"Bearer {make_key('root', admin=True)}"}
    kept = LocalEnvironment("studio-result")
    kept.from_batch(list(range(150))).map(pipelines.square).sink(lambda x: None)
    plain = LocalEnvironment("studio-no-result")
    plain.from_batch([1, 2]).sink(lambda x: None)
    with JobClient(address=studio_mesh.endpoints.instances["kernel-0"]) as jobs:
        with_result = jobs.submit(kept.graph, collect_result=True)
        without = jobs.submit(plain.graph)
        with_result.wait(timeout=60)
        without.wait(timeout=60)
    with front(studio_mesh) as http:
        result = http.get(f"/studio/api/jobs/{with_result.id}/result", headers=admin)
        assert result.status_code == 200, result.text
        body = result.json()
        assert body["total"] == 150 and len(body["data"]) == 100  # the first 100 shown
        assert body["data"] == [str(x * x) for x in range(100)]  # one sink: in order
        graph = http.get(f"/studio/api/jobs/{with_result.id}/graph", headers=admin).json()
        assert [op["kind"] for op in graph["operators"]] == ["collection", "map", "sink"]
        assert graph["operators"][2]["records_in"] == 150
        assert "function" not in graph["operators"][0]
        none = http.get(f"/studio/api/jobs/{without.id}/result", headers=admin)
        assert none.status_code == 409 and "collect_result" in none.json()["error"]["message"]
    with JobClient(address=studio_mesh.endpoints.instances["kernel-0"]) as jobs:
        for handle in (with_result, without):  # the browser test starts from no jobs
            jobs.delete(handle.id)


def test_the_builder_runs_catalogue_specs_only(
    studio_mesh: LiveMesh, make_key: Callable[..., str]
) -> None:
    admin = {"authorization": f"Bearer {make_key('root', admin=True)}"}
    user = {"authorization": f"Bearer {make_key('bob')}"}
    spec = {
        "name": "api-spec",
        "operators": [
            {"id": "n", "op": "source.numbers", "params": {"stop": 4}},
            {"id": "c", "op": "sink.collect"},
        ],
        "edges": [{"from": "n", "to": "c"}],
    }
    with front(studio_mesh) as http:
        ops = http.get("/studio/api/pipelines/ops", headers=admin).json()["data"]
        assert "source.numbers" in {o["op"] for o in ops}
        refused = http.post("/studio/api/pipelines/run", headers=user, json=spec)
        assert refused.status_code == 403, refused.text
        ran = http.post("/studio/api/pipelines/run", headers=admin, json=spec)
        assert ran.status_code == 200, ran.text
        job_id = ran.json()["id"]
        from sage_client import JobClient

        with JobClient(address=studio_mesh.endpoints.instances["kernel-0"]) as jobs:
            assert jobs.get(job_id).name == "api-spec"
            from sage_client.remote.client import JobHandle

            assert JobHandle(jobs, job_id).wait(timeout=60).state == "succeeded"
            assert jobs.result(job_id) == [0, 1, 2, 3]
            jobs.delete(job_id)  # the browser test starts from no jobs
        for bad, message in (
            ({"operators": [{"id": "x", "op": "builtins.eval"}]}, "unknown op"),
            ({"operators": "all"}, "operators must be a list"),
            ([1, 2], "is an object"),
        ):
            answer = http.post("/studio/api/pipelines/run", headers=admin, json=bad)
            assert answer.status_code == 400, answer.text
            assert message in answer.json()["error"]["message"]
