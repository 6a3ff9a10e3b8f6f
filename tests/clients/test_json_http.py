"""JSON over HTTP through Envoy: the KV and VDB reads that have a google.api.http rule are
transcoded to gRPC calls (proto3 JSON in and out; an error status becomes its HTTP status with a
JSON google.rpc.Status body), and nothing else is: the writes stay gRPC only."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator
from urllib.parse import quote

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message

from sage_client.channels import authorized_channel
from sage_client.credentials import default_metadata
from sage_proto.common.v1 import common_pb2
from sage_proto.kv.v1 import kv_pb2, kv_pb2_grpc
from sage_proto.vdb.v1 import vdb_pb2, vdb_pb2_grpc
from tests.clients.conftest import LiveMesh

NS = "json-http"
COLLECTION = "json_http"
# Three 2-d points: a at the origin (year 2019), b near it (2023), c far away (2024).
POINTS = vdb_pb2.Points(
    ids=["a", "b", "c"],
    vectors=struct.pack("<6f", 0, 0, 0.1, 0, 5, 5),
    metadatas=[
        common_pb2.Metadata(fields={"year": common_pb2.MetadataValue(int_value=year)})
        for year in (2019, 2023, 2024)
    ],
    documents=["the origin", "near the origin", "far away"],
)
ORIGIN = struct.pack("<2f", 0, 0)


def as_json(message: Message) -> dict:
    """What Envoy answers for ``message``: proto3 JSON with every field (print_options)."""
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


@pytest.fixture(scope="module")
def http(live_mesh: LiveMesh) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"http://{live_mesh.envoy}", timeout=10, headers=dict(default_metadata())
    ) as client:
        yield client


@pytest.fixture(scope="module")
def channel(live_mesh: LiveMesh) -> Iterator[grpc.Channel]:
    with authorized_channel(live_mesh.envoy) as channel:
        yield channel


@pytest.fixture(scope="module")
def kv(channel: grpc.Channel) -> kv_pb2_grpc.KVServiceStub:
    """KV over gRPC, with namespace NS holding `greeting`, a key with a slash and one with `?` and `#`."""
    stub = kv_pb2_grpc.KVServiceStub(channel)
    stub.Clear(kv_pb2.ClearRequest(namespace=NS))
    for key, value in {
        "greeting": b"hello",
        "alice/s1": b"\x00\xffbytes",
        "what? #1": b"odd",
    }.items():
        stub.Put(kv_pb2.PutRequest(namespace=NS, key=key, value=value))
    return stub


@pytest.fixture(scope="module")
def vdb(live_mesh: LiveMesh, channel: grpc.Channel) -> vdb_pb2_grpc.VDBServiceStub:
    """VDB over gRPC, with collection COLLECTION holding POINTS."""
    live_mesh.require("vdb")
    stub = vdb_pb2_grpc.VDBServiceStub(channel)
    try:
        stub.DeleteCollection(vdb_pb2.DeleteCollectionRequest(name=COLLECTION))
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND
    stub.CreateCollection(
        vdb_pb2.CreateCollectionRequest(
            collection=vdb_pb2.Collection(
                name=COLLECTION,
                dimension=2,
                metric=vdb_pb2.METRIC_L2,
                index=vdb_pb2.IndexSpec(flat=vdb_pb2.FlatIndex()),
            )
        )
    )
    stub.Upsert(
        vdb_pb2.UpsertRequest(
            collection=COLLECTION, points=POINTS, durability=vdb_pb2.DURABILITY_SYNC
        )
    )
    return stub


def test_get_answers_what_the_grpc_call_answers(
    http: httpx.Client, kv: kv_pb2_grpc.KVServiceStub
) -> None:
    reply = http.get(f"/v1/kv/namespaces/{NS}/keys/greeting")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == as_json(kv.Get(kv_pb2.GetRequest(namespace=NS, key="greeting")))
    assert reply.json()["entry"] == {
        "key": "greeting",
        "value": base64.b64encode(b"hello").decode(),
        "version": "1",
        "ttlMs": "0",
    }  # bytes as base64, int64 as strings


@pytest.mark.parametrize("key", ["alice/s1", "what? #1"])
def test_the_key_is_the_rest_of_the_path_percent_decoded(
    http: httpx.Client, kv: kv_pb2_grpc.KVServiceStub, key: str
) -> None:
    reply = http.get(f"/v1/kv/namespaces/{NS}/keys/{quote(key, safe='/')}")
    assert reply.status_code == 200, reply.text
    assert reply.json() == as_json(kv.Get(kv_pb2.GetRequest(namespace=NS, key=key)))


def test_a_slash_in_the_key_may_be_percent_encoded_too(
    http: httpx.Client, kv: kv_pb2_grpc.KVServiceStub
) -> None:
    reply = http.get(f"/v1/kv/namespaces/{NS}/keys/alice%2Fs1")
    assert reply.status_code == 200, reply.text
    assert reply.json()["entry"]["key"] == "alice/s1"


def test_scan_pages_through_query_parameters(
    http: httpx.Client, kv: kv_pb2_grpc.KVServiceStub
) -> None:
    keys, token = [], ""
    while True:
        page = http.get(
            f"/v1/kv/namespaces/{NS}/keys",
            params={"pageSize": 2, "pageToken": token, "includeValues": "true"},
        )
        assert page.status_code == 200, page.text
        keys += [entry["key"] for entry in page.json()["entries"]]
        token = page.json()["nextPageToken"]
        if not token:
            break
    scanned = kv.Scan(kv_pb2.ScanRequest(namespace=NS, page_size=100))
    assert keys == [entry.key for entry in scanned.entries] == ["alice/s1", "greeting", "what? #1"]


def test_batch_get_takes_the_keys_as_repeated_parameters(
    http: httpx.Client, kv: kv_pb2_grpc.KVServiceStub
) -> None:
    reply = http.get(
        f"/v1/kv/namespaces/{NS}/keys:batchGet", params=[("keys", "greeting"), ("keys", "absent")]
    )
    assert reply.status_code == 200, reply.text
    assert reply.json() == as_json(
        kv.BatchGet(kv_pb2.BatchGetRequest(namespace=NS, keys=["greeting", "absent"]))
    )
    assert reply.json()["found"] == [True, False]


def test_a_missing_key_is_404_with_the_status_as_json(
    http: httpx.Client, kv: kv_pb2_grpc.KVServiceStub
) -> None:
    reply = http.get(f"/v1/kv/namespaces/{NS}/keys/absent")
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/json"
    body = reply.json()
    assert body["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert "absent" in body["message"]
    assert body["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert body["details"][0]["reason"] == "ERROR_REASON_NOT_FOUND"


def test_search_by_json_returns_the_ids_of_the_grpc_search(
    http: httpx.Client, vdb: vdb_pb2_grpc.VDBServiceStub
) -> None:
    reply = http.post(
        f"/v1/vdb/collections/{COLLECTION}:search",
        json={
            "queries": base64.b64encode(ORIGIN).decode(),
            "topK": 2,
            "include": ["FIELD_DOCUMENT"],
        },
    )
    assert reply.status_code == 200, reply.text
    expected = vdb.Search(
        vdb_pb2.SearchRequest(
            collection=COLLECTION, queries=ORIGIN, top_k=2, include=[vdb_pb2.FIELD_DOCUMENT]
        )
    )
    [result] = reply.json()["results"]
    assert result["ids"] == list(expected.results[0].ids) == ["a", "b"]
    assert result["documents"] == ["the origin", "near the origin"]
    assert result["scores"] == pytest.approx(list(expected.results[0].scores))


def test_a_filter_is_plain_json(http: httpx.Client, vdb: vdb_pb2_grpc.VDBServiceStub) -> None:
    reply = http.post(
        f"/v1/vdb/collections/{COLLECTION}:search",
        json={
            "queries": base64.b64encode(ORIGIN).decode(),
            "topK": 2,
            "where": {"year": {"$gte": 2020}},
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["results"][0]["ids"] == ["b", "c"]
    ranked = http.post(
        f"/v1/vdb/collections/{COLLECTION}:searchText", json={"queryTexts": ["origin"], "topK": 3}
    )
    assert set(ranked.json()["results"][0]["ids"]) == {"a", "b"}


def test_collections_and_points_are_read_with_get(
    http: httpx.Client, vdb: vdb_pb2_grpc.VDBServiceStub
) -> None:
    listed = http.get("/v1/vdb/collections", params={"pageSize": 1000})
    assert COLLECTION in [c["name"] for c in listed.json()["collections"]]
    described = http.get(f"/v1/vdb/collections/{COLLECTION}").json()["collection"]
    assert (described["dimension"], described["metric"], described["count"]) == (
        2,
        "METRIC_L2",
        "3",
    )
    points = http.get(
        f"/v1/vdb/collections/{COLLECTION}/points:batchGet",
        params=[("ids", "c"), ("ids", "a"), ("include", "FIELD_DOCUMENT")],
    )
    assert points.status_code == 200, points.text
    assert points.json() == as_json(
        vdb.GetPoints(
            vdb_pb2.GetPointsRequest(
                collection=COLLECTION, ids=["c", "a"], include=[vdb_pb2.FIELD_DOCUMENT]
            )
        )
    )


def test_an_unknown_collection_is_404_naming_it(
    http: httpx.Client, vdb: vdb_pb2_grpc.VDBServiceStub
) -> None:
    for reply in (
        http.get("/v1/vdb/collections/no_such_collection"),
        http.post("/v1/vdb/collections/no_such_collection:search", json={"queries": "", "topK": 1}),
    ):
        assert reply.status_code == 404, reply.text
        assert reply.headers["content-type"] == "application/json"
        assert "'no_such_collection' does not exist" in reply.json()["message"]


def test_an_invalid_argument_is_400_naming_the_field(
    http: httpx.Client, vdb: vdb_pb2_grpc.VDBServiceStub
) -> None:
    reply = http.post(
        f"/v1/vdb/collections/{COLLECTION}:search", json={"queries": "AAAAAAAAAAA=", "topK": 0}
    )
    assert reply.status_code == 400
    violations = [
        d for d in reply.json()["details"] if d["@type"].endswith("google.rpc.BadRequest")
    ]
    assert violations[0]["fieldViolations"][0]["field"] == "top_k"


@pytest.mark.parametrize(
    "body",
    ['{"queries": ', '{"topK": "many"}', '{"noSuchField": 1}'],
    ids=["truncated", "wrong-type", "unknown-field"],
)
def test_a_malformed_body_is_400(
    http: httpx.Client, vdb: vdb_pb2_grpc.VDBServiceStub, body: str
) -> None:
    reply = http.post(
        f"/v1/vdb/collections/{COLLECTION}:search",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 400, reply.text


def test_an_unknown_query_parameter_is_400(
    http: httpx.Client, kv: kv_pb2_grpc.KVServiceStub
) -> None:
    reply = http.get(f"/v1/kv/namespaces/{NS}/keys", params={"page_sise": 2})
    assert reply.status_code == 400
    assert "page_sise" in reply.text


def test_a_collection_named_twice_differently_is_400(
    http: httpx.Client, vdb: vdb_pb2_grpc.VDBServiceStub
) -> None:
    reply = http.post(
        f"/v1/vdb/collections/{COLLECTION}:search",
        json={"collection": "another", "queries": "AAAAAAAAAAA=", "topK": 1},
    )
    assert reply.status_code == 400
    assert "conflicting" in reply.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", f"/v1/kv/namespaces/{NS}/keys/greeting", {"value": "d3JpdHRlbg=="}),
        ("POST", f"/v1/kv/namespaces/{NS}/keys/greeting", {"value": "d3JpdHRlbg=="}),
        ("PATCH", f"/v1/kv/namespaces/{NS}/keys/greeting", {"value": "d3JpdHRlbg=="}),
        ("DELETE", f"/v1/kv/namespaces/{NS}/keys/greeting", None),
        (
            "POST",
            f"/v1/kv/namespaces/{NS}/keys:batchPut",
            {"keys": ["greeting"], "values": ["d3JpdHRlbg=="]},
        ),
        ("POST", f"/v1/kv/namespaces/{NS}:clear", {}),
        ("DELETE", f"/v1/vdb/collections/{COLLECTION}", None),
        (
            "POST",
            f"/v1/vdb/collections/{COLLECTION}/points",
            {"points": {"ids": ["z"], "vectors": "AAAAAAAAAAA="}},
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_write_is_not_exposed_as_json(
    http: httpx.Client,
    kv: kv_pb2_grpc.KVServiceStub,
    vdb: vdb_pb2_grpc.VDBServiceStub,
    method: str,
    path: str,
    body: dict | None,
) -> None:
    reply = http.request(method, path, json=body)
    assert reply.status_code == 404, (
        reply.text
    )  # no rule maps it, and this mesh has no other /v1/ route
    assert kv.Get(kv_pb2.GetRequest(namespace=NS, key="greeting")).entry.version == 1
    assert vdb.GetCollection(vdb_pb2.GetCollectionRequest(name=COLLECTION)).collection.count == 3
