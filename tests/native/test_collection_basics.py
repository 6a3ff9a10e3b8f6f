"""Creating, opening, writing and reading a collection; errors name what to change."""

from pathlib import Path

import numpy as np
import pytest

import sage_native
from sage_client.codec.vdb import HNSW_DEFAULTS, IVF_DEFAULT_NLIST, default_nprobe
from sage_native import Collection


def vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.fixture
def col(tmp_path: Path) -> Collection:
    c = Collection.create(str(tmp_path / "c"), 8, metric="l2", index={"type": "flat"}, fsync="none")
    yield c
    c.close()


def test_upsert_then_get_returns_vector_metadata_and_document(col: Collection) -> None:
    x = vectors(3)
    col.upsert(
        ["a", "b", "c"],
        x,
        metadatas=[{"k": 1}, None, {"tags": ["t1", "t2"]}],
        documents=["doc a", None, "doc c"],
    )
    got = col.get(["c", "a", "missing"], include=["metadatas", "documents", "vectors"])
    assert got["ids"] == ["c", "a"]
    assert got["metadatas"] == [{"tags": ["t1", "t2"]}, {"k": 1}]
    assert got["documents"] == ["doc c", "doc a"]
    np.testing.assert_array_equal(got["vectors"], x[[2, 0]])
    assert col.count() == 3


def test_upsert_replaces_the_whole_record(col: Collection) -> None:
    col.upsert(["a"], vectors(1, seed=1), metadatas=[{"k": 1}], documents=["old"])
    col.upsert(["a"], vectors(1, seed=2), metadatas=[{"j": "x"}])
    got = col.get(["a"], include=["metadatas", "documents", "vectors"])
    assert got["metadatas"] == [{"j": "x"}]
    assert got["documents"] == [None]
    np.testing.assert_array_equal(got["vectors"][0], vectors(1, seed=2)[0])
    assert col.count() == 1


def test_delete_by_ids_and_by_filter_returns_count(col: Collection) -> None:
    col.upsert(
        [str(i) for i in range(10)],
        vectors(10),
        metadatas=[{"even": i % 2 == 0} for i in range(10)],
    )
    assert col.delete(ids=["1", "3", "nope"]) == 2
    assert col.delete(where={"even": True}) == 5
    assert sorted(col.get()["ids"]) == ["5", "7", "9"]
    assert col.count() == 3


def test_search_returns_ids_scores_and_requested_fields(col: Collection) -> None:
    x = vectors(5)
    col.upsert(list("abcde"), x, documents=list("ABCDE"))
    res = col.search(x[[1, 3]], k=2, include=["documents"])
    assert [row[0] for row in res["ids"]] == ["b", "d"]
    assert res["scores"].shape == (2, 2) and res["scores"].dtype == np.float32
    assert res["scores"][0, 0] == pytest.approx(0.0, abs=1e-5)
    assert [row[0] for row in res["documents"]] == ["B", "D"]
    assert "metadatas" not in res


def test_fewer_hits_than_k_leave_short_rows_and_nan_scores(col: Collection) -> None:
    col.upsert(["a", "b"], vectors(2))
    res = col.search(vectors(1), k=5, include=[])
    assert len(res["ids"][0]) == 2
    assert np.isnan(res["scores"][0, 2:]).all()


def test_create_on_existing_path_raises_file_exists(tmp_path: Path) -> None:
    Collection.create(str(tmp_path / "c"), 4).close()
    with pytest.raises(FileExistsError, match="already exists"):
        Collection.create(str(tmp_path / "c"), 4)


def test_open_missing_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no collection"):
        Collection.open(str(tmp_path / "nothing"))


def test_a_collection_cannot_be_opened_twice(tmp_path: Path) -> None:
    c = Collection.create(str(tmp_path / "c"), 4)
    with pytest.raises(OSError, match="already open"):
        Collection.open(str(tmp_path / "c"))
    c.close()
    Collection.open(str(tmp_path / "c")).close()


