"""The native vector-window operators against numpy references on random data."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import sage_native
from sage_client.flow import centroid, index_join, knn_join, range_join

PATHS = ["native", "f32"]  # the CPU's fastest path (AMX bf16 + exact re-score) and the f32 kernels


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    sage_native.flow.set_amx(request.param == "native")
    yield request.param
    sage_native.flow.set_amx(True)


def _data(na: int, nb: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((na, dim)).astype(np.float32),
        rng.standard_normal((nb, dim)).astype(np.float32),
    )


def _reference(a: np.ndarray, b: np.ndarray, metric: str) -> tuple[np.ndarray, bool]:
    """Scores of every pair in float64, and whether lower is better."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if metric == "cosine":
        a64 = a64 / np.linalg.norm(a64, axis=1, keepdims=True)
        b64 = b64 / np.linalg.norm(b64, axis=1, keepdims=True)
    if metric == "l2":
        return ((a64**2).sum(1)[:, None] + (b64**2).sum(1)[None, :] - 2 * a64 @ b64.T), True
    return a64 @ b64.T, False


def _assert_exact_topk(labels, scores, ref, lower, k) -> None:  # noqa: ANN001
    """labels are a true top-k: their reference scores equal the reported ones and the best k
    reference scores (only near-ties may swap)."""
    assert labels.shape == scores.shape == (ref.shape[0], k)
    best = np.sort(ref, axis=1)[:, :k] if lower else -np.sort(-ref, axis=1)[:, :k]
    got = np.take_along_axis(ref, labels, axis=1)
    tol = 1e-4 * (1 + np.abs(best).max())
    np.testing.assert_allclose(got, scores, atol=tol)
    np.testing.assert_allclose(got, best, atol=tol)
    assert all(len(set(row)) == k for row in labels.tolist())  # no pair twice


@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
@pytest.mark.parametrize(("na", "nb", "dim"), [(70, 300, 384), (33, 1100, 96), (5, 40, 7)])
def test_knn_join_equals_numpy(path: str, metric: str, na: int, nb: int, dim: int) -> None:
    a, b = _data(na, nb, dim, seed=na + nb)
    labels, scores = knn_join(a, b, k=10, metric=metric)
    ref, lower = _reference(a, b, metric)
    _assert_exact_topk(labels, scores, ref, lower, 10)
    order = scores if lower else -scores
    assert (np.diff(order, axis=1) >= 0).all()  # best first


def test_knn_join_on_near_duplicates_is_exact(path: str) -> None:
    # Many right rows within bf16 precision of each other: only the exact re-score separates them.
    rng = np.random.default_rng(3)
    base = rng.standard_normal(384).astype(np.float32)
    b = base + 1e-3 * rng.standard_normal((500, 384)).astype(np.float32)
    a = base + 1e-3 * rng.standard_normal((20, 384)).astype(np.float32)
    labels, scores = knn_join(a, b, k=5, metric="l2")
    ref, _ = _reference(a, b, "l2")
    np.testing.assert_array_equal(np.sort(labels, 1), np.sort(np.argsort(ref, 1)[:, :5], 1))


def test_knn_join_with_fewer_rows_than_k_pads() -> None:
    a, b = _data(4, 3, 16, seed=1)
    labels, scores = knn_join(a, b, k=5, metric="ip")
    assert (labels[:, 3:] == -1).all() and np.isnan(scores[:, 3:]).all()
    assert sorted(labels[0, :3].tolist()) == [0, 1, 2]


def test_empty_windows_give_empty_results() -> None:
    a, b = _data(4, 3, 16, seed=1)
    labels, _ = knn_join(a, b[:0], k=2)
    assert labels.shape == (4, 2) and (labels == -1).all()
    assert knn_join(a[:0], b, k=2)[0].shape == (0, 2)
    left, right, scores = range_join(a[:0], b, 0.1)
    assert len(left) == len(right) == len(scores) == 0
    np.testing.assert_array_equal(centroid(np.empty((0, 16), np.float32)), np.zeros(16))


@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
def test_range_join_equals_numpy(path: str, metric: str) -> None:
    a, b = _data(60, 400, 64, seed=9)
    ref, lower = _reference(a, b, metric)
    threshold = float(np.quantile(ref, 0.02 if lower else 0.98))
    left, right, scores = range_join(a, b, threshold, metric=metric)
    want = set(zip(*np.nonzero(ref <= threshold if lower else ref >= threshold), strict=True))
    got = set(zip(left.tolist(), right.tolist(), strict=True))
    # Pairs within float32 rounding of the threshold may fall either way.
    margin = 1e-4 * (1 + abs(threshold))
    fuzzy = {p for p in want ^ got if abs(ref[p] - threshold) > margin}
    assert not fuzzy and len(got) > 100
    np.testing.assert_allclose(scores, ref[left, right], atol=margin)


def test_index_join_recall() -> None:
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((20, 64)).astype(np.float32)
    b = centers[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 64)).astype(
        np.float32
    )
    a = centers[rng.integers(0, 20, 200)] + 0.3 * rng.standard_normal((200, 64)).astype(np.float32)
    labels, scores = index_join(a, b, k=10, metric="l2", index={"M": 16, "ef_search": 64})
    exact, _ = knn_join(a, b, k=10, metric="l2")
    recall = np.mean(
        [len(set(x) & set(y)) / 10 for x, y in zip(labels.tolist(), exact.tolist(), strict=True)]
    )
    assert recall >= 0.9
    ref, _ = _reference(a, b, "l2")
    np.testing.assert_allclose(np.take_along_axis(ref, labels, 1), scores, rtol=1e-4, atol=1e-3)
    flat, _ = index_join(a, b, k=10, metric="l2", index={"type": "flat"})
    assert np.mean(np.sort(flat, 1) == np.sort(exact, 1)) > 0.99


def test_centroid_equals_numpy_mean() -> None:
    a, _ = _data(123, 1, 50, seed=2)
    np.testing.assert_allclose(centroid(a), a.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_dimension_mismatch_names_both_dimensions() -> None:
    a, _ = _data(3, 1, 8, seed=0)
    _, b = _data(1, 3, 12, seed=0)
    for call in (
        lambda: knn_join(a, b, k=1),
        lambda: range_join(a, b, 0.5),
        lambda: index_join(a, b, k=1),
        lambda: sage_native.flow.knn_join(a, b, k=1),
    ):
        with pytest.raises(ValueError, match="dimension 8.*dimension 12"):
            call()


def test_bad_arguments_are_refused() -> None:
    a, b = _data(3, 3, 8, seed=0)
    with pytest.raises(ValueError, match="metric"):
        knn_join(a, b, metric="hamming")
    with pytest.raises(ValueError, match="k must be >= 1"):
        sage_native.flow.knn_join(a, b, k=0)
    with pytest.raises(ValueError, match="2-D"):
        knn_join(a[0], b)
    with pytest.raises(ValueError, match="index type"):
        index_join(a, b, index={"type": "ivf"})
    with pytest.raises(ValueError, match="numbers"):
        sage_native.flow.knn_join(np.array([["x"]]), b)
