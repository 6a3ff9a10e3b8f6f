"""SAGE's MultimodalSageDB (``sage.middleware.components.sage_db.python.multimodal_sage_db``) on
the native core: fused scores checked against numpy, re-weighting, cross-modal filtering,
statistics, and bad input refused with nothing changed."""

from __future__ import annotations

import numpy as np
import pytest
from sage.middleware.components.sage_db.python.multimodal_sage_db import (
    FusionParams,
    FusionStrategy,
    ModalityType,
    MultimodalSearchParams,
    create_audio_visual_db,
    create_text_image_db,
)

TEXT, IMAGE, AUDIO = ModalityType.TEXT, ModalityType.IMAGE, ModalityType.AUDIO


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def cosines(rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    return rows @ query / (np.linalg.norm(rows, axis=1) * np.linalg.norm(query))


@pytest.fixture
def filled() -> tuple[object, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    texts, images = unit_rows(rng, 400, 48), unit_rows(rng, 400, 32)
    db = create_text_image_db(dimension=512)
    for i, (t, v) in enumerate(zip(texts, images, strict=True)):
        assert db.add_from_embeddings({TEXT: t, IMAGE: v}, {"label": f"item-{i}"}) == i + 1
    return db, texts, images


def test_fused_search_is_the_weighted_mean_of_cosines(filled: tuple) -> None:
    db, texts, images = filled
    rng = np.random.default_rng(9)
    qt, qi = rng.normal(size=48).astype(np.float32), rng.normal(size=32).astype(np.float32)

    results = db.search_multimodal({TEXT: qt, IMAGE: qi}, MultimodalSearchParams(k=5))

    fused = (0.4 * cosines(texts, qt) + 0.3 * cosines(images, qi)) / 0.7  # the default weights
    best = np.argsort(-fused)[:5]
    assert [r.id for r in results] == [int(i) + 1 for i in best]
    assert [r.score for r in results] == pytest.approx(fused[best].tolist(), abs=1e-5)
    assert results[0].metadata == {"label": f"item-{best[0]}"}
    assert db._db is not None  # SAGE's tutorials print "C++ accelerated" on this


def test_new_fusion_weights_change_the_ranking_and_concatenation_weighs_equally(
    filled: tuple,
) -> None:
    db, texts, images = filled
    rng = np.random.default_rng(11)
    qt, qi = rng.normal(size=48).astype(np.float32), rng.normal(size=32).astype(np.float32)
    ct, ci = cosines(texts, qt), cosines(images, qi)
    params = MultimodalSearchParams(k=4)

    tuned = FusionParams(FusionStrategy.WEIGHTED_AVERAGE)
    tuned.modality_weights[TEXT], tuned.modality_weights[IMAGE] = 0.1, 0.9
    db.update_fusion_params(tuned)
    image_heavy = db.search_multimodal({TEXT: qt, IMAGE: qi}, params)
    db.update_fusion_params(FusionParams(FusionStrategy.CONCATENATION))
    equal = db.search_multimodal({TEXT: qt, IMAGE: qi}, params)

    expect_heavy = np.argsort(-(0.1 * ct + 0.9 * ci))[:4] + 1
    expect_equal = np.argsort(-(ct + ci))[:4] + 1
    assert [r.id for r in image_heavy] == expect_heavy.tolist()
    assert [r.id for r in equal] == expect_equal.tolist()
    assert [r.score for r in equal] == pytest.approx(
        ((ct + ci) / 2)[expect_equal - 1].tolist(), abs=1e-5
    )


def test_cross_modal_search_keeps_items_that_have_a_target_modality() -> None:
    rng = np.random.default_rng(2)
    db = create_text_image_db()
    texts = unit_rows(rng, 6, 16)
    with_image = [
        db.add_from_embeddings({TEXT: t, IMAGE: unit_rows(rng, 1, 8)[0]}) for t in texts[:3]
    ]
    text_only = [db.add_from_embeddings({TEXT: t}) for t in texts[3:]]

    found = db.cross_modal_search(TEXT, texts[4], [IMAGE], MultimodalSearchParams(k=10))

    assert {r.id for r in found} == set(with_image)
    assert not {r.id for r in found} & set(text_only)
    ranked = db.search_multimodal({TEXT: texts[4]}, MultimodalSearchParams(k=1))
    assert ranked[0].id == text_only[1] and ranked[0].score == pytest.approx(1.0, abs=1e-5)


def test_statistics_count_each_modality_with_its_dimension_and_norm() -> None:
    rng = np.random.default_rng(3)
    db = create_text_image_db()
    for _ in range(3):
        db.add_from_embeddings({TEXT: 2 * unit_rows(rng, 1, 12)[0], IMAGE: unit_rows(rng, 1, 6)[0]})
    db.add_from_embeddings({TEXT: 2 * unit_rows(rng, 1, 12)[0]})

    stats = db.get_modality_statistics()

    assert list(stats) == [TEXT, IMAGE]
    assert stats[TEXT]["count"] == 4 and stats[TEXT]["avg_dimension"] == 12
    assert stats[TEXT]["avg_norm"] == pytest.approx(2.0, abs=1e-5)
    assert stats[IMAGE]["count"] == 3 and stats[IMAGE]["avg_dimension"] == 6


def test_bad_input_is_refused_by_name_and_changes_nothing(filled: tuple) -> None:
    db, texts, images = filled
    before = db.get_modality_statistics()

    with pytest.raises(ValueError, match="IMAGE embeddings in this database have 32"):
        db.add_from_embeddings({TEXT: texts[0], IMAGE: np.ones(31, np.float32)})
    with pytest.raises(ValueError, match="TEXT embedding must be finite"):
        db.add_from_embeddings({TEXT: np.full(48, np.nan, np.float32)})
    with pytest.raises(ValueError, match="at most 2 modalities"):
        db.add_from_embeddings({TEXT: texts[0], IMAGE: images[0], AUDIO: np.ones(4)})
    with pytest.raises(ValueError, match="TEXT query has 10 dimensions"):
        db.search_multimodal({TEXT: np.ones(10)}, MultimodalSearchParams(k=3))
    with pytest.raises(ValueError, match="k must be >= 1"):
        db.search_multimodal({TEXT: texts[0]}, MultimodalSearchParams(k=0))

    assert db.get_modality_statistics() == before and db.size == 400
    assert db.add_from_embeddings({TEXT: texts[0]}) == 401  # no id was used up


def test_a_strategy_that_needs_a_learned_model_is_refused_by_name() -> None:
    db = create_audio_visual_db()
    db.add_from_embeddings({AUDIO: np.ones(4, np.float32)})

    with pytest.raises(ValueError, match="ATTENTION_BASED is not supported"):
        db.search_multimodal({AUDIO: np.ones(4, np.float32)}, MultimodalSearchParams(k=1))
    db.update_fusion_params(FusionParams(FusionStrategy.WEIGHTED_AVERAGE))
    (hit,) = db.search_multimodal({AUDIO: np.ones(4, np.float32)}, MultimodalSearchParams(k=1))
    assert hit.id == 1 and hit.score == pytest.approx(1.0, abs=1e-5)