def test_properties_describe_the_collection(tmp_path: Path) -> None:
    with Collection.create(
        str(tmp_path / "c"), 16, metric="ip", index={"type": "ivf", "nlist": 4}
    ) as c:
        assert c.dim == 16
        assert c.metric == "ip"
        assert c.index["type"] == "ivf" and c.index["nlist"] == 4
        assert c.stats()["count"] == 0
    assert sage_native.faiss_version == "1.7.3"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.upsert(["a"], np.zeros((1, 7), np.float32)), "dimension 7"),
        (lambda c: c.upsert(["a"], np.array([[np.nan] * 8], np.float32)), "NaN or infinite"),
        (lambda c: c.upsert(["a"], np.array([[np.inf] + [0] * 7], np.float32)), "NaN or infinite"),
        (lambda c: c.upsert(["a", "b"], vectors(1)), "2 ids but 1 vectors"),
        (lambda c: c.upsert(["a"], vectors(1), metadatas=[{"k": "text"}]), "keeps one type"),
        (lambda c: c.upsert(["a"], vectors(1), metadatas=[{"k": {"nested": 1}}]), "use a string"),
        (lambda c: c.upsert(["a"], vectors(1), metadatas=[{"k": [1, 2]}]), "only hold strings"),
        (
            lambda c: c.search(vectors(1), k=3, where={"k": {"$like": 1}}),
            "unknown operator '\\$like'",
        ),
        (lambda c: c.search(vectors(1), k=3, where={"k": {"$gt": "x"}}), "needs a number"),
        (
            lambda c: c.search(vectors(1), k=3, where_document={"$regex": "x"}),
            "where_document operator",
        ),
        (lambda c: c.search(vectors(1), k=0), "k must be"),
        (lambda c: c.search(np.full((1, 8), np.nan, np.float32), k=1), "NaN"),
        (lambda c: c.get(include=["embeddings"]), "unknown field 'embeddings'"),
    ],
)
def test_bad_input_raises_value_error_and_changes_nothing(
    col: Collection, call, message: str
) -> None:
    col.upsert(["seed"], vectors(1), metadatas=[{"k": 1}])
    before = col.stats()["last_seq"]
    with pytest.raises(ValueError, match=message):
        call(col)
    assert col.count() == 1
    assert col.stats()["last_seq"] == before
    assert col.get(["a"])["ids"] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "hamming"}, "unknown metric 'hamming'"),
        ({"index": {"type": "lsh"}}, "unknown index type 'lsh'"),
        ({"index": {"type": "hnsw", "nlist": 3}}, "not valid for type 'hnsw'"),
        ({"index": {"type": "hnsw", "M": 0}}, "M must be 4..128"),
        ({"index": {"type": "hnsw", "M": 100000}}, "M must be 4..128"),
        ({"index": {"type": "hnsw", "M": 2**32 + 16}}, "M is out of range"),
        ({"index": {"type": "ivf", "nlist": 1_000_000}}, "nlist must be 1..65536"),
        ({"fsync": "sometimes"}, "unknown fsync policy"),
    ],
)
def test_bad_create_arguments_raise_value_error(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Collection.create(str(tmp_path / "c"), 8, **kwargs)
    assert not (tmp_path / "c").exists()


def test_non_float32_input_is_converted_and_float32_is_accepted_as_a_view(col: Collection) -> None:
    col.upsert(["a"], np.ones((1, 8), dtype=np.float64))
    base = np.ones((4, 8), dtype=np.float32)
    col.upsert(["b"], base[1:2])  # a C-contiguous slice: used in place
    assert col.count() == 2


def test_closed_collection_refuses_operations(tmp_path: Path) -> None:
    c = Collection.create(str(tmp_path / "c"), 8)
    c.close()
    with pytest.raises(ValueError, match="closed"):
        c.upsert(["a"], vectors(1))


def test_read_only_views_over_bytes_are_accepted(col: Collection) -> None:
    # The VDB service hands over numpy views of protobuf bytes: read-only, float32, C-contiguous.
    payload = np.arange(16, dtype=np.float32).tobytes()
    view = np.frombuffer(payload, dtype=np.float32).reshape(2, 8)
    assert not view.flags.writeable
    col.upsert(["a", "b"], view)
    assert col.search(view[1], k=1, include=[])["ids"] == [["b"]]


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        ("hnsw", {"type": "hnsw", **HNSW_DEFAULTS}),
        (
            "ivf",
            {
                "type": "ivf",
                "nlist": IVF_DEFAULT_NLIST,
                "nprobe": default_nprobe(IVF_DEFAULT_NLIST),
            },
        ),
        ({"type": "ivf", "nlist": 4}, {"type": "ivf", "nlist": 4, "nprobe": default_nprobe(4)}),
    ],
    ids=["hnsw", "ivf", "ivf-small-nlist"],
)
def test_defaults_are_the_contracts(tmp_path: Path, index: object, expected: dict) -> None:
    """A parameter left out means what vdb.proto documents (sage_client.codec.vdb), as in the service."""
    with Collection.create(str(tmp_path / "c"), 16, metric="l2", index=index, fsync="none") as c:
        assert {k: v for k, v in c.index.items() if k != "train_min"} == expected
